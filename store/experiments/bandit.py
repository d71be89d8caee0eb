"""Thompson sampling shares for bandit deployments: A/B arms whose traffic follows the evidence.

A bandit deployment is a set of A/B arms (:class:`registry.Target` with role ``ab``) whose
traffic shares are recomputed every :attr:`BanditPolicy.interval` from the outcomes recorded
so far. The share of an arm is, apart from an exploration floor, the posterior probability
that it is the best arm, estimated from Monte Carlo draws of every arm's posterior:

    share = floor + (1 - arms * floor) * P(arm is best | outcomes)

No arm is reweighted until every arm has :attr:`BanditPolicy.min_outcomes` outcomes; until
then the current shares stand (``Reweighting.changed`` is False).

This module is pure: per-arm sufficient statistics (:class:`ArmRewards`) and the current
shares in, a :class:`Reweighting` out. The caller aggregates the outcomes (cumulative since
the bandit began, or over a window of its choosing to forget old evidence), asks :func:`due`
whether a recomputation is due, and stores ``Reweighting.shares`` as a new deployment
revision with ``Reweighting.evidence()`` beside it. It passes a seed derived from the new
revision's number, so a recomputation can be reproduced from the stored evidence (under the
same NumPy version, whose samplers define the draws).

Propensities: requests are routed by a hash of the entity key, whose point in 0..100 is
uniform over entities, so a prediction routed by a revision reached its arm with probability
``share / 100`` of that arm in that revision. Log it with every prediction: off-policy
evaluation and inverse-propensity-weighted estimates of an arm's reward need it, because a
bandit's arms are not served to comparable populations over time.

Example:
    >>> policy = BanditPolicy(min_outcomes=100)
    >>> arms = [ArmRewards("a", 1000, 100.0, 100.0), ArmRewards("b", 1000, 500.0, 500.0)]
    >>> result = thompson_shares(arms, {"a": 50.0, "b": 50.0}, policy, seed=7)
    >>> result.shares
    {'a': 5.0, 'b': 95.0}
    >>> result.reason
    'Thompson sampling on 2,000 outcomes: b best with p=1.00'
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from store.epoch import EPOCH, as_utc
from store.errors import DefinitionError, RequestError

__all__ = ["ArmRewards", "BanditPolicy", "Reweighting", "due", "interval_start", "thompson_shares"]

Reward = Literal["binary", "continuous"]
_REWARDS: tuple[str, ...] = get_args(Reward)
# Continuous rewards: pseudo degrees of freedom of the prior on each arm's variance, centred
# on the variance of all outcomes together (see _normal_posteriors).
_PRIOR_DEGREES = 2.0
# Shares are rounded to hundredths of a percent: 10,000 units make 100%.
_UNITS = 10_000


def _whole(value: object, name: str, smallest: int) -> int:
    """``value`` as an int of at least ``smallest`` (NumPy integers accepted, bools refused)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise DefinitionError(f"{name} must be a whole number, got {value!r}") from None
    if number < smallest:
        raise DefinitionError(f"{name} must be at least {smallest}, got {number}")
    return int(number)


