"""Experiment statistics: whether the treatment beats the control, and how sure to be.

Each arm's per-unit metric arrives as three numbers, a :class:`Sample`: ``COUNT(*)``,
``SUM(x)`` and ``SUM(x * x)``, which the predictions log computes in SQL. Everything here is
a pure function of those sufficient statistics: no I/O, no raw rows, no pandas.

Fixed-horizon tests: valid when read once, at a size planned in advance.

- :func:`compare_proportions`, for a 0/1 metric (converted, clicked): the two-proportion
  z-test. Its p-value uses the pooled standard error, because the null hypothesis says the
  two rates are one rate (z² is Pearson's chi-square of the 2x2 table); its interval uses the
  unpooled (Wald) standard error, because away from the null each arm has its own rate.
- :func:`compare_means`, for any metric: Welch's t-test (no equal-variance assumption,
  Welch-Satterthwaite degrees of freedom). The central limit theorem carries it to skewed
  metrics such as revenue at the sizes experiments run at.
- :func:`relative_lift`: ``treatment / control - 1`` with a delta-method interval.
- :func:`sample_size`: the units per arm that give the test its power.

Peeking. A fixed-horizon p-value is valid once. Read an A/A test every day for 30 days and
stop at the first ``p < 0.05``, and more than a quarter of them "win" instead of 5% (the
tests measure 27%). :func:`confidence_sequence` gives intervals that hold at every look at
once, so an experiment may be read daily and stopped as soon as its interval excludes 0.

The confidence sequence. Take Gaussian unit-variance increments (other metrics below) and
their sum ``S_t`` after ``t`` units. For every ``lambda``, ``exp(lambda S_t - lambda² t / 2)``
is a nonnegative martingale starting at 1; so is its mixture over ``lambda ~ N(0, rho²)``
(Robbins' normal mixture):

    ``M_t = (1 + t rho²)^(-1/2) exp(rho² S_t² / (2 (1 + t rho²)))``.

Ville's inequality bounds the chance that a nonnegative martingale ever reaches ``1 / alpha``:
``P(sup_t M_t >= 1 / alpha) <= alpha``. Solving ``M_t < 1 / alpha`` for ``S_t / t`` gives a
boundary that holds at all ``t`` simultaneously; for a metric of per-unit variance
``sigma²`` the estimate is within

    ``sigma * sqrt(2 (t rho² + 1) / (t² rho²) * log(sqrt(t rho² + 1) / alpha))``

of the truth, at every ``t``, with probability at least ``1 - alpha`` (Howard, Ramdas,
McAuliffe and Sekhon 2021). The difference of two arms' means behaves like the mean of
``t = n_c + n_t`` randomly assigned units with per-unit variance ``sigma² = t V``, where
``V = s_c² / n_c + s_t² / n_t`` is the variance of the difference estimate; plugging in the
running sample variances makes the sequence asymptotically valid for any metric with a
finite variance (Waudby-Smith et al. 2023; GrowthBook's sequential mode uses it). For 0/1
metrics the sample variance is ``p (1 - p) n / (n - 1)``, which is practically ``p (1 - p)``.

Any fixed ``rho`` is valid; ``rho² = (-2 log alpha + log(-2 log alpha + 1)) / t*`` makes the
boundary nearly tightest at ``t = t*`` units. With a horizon (the planned units per arm),
``t* = 2 * horizon``, tightest when the experiment reaches its planned size, where the
half-width is 3.04 standard errors at ``alpha = 0.05`` instead of 1.96: the price of reading
freely. Without a horizon ``t*`` is the current ``t``: the interval is then a valid, wider
one-look interval, but ``rho`` moves with every look, so the guarantee over all looks holds
only with a horizon (or any other number fixed in advance).

Sample sizes, counted per arm, for an absolute difference ``effect`` of the mean:
fixed-horizon ones from the classic formulas (see :func:`sample_size`); sequential ones the
smallest size at which the confidence sequence, tuned to that size, excludes 0 with
probability ``power``. For 10% -> 12% at ``alpha = 0.05`` and 80% power that is 3,841 units
per arm read once, or 7,350 read as often as wished (about 1.9 times as many).

Health and families. :func:`sample_ratio_mismatch` checks that the arms got the traffic they
were configured for (if not, assignment or logging is broken, and no comparison can be
trusted); :func:`holm` adjusts the p-values of several metrics or arms so that the chance of
any false win stays at ``alpha``.

Example:
    >>> control = Sample(n=20_000, total=2_000, total_squares=2_000)  # 10.0% converted
    >>> treatment = Sample(n=20_000, total=2_250, total_squares=2_250)  # 11.25%
    >>> r = compare_proportions(control, treatment, horizon=20_000)
    >>> r.test, round(r.difference, 4), f"{r.p_value:.1e}", round(r.lift or 0, 3)
    ('two-proportion z-test', 0.0125, '5.0e-05', 0.125)
    >>> round(r.low, 4), round(r.high, 4), round(r.sequential_low, 4)
    (0.0065, 0.0185, 0.0031)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

__all__ = [
    "Comparison",
    "Sample",
    "SampleRatio",
    "compare_means",
    "compare_proportions",
    "confidence_sequence",
    "holm",
    "is_binary",
    "relative_lift",
    "sample_ratio_mismatch",
    "sample_size",
]

_BINARY_TOLERANCE = 1e-9  # relative: SUM(x) and SUM(x * x) of 0/1 values are equal integers
_MAX_UNITS = 2**62  # the sequential search gives up here: the effect is too small to detect


@dataclass(frozen=True, slots=True)
class Sample:
    """Sufficient statistics of one arm's per-unit metric: count, sum, sum of squares.

    From SQL, ``COUNT(*)``, ``SUM(x)`` and ``SUM(x * x)`` over units (a unit with no event
    counts as 0); from values, :meth:`of`. The variance is computed as
    ``(SUM(x * x) - SUM(x)² / n) / (n - 1)``, which loses digits when the mean is large
    against the spread (timestamps, say): subtract a constant from ``x`` first, it changes
    no difference.

    Example:
        >>> s = Sample.of([0, 1, 1, 0, 1])
        >>> s, s.mean, s.variance
        (Sample(n=5, total=3.0, total_squares=3.0), 0.6, 0.3)
    """

    n: int
    total: float
    total_squares: float

    def __post_init__(self) -> None:
        problems = []
        if self.n < 0 or int(self.n) != self.n:
            problems.append("n must be a count of units, 0 or more")
        if not (math.isfinite(self.total) and math.isfinite(self.total_squares)):
            problems.append("the sums must be finite")
        elif self.total_squares < 0:
            problems.append("a sum of squares cannot be negative")
        elif self.n == 0 and (self.total or self.total_squares):
            problems.append("no units must have zero sums")
        if problems:
            raise ValueError(
                f"invalid Sample(n={self.n}, total={self.total}, "
                f"total_squares={self.total_squares}): {'; '.join(problems)}; build it with "
                f"Sample.of(values) or from COUNT(*), SUM(x), SUM(x * x)"
            )

    @property
    def mean(self) -> float:
        """The mean per unit; NaN when there are no units."""
        return self.total / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """The sample variance (``ddof=1``); 0.0 below two units, never negative."""
        if self.n < 2:
            return 0.0
        # Clipped: rounding can take the difference of two nearly equal sums below zero.
        return max((self.total_squares - self.total * self.total / self.n) / (self.n - 1), 0.0)

    @classmethod
    def of(cls, values: npt.ArrayLike) -> Sample:
        """The sufficient statistics of one column of per-unit values (finite numbers)."""
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(
                f"Sample.of expects one column of per-unit values, got shape {x.shape}"
            )
        missing = int(np.count_nonzero(~np.isfinite(x)))
        if missing:
            raise ValueError(
                f"Sample.of: {missing} of {x.size} values are NaN or infinite; drop or impute "
                f"them first (a unit with no event counts as 0)"
            )
        return cls(int(x.size), float(x.sum()), float(x @ x))


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """Treatment against control on one metric.

    ``low``/``high`` and ``p_value`` are fixed-horizon: read them once, at the planned size.
    ``sequential_low``/``sequential_high`` may be read at every look (given a horizon; see
    the module docstring). Values that cannot be computed yet (an arm with too few units) are
    NaN, the lift None and the sequence infinite.
    """

    test: str
    control_mean: float
    treatment_mean: float
    difference: float
    low: float
    high: float
    p_value: float
    lift: float | None
    lift_low: float | None
    lift_high: float | None
    sequential_low: float
    sequential_high: float
    alpha: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleRatio:
    """Whether the arms received the traffic they were configured for.

    ``statistic`` is the chi-square goodness-of-fit statistic, ``expected`` the counts the
    configured shares predict, and ``mismatch`` is ``p_value < threshold``.
    """

    statistic: float
    p_value: float
    expected: list[float]
    mismatch: bool


def compare_proportions(
    control: Sample, treatment: Sample, *, alpha: float = 0.05, horizon: int | None = None
) -> Comparison:
    """Compare two rates of a 0/1 metric with the two-proportion z-test.

    Args:
        control: the control arm's sample of 0/1 values.
        treatment: the treatment arm's.
        alpha: one minus the confidence of the intervals.
        horizon: the planned units per arm, which tunes the confidence sequence.

    Returns:
        A :class:`Comparison`: pooled-SE p-value, unpooled (Wald) interval of the difference,
        delta-method lift interval and confidence sequence.

    Raises:
        ValueError: an arm's values are not 0/1 (use :func:`compare_means`), or alpha is not
            in (0, 1).

    Example:
        >>> r = compare_proportions(Sample(1_000, 100, 100), Sample(1_000, 130, 130))
        >>> round(r.difference, 3), round(r.p_value, 4), (round(r.low, 4), round(r.high, 4))
        (0.03, 0.0355, (0.0021, 0.0579))
    """
    _check_level("alpha", alpha)
    for arm, sample in (("control", control), ("treatment", treatment)):
        if sample.n and not is_binary(sample):
            raise ValueError(
                f"the {arm} arm is not a 0/1 metric (SUM(x)={sample.total:.6g}, "
                f"SUM(x * x)={sample.total_squares:.6g}, mean {sample.mean:.4g}); "
                f"use compare_means for a metric with other values"
            )
    if not (control.n and treatment.n):
        return _comparison("two-proportion z-test", control, treatment, alpha, horizon)
    rate_c, rate_t = control.mean, treatment.mean
    difference = rate_t - rate_c
    pooled = (control.total + treatment.total) / (control.n + treatment.n)
    null_se = math.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / treatment.n))
    # Both arms all 0 or all 1: the rates are equal and nothing argues for a difference.
    p_value = math.erfc(abs(difference) / null_se / math.sqrt(2)) if null_se > 0 else 1.0
    se = math.sqrt(rate_c * (1 - rate_c) / control.n + rate_t * (1 - rate_t) / treatment.n)
    half = _normal_quantile(alpha) * se
    return _comparison(
        "two-proportion z-test",
        control,
        treatment,
        alpha,
        horizon,
        interval=(difference - half, difference + half),
        p_value=p_value,
    )


def compare_means(
    control: Sample, treatment: Sample, *, alpha: float = 0.05, horizon: int | None = None
) -> Comparison:
    """Compare two means with Welch's t-test (unequal variances).

    The degrees of freedom are Welch-Satterthwaite's,
    ``(V_c + V_t)² / (V_c² / (n_c - 1) + V_t² / (n_t - 1))`` with ``V = s² / n``; the
    interval is ``difference +- t_{1 - alpha/2, df} * sqrt(V_c + V_t)``. With no spread in
    either arm the difference is certain: the p-value is 0, or 1 when the means are equal.
    Each arm needs two units.

    Args:
        control: the control arm's sample.
        treatment: the treatment arm's.
        alpha: one minus the confidence of the intervals.
        horizon: the planned units per arm, which tunes the confidence sequence.

    Returns:
        A :class:`Comparison`.

    Example:
        >>> control, treatment = Sample.of([3.0, 5.0, 4.0, 6.0]), Sample.of([6.0, 7.0, 9.0, 8.0])
        >>> r = compare_means(control, treatment)
        >>> r.difference, round(r.p_value, 4), (round(r.low, 3), round(r.high, 3))
        (3.0, 0.0167, (0.766, 5.234))
    """
    _check_level("alpha", alpha)
    if control.n < 2 or treatment.n < 2:
        return _comparison("Welch's t-test", control, treatment, alpha, horizon)
    difference = treatment.mean - control.mean
    var_c, var_t = control.variance / control.n, treatment.variance / treatment.n
    se = math.sqrt(var_c + var_t)
    if se == 0:
        p_value, half = (1.0 if difference == 0 else 0.0), 0.0
    else:
        # Written with the shares w of the variance: no underflow when V² would be tiny.
        w = var_c / (var_c + var_t)
        df = 1 / (w * w / (control.n - 1) + (1 - w) * (1 - w) / (treatment.n - 1))
        p_value = 2 * float(special.stdtr(df, -abs(difference) / se))
        half = float(special.stdtrit(df, 1 - alpha / 2)) * se
    return _comparison(
        "Welch's t-test",
        control,
        treatment,
        alpha,
        horizon,
        interval=(difference - half, difference + half),
        p_value=p_value,
    )


def relative_lift(
    control: Sample, treatment: Sample, *, alpha: float = 0.05
) -> tuple[float, float, float] | None:
    """The relative lift ``m_t / m_c - 1`` and its delta-method ``(1 - alpha)`` interval.

    The ratio of two independent means has variance ``V_t / m_c² + m_t² V_c / m_c⁴`` to
    first order (``V = s² / n``); the interval is normal around the lift. It is good when
    the control mean is many standard errors from 0; None when it is 0 or an arm has fewer
    than two units.

    Returns:
        ``(lift, low, high)``, or None.

    Example:
        >>> lift = relative_lift(Sample(10_000, 1_000, 1_000), Sample(10_000, 1_100, 1_100))
        >>> [round(v, 3) for v in lift or ()]
        [0.1, 0.011, 0.189]
    """
    _check_level("alpha", alpha)
    if control.n < 2 or treatment.n < 2 or control.mean == 0:
        return None
    mean_c, mean_t = control.mean, treatment.mean
    var_c, var_t = control.variance / control.n, treatment.variance / treatment.n
    lift = mean_t / mean_c - 1
    half = _normal_quantile(alpha) * math.sqrt(var_t / mean_c**2 + mean_t**2 * var_c / mean_c**4)
    return lift, lift - half, lift + half


def confidence_sequence(
    control: Sample, treatment: Sample, *, alpha: float = 0.05, horizon: int | None = None
) -> tuple[float, float]:
    """An anytime-valid interval of ``treatment.mean - control.mean``.

    The Gaussian-mixture confidence sequence of the module docstring: with a horizon, the
    intervals computed at every look contain the true difference all at once with
    probability ``1 - alpha`` (asymptotically), so the experiment may stop as soon as one
    excludes 0.

    Args:
        control: the control arm's sample so far.
        treatment: the treatment arm's.
        alpha: the chance, over all looks together, that an interval misses.
        horizon: the planned units per arm; the sequence is tightest there. Without it, the
            sequence is tuned to the current size: valid at this look, not across looks.

    Returns:
        ``(low, high)``; ``(-inf, inf)`` while an arm has fewer than two units or no spread.

    Example:
        >>> control, treatment = Sample(5_000, 500, 500), Sample(5_000, 600, 600)
        >>> [round(v, 4) for v in confidence_sequence(control, treatment, horizon=5_000)]
        [0.001, 0.039]
    """
    _check_level("alpha", alpha)
    if horizon is not None and horizon < 1:
        raise ValueError(f"horizon={horizon} must be the planned units per arm, 1 or more")
    if control.n < 2 or treatment.n < 2:
        return -math.inf, math.inf
    variance = control.variance / control.n + treatment.variance / treatment.n
    if variance == 0:
        return -math.inf, math.inf
    units = control.n + treatment.n
    half = _half_width(variance, units, alpha, 2 * horizon if horizon else units)
    difference = treatment.mean - control.mean
    return difference - half, difference + half


def sample_ratio_mismatch(
    observed: Sequence[int], shares: Sequence[float], *, threshold: float = 0.001
) -> SampleRatio:
    """Check that the arms received their configured shares of traffic (chi-square test).

    A mismatch means assignment or logging is broken (a redirect that loses users of one
    arm, a bot filter that treats arms differently): the comparison cannot be trusted until
    it is explained. The threshold is strict (0.001) because the check runs on every
    experiment at every look; real mismatches give far smaller p-values.

    Args:
        observed: units assigned to each arm.
        shares: the configured share of each arm, in the same order; percentages or
            fractions (they are normalized).
        threshold: the p-value below which the split is a mismatch.

    Returns:
        A :class:`SampleRatio`; with no units yet, no mismatch (statistic 0, p-value 1).

    Example:
        >>> srm = sample_ratio_mismatch([5_200, 4_800], [50, 50])
        >>> srm.statistic, f"{srm.p_value:.1e}", srm.expected, srm.mismatch
        (16.0, '6.3e-05', [5000.0, 5000.0], True)
    """
    _check_level("threshold", threshold)
    if len(observed) != len(shares) or len(observed) < 2:
        raise ValueError(
            f"{len(observed)} observed counts and {len(shares)} shares: give one configured "
            f"share per arm, for two arms or more, in the same order"
        )
    if any(n < 0 or int(n) != n for n in observed):
        raise ValueError(f"observed counts must be whole numbers, 0 or more; got {observed}")
    if not all(math.isfinite(s) and s > 0 for s in shares):
        raise ValueError(
            f"shares must be positive numbers; got {shares} (leave an arm with no traffic "
            f"out of both lists)"
        )
    units = sum(observed)
    scale = units / math.fsum(shares)
    expected = [float(s * scale) for s in shares]
    if units == 0:
        return SampleRatio(statistic=0.0, p_value=1.0, expected=expected, mismatch=False)
    statistic = math.fsum((n - e) ** 2 / e for n, e in zip(observed, expected, strict=True))
    p_value = float(special.chdtrc(len(observed) - 1, statistic))
    return SampleRatio(
        statistic=statistic, p_value=p_value, expected=expected, mismatch=p_value < threshold
    )


def holm(p_values: Sequence[float], *, alpha: float = 0.05) -> list[float]:
    """Holm-adjusted p-values, in the order given: compare each with the family's alpha.

    Sorted ascending, the j-th smallest p-value (j from 0) is multiplied by ``m - j``; a
    running maximum keeps the adjusted values in the same order, and they are capped at 1.
    Rejecting where the adjusted value is at most ``alpha`` is Holm's step-down procedure,
    which keeps the chance of any false rejection at ``alpha`` under any dependence between
    the tests (several metrics of one experiment, or several arms against one control).

    Args:
        p_values: one p-value per hypothesis.
        alpha: the family's level. The adjusted p-values do not depend on it; it is checked
            so that a mistyped level fails here, beside the values it will be compared with.

    Example:
        >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03, 0.5])]
        [0.04, 0.09, 0.09, 0.5]
    """
    _check_level("alpha", alpha)
    values = [float(p) for p in p_values]
    bad = [p for p in values if not 0 <= p <= 1]
    if bad:
        raise ValueError(f"p-values must lie in [0, 1]; got {bad[:3]}")
    m = len(values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=values.__getitem__)):
        running = max(running, min(1.0, (m - rank) * values[i]))
        adjusted[i] = running
    return adjusted


def sample_size(
    *,
    baseline: float,
    effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    sd: float | None = None,
    sequential: bool = True,
) -> int:
    """Units per arm for a two-arm test to find an absolute difference ``effect`` of the mean.

    Binary metric when ``sd`` is None: ``baseline`` is the control rate and the treatment
    rate is ``baseline + effect``. Continuous metric when ``sd`` (the per-unit standard
    deviation) is given; ``baseline`` does not enter then. With ``z_a = z_{1 - alpha/2}``
    and ``z_b = z_{power}``, read once (``sequential=False``)::

        binary:      (z_a sqrt(2 p (1 - p)) + z_b sqrt(p1 (1 - p1) + p2 (1 - p2)))² / effect²
                     with p = (p1 + p2) / 2
        continuous:  2 sd² (z_a + z_b)² / effect²

    Read at every look (``sequential=True``): the smallest n per arm at which the confidence
    sequence tuned to a horizon of n excludes 0 with probability ``power`` when the true
    difference is ``effect``, that is ``|effect| - z_b se(n) >= half_width(n)``, found by
    doubling and bisection. Stopping early when the sequence excludes 0 only adds power.

    Raises:
        ValueError: alpha or power not in (0, 1), effect 0, a rate outside [0, 1], sd <= 0.

    Example:
        >>> sample_size(baseline=0.10, effect=0.02, sequential=False)
        3841
        >>> sample_size(baseline=0.10, effect=0.02)
        7350
        >>> sample_size(baseline=50.0, effect=1.0, sd=10.0, sequential=False)
        1570
    """
    _check_level("alpha", alpha)
    _check_level("power", power)
    if effect == 0 or not math.isfinite(effect):
        raise ValueError(
            f"effect={effect}: give the smallest absolute difference worth detecting, "
            f"e.g. effect=0.01 for one point on a rate"
        )
    z_a, z_b = _normal_quantile(alpha), float(special.ndtri(power))
    if sd is None:
        p1, p2 = baseline, baseline + effect
        if not (0 < p1 < 1 and 0 <= p2 <= 1):
            raise ValueError(
                f"baseline={baseline}, effect={effect}: a binary metric needs a control rate "
                f"in (0, 1) and baseline + effect in [0, 1] (effect is absolute: for a "
                f"relative lift of 10% pass effect=baseline * 0.1; pass sd for other metrics)"
            )
        unit_variance = p1 * (1 - p1) + p2 * (1 - p2)  # n times Var(difference of rates)
        if not sequential:
            mid = (p1 + p2) / 2
            root = z_a * math.sqrt(2 * mid * (1 - mid)) + z_b * math.sqrt(unit_variance)
            return math.ceil(root**2 / effect**2)
    else:
        if not (math.isfinite(sd) and sd > 0):
            raise ValueError(f"sd={sd} must be the metric's positive standard deviation")
        unit_variance = 2 * sd**2
        if not sequential:
            return math.ceil(unit_variance * (z_a + z_b) ** 2 / effect**2)
    return _sequential_size(unit_variance, abs(effect), alpha, z_b)


def is_binary(sample: Sample) -> bool:
    """Whether the sample's values were 0/1: ``SUM(x) == SUM(x * x)`` and a mean in [0, 1].

    Sufficient statistics cannot prove it (values in (0, 1) and outside it can balance), but
    they rule out any real metric that is not 0/1. False for an empty sample.

    Example:
        >>> is_binary(Sample.of([0, 1, 1])), is_binary(Sample.of([0, 2, 1]))
        (True, False)
    """
    return (
        sample.n > 0
        and math.isclose(
            sample.total,
            sample.total_squares,
            rel_tol=_BINARY_TOLERANCE,
            abs_tol=_BINARY_TOLERANCE,
        )
        and 0 <= sample.mean <= 1
    )


# --- shared ---------------------------------------------------------------------------------


def _half_width(variance: float, units: int, alpha: float, tuned_units: float) -> float:
    """Half-width of the confidence sequence after ``units`` units (see the module docstring).

    ``variance`` is the variance of the difference estimate (so ``sigma² = variance * units``);
    ``rho`` is tuned to make the boundary tightest at ``tuned_units``.
    """
    log_term = -2 * math.log(alpha)
    rho2 = (log_term + math.log(log_term + 1)) / tuned_units
    t_rho2 = units * rho2
    return math.sqrt(variance * units) * math.sqrt(
        2 * (t_rho2 + 1) / (units * t_rho2) * math.log(math.sqrt(t_rho2 + 1) / alpha)
    )


def _sequential_size(unit_variance: float, effect: float, alpha: float, z_power: float) -> int:
    """Smallest n per arm where ``effect - z_power * se(n) >= half_width(n)`` (horizon n)."""

    def detects(n: int) -> bool:
        variance = unit_variance / n
        return effect - z_power * math.sqrt(variance) >= _half_width(variance, 2 * n, alpha, 2 * n)

    low, high = 1, 2  # a sequence needs two units per arm
    while not detects(high):
        low, high = high, high * 2
        if high > _MAX_UNITS:
            raise ValueError(f"effect={effect} is too small to detect with any sample size")
    while high - low > 1:  # detects(high) holds, detects(low) does not (or low is 1)
        mid = (low + high) // 2
        low, high = (low, mid) if detects(mid) else (mid, high)
    return high


def _comparison(
    test: str,
    control: Sample,
    treatment: Sample,
    alpha: float,
    horizon: int | None,
    *,
    interval: tuple[float, float] = (math.nan, math.nan),
    p_value: float = math.nan,
) -> Comparison:
    """Assemble a comparison; the defaults are for arms too small to test."""
    lift = relative_lift(control, treatment, alpha=alpha)
    sequential = confidence_sequence(control, treatment, alpha=alpha, horizon=horizon)
    return Comparison(
        test=test,
        control_mean=control.mean,
        treatment_mean=treatment.mean,
        difference=treatment.mean - control.mean,
        low=interval[0],
        high=interval[1],
        p_value=p_value,
        lift=lift[0] if lift else None,
        lift_low=lift[1] if lift else None,
        lift_high=lift[2] if lift else None,
        sequential_low=sequential[0],
        sequential_high=sequential[1],
        alpha=alpha,
    )


def _normal_quantile(alpha: float) -> float:
    """``z_{1 - alpha/2}``: the two-sided normal critical value."""
    return float(special.ndtri(1 - alpha / 2))


def _check_level(name: str, value: float) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{name}={value} must lie strictly between 0 and 1, e.g. 0.05")
