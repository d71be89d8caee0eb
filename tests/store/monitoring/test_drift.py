"""Drift statistics against SciPy and direct formulas, on generated data with heavy ties.

SciPy is the oracle: ``ks_2samp(method="asymp")`` (the p-value method Silage documents; the
default ``"auto"`` switches to the exact law below 10,000 rows), ``wasserstein_distance``,
``chi2_contingency`` and ``false_discovery_control``. The profile-based statistics are checked
against the exact ones within their stated bounds.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from store.errors import StoreError
from store.monitoring.drift import (
    ALPHA,
    MIN_COUNT,
    PSI_FLOOR,
    THRESHOLDS,
    CategoricalProfile,
    DriftError,
    FeatureDrift,
    NumericProfile,
    _cells,
    _ks_p_value,
    adjust,
    adjust_family,
    compare,
    multivariate,
    profile,
    profile_from_dict,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def statistics_of(result: FeatureDrift) -> dict[str, float]:
    return {t.test: t.statistic for t in result.tests}


# Heavy ties (integers from a small range), rounded floats, and plain floats; unequal sizes.
samples = st.one_of(
    st.lists(st.integers(0, 4), min_size=2, max_size=80),
    st.lists(st.integers(-3, 30), min_size=2, max_size=80),
    st.lists(st.floats(-1e3, 1e3).map(lambda v: round(v, 0)), min_size=2, max_size=80),
    st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=80),
)


@SETTINGS
@given(a=samples, b=samples)
def test_ks_and_wasserstein_equal_scipy(a: list[float], b: list[float]) -> None:
    result = compare(np.array(a, float), np.array(b, float), feature="x", min_count=1)
    ks, _, w1 = result.tests
    want = stats.ks_2samp(a, b, method="asymp")
    assert abs(ks.statistic - want.statistic) <= 1e-12
    assert ks.p_value is not None
    assert abs(ks.p_value - want.pvalue) <= 1e-6
    assert w1.statistic == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_ks_and_wasserstein_equal_scipy_on_larger_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n1, n2 = rng.integers(200, 3_000, size=2)
    if seed % 2:
        a, b = rng.poisson(3, n1).astype(float), rng.poisson(3.3, n2).astype(float)
    else:
        a, b = np.round(rng.normal(0, 1, n1), 1), np.round(rng.normal(0.1, 1.2, n2), 1)
    ks, _, w1 = compare(a, b, feature="x").tests
    want = stats.ks_2samp(a, b, method="asymp")
    assert abs(ks.statistic - want.statistic) <= 1e-12
    assert ks.p_value is not None
    en = n1 * n2 / (n1 + n2)
    if en <= 2_000:
        assert abs(ks.p_value - want.pvalue) <= 1e-6
    else:  # the closed-form tail: never below SciPy, within 1.7% of it
        assert want.pvalue <= ks.p_value <= want.pvalue * 1.017 + 1e-300
    assert w1.statistic == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12)


@pytest.mark.parametrize("n", [2_001, 5_000, 40_000])
@pytest.mark.parametrize("z", [1.49, 1.63, 2.0, 2.5, 3.0, 4.5, 6.0])
def test_ks_tail_p_value_is_conservative_and_close(n: int, z: float) -> None:
    d = z / math.sqrt(n)
    exact = float(stats.kstwo.sf(d, n))
    got = _ks_p_value(d, 2 * n, 2 * n)  # the law of n = 2n * 2n / 4n
    assert exact <= got  # never claims more significance than SciPy
    if exact >= 1e-8:
        assert got <= exact * 1.017


def psi_by_formula(ref: np.ndarray, cur: np.ndarray, bins: int = 10) -> float:
    """PSI the obvious way: bins (lo, hi] cut at the reference's deciles (inverted CDF)."""
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins, method="inverted_cdf"))
    bounds = [-math.inf, *edges, math.inf]
    total = 0.0
    for lo, hi in itertools.pairwise(bounds):
        p = max(np.count_nonzero((ref > lo) & (ref <= hi)) / ref.size, PSI_FLOOR)
        q = max(np.count_nonzero((cur > lo) & (cur <= hi)) / cur.size, PSI_FLOOR)
        total += (q - p) * math.log(q / p)
    return total