def _finite(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DefinitionError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise DefinitionError(f"{name} must be finite, got {number}")
    return number


@dataclass(frozen=True, slots=True, kw_only=True)
class BanditPolicy:
    """How a bandit deployment reweights its arms.

    Attributes:
        reward: ``"binary"`` (each outcome is 0 or 1: a Beta posterior per arm) or
            ``"continuous"`` (any number: a Normal posterior of the arm's mean).
        interval: how often the shares are recomputed, on a UTC grid from the epoch.
        floor: the smallest share of every arm, as a fraction: exploration never stops.
            ``floor * arms`` must stay below 1 (checked when the shares are computed).
        min_outcomes: outcomes every arm needs before the first reweighting.
        draws: Monte Carlo draws of the posteriors; the error of a best-arm probability is
            at most ``0.5 / sqrt(draws)`` (0.005 at 10,000).

    Example:
        >>> BanditPolicy(floor=0.02).to_dict()["interval_seconds"]
        3600

    Raises:
        DefinitionError: (a ValueError) a field out of range; the message names it.
    """

    reward: Reward = "binary"
    interval: timedelta = timedelta(hours=1)
    floor: float = 0.05
    min_outcomes: int = 100
    draws: int = 10_000

    def __post_init__(self) -> None:
        if self.reward not in _REWARDS:
            raise DefinitionError(
                f"BanditPolicy reward {self.reward!r} is unknown; use one of {_REWARDS}"
            )
        if not isinstance(self.interval, timedelta) or self.interval <= timedelta(0):
            raise DefinitionError(
                f"BanditPolicy interval must be a positive timedelta, got {self.interval!r}"
            )
        floor = _finite(self.floor, "BanditPolicy floor")
        if not 0.0 <= floor < 1.0:
            raise DefinitionError(
                f"BanditPolicy floor {floor:g} is a fraction of traffic per arm; "
                f"give one in [0, 1), e.g. 0.05 for 5%"
            )
        # Normalised to plain Python numbers so that to_dict is JSON-able.
        object.__setattr__(self, "floor", floor)
        object.__setattr__(
            self, "min_outcomes", _whole(self.min_outcomes, "BanditPolicy min_outcomes", 1)
        )
        object.__setattr__(self, "draws", _whole(self.draws, "BanditPolicy draws", 1))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dictionary (the interval in seconds) that :meth:`from_dict` reads."""
        seconds = self.interval.total_seconds()
        return {
            "reward": self.reward,
            "interval_seconds": int(seconds) if seconds.is_integer() else seconds,
            "floor": self.floor,
            "min_outcomes": self.min_outcomes,
            "draws": self.draws,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BanditPolicy:
        """The policy :meth:`to_dict` wrote; missing keys take their defaults.

        Raises:
            DefinitionError: an unknown key (a typo would otherwise be ignored) or a bad value.
        """
        known = ("reward", "interval_seconds", "floor", "min_outcomes", "draws")
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise DefinitionError(
                f"BanditPolicy has no field {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(known)}"
            )
        fields: dict[str, Any] = {k: d[k] for k in known if k in d and k != "interval_seconds"}
        if "interval_seconds" in d:
            seconds = _finite(d["interval_seconds"], "BanditPolicy interval_seconds")
            fields["interval"] = timedelta(seconds=seconds)
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class ArmRewards:
    """The outcomes of one arm so far, as sufficient statistics.

    Attributes:
        arm: the arm's name (``Target.arm``).
        n: outcomes received.
        total: the sum of the rewards (binary: the successes).
        total_squares: the sum of the squared rewards (binary rewards: equal to ``total``;
            only continuous rewards use it).

    Raises:
        DefinitionError: (a ValueError) an empty name, a negative or fractional count, a
            total that is not a finite number, or totals without outcomes.
    """

    arm: str
    n: int
    total: float
    total_squares: float

    def __post_init__(self) -> None:
        if not isinstance(self.arm, str) or not self.arm:
            raise DefinitionError(f"ArmRewards needs an arm name, got {self.arm!r}")
        where = f"arm {self.arm!r}"
        n = _whole(self.n, f"{where}: n", 0)
        total = _finite(self.total, f"{where}: total")
        squares = _finite(self.total_squares, f"{where}: total_squares")
        if squares < 0:
            raise DefinitionError(f"{where}: total_squares {squares:g} is a sum of squares: >= 0")
        if n == 0 and (total != 0 or squares != 0):
            raise DefinitionError(f"{where} has no outcomes, so its totals must be 0")
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "total_squares", squares)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reweighting:
    """New shares for a bandit deployment, with the evidence behind them.

    Attributes:
        shares: arm -> percent of traffic, in the order of the arms given: hundredths of a
            percent summing to exactly 100.0 (added in order, as routing adds them), each
            within 0.03 of the formula (the largest arms absorb the rounding) and at least
            the floor. With six arms or more, about 1 time in 30 one share is a hundredth
            give or take 1e-14 instead (see ``_round_to_100``).
        best_probability: arm -> posterior probability of being the best arm, before the
            floor. Empty when held back.
        posterior_mean: arm -> posterior mean reward. Empty when held back.
        changed: False when held back (an arm has too few outcomes): ``shares`` are then the
            current ones and no new revision is needed. True whenever the shares were
            recomputed, even if they came out the same.
        reason: one line for people, e.g. ``"Thompson sampling on 1,204 outcomes: b best
            with p=0.93"`` or ``"waiting: arm a has 40 of 100 outcomes"``.
        arms: the outcomes the shares were computed from.
        policy: the policy applied.
        seed: the seed of the draws.
    """

    shares: dict[str, float]
    best_probability: dict[str, float]
    posterior_mean: dict[str, float]
    changed: bool
    reason: str
    arms: tuple[ArmRewards, ...]
    policy: BanditPolicy
    seed: int

    def evidence(self) -> dict[str, Any]:
        """A JSON-able record of the reweighting, stored on the deployment revision: the
        fields above, with each arm's ``n``, ``total`` and ``total_squares`` and the policy
        as :meth:`BanditPolicy.to_dict` writes it. With the seed it reproduces the shares."""
        return {
            "method": "thompson_sampling",
            "shares": dict(self.shares),
            "best_probability": dict(self.best_probability),
            "posterior_mean": dict(self.posterior_mean),
            "changed": self.changed,
            "reason": self.reason,
            "arms": {
                a.arm: {"n": a.n, "total": a.total, "total_squares": a.total_squares}
                for a in self.arms
            },
            "policy": self.policy.to_dict(),
            "seed": self.seed,
        }


def thompson_shares(
    arms: Sequence[ArmRewards],
    current: Mapping[str, float],
    policy: BanditPolicy,
    *,
    seed: int,
) -> Reweighting:
    """The arms' new traffic shares by Thompson sampling, or the current ones while waiting.

    Posteriors:

    - binary rewards: ``Beta(1 + successes, 1 + failures)`` (a uniform prior);
    - continuous rewards: the mean is ``Normal(total / n, s2 / n)``, where ``s2`` is the
      arm's sample variance shrunk towards the variance of all outcomes of all arms together
      with the weight of 2 outcomes. An arm with 1 or 2 outcomes, or with identical ones,
      so borrows its spread from the others instead of claiming certainty; with hundreds of
      outcomes its own variance dominates. The pooled variance includes the differences
      between arms, so the prior errs towards doubt.

    An arm's best-arm probability is the share of the ``policy.draws`` draws in which its
    draw is the largest; ties (only possible with identical continuous rewards) go to one of
    the tied arms at random. The same arms, policy and seed give the same result.

    Args:
        arms: every arm's outcomes so far; two arms or more, each named once.
        current: arm -> the live share in percent (summing to 100), returned while waiting.
        policy: the bandit's policy.
        seed: seeds the draws; derive it from the revision number being written.

    Returns:
        The :class:`Reweighting`; store ``evidence()`` beside the new revision.

    Raises:
        RequestError: (a ValueError) fewer than two arms, an arm named twice, a floor too
            large for this many arms, totals impossible for the reward type (the message
            names the arm), current shares that do not cover exactly these arms or do not
            sum to 100, or a negative seed.
    """
    names = _check_arms(arms, policy)
    seed = _check_seed(seed)
    shares_now = _check_current(current, names)
    short = [a for a in arms if a.n < policy.min_outcomes]
    if short:
        waiting = "; ".join(f"arm {a.arm} has {a.n:,} of {policy.min_outcomes:,}" for a in short)
        return Reweighting(
            shares=shares_now,
            best_probability={},
            posterior_mean={},
            changed=False,
            reason=f"waiting: {waiting} outcomes",
            arms=tuple(arms),
            policy=policy,
            seed=seed,
        )
    rng = np.random.default_rng(seed)
    if policy.reward == "binary":
        means, draws = _beta_posteriors(arms, policy.draws, rng)
    else:
        means, draws = _normal_posteriors(arms, policy.draws, rng)
    best = _best_probabilities(draws, rng)
    k = len(arms)
    raw = 100.0 * (policy.floor + (1.0 - k * policy.floor) * best)
    shares = dict(zip(names, _round_to_100(raw, policy.floor), strict=True))
    top = int(np.argmax(best))
    outcomes = sum(a.n for a in arms)
    return Reweighting(
        shares=shares,
        best_probability={name: float(p) for name, p in zip(names, best, strict=True)},
        posterior_mean={name: float(m) for name, m in zip(names, means, strict=True)},
        changed=True,
        reason=(
            f"Thompson sampling on {outcomes:,} outcomes: {names[top]} best with p={best[top]:.2f}"
        ),
        arms=tuple(arms),
        policy=policy,
        seed=seed,
    )


def due(last_change: datetime, now: datetime, policy: BanditPolicy) -> bool:
    """Whether the shares are due for recomputation: a boundary of the interval grid has
    passed since the last change. Naive datetimes mean UTC.

    On the grid (rather than ``interval`` after the last change) a scheduler that runs every
    few minutes reweights once per interval, at the same times in every deployment, and a
    late run does not push the next one later.

    Example:
        >>> from datetime import UTC
        >>> hourly = BanditPolicy()
        >>> due(datetime(2026, 1, 1, 9, 40), datetime(2026, 1, 1, 9, 59), hourly)
        False
        >>> due(datetime(2026, 1, 1, 9, 40), datetime(2026, 1, 1, 10, 0, tzinfo=UTC), hourly)
        True
    """
    return interval_start(now, policy) > as_utc(last_change, "last_change")


def interval_start(now: datetime, policy: BanditPolicy) -> datetime:
    """The start of the interval holding ``now``: its UTC floor to the grid of
    ``policy.interval`` since the epoch. Naive datetimes mean UTC; the result is aware UTC.

    Example:
        >>> quarters = BanditPolicy(interval=timedelta(minutes=15))
        >>> interval_start(datetime(2026, 1, 1, 10, 17), quarters)
        datetime.datetime(2026, 1, 1, 10, 15, tzinfo=datetime.timezone.utc)
    """
    elapsed = as_utc(now, "now") - EPOCH
    # timedelta // timedelta is exact integer arithmetic in microseconds.
    return EPOCH + (elapsed // policy.interval) * policy.interval


# --- internals -----------------------------------------------------------------------------


def _check_arms(arms: Sequence[ArmRewards], policy: BanditPolicy) -> list[str]:
    names = [a.arm for a in arms]
    if len(names) < 2:
        raise RequestError(
            f"a bandit needs two arms or more, got {names}; deploy a single version as primary"
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RequestError(
            f"arm {', '.join(map(repr, twice))} is given twice; sum its outcomes into one"
        )
    if policy.floor * len(arms) >= 1.0:
        raise RequestError(
            f"floor {policy.floor:g} for each of {len(arms)} arms leaves nothing to reweight; "
            f"use a floor below {1 / len(arms):g}"
        )
    for a in arms:
        if policy.reward == "binary" and not 0.0 <= a.total <= a.n:
            raise RequestError(
                f"arm {a.arm!r}: {a.total:g} successes in {a.n} binary outcomes is impossible; "
                f"total must be in [0, n] (use reward='continuous' for other rewards)"
            )
        if policy.reward == "continuous" and a.n and a.total_squares < _squares_floor(a):
            raise RequestError(
                f"arm {a.arm!r}: total_squares {a.total_squares:g} is less than total**2 / n "
                f"= {a.total**2 / a.n:g}, so it is not the sum of the squared rewards"
            )
    return names


def _squares_floor(a: ArmRewards) -> float:
    # Sums computed in SQL carry rounding error; allow it before calling the data impossible.
    least = a.total**2 / a.n
    return least - 1e-9 * max(least, 1.0)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise RequestError(
            f"seed must be a whole number >= 0 (e.g. the revision number), got {seed!r}"
        )
    return int(seed)


def _check_current(current: Mapping[str, float], names: list[str]) -> dict[str, float]:
    missing = [n for n in names if n not in current]
    extra = sorted(set(current) - set(names))
    if missing or extra:
        raise RequestError(
            f"current shares must name exactly the arms {names}; missing {missing}, unknown "
            f"{extra} (pass ArmRewards(arm, 0, 0.0, 0.0) for a live arm without outcomes)"
        )
    shares = {n: float(current[n]) for n in names}
    bad = {n: s for n, s in shares.items() if not 0.0 <= s <= 100.0}  # NaN fails too
    if bad:
        raise RequestError(f"current shares {bad} are not percentages in [0, 100]")
    if not math.isclose(math.fsum(shares.values()), 100.0, abs_tol=1e-6):
        raise RequestError(
            f"current shares sum to {math.fsum(shares.values()):g}%, not 100%: {shares}"
        )
    return shares


def _beta_posteriors(
    arms: Sequence[ArmRewards], draws: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Posterior means, and draws with one row per arm."""
    successes = np.array([a.total for a in arms], dtype=np.float64)
    failures = np.array([a.n - a.total for a in arms], dtype=np.float64)
    alpha, beta = 1.0 + successes, 1.0 + failures
    return alpha / (alpha + beta), rng.beta(alpha[:, None], beta[:, None], (len(arms), draws))


def _normal_posteriors(
    arms: Sequence[ArmRewards], draws: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Posterior means, and draws with one row per arm."""
    n = np.array([a.n for a in arms], dtype=np.float64)
    total = np.array([a.total for a in arms], dtype=np.float64)
    squares = np.array([a.total_squares for a in arms], dtype=np.float64)
    # Every arm has at least one outcome here and there are two arms or more, so the
    # variance of all outcomes together is defined.
    everyone = n.sum()
    pooled = max(squares.sum() - total.sum() ** 2 / everyone, 0.0) / (everyone - 1.0)
    deviations = np.maximum(squares - total**2 / n, 0.0)
    variance = (deviations + _PRIOR_DEGREES * pooled) / (n - 1.0 + _PRIOR_DEGREES)
    means = total / n
    spread = np.sqrt(variance / n)
    return means, rng.normal(means[:, None], spread[:, None], (len(arms), draws))


def _best_probabilities(
    draws: npt.NDArray[np.float64], rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """The share of draws (rows of ``draws``: one per arm) in which each arm's is the largest;
    ties at random."""
    # Column by column over contiguous rows: a handful of arms, many draws.
    top = draws.max(axis=0)
    winners = np.argmax(draws, axis=0)
    tied = np.zeros(top.shape, dtype=np.int64)
    for row in draws:
        tied += row == top
    ties = np.flatnonzero(tied > 1)
    if ties.size:
        # A uniform key per tied arm, the largest key wins: each tied arm equally likely.
        keys = np.where(draws[:, ties] == top[ties], rng.random((len(draws), ties.size)), -1.0)
        winners[ties] = np.argmax(keys, axis=0)
    counts = np.bincount(winners, minlength=len(draws))
    probabilities: npt.NDArray[np.float64] = counts / draws.shape[1]
    return probabilities


def _round_to_100(raw: npt.NDArray[np.float64], floor: float) -> list[float]:
    """Percentages that sum to exactly 100.0, each a hundredth within 0.03 of ``raw``.

    1. Largest remainders in units of 0.01%: the hundredths sum to 10,000, and no share is
       rounded down by more than the rounding, so a floor that is a whole number of
       hundredths of a percent holds exactly.
    2. The floats of hundredths can still miss 100.0 by a rounding step (12.54 + 76.66 +
       10.8 is 99.99999999999999; about one time in six). Then one hundredth (or two) moves
       between two arms, the largest first, never below the floor; the first such move after
       which the shares sum to exactly 100.0 wins (see :func:`_sums_to_100`).
    3. Should no move do (seen only with 6 arms or more, about 1 time in 30), the last arm
       with a share takes ``100 - (the ones before, added in order)``: its hundredth give or
       take 1e-14, and the sum in order (as routing adds) is then exactly 100.0 by Sterbenz's
       lemma, or because the difference is rounded within half a step of 100.
    """
    # Rounded before the floor so that 56.99999999999 (57 in float error) is not cut to 56.99.
    units = np.round(raw * (_UNITS / 100.0), 6)
    whole = [int(u) for u in np.floor(units)]
    left = _UNITS - sum(whole)
    # Stable order: equal remainders go to the earlier arm.
    for arm in np.argsort(-(units - np.floor(units)), kind="stable")[:left]:
        whole[arm] += 1
    shares = [u / 100.0 for u in whole]
    if _sums_to_100(shares):
        return shares
    least = math.ceil(round(floor * _UNITS, 6))
    by_size = sorted(range(len(whole)), key=lambda i: -whole[i])
    for step in (1, 2):
        for taker, giver in itertools.permutations(by_size, 2):
            if whole[giver] - step < least:
                continue
            moved = list(whole)
            moved[taker] += step
            moved[giver] -= step
            candidate = [u / 100.0 for u in moved]
            if _sums_to_100(candidate):
                return candidate
    # Zero shares after it add nothing, so the last arm with a share closes the sum.
    last = max(i for i, u in enumerate(whole) if u > 0)
    shares[last] = 100.0 - _in_order(shares[:last])
    return shares


def _sums_to_100(shares: list[float]) -> bool:
    """Exactly 100.0 both added in order (as routing adds them, and ``sum`` before Python
    3.12) and correctly rounded (as ``math.fsum``, and nearly always ``sum`` since 3.12)."""
    return _in_order(shares) == 100.0 and math.fsum(shares) == 100.0


def _in_order(values: list[float]) -> float:
    total = 0.0
    for value in values:
        total += value
    return total
