"""Drift verdicts at the default settings, calibrated by seeded simulation.

No drift: pairs of windows drawn from one distribution raise false alarms at the declared
rates (1% per feature, 5% per report of 20 features with the family correction), within two
points. Drift: shifts that matter are found, and a shift that does not (a hundredth of a
standard deviation at a million rows, where the KS p-value alone would alarm) is not.
Windows are compared through stored profiles, as in production.
"""

from __future__ import annotations

import numpy as np
import pytest

from store.monitoring.drift import (
    ALPHA,
    FAMILY_ALPHA,
    FeatureDrift,
    adjust_family,
    compare,
    multivariate,
    profile,
)

PAIRS = 500
TOLERANCE = 0.02  # two points above the declared rate
KINDS = ("normal", "lognormal", "counts", "rounded", "category")
CATEGORIES = list("abcdefgh")
SHARES = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05])


def draw(rng: np.random.Generator, kind: str, n: int, shift: float = 0.0) -> np.ndarray:
    """n values of a kind of feature, the mean moved by ``shift`` standard deviations."""
    if kind == "normal":
        return rng.normal(shift, 1, n)
    if kind == "lognormal":  # skewed; the shift is in standard deviations of the log
        return np.exp(rng.normal(shift, 1, n))
    if kind == "counts":  # heavy ties
        return rng.poisson(3 + shift * np.sqrt(3), n).astype(float)
    if kind == "rounded":
        return np.round(rng.normal(shift, 1, n), 1)
    return rng.choice(CATEGORIES, p=SHARES, size=n)


@pytest.fixture(scope="module")
def unchanged_reports() -> list[list[FeatureDrift]]:
    """500 reports of 20 unchanged features (4 of each kind), 1,000 rows on each side."""
    rng = np.random.default_rng(20260101)
    features = [kind for kind in KINDS for _ in range(4)]
    return [
        [
            compare(profile(draw(rng, kind, 1_000)), draw(rng, kind, 1_000), feature=f"{kind}{i}")
            for i, kind in enumerate(features)
        ]
        for _ in range(PAIRS)
    ]


def test_false_alarms_per_feature_stay_at_alpha(
    unchanged_reports: list[list[FeatureDrift]],
) -> None:
    for kind in KINDS:
        verdicts = [
            r.verdict for report in unchanged_reports for r in report if r.feature.startswith(kind)
        ]
        assert len(verdicts) == 4 * PAIRS
        assert verdicts.count("drift") / len(verdicts) <= ALPHA + TOLERANCE, kind


def test_false_alarms_per_report_stay_at_the_family_alpha(
    unchanged_reports: list[list[FeatureDrift]],
) -> None:
    def alarm_rate(reports: list[list[FeatureDrift]]) -> float:
        return sum(any(r.verdict == "drift" for r in report) for report in reports) / len(reports)

    raw = alarm_rate(unchanged_reports)
    holm = alarm_rate([adjust_family(report) for report in unchanged_reports])
    bh = alarm_rate([adjust_family(report, method="bh") for report in unchanged_reports])
    assert holm <= FAMILY_ALPHA + TOLERANCE
    assert bh <= FAMILY_ALPHA + TOLERANCE
    assert raw > FAMILY_ALPHA  # why reports are corrected: 20 tests at 1% alarm far more


def test_a_hundredth_of_a_standard_deviation_at_a_million_rows_is_not_drift() -> None:
    rng = np.random.default_rng(11)
    reference, current = rng.normal(size=1_000_000), rng.normal(0.01, 1, size=1_000_000)
    for result in (
        compare(profile(reference), current, feature="x"),  # through a stored profile
        compare(reference, current, feature="x"),  # and exactly
    ):
        effects = {t.test: t.effect for t in result.tests}
        assert result.p_value is not None
        assert result.p_value < 1e-4  # the KS p-value alone would alarm
        assert effects["psi"] < 0.001
        assert effects["wasserstein"] < 0.02
        assert result.verdict == "no_drift"
        assert (result.n_reference, result.n_current) == (1_000_000, 1_000_000)


@pytest.mark.parametrize("kind", ["normal", "counts", "rounded"])
def test_half_a_standard_deviation_at_a_thousand_rows_is_found(kind: str) -> None:
    rng = np.random.default_rng(5)
    found = [
        compare(profile(draw(rng, kind, 1_000)), draw(rng, kind, 1_000, 0.5), feature="x").verdict
        for _ in range(PAIRS)
    ]
    assert found.count("drift") / PAIRS >= 0.99


def test_a_fifth_of_a_standard_deviation_at_ten_thousand_rows_is_found() -> None:
    rng = np.random.default_rng(2)
    results = [
        compare(profile(rng.normal(size=10_000)), rng.normal(0.2, 1, size=10_000), feature="x")
        for _ in range(PAIRS)
    ]
    found = [r for r in results if r.verdict == "drift"]
    assert len(found) / PAIRS >= 0.9
    # ... and would be in a report of 20 features too: Holm's strictest step passes.
    assert all(r.p_value is not None and r.p_value <= FAMILY_ALPHA / 20 for r in found)


def test_a_five_point_move_between_categories_is_found_at_five_thousand_rows() -> None:
    rng = np.random.default_rng(3)
    moved = SHARES + np.array([-0.05, 0.05, 0, 0, 0, 0, 0, 0])  # Cohen's w 0.14
    found = [
        compare(
            profile(rng.choice(CATEGORIES, p=SHARES, size=5_000)),
            rng.choice(CATEGORIES, p=moved, size=5_000),
            feature="c",
        ).verdict
        for _ in range(200)
    ]
    assert found.count("drift") / 200 >= 0.95


def test_mmd_false_alarms_stay_at_alpha_and_a_new_correlation_is_found() -> None:
    # The permutation p-value is valid at any size and any number of permutations, so small
    # samples and 199 permutations keep this quick; the defaults only see more.
    rng = np.random.default_rng(4)
    runs = 300
    unchanged = [
        multivariate(rng.normal(size=(100, 3)), rng.normal(size=(100, 3)), permutations=199, seed=s)
        for s in range(runs)
    ]
    assert sum(r.verdict == "drift" for r in unchanged) / runs <= ALPHA + TOLERANCE
    # Equal marginals (the per-feature tests see nothing), a correlation of 0.8 appears.
    correlated = [[1, 0.8], [0.8, 1]]
    found = [
        multivariate(
            rng.normal(size=(300, 2)),
            rng.multivariate_normal([0, 0], correlated, 300),
            permutations=199,
            seed=s,
        )
        for s in range(30)
    ]
    assert sum(r.verdict == "drift" for r in found) / 30 >= 0.9