@pytest.mark.parametrize("seed", range(8))
def test_psi_equals_the_formula_on_both_paths(seed: int) -> None:
    rng = np.random.default_rng(seed)
    kind = seed % 4
    n1, n2 = rng.integers(100, 5_000, size=2)
    if kind == 0:
        ref, cur = rng.normal(size=n1), rng.normal(0.3, 1.1, n2)
    elif kind == 1:
        ref, cur = rng.integers(0, 5, n1).astype(float), rng.integers(0, 7, n2).astype(float)
    elif kind == 2:
        ref, cur = rng.exponential(size=n1), rng.exponential(2, n2)
    else:  # half the mass on one value: decile edges coincide and merge
        ref = np.where(rng.random(n1) < 0.5, 0.0, rng.normal(size=n1))
        cur = np.where(rng.random(n2) < 0.2, 0.0, rng.normal(-3, 1, n2))
    want = psi_by_formula(ref, cur)
    assert statistics_of(compare(ref, cur, feature="x"))["psi"] == pytest.approx(want, abs=1e-12)
    assert statistics_of(compare(profile(ref), cur, feature="x"))["psi"] == pytest.approx(
        want, abs=1e-12
    )


@pytest.mark.parametrize("seed", range(8))
def test_the_recorded_histogram_counts_both_sides_in_the_reference_deciles(seed: int) -> None:
    """What the UI draws beside the reference: both sides counted in the same bins, on the
    exact path and against a stored profile alike, and equal to a plain NumPy count."""
    rng = np.random.default_rng(seed)
    ref = np.round(rng.normal(size=3_000), 1 if seed % 2 else 6)  # ties on odd seeds
    cur = np.round(rng.normal(0.5, 1.2, size=700), 1 if seed % 2 else 6)
    exact = compare(ref, cur, feature="x").histogram
    stored = compare(profile(ref), cur, feature="x").histogram
    assert exact is not None
    assert stored is not None
    assert exact == stored
    assert sum(exact.reference) == ref.size
    assert sum(exact.current) == cur.size
    assert len(exact.current) == len(exact.edges) + 1
    # (-inf, e0], (e0, e1], ..., (e_last, inf): np.searchsorted with side="left" on the edges
    bins = np.searchsorted(np.asarray(exact.edges), cur, side="left")
    assert list(np.bincount(bins, minlength=len(exact.edges) + 1)) == list(exact.current)
    categorical = compare(profile(np.array(["a", "b"] * 50)), ["a"] * 60, feature="c")
    assert categorical.histogram is None


def test_psi_of_an_unseen_range_is_large_but_finite() -> None:
    ref = np.arange(1_000.0)
    result = compare(profile(ref), ref + 10_000, feature="x")
    psi = statistics_of(result)["psi"]
    assert math.isfinite(psi)
    assert psi > 5


def wasserstein_bound(p: NumericProfile, x: np.ndarray) -> float:
    """The profile's stated W1 error: sum over gaps of (1/K + current share strictly inside)."""
    q = np.asarray(p.quantiles)
    k, u = q.size - 1, np.unique(q)
    inside = [np.count_nonzero((x > lo) & (x < hi)) / x.size for lo, hi in itertools.pairwise(u)]
    return float(np.sum(np.diff(u) * (1 / k + np.asarray(inside))))


reference_kinds = st.sampled_from(["normal", "ties", "skewed", "rounded", "spike"])


def draw(rng: np.random.Generator, kind: str, n: int, shift: float) -> np.ndarray:
    if kind == "normal":
        return rng.normal(shift, 1, n)
    if kind == "ties":
        return rng.integers(0, 6, n).astype(float) + round(shift)
    if kind == "skewed":
        return rng.lognormal(shift, 1.5, n)
    if kind == "rounded":
        return np.round(rng.normal(shift, 1, n), 1)
    return np.where(rng.random(n) < 0.3, 1.0, rng.normal(shift, 1, n))


