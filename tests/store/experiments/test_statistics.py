"""Experiment statistics checked against SciPy, and calibrated by seeded simulation.

Oracles: SciPy's Welch t-test, the chi-square of the 2x2 table and the goodness-of-fit
chi-square; Holm's step-down procedure written out; NumPy's moments.

Simulations of 1,000 experiments each, drawn as per-day counts with NumPy and read through
the public functions: A/A tests keep the declared 5% at one look; read daily for 30 days, the
fixed-horizon test "wins" far more often and the confidence sequence does not; true lifts are
found at the planned sample sizes; the sample-ratio check stays quiet on fair splits and
catches skewed ones; the delta-method lift interval covers the true lift 95% of the time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from store.experiments.statistics import (
    Comparison,
    Sample,
    compare_means,
    compare_proportions,
    confidence_sequence,
    holm,
    is_binary,
    relative_lift,
    sample_ratio_mismatch,
    sample_size,
)

EXPERIMENTS = 1_000
DAYS = 30
ALPHA = 0.05
TOLERANCE = 0.02  # two points either side of a declared rate (about 3 standard errors)
BASE, LIFTED = 0.10, 0.12  # the planning example: 10% -> 12%, an absolute effect of 0.02


def cumulative_units(total: int, days: int = DAYS) -> list[int]:
    """Units per arm after each day of equal traffic, reaching ``total`` on the last day."""
    units: list[int] = np.round(total * np.arange(1, days + 1) / days).astype(int).tolist()
    return units


def daily_conversions(rng: np.random.Generator, rate: float, units: list[int]) -> list[list[int]]:
    """Cumulative 0/1 conversions of one arm per experiment (rows) and day (columns)."""
    per_day = np.diff(units, prepend=0)
    draws = rng.binomial(per_day, rate, size=(EXPERIMENTS, len(units)))
    counts: list[list[int]] = draws.cumsum(axis=1).tolist()
    return counts


def read_daily(
    units: list[int], control: list[list[int]], treatment: list[list[int]], horizon: int
) -> list[list[Comparison]]:
    """Every experiment read at every day's end: one row of comparisons per experiment."""
    return [
        [
            compare_proportions(Sample(n, c, c), Sample(n, t, t), horizon=horizon)
            for n, c, t in zip(units, cs, ts, strict=True)
        ]
        for cs, ts in zip(control, treatment, strict=True)
    ]


def excludes_zero(r: Comparison) -> bool:
    return r.sequential_low > 0 or r.sequential_high < 0


# --- against SciPy and NumPy ----------------------------------------------------------------


def test_sample_moments_match_numpy() -> None:
    rng = np.random.default_rng(1)
    for values in (rng.exponential(3.0, 500), rng.normal(-2, 0.5, 37), rng.integers(0, 9, 100)):
        s = Sample.of(values)
        assert s.n == values.size
        assert s.mean == pytest.approx(np.mean(values), rel=1e-12)
        assert s.variance == pytest.approx(np.var(values, ddof=1), rel=1e-9)
    assert math.isnan(Sample.of([]).mean)
    assert Sample.of([4.0]).variance == 0.0
    assert Sample.of([0.1] * 3).variance == 0.0  # rounding is clipped, not negative


def test_binary_samples_are_recognized() -> None:
    assert is_binary(Sample.of([0, 1, 1, 0]))
    assert is_binary(Sample(1_000_000, 123_456, 123_456))
    assert not is_binary(Sample.of([0, 1, 2]))
    assert not is_binary(Sample.of([0.5, 0.5]))
    assert not is_binary(Sample(0, 0, 0))


