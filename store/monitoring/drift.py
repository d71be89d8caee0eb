"""Drift: whether the values a feature takes now still look like its reference.

A reference (usually the serving model version's training set) is profiled once
(:func:`profile`) and stored as JSON; a monitoring run compares each feature's current window
with its profile (:func:`compare`), then decides a whole report together so that false alarms
stay rare across features and windows (:func:`adjust_family`). Given the reference values
instead of a profile, :func:`compare` computes the exact two-sample statistics;
:func:`multivariate` compares rows of several features at once. Pure functions: no I/O.

Verdicts. With millions of rows every p-value is tiny, so a p-value alone is no verdict: a
feature drifts when its deciding test (ks, chi2 or mmd) is significant (``p <= alpha``) *and*
at least one effect reaches its threshold. The p-value and the sample sizes are reported
beside. Fewer than :data:`MIN_COUNT` (100) non-null values on either side give
``"too_small"``: a decile bin would expect under 10 values, and only gross changes could be
significant. Nulls (None, NaN, +-inf) are counted apart and left out of every test.

=============  ===========  ==============================================  =========  ===
test           kind         effect (what the threshold applies to)          threshold  why
=============  ===========  ==============================================  =========  ===
ks             numeric      largest gap between the two CDFs (D)            0.1        1
psi            numeric      population stability index, reference deciles   0.1        2
wasserstein    numeric      W1 distance / reference standard deviation      0.1        3
chi2           categorical  Cohen's w = sqrt(chi2 * (1/n_ref + 1/n_cur))    0.1        4
linf           categorical  largest change of one category's share          0.1        5
mmd            several      shift in SD of every feature with the same MMD  0.1        3
=============  ===========  ==============================================  =========  ===

1. Ten points of probability mass moved past some value (a 0.25 SD shift of a normal).
2. The credit-scoring rule: below 0.1 "no significant change" (a 0.32 SD shift).
3. A tenth of a standard deviation, Evidently's default for the normed W1; for a mean shift
   W1 / SD is the shift itself, so this is the sensitive test for location changes.
4. Cohen's "small" effect: w is the chi-square statistic with the sample sizes taken out.
5. Ten percentage points, for reading; w >= 2 * linf, so w decides first at the defaults.

Error rates. ``compare`` tests each feature at :data:`ALPHA` (1%). Unchanged, a report of
20 such features would still alarm up to one time in five, so :func:`adjust_family` adjusts
the report's p-values: Holm by default, for the family-wise rate (the chance that a report
of unchanged features raises any alarm, :data:`FAMILY_ALPHA` = 5%), or Benjamini-Hochberg
for the false-discovery rate. Put every result of a report (features x windows) in one call.

Profiles. A :class:`NumericProfile` keeps the reference's quantiles at probabilities ``j/K``
(K = :data:`QUANTILES`), so its CDF is known within 1/K: against a profile, KS is within
``1 / (2K)`` (0.0005) of the exact statistic; PSI is exact (the decile edges are among the
quantiles and the reference's counts are stored); W1 is exact beyond the reference's range
and within ``sum(gap_i * (1/K + m_i))`` inside it (gap_i: between consecutive distinct
quantiles; m_i: the current share strictly inside), far less for smooth data. KS p-values
are SciPy's asymptotic ones (``ks_2samp(method="asymp")``: the exact law costs O(n*m)), in
closed form in the tail of large samples (``_ks_p_value``).

Example:
    >>> rng = np.random.default_rng(0)
    >>> reference = profile(rng.normal(size=10_000))
    >>> result = compare(reference, rng.normal(0.5, 1, size=1_000), feature="rate")
    >>> result.verdict, [(t.test, t.verdict) for t in result.tests]
    ('drift', [('ks', 'drift'), ('psi', 'drift'), ('wasserstein', 'drift')])
    >>> compare(reference, rng.normal(size=50), feature="rate").verdict
    'too_small'
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from store.errors import DriftError

__all__ = [
    "ALPHA",
    "BINS",
    "FAMILY_ALPHA",
    "MIN_COUNT",
    "MMD_PERMUTATIONS",
    "MMD_ROWS",
    "PSI_FLOOR",
    "QUANTILES",
    "THRESHOLDS",
    "CategoricalProfile",
    "DriftError",
    "DriftResult",
    "FeatureDrift",
    "Histogram",
    "NumericProfile",
    "adjust",
    "adjust_family",
    "compare",
    "multivariate",
    "profile",
    "profile_from_dict",
]

ALPHA = 0.01  # per feature: at most 1% of unchanged features flagged
FAMILY_ALPHA = 0.05  # per report, family-wise (Holm)
MIN_COUNT = 100  # non-null values per side below which the verdict is "too_small"
QUANTILES = 1000  # K: the profile's CDF is known within 1/K (JSON of ~20 kB per feature)
BINS = 10  # PSI bins: the reference's deciles
PSI_FLOOR = 1e-4  # an empty bin counts as this share, so that PSI stays finite
MMD_ROWS = 500  # rows per side for MMD, whose cost is quadratic (fixed-seed subsample)
MMD_PERMUTATIONS = 1000  # smallest MMD p-value 1/1001: Holm at 5% over up to ~50 tests
THRESHOLDS: Mapping[str, float] = MappingProxyType(
    {"ks": 0.1, "psi": 0.1, "wasserstein": 0.1, "chi2": 0.1, "linf": 0.1, "mmd": 0.1}
)
_KS_SCIPY_MAX_N = 2_000  # above, KS tail p-values in closed form (see _ks_p_value)
_CHI2_MIN_EXPECTED = 5.0  # Cochran's rule: rarer categories are pooled into one cell

Verdict = Literal["drift", "no_drift", "too_small"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True, kw_only=True)
class NumericProfile:
    """A numeric reference: quantiles at ``linspace(0, 1, K + 1)``, decile bins and moments.

    ``quantiles[j]`` is the smallest value whose CDF reaches ``j / K`` (the first is the
    minimum, the last the maximum); ``bin_counts[i]`` counts the values in
    ``(bin_edges[i - 1], bin_edges[i]]``, the outer bins open. With ``count`` 0 the
    sequences are empty and the moments 0.0.
    """

    count: int
    nulls: int
    quantiles: tuple[float, ...] = ()
    bin_edges: tuple[float, ...] = ()
    bin_counts: tuple[int, ...] = ()
    mean: float = 0.0
    std: float = 0.0

    def __post_init__(self) -> None:
        q, edges, counts = self.quantiles, self.bin_edges, self.bin_counts
        checks = [
            ("count", self.count, self.count >= 0 and self.nulls >= 0),
            ("len(quantiles)", len(q), len(q) >= 2 if self.count else not q),
            ("quantiles", "unsorted or not finite", _sorted_finite(q)),
            ("bin_edges", "not among the quantiles", set(edges) <= set(q)),
            ("len(bin_counts)", len(counts), len(counts) == len(edges) + 1 if q else not counts),
            ("sum(bin_counts)", sum(counts), sum(counts) == self.count),
        ]
        problems = [f"{name} is {value}" for name, value, ok in checks if not ok]
        if problems:
            raise DriftError(f"invalid numeric profile: {'; '.join(problems)}; use profile()")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values; :func:`profile_from_dict` reads them back."""
        fields = ("count", "nulls", "quantiles", "bin_edges", "bin_counts", "mean", "std")
        return {"kind": "numeric"} | {
            f: list(v) if isinstance(v := getattr(self, f), tuple) else v for f in fields
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NumericProfile:
        """Read back :meth:`to_dict`; raises DriftError naming what is missing."""
        d = _fields(data, "numeric", NumericProfile.__dataclass_fields__)
        return cls(
            count=int(d["count"]),
            nulls=int(d["nulls"]),
            quantiles=tuple(float(v) for v in d["quantiles"]),
            bin_edges=tuple(float(v) for v in d["bin_edges"]),
            bin_counts=tuple(int(v) for v in d["bin_counts"]),
            mean=float(d["mean"]),
            std=float(d["std"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CategoricalProfile:
    """A categorical reference: how often each value (as ``str``) occurs; nulls apart."""

    count: int
    nulls: int
    frequencies: Mapping[str, int]

    def __post_init__(self) -> None:
        total = sum(self.frequencies.values())
        if total != self.count or self.nulls < 0 or min(self.frequencies.values(), default=1) < 1:
            raise DriftError(
                f"invalid categorical profile: count {self.count}, nulls {self.nulls}, "
                f"positive frequencies summing to {total} expected; use profile()"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values; :func:`profile_from_dict` reads them back."""
        return {
            "kind": "categorical",
            "count": self.count,
            "nulls": self.nulls,
            "frequencies": dict(self.frequencies),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalProfile:
        """Read back :meth:`to_dict`; raises DriftError naming what is missing."""
        d = _fields(data, "categorical", CategoricalProfile.__dataclass_fields__)
        freq = {str(k): int(v) for k, v in d["frequencies"].items()}
        return cls(count=int(d["count"]), nulls=int(d["nulls"]), frequencies=freq)


_PROFILES: Mapping[str, type[NumericProfile] | type[CategoricalProfile]] = MappingProxyType(
    {"numeric": NumericProfile, "categorical": CategoricalProfile}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftResult:
    """One test of one feature.

    ``p_value`` is None for the tests that have none (psi, wasserstein, linf): their verdict
    uses the feature's deciding p-value. ``effect`` is what ``threshold`` applies to (see the
    table above); for ks, psi and linf it is the statistic itself.
    """

    test: str
    statistic: float
    p_value: float | None
    effect: float
    threshold: float
    verdict: Verdict


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureDrift:
    """The verdict on one feature (or, from :func:`multivariate`, on features jointly).

    ``p_value`` is the deciding test's (ks, chi2 or mmd; None when a side had no values);
    :func:`adjust_family` sets ``p_adjusted`` and ``alpha`` and decides again. Counts are of
    non-null values; ``nulls_*`` count None, NaN and +-inf.
    """

    feature: str
    kind: Literal["numeric", "categorical", "multivariate"]
    verdict: Verdict
    p_value: float | None
    alpha: float
    n_reference: int
    n_current: int
    nulls_reference: int
    nulls_current: int
    tests: tuple[DriftResult, ...] = ()
    p_adjusted: float | None = None
    histogram: Histogram | None = None


@dataclass(frozen=True, slots=True)
class Histogram:
    """A numeric feature's reference and current values counted in the same bins (the PSI
    bins: the reference's deciles, the outer bins open): ``edges`` are the inner edges, so
    there is one more count than edges on each side. Pictures of a window draw this."""

    edges: tuple[float, ...]
    reference: tuple[int, ...]
    current: tuple[int, ...]


def profile(
    values: npt.ArrayLike, *, quantiles: int = QUANTILES, bins: int = BINS
) -> NumericProfile | CategoricalProfile:
    """Profile a reference sample once, to compare windows with it later.

    Args:
        values: one column. Integers and floats are numeric; strings, booleans and objects
            are categorical, compared as ``str`` (make numbers held as objects floats first).
        quantiles: K, the quantile steps kept; the profile-based KS is within 1/(2K).
        bins: PSI bins, cut at the quantiles ``1/bins, ..., (bins-1)/bins`` (equal values
            merge); must divide ``quantiles`` so that the edges are among the quantiles.

    Returns:
        A :class:`NumericProfile` or a :class:`CategoricalProfile` (``to_dict()`` for JSON).

    Example:
        >>> p = profile([3.0, 1.0, float("nan"), 2.0, 4.0], quantiles=4, bins=2)
        >>> p.count, p.nulls, p.quantiles, p.bin_edges, p.bin_counts
        (4, 1, (1.0, 1.0, 2.0, 3.0, 4.0), (2.0,), (2, 2))
        >>> profile(["a", "b", "a", None]).frequencies
        {'a': 2, 'b': 1}
    """
    if quantiles < 2 or bins < 2 or quantiles % bins:
        raise DriftError(f"quantiles={quantiles} must be a multiple of bins={bins}, both >= 2")
    x = _column(values)
    if not _is_numeric(x):
        freq, nulls = _categories(x)
        return CategoricalProfile(count=sum(freq.values()), nulls=nulls, frequencies=freq)
    finite, nulls = _numbers(x)
    if finite.size == 0:
        return NumericProfile(count=0, nulls=nulls)
    xs = np.sort(finite)
    edges = _edges(xs, bins)
    return NumericProfile(
        count=int(xs.size),
        nulls=nulls,
        quantiles=tuple(_quantiles(xs, quantiles).tolist()),
        bin_edges=tuple(edges.tolist()),
        bin_counts=tuple(_bin_counts(xs, edges).tolist()),
        mean=float(xs.mean()),
        std=float(xs.std()),
    )


def profile_from_dict(data: Mapping[str, Any]) -> NumericProfile | CategoricalProfile:
    """Read a stored profile back, of the kind its ``"kind"`` key names.

    Example:
        >>> p = profile([1.5, 2.5, 3.5, 4.5])
        >>> profile_from_dict(p.to_dict()) == p
        True
    """
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _PROFILES:
        raise DriftError(f"profile kind {kind!r} is not one of {sorted(_PROFILES)}")
    return _PROFILES[kind].from_dict(data)


def compare(
    reference: NumericProfile | CategoricalProfile | npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    feature: str,
    alpha: float = ALPHA,
    thresholds: Mapping[str, float] | None = None,
    min_count: int = MIN_COUNT,
) -> FeatureDrift:
    """Compare a feature's current values with its reference, and decide whether it drifted.

    Args:
        reference: a stored profile, or the reference values themselves (then KS and W1 are
            the exact two-sample statistics, as SciPy computes them).
        current: the window's values: numbers against a numeric reference; anything,
            compared as ``str``, against a categorical one.
        feature: the feature's name, carried into the result.
        alpha: the deciding test's significance level (per feature; a report is corrected
            with :func:`adjust_family`).
        thresholds: effect thresholds by test name, overriding :data:`THRESHOLDS`.
        min_count: non-null values needed on each side for a verdict.

    Returns:
        A :class:`FeatureDrift`: every test, and the verdict. Tests still run on windows too
        small for a verdict, and none run when a side has no values.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> ref = rng.choice(["a", "b", "c"], p=[0.5, 0.3, 0.2], size=5_000)
        >>> now = rng.choice(["a", "b", "c"], p=[0.3, 0.3, 0.4], size=2_000)
        >>> r = compare(profile(ref), now, feature="city")
        >>> r.verdict, [(t.test, round(t.effect, 2)) for t in r.tests]
        ('drift', [('chi2', 0.55), ('linf', 0.22)])
    """
    unknown = sorted(set(thresholds or {}) - set(THRESHOLDS))
    if unknown:
        raise DriftError(f"no tests named {unknown}; thresholds apply to {sorted(THRESHOLDS)}")
    limits = {**THRESHOLDS, **(thresholds or {})}
    cur = _column(current)
    histogram = None
    ref: NumericProfile | CategoricalProfile | npt.NDArray[Any]
    if isinstance(reference, NumericProfile | CategoricalProfile):
        ref = reference
    else:
        ref = _column(reference)
        if not (_is_numeric(ref) and _is_numeric(cur)):
            ref = profile(ref)
    if isinstance(ref, CategoricalProfile):
        freq, cur_nulls = _categories(cur)
        n_ref, ref_nulls, n_cur = ref.count, ref.nulls, sum(freq.values())
        tests = _categorical_tests(ref, freq, limits) if n_ref and n_cur else ()
    elif _is_numeric(cur):
        x, cur_nulls = _numbers(cur)
        if isinstance(ref, NumericProfile):
            n_ref, ref_nulls = ref.count, ref.nulls
            measures = _against_profile(ref, x) if n_ref and x.size else None
        else:
            r, ref_nulls = _numbers(ref)
            n_ref, measures = r.size, _exact(r, x) if r.size and x.size else None
        n_cur = x.size
        tests = _numeric_tests(measures, n_ref, n_cur, limits) if measures else ()
        if measures:
            histogram = Histogram(
                tuple(float(e) for e in measures[5]),
                tuple(int(c) for c in measures[2]),
                tuple(int(c) for c in measures[3]),
            )
    else:
        raise DriftError(
            f"feature {feature!r}: the reference is numeric but the current values are "
            f"{cur.dtype}; convert them to floats (None as NaN)"
        )
    result = FeatureDrift(
        feature=feature,
        kind="categorical" if isinstance(ref, CategoricalProfile) else "numeric",
        verdict="too_small",
        p_value=tests[0].p_value if tests else None,
        alpha=alpha,
        n_reference=n_ref,
        n_current=n_cur,
        nulls_reference=ref_nulls,
        nulls_current=cur_nulls,
        tests=tests,
        histogram=histogram,
    )
    return result if min(n_ref, n_cur) < min_count else _decided(result, result.p_value, alpha)


def multivariate(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    feature: str = "(joint)",
    alpha: float = ALPHA,
    threshold: float = THRESHOLDS["mmd"],
    rows: int = MMD_ROWS,
    permutations: int = MMD_PERMUTATIONS,
    seed: int = 0,
    min_count: int = MIN_COUNT,
) -> FeatureDrift:
    """Compare rows of several numeric features at once, with the kernel MMD.

    Tests of one feature at a time miss changes in how features vary together (a correlation
    that appears, a cluster moving along a diagonal). The unbiased MMD² with a Gaussian kernel
    sees any difference between distributions; columns are divided by the reference's standard
    deviation and the bandwidth is the median distance between rows. Its cost is quadratic,
    so each side is subsampled to ``rows`` rows with a fixed seed (the answer is reproducible);
    the p-value is from ``permutations`` relabellings. The effect is the shift, in standard
    deviations of every feature, that gives the same MMD² between Gaussians at this bandwidth:
    on the same scale as the Wasserstein threshold.

    Args:
        reference: an (n, d) array of numbers; rows with a null are counted and dropped.
        current: an (m, d) array of the same columns.
        feature: the name carried into the result.

    Returns:
        A :class:`FeatureDrift` of kind ``"multivariate"`` with one ``mmd`` test.

    Example:
        >>> rng = np.random.default_rng(2)
        >>> ref = rng.normal(size=(1_000, 2))
        >>> now = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=1_000)
        >>> multivariate(ref, now).verdict
        'drift'
    """
    x, y = (np.asarray(a, dtype=np.float64) for a in (reference, current))
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or x.shape[1] == 0:
        raise DriftError(
            f"feature {feature!r}: expected two (rows, columns) arrays with the same columns, "
            f"got shapes {x.shape} and {y.shape}"
        )
    keep_x, keep_y = np.isfinite(x).all(axis=1), np.isfinite(y).all(axis=1)
    n_ref, n_cur, d = int(keep_x.sum()), int(keep_y.sum()), x.shape[1]
    result = FeatureDrift(
        feature=feature,
        kind="multivariate",
        verdict="too_small",
        p_value=None,
        alpha=alpha,
        n_reference=n_ref,
        n_current=n_cur,
        nulls_reference=len(x) - n_ref,
        nulls_current=len(y) - n_cur,
    )
    if min(n_ref, n_cur) < max(min_count, 2):
        return result
    rng = np.random.default_rng(seed)
    x, y = x[keep_x], y[keep_y]
    spread = x.std(axis=0)
    scale = np.where(spread > 0, spread, 1.0)
    x, y = (a[rng.choice(len(a), min(rows, len(a)), replace=False)] / scale for a in (x, y))
    mmd2, p_value, width2 = _mmd(x, y, permutations, rng)
    # Between N(0, I) and N(delta, I) in d dimensions this kernel gives
    # MMD² = 2 c (1 - exp(-d delta² / (2 (w² + 2)))), c = (w² / (w² + 2)) ** (d / 2): solve.
    ratio = max(mmd2, 0.0) / (2 * (width2 / (width2 + 2)) ** (d / 2))
    shift = math.sqrt(-2 * (width2 + 2) / d * math.log1p(-ratio)) if ratio < 1 else math.inf
    test = _result("mmd", mmd2, p_value, shift, threshold)
    return _decided(replace(result, p_value=p_value, tests=(test,)), p_value, alpha)


def adjust(p_values: npt.ArrayLike, method: str = "holm") -> FloatArray:
    """Adjust p-values for multiplicity; compare each with the family's alpha afterwards.

    ``"holm"`` controls the family-wise error rate (the chance of any false alarm) under any
    dependence between the tests; ``"bh"`` (Benjamini-Hochberg) controls the expected share
    of false alarms among the alarms, for independent or positively dependent tests, and
    finds more when many features drift. When nothing drifted the two promise the same.

    Example:
        >>> adjust([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
        [0.04, 0.09, 0.09, 0.5]
        >>> adjust([0.01, 0.04, 0.03, 0.5], method="bh").round(3).tolist()
        [0.04, 0.053, 0.053, 0.5]
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if method not in ("holm", "bh"):
        raise DriftError(f"adjust method {method!r} is not 'holm' or 'bh'")
    bad = ~((p >= 0) & (p <= 1))
    if bad.any():
        raise DriftError(f"p-values must lie in [0, 1]; got {p[bad][:3].tolist()}")
    m = p.size
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        steps = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:
        steps = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(steps, 1.0)
    return out


def adjust_family(
    results: Sequence[FeatureDrift], *, alpha: float = FAMILY_ALPHA, method: str = "holm"
) -> list[FeatureDrift]:
    """Decide a report's results together, so that false alarms stay rare across all of them.

    The deciding p-values of the results that reached a verdict (not ``"too_small"``) are
    adjusted with :func:`adjust` and compared with ``alpha``; effect thresholds still apply.
    Pass every result of a report (features x windows, the multivariate one too) at once.

    Example:
        >>> rng = np.random.default_rng(3)
        >>> ref = profile(rng.normal(size=5_000))
        >>> report = [compare(ref, rng.normal(size=1_000), feature=f"f{i}") for i in range(20)]
        >>> report.append(compare(ref, rng.normal(1, 1, size=1_000), feature="moved"))
        >>> [r.feature for r in adjust_family(report) if r.verdict == "drift"]
        ['moved']
    """
    tested = [(i, r.p_value) for i, r in enumerate(results) if r.verdict != "too_small"]
    decided = [(i, p) for i, p in tested if p is not None]
    adjusted = adjust([p for _, p in decided], method)
    out = list(results)
    for (i, _), p in zip(decided, adjusted.tolist(), strict=True):
        out[i] = _decided(replace(out[i], p_adjusted=p, alpha=alpha), p, alpha)
    return out


# --- numeric -------------------------------------------------------------------------------

# ks, w1, PSI bins of the reference and the current values, std, the bins' inner edges
_Measures = tuple[float, float, IntArray, IntArray, float, FloatArray]


def _exact(r: FloatArray, x: FloatArray) -> _Measures:
    """KS and W1 of two samples, exactly as SciPy computes them, and the PSI bins."""
    rs, xs = np.sort(r), np.sort(x)
    both = np.concatenate((rs, xs))
    order = np.argsort(both, kind="stable")  # merges the two sorted runs: linear time
    values = both[order]
    from_ref = np.cumsum(order < rs.size)
    gap = from_ref / rs.size - (np.arange(1, values.size + 1) - from_ref) / xs.size
    last = np.append(values[1:] != values[:-1], True)  # the CDFs hold after a run of ties
    ks = max(float(gap[last].max()), -float(gap[last].min()))
    w1 = float(np.vecdot(np.abs(gap[:-1]), np.diff(values)))
    edges = _edges(rs, BINS)
    return ks, w1, _bin_counts(rs, edges), _bin_counts(xs, edges), float(rs.std()), edges


def _against_profile(ref: NumericProfile, x: FloatArray) -> _Measures:
    """KS (within 1/(2K)), W1 (within its bound) and exact PSI bins against a profile."""
    q = np.asarray(ref.quantiles)
    k, n = q.size - 1, x.size
    u = np.unique(q)
    last = np.searchsorted(q, u, "right") - 1  # on [u_i, u_i+1) F_ref is in [last_i/K, +1/K)
    below, equal = _cells(u, x)  # how many current values are < u_i, == u_i
    upto = below + equal
    mid = (last[:-1] + 0.5) / k
    inner = np.concatenate((np.abs(mid - upto[:-1] / n), np.abs(mid - below[1:] / n)))
    ks = max(below[0] / n, 1 - upto[-1] / n, float(inner.max(initial=0.0)))
    # W1 inside the reference's range: both CDFs taken as linear between consecutive
    # distinct quantiles; outside it the reference's CDF is 0 or 1 and the sums are exact.
    d0, d1 = last[:-1] / k - upto[:-1] / n, (last[:-1] + 1) / k - below[1:] / n
    a0, a1 = np.abs(d0), np.abs(d1)
    crossing = d0 * d1 < 0
    area = np.where(crossing, (d0**2 + d1**2) / np.where(crossing, a0 + a1, 1) / 2, (a0 + a1) / 2)
    w1 = float(area @ np.diff(u))
    if below[0]:
        w1 += float(np.sum(u[0] - x[x < u[0]])) / n
    if upto[-1] < n:
        w1 += float(np.sum(x[x > u[-1]] - u[-1])) / n
    cur_bins = np.diff(upto[np.searchsorted(u, ref.bin_edges)], prepend=0, append=n)
    return float(ks), w1, np.asarray(ref.bin_counts), cur_bins, ref.std, np.asarray(ref.bin_edges)


def _numeric_tests(
    measures: _Measures, n_ref: int, n_cur: int, limits: Mapping[str, float]
) -> tuple[DriftResult, ...]:
    ks, w1, ref_bins, cur_bins, std, _ = measures
    p_ref = np.maximum(ref_bins / ref_bins.sum(), PSI_FLOOR)
    p_cur = np.maximum(cur_bins / cur_bins.sum(), PSI_FLOOR)
    psi = float(np.sum((p_cur - p_ref) * np.log(p_cur / p_ref)))
    scaled = w1 / std if std > 0 else (0.0 if w1 == 0 else math.inf)
    return (
        _result("ks", ks, _ks_p_value(ks, n_ref, n_cur), ks, limits["ks"]),
        _result("psi", psi, None, psi, limits["psi"]),
        _result("wasserstein", w1, None, scaled, limits["wasserstein"]),
    )


def _ks_p_value(d: float, n1: int, n2: int) -> float:
    """SciPy's asymptotic two-sided p-value (``ks_2samp(..., method="asymp")``): the
    one-sample law at n = n1 * n2 / (n1 + n2). In its tail SciPy sums Smirnov's series, which
    costs O(n) (0.6 s at n = 500,000); beyond n = 2,000 the closed form of Maag and Dicaire
    for it is used there instead: never below SciPy's p, and within 1.7% of it for p >= 1e-8.
    """
    big, small = max(n1, n2), min(n1, n2)
    n = max(float(np.round(big * small / (big + small))), 1.0)
    if n > _KS_SCIPY_MAX_N and n * d * d >= 2.2:  # 2.2: where SciPy's tail begins
        return min(1.0, 2 * math.exp(-((6 * n * d + 1) ** 2) / (18 * n)))
    return float(np.clip(stats.kstwo.sf(d, n), 0.0, 1.0))


def _cells(u: FloatArray, x: FloatArray) -> tuple[IntArray, IntArray]:
    """For each of the sorted distinct values ``u``: how many of ``x`` are below it, and equal.

    The counts of ``pos = np.searchsorted(u, x, "right")`` and ``x == u[pos - 1]``, found three
    times faster: a uniform grid of buckets over the central 98% of u sends each x to the one
    u in its bucket. The bucket function is monotone, so x == u_i puts both in one bucket and a
    later bucket means x > u_i; buckets holding several u (the clipped tails, dense places of a
    skewed distribution) are searched the usual way.
    """
    m, grid = u.size, 16 * u.size
    lo, hi = u[m // 100], u[m - 1 - m // 100]
    scale = grid / (hi - lo) if hi > lo else math.inf
    if not math.isfinite(scale) or x.size < 4 * grid:  # small windows: tables cost more
        pos = np.searchsorted(u, x, "right")
        equal = x == u[np.maximum(pos - 1, 0)]
    else:

        def bucket(v: FloatArray) -> IntArray:
            w: FloatArray = (v - lo) * scale
            np.clip(w, 0, grid, out=w)
            return w.astype(np.intp)

        start = np.searchsorted(bucket(u), np.arange(grid + 1), "left")  # u in earlier buckets
        size = np.diff(start, append=m)
        sole = np.where(size == 1, u[np.minimum(start, m - 1)], np.inf)
        b = bucket(x)
        candidate = sole[b]
        pos = start[b] + (x >= candidate)
        equal = x == candidate
        crowded = np.flatnonzero(size[b] > 1)
        pos[crowded] = np.searchsorted(u, x[crowded], "right")
        equal[crowded] = x[crowded] == u[pos[crowded] - 1]
    counts = np.bincount(2 * pos + equal, minlength=2 * m + 2).reshape(m + 1, 2)
    return np.cumsum(counts.sum(axis=1))[:m], counts[1:, 1]  # x < u_i exactly when pos <= i


def _quantiles(xs: FloatArray, k: int) -> FloatArray:
    """The smallest sorted value whose CDF reaches j/k, for j = 0..k (``inverted_cdf``)."""
    j = np.arange(k + 1, dtype=np.int64)
    return xs[np.maximum((xs.size * j + k - 1) // k - 1, 0)]


def _edges(xs: FloatArray, bins: int) -> FloatArray:
    return np.unique(_quantiles(xs, bins)[1:-1])


def _bin_counts(xs: FloatArray, edges: FloatArray) -> IntArray:
    # Bins closed on the right: (-inf, q_0.1] holds at least 10% of the reference.
    return np.diff(np.searchsorted(xs, edges, "right"), prepend=0, append=xs.size).astype(np.intp)


# --- categorical and shared ----------------------------------------------------------------


def _categorical_tests(
    ref: CategoricalProfile, freq: Mapping[str, int], limits: Mapping[str, float]
) -> tuple[DriftResult, ...]:
    names = sorted(ref.frequencies.keys() | freq.keys())
    table = np.array([[ref.frequencies.get(c, 0) for c in names], [freq.get(c, 0) for c in names]])
    rows = table.sum(axis=1)
    linf = float(np.abs(table[0] / rows[0] - table[1] / rows[1]).max())
    rare = rows.min() * table.sum(axis=0) / rows.sum() < _CHI2_MIN_EXPECTED
    if rare.sum() > 1:  # pooled into one cell, so that the chi-square law holds
        table = np.column_stack([table[:, ~rare], table[:, rare].sum(axis=1)])
    expected = np.outer(rows, table.sum(axis=0)) / rows.sum()
    chi2, dof = float(np.sum((table - expected) ** 2 / expected)), table.shape[1] - 1
    p_value = float(special.chdtrc(dof, chi2)) if dof > 0 else 1.0
    w = math.sqrt(chi2 * (1 / rows[0] + 1 / rows[1]))
    return (
        _result("chi2", chi2, p_value, w, limits["chi2"]),
        _result("linf", linf, None, linf, limits["linf"]),
    )


def _mmd(
    x: FloatArray, y: FloatArray, permutations: int, rng: np.random.Generator
) -> tuple[float, float, float]:
    """Unbiased MMD² of x and y, its permutation p-value, and the squared bandwidth."""
    z = np.vstack((x, y))
    total, n1, n2 = len(z), len(x), len(y)
    norms = np.einsum("ij,ij->i", z, z)
    dist2 = np.maximum(norms[:, None] + norms[None, :] - 2 * (z @ z.T), 0.0)
    width2 = float(np.median(dist2[np.triu_indices(total, 1)])) or 1.0
    kernel = np.exp(-dist2 / (2 * width2))
    # Every labelling at once: column 0 is the observed one, the others permutations of it.
    labels = np.tile(np.arange(total) < n1, (permutations + 1, 1))
    labels[1:] = rng.permuted(labels[1:], axis=1)
    a = labels.T.astype(np.float64)
    xx = np.einsum("ij,ij->j", a, kernel @ a) - n1  # sums of k(x, x') without the diagonal
    xy = kernel.sum(axis=0) @ a - n1 - xx
    yy = kernel.sum() - total - xx - 2 * xy
    mmd2 = xx / (n1 * (n1 - 1)) + yy / (n2 * (n2 - 1)) - 2 * xy / (n1 * n2)
    p_value = (1 + np.count_nonzero(mmd2[1:] >= mmd2[0])) / (1 + permutations)
    return float(mmd2[0]), float(p_value), width2


def _result(
    test: str, statistic: float, p: float | None, effect: float, limit: float
) -> DriftResult:
    return DriftResult(
        test=test,
        statistic=statistic,
        p_value=p,
        effect=float(effect),
        threshold=limit,
        verdict="too_small",
    )


def _decided(result: FeatureDrift, p_value: float | None, alpha: float) -> FeatureDrift:
    """Drift where the deciding test is significant and an effect reaches its threshold."""
    significant = p_value is not None and p_value <= alpha
    tests = tuple(
        replace(t, verdict="drift" if significant and t.effect >= t.threshold else "no_drift")
        for t in result.tests
    )
    verdict: Verdict = "drift" if any(t.verdict == "drift" for t in tests) else "no_drift"
    return replace(result, tests=tests, verdict=verdict)


def _column(values: npt.ArrayLike) -> npt.NDArray[Any]:
    x = np.asarray(values)
    if x.ndim != 1:
        raise DriftError(f"expected one column of values, got an array of shape {x.shape}")
    if x.dtype.kind not in "iufbUSO":
        raise DriftError(f"values of dtype {x.dtype} cannot be compared; convert to numbers")
    return x


def _sorted_finite(values: Sequence[float]) -> bool:
    q = np.asarray(values, dtype=np.float64)
    return bool(np.all(np.isfinite(q)) and np.all(q[1:] >= q[:-1]))


def _is_numeric(x: npt.NDArray[Any]) -> bool:
    return x.dtype.kind in "iuf"


def _numbers(x: npt.NDArray[Any]) -> tuple[FloatArray, int]:
    """The finite values as float64, and how many were null (NaN, +-inf)."""
    x = x.astype(np.float64, copy=False)
    finite = np.isfinite(x)
    kept = int(np.count_nonzero(finite))
    return (x, 0) if kept == x.size else (x[finite], x.size - kept)


def _categories(x: npt.NDArray[Any]) -> tuple[dict[str, int], int]:
    """Counts by ``str`` of each value, most frequent first; None and NaN are nulls."""
    freq: Counter[str] = Counter()
    nulls = 0
    for value, n in Counter(x.tolist()).items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            nulls += n
        else:
            freq[str(value)] += n
    return dict(sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))), nulls


def _fields(data: Mapping[str, Any], kind: str, names: Iterable[str]) -> Mapping[str, Any]:
    missing = [name for name in names if name not in data]
    if data.get("kind", kind) != kind or missing:
        raise DriftError(
            f"not a {kind} profile (kind {data.get('kind')!r}, missing {missing}); "
            f"store profile(...).to_dict()"
        )
    return data