@settings(max_examples=60, deadline=None)
@given(
    kind=reference_kinds,
    k=st.sampled_from([10, 20, 100, 1000]),
    sizes=st.tuples(st.integers(1, 3_000), st.integers(1, 3_000)),
    shift=st.sampled_from([0.0, 0.1, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_profile_based_statistics_are_within_their_bounds(
    kind: str, k: int, sizes: tuple[int, int], shift: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = draw(rng, kind, sizes[0], 0.0), draw(rng, kind, sizes[1], shift)
    p = profile(ref, quantiles=k)
    assert isinstance(p, NumericProfile)
    approx = statistics_of(compare(p, cur, feature="x", min_count=1))
    exact = statistics_of(compare(ref, cur, feature="x", min_count=1))
    assert abs(approx["ks"] - exact["ks"]) <= 1 / (2 * k) + 1e-12
    assert abs(approx["wasserstein"] - exact["wasserstein"]) <= wasserstein_bound(p, cur) + 1e-9
    # PSI: the default profile's bins are the reference's deciles, as on the exact path.
    if k % 10 == 0:
        assert approx["psi"] == pytest.approx(exact["psi"], abs=1e-12)


def test_profile_based_wasserstein_is_far_inside_its_bound_for_smooth_data() -> None:
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(size=200_000), rng.normal(0.05, 1.1, size=100_000)
    p = profile(ref)
    assert isinstance(p, NumericProfile)
    approx = statistics_of(compare(p, cur, feature="x"))["wasserstein"]
    exact = statistics_of(compare(ref, cur, feature="x"))["wasserstein"]
    # 0.002 standard deviations: a fiftieth of the threshold, a tenth of the bound.
    assert abs(approx - exact) < 0.02 * THRESHOLDS["wasserstein"] * ref.std()
    assert abs(approx - exact) < 0.1 * wasserstein_bound(p, cur)


@settings(max_examples=200, deadline=None)
@given(
    u=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=300, unique=True),
    extra=st.lists(st.floats(-2e3, 2e3), max_size=50),
    size=st.integers(0, 30_000),
    seed=st.integers(0, 2**32 - 1),
)
def test_bucketed_search_counts_like_searchsorted(
    u: list[float], extra: list[float], size: int, seed: int
) -> None:
    grid = np.sort(np.array(u))
    rng = np.random.default_rng(seed)
    # Values equal to the grid, between its points, outside it, and dense in one place.
    x = np.concatenate(
        [
            rng.choice(grid, size),
            rng.uniform(grid[0] - 1, grid[-1] + 1, size),
            np.array(extra),
            np.full(size // 3, grid[len(grid) // 2]),
        ]
    )
    below, equal = _cells(grid, x)
    assert below.tolist() == np.searchsorted(np.sort(x), grid, "left").tolist()
    assert equal.tolist() == [int(np.count_nonzero(x == g)) for g in grid]


def chi2_by_scipy(ref: list[str], cur: list[str]) -> tuple[float, float]:
    names = sorted(set(ref) | set(cur))
    table = np.array([[ref.count(c) for c in names], [cur.count(c) for c in names]])
    res = stats.chi2_contingency(table, correction=False)
    return float(res.statistic), float(res.pvalue)


@pytest.mark.parametrize("seed", range(6))
def test_chi2_equals_scipy_contingency(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cats = ["a", "b", "c", "d"][: 2 + seed % 3]
    ref = rng.choice(cats, size=int(rng.integers(300, 3_000))).tolist()
    cur = rng.choice(cats, size=int(rng.integers(300, 3_000))).tolist()
    chi2, linf = compare(profile(ref), cur, feature="c").tests
    want_stat, want_p = chi2_by_scipy(ref, cur)
    assert chi2.statistic == pytest.approx(want_stat, rel=1e-10, abs=1e-12)
    assert chi2.p_value == pytest.approx(want_p, rel=1e-9, abs=1e-12)
    # Cohen's w: the chi-square without its sample sizes; linf: the largest share change.
    p = np.array([ref.count(c) / len(ref) for c in cats])
    q = np.array([cur.count(c) / len(cur) for c in cats])
    pooled = (p * len(ref) + q * len(cur)) / (len(ref) + len(cur))
    assert chi2.effect == pytest.approx(math.sqrt(np.sum((p - q) ** 2 / pooled)), rel=1e-9)
    assert linf.statistic == pytest.approx(np.abs(p - q).max(), abs=1e-15)


def test_chi2_pools_rare_categories_into_one_cell() -> None:
    ref = ["a"] * 500 + ["b"] * 480 + ["r1"] * 2 + ["r2"] * 3
    cur = ["a"] * 300 + ["b"] * 290 + ["r1"] * 1 + ["r3"] * 4
    chi2 = compare(profile(ref), cur, feature="c").tests[0]
    pooled_ref, pooled_cur = ["a"] * 500 + ["b"] * 480 + ["rare"] * 5, cur[:590] + ["rare"] * 5
    want_stat, want_p = chi2_by_scipy(pooled_ref, pooled_cur)
    assert chi2.statistic == pytest.approx(want_stat, rel=1e-10)
    assert chi2.p_value == pytest.approx(want_p, rel=1e-9)


def test_a_new_category_is_drift() -> None:
    ref = ["a"] * 600 + ["b"] * 400
    cur = ["a"] * 550 + ["b"] * 400 + ["new"] * 50  # linf 0.05, Cohen's w 0.33
    result = compare(profile(ref), cur, feature="c")
    assert result.verdict == "drift"
    assert {t.test: t.verdict for t in result.tests} == {"chi2": "drift", "linf": "no_drift"}


def test_categorical_reference_takes_any_current_values_as_strings() -> None:
    ref = np.array([True, False] * 300)
    result = compare(ref, np.array([True] * 500 + [False] * 100), feature="flag")
    assert result.kind == "categorical"
    assert result.verdict == "drift"
    assert compare(profile(["1", "2"] * 100), np.array([1, 2] * 100), feature="x").verdict == (
        "no_drift"
    )


def test_nulls_are_counted_apart_and_left_out() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=1_000)
    cur = np.concatenate([rng.normal(size=800), [np.nan] * 150, [np.inf, -np.inf] * 25])
    with_nulls = compare(profile(np.append(ref, [np.nan] * 7)), cur, feature="x")
    assert (with_nulls.n_reference, with_nulls.nulls_reference) == (1_000, 7)
    assert (with_nulls.n_current, with_nulls.nulls_current) == (800, 200)
    assert statistics_of(with_nulls) == statistics_of(compare(profile(ref), cur[:800], feature="x"))
    cats = compare(profile(["a", None, "b", float("nan")] * 50), ["a", None] * 60, feature="c")
    assert (cats.n_reference, cats.nulls_reference, cats.n_current, cats.nulls_current) == (
        100,
        100,
        60,
        60,
    )


def test_too_small_windows_say_so_and_still_report_their_tests() -> None:
    rng = np.random.default_rng(0)
    ref = profile(rng.normal(size=5_000))
    small = compare(ref, rng.normal(3, 1, size=MIN_COUNT - 1), feature="x")
    assert small.verdict == "too_small"
    assert {t.verdict for t in small.tests} == {"too_small"}
    assert statistics_of(small)["ks"] > 0.5  # the change is visible, but no verdict is guessed
    enough = compare(ref, rng.normal(3, 1, size=MIN_COUNT), feature="x")
    assert enough.verdict == "drift"
    empty = compare(ref, [np.nan, np.nan], feature="x")
    assert (empty.verdict, empty.tests, empty.p_value, empty.nulls_current) == (
        "too_small",
        (),
        None,
        2,
    )
    assert compare(profile([np.nan]), [1.0] * 500, feature="x").tests == ()


def test_verdict_needs_both_significance_and_effect() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=2_000)
    cur = rng.normal(0.3, 1, size=2_000)
    result = compare(ref, cur, feature="x")
    assert result.verdict == "drift"
    assert result.p_value is not None
    assert result.p_value < 1e-6
    strict = compare(ref, cur, feature="x", thresholds={"ks": 1, "psi": 1, "wasserstein": 1})
    assert strict.verdict == "no_drift"
    assert compare(ref, cur, feature="x", alpha=1e-30).verdict == "no_drift"
    for t in result.tests:
        assert t.threshold == THRESHOLDS[t.test]
        assert t.verdict == ("drift" if t.effect >= t.threshold else "no_drift")


def test_wasserstein_effect_is_in_reference_standard_deviations() -> None:
    rng = np.random.default_rng(2)
    ref = rng.normal(10, 5, size=100_000)
    w1 = next(t for t in compare(ref, ref + 1.0, feature="x").tests if t.test == "wasserstein")
    assert w1.statistic == pytest.approx(1.0, rel=1e-9)
    assert w1.effect == pytest.approx(1.0 / ref.std(), rel=1e-9)
    constant = compare(np.ones(500), np.ones(500) * 2, feature="x")
    assert {t.test: t.effect for t in constant.tests}["wasserstein"] == math.inf


def test_profiles_round_trip_through_json() -> None:
    rng = np.random.default_rng(3)
    for values in (
        np.append(rng.normal(size=5_000), [np.nan, np.inf]),
        rng.integers(0, 3, 500),
        ["x", "y", None, "x"],
        np.array([], dtype=float),
    ):
        p = profile(values)
        assert profile_from_dict(json.loads(json.dumps(p.to_dict(), allow_nan=False))) == p
    assert isinstance(profile([True, False]), CategoricalProfile)
    numeric = profile(rng.normal(size=1_000))
    assert isinstance(numeric, NumericProfile)
    assert len(numeric.quantiles) == 1_001
    assert numeric.quantiles[0] == numeric.quantiles[0] <= numeric.quantiles[-1]
    assert numeric.bin_counts == (100,) * 10  # (-inf, q_0.1], (q_0.1, q_0.2], ...


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "histogram"}, "is not one of"),
        ({"kind": "numeric", "count": 1}, "missing"),
        (
            {
                **profile([1.0, 2.0, 3.0]).to_dict(),  # type: ignore[union-attr]
                "quantiles": [3.0, 1.0, 2.0],
            },
            "unsorted",
        ),
        ({**profile(["a"]).to_dict(), "count": 5}, "summing to 1"),
    ],
)
def test_bad_profiles_are_refused_with_the_reason(data: dict[str, object], message: str) -> None:
    with pytest.raises(DriftError, match=message):
        profile_from_dict(data)