@pytest.mark.parametrize(
    ("n_control", "n_treatment", "scale_treatment"), [(30, 45, 1.0), (500, 80, 4.0), (5, 5, 0.2)]
)
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_welch_matches_scipy(
    n_control: int, n_treatment: int, scale_treatment: float, alpha: float
) -> None:
    rng = np.random.default_rng(n_control + n_treatment)
    control = rng.exponential(2.0, n_control)
    treatment = rng.exponential(2.0 * scale_treatment, n_treatment) + 0.3
    r = compare_means(Sample.of(control), Sample.of(treatment), alpha=alpha)
    raw = stats.ttest_ind(treatment, control, equal_var=False)
    summary = stats.ttest_ind_from_stats(
        treatment.mean(), treatment.std(ddof=1), n_treatment,
        control.mean(), control.std(ddof=1), n_control, equal_var=False,
    )  # fmt: skip
    assert r.test == "Welch's t-test"
    assert r.p_value == pytest.approx(summary.pvalue, rel=1e-9)
    assert r.p_value == pytest.approx(raw.pvalue, rel=1e-9)
    # The interval uses SciPy's Welch-Satterthwaite df: a wrong df would move its ends.
    ci = raw.confidence_interval(1 - alpha)
    assert (r.low, r.high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    se = math.sqrt(control.var(ddof=1) / n_control + treatment.var(ddof=1) / n_treatment)
    assert r.high - r.difference == pytest.approx(stats.t.ppf(1 - alpha / 2, raw.df) * se)


@pytest.mark.parametrize(
    ("converted", "units"),
    [((100, 130), (1_000, 1_000)), ((7, 19), (250, 400)), ((0, 3), (50, 60))],
)
def test_z_squared_is_the_chi_square_of_the_two_by_two_table(
    converted: tuple[int, int], units: tuple[int, int]
) -> None:
    (x_c, x_t), (n_c, n_t) = converted, units
    r = compare_proportions(Sample(n_c, x_c, x_c), Sample(n_t, x_t, x_t))
    table = np.array([[x_c, n_c - x_c], [x_t, n_t - x_t]])
    chi2 = stats.chi2_contingency(table, correction=False)
    assert r.p_value == pytest.approx(chi2.pvalue, rel=1e-9)
    z = stats.norm.isf(r.p_value / 2)  # |z| back from the two-sided p-value
    assert z**2 == pytest.approx(chi2.statistic, rel=1e-9)
    # The interval is the unpooled Wald interval.
    p_c, p_t = x_c / n_c, x_t / n_t
    se = math.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
    assert (r.low, r.high) == pytest.approx((p_t - p_c - 1.959964 * se, p_t - p_c + 1.959964 * se))


@pytest.mark.parametrize(
    ("observed", "shares"),
    [([5_100, 4_900], [50, 50]), ([330, 310, 400], [0.3, 0.3, 0.4]), ([20, 80], [1, 3])],
)
def test_sample_ratio_mismatch_matches_chisquare(observed: list[int], shares: list[float]) -> None:
    srm = sample_ratio_mismatch(observed, shares)
    expected = np.array(shares) / sum(shares) * sum(observed)
    scipy = stats.chisquare(observed, f_exp=expected)
    assert srm.expected == pytest.approx(expected.tolist())
    assert srm.statistic == pytest.approx(scipy.statistic, rel=1e-12)
    assert srm.p_value == pytest.approx(scipy.pvalue, rel=1e-9)


def holm_by_brute_force(p_values: list[float]) -> list[float]:
    """For each hypothesis, the smallest level at which Holm's step-down rejects it.

    Step-down at level a: walk the p-values from the smallest, rejecting while the k-th
    (k from 0) is at most a / (m - k), and stop at the first that is not. The candidate
    levels are the products (m - k) * p_(k): a rejection set only changes there.
    """
    m = len(p_values)
    ranked = sorted(range(m), key=lambda i: p_values[i])
    levels = sorted((m - k) * p_values[i] for k, i in enumerate(ranked))
    smallest = [math.inf] * m
    for level in reversed(levels):  # the last level to reject a hypothesis is its smallest
        for k, i in enumerate(ranked):
            if (m - k) * p_values[i] > level:
                break
            smallest[i] = level
    return [min(1.0, s) for s in smallest]


def test_holm_matches_the_step_down_procedure() -> None:
    rng = np.random.default_rng(7)
    for m in (1, 2, 3, 5, 8, 13):
        for _ in range(40):
            p = rng.uniform(0, 0.2, m).round(3).tolist()  # rounded: ties happen
            assert holm(p) == holm_by_brute_force(p)
    assert holm([]) == []
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.4, 0.6]) == [0.8, 0.8]  # monotone, and capped at 1 below
    assert holm([0.7, 0.9]) == [1.0, 1.0]


# --- validation and small cases -------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: compare_means(Sample(9, 1, 1), Sample(9, 2, 2), alpha=1.5), "alpha=1.5"),
        (lambda: sample_size(baseline=0.1, effect=0.02, power=0), "power=0"),
        (lambda: sample_size(baseline=0.1, effect=0), "smallest absolute difference"),
        (lambda: sample_size(baseline=0.95, effect=0.1), "baseline \\+ effect in \\[0, 1\\]"),
        (lambda: sample_size(baseline=5, effect=1, sd=-1), "positive standard deviation"),
        (lambda: sample_ratio_mismatch([10, 20], [1, 1, 1]), "one configured share per arm"),
        (lambda: sample_ratio_mismatch([10, -2], [1, 1]), "0 or more"),
        (lambda: sample_ratio_mismatch([10, 2], [1, 0]), "shares must be positive"),
        (lambda: holm([0.2, 1.3]), "p-values must lie in"),
        (lambda: Sample(-1, 0, 0), "n must be a count"),
        (lambda: Sample(3, 1, -1), "sum of squares cannot be negative"),
        (lambda: Sample.of([1.0, math.nan]), "drop or impute"),
        (lambda: compare_proportions(Sample.of([1, 2]), Sample.of([0, 1])), "compare_means"),
        (lambda: confidence_sequence(Sample(9, 1, 1), Sample(9, 2, 2), horizon=0), "horizon"),
    ],
)
def test_bad_inputs_are_refused_with_the_fix(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_arms_too_small_to_compare_give_no_verdict() -> None:
    empty, one, some = Sample(0, 0, 0), Sample(1, 1, 1), Sample(50, 5, 5)
    r = compare_proportions(empty, some)
    assert math.isnan(r.p_value)
    assert math.isnan(r.low)
    assert r.lift is None
    assert (r.sequential_low, r.sequential_high) == (-math.inf, math.inf)
    r = compare_means(one, some)
    assert math.isnan(r.p_value)
    assert r.lift is None
    assert relative_lift(Sample(50, 0, 0), some) is None  # no relative lift over 0
    nothing = Sample(100, 0, 0)
    assert compare_proportions(nothing, nothing).p_value == 1.0
    assert confidence_sequence(nothing, nothing) == (-math.inf, math.inf)


def test_the_sequence_costs_three_standard_errors_at_its_horizon() -> None:
    control, treatment = Sample(4_000, 400, 400), Sample(4_000, 470, 470)
    fixed = compare_proportions(control, treatment)
    se = (fixed.high - fixed.low) / (2 * 1.959964)
    low, high = confidence_sequence(control, treatment, horizon=4_000)
    assert (high - low) / 2 / se == pytest.approx(3.035, abs=0.01)
    # Tuned to now or to a horizon reached now: the same interval.
    assert confidence_sequence(control, treatment) == (low, high)
    # Tuned elsewhere: valid, but wider here.
    early = confidence_sequence(control, treatment, horizon=40_000)
    assert early[1] - early[0] > high - low


# --- simulation: error rates and power ------------------------------------------------------


def test_sample_sizes_for_the_planning_example() -> None:
    fixed = sample_size(baseline=BASE, effect=LIFTED - BASE, sequential=False)
    sequential = sample_size(baseline=BASE, effect=LIFTED - BASE)
    print(f"\nunits per arm for 10% -> 12%: fixed {fixed}, sequential {sequential}")
    assert fixed == 3_841  # (1.96 sqrt(2 * .11 * .89) + 0.8416 sqrt(.09 + .1056))² / .02²
    assert 1.7 < sequential / fixed < 2.1  # (3.04 + 0.84)² / (1.96 + 0.84)² = 1.9
    # Symmetric in the effect's sign for a continuous metric, and exactly the formula.
    assert sample_size(baseline=0, effect=-0.1, sd=1, sequential=False) == 1_570
    assert sample_size(baseline=0, effect=0.1, sd=1) == sample_size(baseline=0, effect=-0.1, sd=1)


def test_aa_false_positives_at_a_fixed_horizon_stay_at_alpha() -> None:
    rng = np.random.default_rng(2024)
    n = sample_size(baseline=BASE, effect=LIFTED - BASE, sequential=False)
    control, treatment = rng.binomial(n, BASE, (2, EXPERIMENTS)).tolist()
    significant = [
        compare_proportions(Sample(n, c, c), Sample(n, t, t)).p_value < ALPHA
        for c, t in zip(control, treatment, strict=True)
    ]
    rate = sum(significant) / EXPERIMENTS
    print(f"\nA/A, one look at n={n} per arm: false positives {rate:.1%}")
    assert abs(rate - ALPHA) <= TOLERANCE


@pytest.fixture(scope="module")
def aa_daily() -> list[list[Comparison]]:
    """1,000 A/A experiments at 10%, read at the end of each of 30 days of equal traffic."""
    rng = np.random.default_rng(31)
    n = sample_size(baseline=BASE, effect=LIFTED - BASE)
    units = cumulative_units(n)
    return read_daily(
        units, daily_conversions(rng, BASE, units), daily_conversions(rng, BASE, units), n
    )


def test_peeking_at_a_fixed_horizon_test_inflates_false_positives(
    aa_daily: list[list[Comparison]],
) -> None:
    any_look = sum(any(r.p_value < ALPHA for r in looks) for looks in aa_daily) / EXPERIMENTS
    last_look = sum(looks[-1].p_value < ALPHA for looks in aa_daily) / EXPERIMENTS
    print(f"\nA/A z-test read daily for 30 days: significant at some look {any_look:.1%}")
    assert abs(last_look - ALPHA) <= TOLERANCE  # one look is fine ...
    assert any_look > 0.15  # ... thirty are not (about 29% in the literature)


def test_peeking_at_the_confidence_sequence_keeps_false_positives_under_alpha(
    aa_daily: list[list[Comparison]],
) -> None:
    rate = sum(any(excludes_zero(r) for r in looks) for looks in aa_daily) / EXPERIMENTS
    print(f"\nA/A confidence sequence read daily for 30 days: excludes 0 at some look {rate:.1%}")
    assert rate <= ALPHA


def test_a_two_point_lift_is_found_at_the_planned_sizes() -> None:
    rng = np.random.default_rng(12)
    n = sample_size(baseline=BASE, effect=LIFTED - BASE, sequential=False)
    control, treatment = rng.binomial(n, (BASE, LIFTED), (EXPERIMENTS, 2)).T.tolist()
    fixed = [
        compare_proportions(Sample(n, c, c), Sample(n, t, t))
        for c, t in zip(control, treatment, strict=True)
    ]
    fixed_power = sum(r.p_value < ALPHA and r.difference > 0 for r in fixed) / EXPERIMENTS

    n = sample_size(baseline=BASE, effect=LIFTED - BASE)
    units = cumulative_units(n)
    daily = read_daily(
        units, daily_conversions(rng, BASE, units), daily_conversions(rng, LIFTED, units), n
    )
    found = [next((r for r in looks if excludes_zero(r)), None) for looks in daily]
    sequential_power = sum(r is not None and r.sequential_low > 0 for r in found) / EXPERIMENTS
    wrong_sign = sum(r is not None and r.sequential_high < 0 for r in found)
    at_last_look = sum(looks[-1].sequential_low > 0 for looks in daily) / EXPERIMENTS
    print(
        f"\n10% -> 12%: power {fixed_power:.1%} at one look (fixed n), {sequential_power:.1%} "
        f"reading daily ({at_last_look:.1%} at the last look alone)"
    )
    assert fixed_power >= 0.77  # planned at 80%; 1,000 runs give about +-1.3 points
    assert sequential_power >= 0.80
    assert wrong_sign == 0


# --- simulation: sample ratio, continuous metrics, lift -------------------------------------


def test_sample_ratio_mismatch_flags_skewed_splits_and_rarely_fair_ones() -> None:
    assert sample_ratio_mismatch([5_200, 4_800], [50, 50]).mismatch
    assert not sample_ratio_mismatch([5_030, 4_970], [50, 50]).mismatch
    assert sample_ratio_mismatch([5_200, 4_800], [0.52, 0.48]).p_value == pytest.approx(1.0)
    assert sample_ratio_mismatch([0, 0], [1, 1]).p_value == 1.0
    rng = np.random.default_rng(5)
    control = rng.binomial(10_000, 0.5, EXPERIMENTS).tolist()
    alarms = sum(sample_ratio_mismatch([c, 10_000 - c], [50, 50]).mismatch for c in control)
    assert alarms / EXPERIMENTS < 0.005


def test_welch_and_the_sequence_hold_their_rates_on_a_skewed_metric() -> None:
    rng = np.random.default_rng(8)
    n = 2_000
    values = rng.exponential(1.0, (EXPERIMENTS, 2, n))  # A/A on a skewed, revenue-like metric
    ends = np.array(cumulative_units(n)) - 1
    sums = values.cumsum(axis=2)[:, :, ends].tolist()
    squares = (values**2).cumsum(axis=2)[:, :, ends].tolist()
    units = (ends + 1).tolist()
    fixed, peeking = 0, 0
    for (sum_c, sum_t), (sq_c, sq_t) in zip(sums, squares, strict=True):
        looks = [
            compare_means(Sample(k, sum_c[d], sq_c[d]), Sample(k, sum_t[d], sq_t[d]), horizon=n)
            for d, k in enumerate(units)
        ]
        fixed += looks[-1].p_value < ALPHA
        peeking += any(excludes_zero(r) for r in looks)
    print(
        f"\nA/A exponential metric, n={n}: Welch false positives {fixed / EXPERIMENTS:.1%}, "
        f"confidence sequence read daily {peeking / EXPERIMENTS:.1%}"
    )
    assert abs(fixed / EXPERIMENTS - ALPHA) <= TOLERANCE
    assert peeking / EXPERIMENTS <= ALPHA


@pytest.mark.parametrize("metric", ["conversion", "revenue"])
def test_the_lift_interval_covers_the_true_lift(metric: str) -> None:
    rng = np.random.default_rng(9)
    if metric == "conversion":  # 10% -> 11%: a true lift of 10%
        n, true_lift = 5_000, 0.1
        c, t = rng.binomial(n, (0.10, 0.11), (EXPERIMENTS, 2)).T.tolist()
        samples = [(Sample(n, x, x), Sample(n, y, y)) for x, y in zip(c, t, strict=True)]
    else:  # exponential means 1.0 -> 1.05: a true lift of 5%
        n, true_lift = 1_000, 0.05
        values = rng.exponential((1.0, 1.05), (EXPERIMENTS, n, 2))
        sums, squares = values.sum(axis=1).tolist(), (values**2).sum(axis=1).tolist()
        samples = [
            (Sample(n, s[0], q[0]), Sample(n, s[1], q[1]))
            for s, q in zip(sums, squares, strict=True)
        ]
    covered = 0
    for control, treatment in samples:
        lift = relative_lift(control, treatment)
        assert lift is not None
        covered += lift[1] <= true_lift <= lift[2]
    print(f"\n{metric}: delta-method lift interval covers {covered / EXPERIMENTS:.1%}")
    assert abs(covered / EXPERIMENTS - 0.95) <= TOLERANCE