def test_bad_inputs_raise_drift_errors_naming_the_fix() -> None:
    with pytest.raises(DriftError, match="convert them to floats"):
        compare(profile([1.0, 2.0]), ["a", "b"], feature="x")
    with pytest.raises(DriftError, match="no tests named"):
        compare([1.0], [2.0], feature="x", thresholds={"kolmogorov": 0.2})
    with pytest.raises(DriftError, match="one column"):
        profile(np.zeros((3, 2)))
    with pytest.raises(DriftError, match="multiple of bins"):
        profile([1.0], quantiles=15)
    with pytest.raises(DriftError, match="same columns"):
        multivariate(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(DriftError, match="not 'holm' or 'bh'"):
        adjust([0.1], method="bonferroni")
    with pytest.raises(DriftError, match=r"\[0, 1\]"):
        adjust([0.1, float("nan")])
    assert issubclass(DriftError, StoreError)
    assert issubclass(DriftError, ValueError)


def holm_by_definition(p: list[float]) -> list[float]:
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


@settings(max_examples=200, deadline=None)
@given(p=st.lists(st.floats(0, 1), max_size=40))
def test_adjusted_p_values_match_holm_and_scipy_bh(p: list[float]) -> None:
    assert adjust(p, "holm").tolist() == pytest.approx(holm_by_definition(p), abs=1e-15)
    if p:
        want = stats.false_discovery_control(p, method="bh")
        assert adjust(p, "bh").tolist() == pytest.approx(want.tolist(), abs=1e-12)


def test_adjust_family_decides_on_adjusted_p_values_and_skips_small_windows() -> None:
    rng = np.random.default_rng(9)  # a seed giving a borderline feature: the premise below
    ref = profile(rng.normal(size=5_000))
    borderline = compare(ref, rng.normal(0.12, 1, size=2_000), feature="b")
    assert borderline.p_value is not None
    assert 0.05 / 31 < borderline.p_value <= ALPHA
    assert borderline.verdict == "drift"
    quiet = [compare(ref, rng.normal(size=2_000), feature=f"q{i}") for i in range(30)]
    small = compare(ref, rng.normal(size=10), feature="small")
    report = adjust_family([borderline, *quiet, small])
    assert report[0].verdict == "no_drift"  # significant alone, not among 31 features
    assert report[0].p_adjusted == pytest.approx(min(1, 31 * borderline.p_value))
    assert report[0].alpha == 0.05
    assert report[-1] == small
    assert all(r.p_adjusted is not None for r in report[:-1])


def mmd2_by_definition(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD² with the median-distance Gaussian kernel, term by term."""
    z = np.vstack([x, y])
    d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=2)
    width2 = np.median(d2[np.triu_indices(len(z), 1)])
    k = np.exp(-d2 / (2 * width2))
    n, m = len(x), len(y)
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    return float(
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * kxy.mean()
    )


def test_mmd_statistic_equals_the_definition() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(150, 3))
    y = rng.normal(size=(120, 3)) * [1, 2, 1] + [0.3, 0, 0]
    result = multivariate(x, y, rows=500, permutations=99)
    scale = x.std(axis=0)
    (mmd,) = result.tests
    assert mmd.statistic == pytest.approx(mmd2_by_definition(x / scale, y / scale), rel=1e-9)
    assert mmd.p_value == pytest.approx(0.01)  # the smallest possible: 1 / (1 + 99)
    assert result.verdict == "drift"
    assert (result.kind, result.n_reference, result.n_current) == ("multivariate", 150, 120)


def test_mmd_effect_reads_as_a_shift_in_standard_deviations() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4_000, 4))
    for shift in (0.3, 0.6):
        (mmd,) = multivariate(x, rng.normal(shift, 1, size=(4_000, 4)), rows=1_000).tests
        assert mmd.effect == pytest.approx(shift, abs=0.1)


def test_mmd_counts_rows_with_nulls_and_is_reproducible() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(size=(300, 2))
    y = rng.normal(size=(300, 2))
    y[:10, 1] = np.nan
    first, second = multivariate(x, y, rows=100), multivariate(x, y, rows=100)
    assert first == second
    assert (first.n_current, first.nulls_current) == (290, 10)
    assert multivariate(x[:50], y, min_count=MIN_COUNT).verdict == "too_small"
