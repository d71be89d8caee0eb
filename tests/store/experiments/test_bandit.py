"""Thompson sampling shares: SciPy as the oracle of the posteriors, the rules, and simulations.

The best-arm probabilities are checked against numeric integration of the same posteriors
(``P(arm i best) = integral of f_i(x) * prod_{j != i} F_j(x) dx``) within Monte Carlo error.
The simulations are the acceptance criterion of bandit deployments: in a seeded environment
with known rewards, traffic moves to the best arm within a stated horizon and loses several
times less reward than an equal split.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import numpy.typing as npt
import pytest
from scipy import integrate, stats

from store.errors import StoreError
from store.experiments.bandit import (
    ArmRewards,
    BanditPolicy,
    Reweighting,
    due,
    interval_start,
    thompson_shares,
)

EQUAL3 = {"a": 100 / 3, "b": 100 / 3, "c": 100 / 3}


def binary(arm: str, n: int, successes: float) -> ArmRewards:
    return ArmRewards(arm, n, successes, successes)


def continuous(arm: str, values: list[float] | npt.NDArray[np.float64]) -> ArmRewards:
    x = np.asarray(values, dtype=np.float64)
    return ArmRewards(arm, len(x), float(x.sum()), float((x * x).sum()))


def monte_carlo_tolerance(p: float, draws: int) -> float:
    """Four standard errors of a proportion estimated from ``draws`` draws (and a hair for
    the quadrature)."""
    return 4 * math.sqrt(p * (1 - p) / draws) + 1e-6


def best_by_integration(
    pdfs: list[Callable[[float], float]], cdfs: list[Callable[[float], float]], lo: float, hi: float
) -> list[float]:
    """P(arm i has the largest draw) for independent posteriors, by quadrature."""
    exact = []
    for i, pdf in enumerate(pdfs):
        others = [cdf for j, cdf in enumerate(cdfs) if j != i]

        def density_of_best(
            x: float,
            pdf: Callable[[float], float] = pdf,
            others: list[Callable[[float], float]] = others,
        ) -> float:
            return pdf(x) * math.prod(cdf(x) for cdf in others)

        exact.append(integrate.quad(density_of_best, lo, hi, limit=200)[0])
    return exact


# --- the posteriors against SciPy ------------------------------------------------------------


def test_binary_best_probability_matches_numeric_integration() -> None:
    # Small counts, so that the uniform prior matters: without the +1s (Beta(s, f)) the exact
    # values are 0.150, 0.683 and 0.167, all outside the tolerance (about 0.01).
    counts = {"a": (40, 4), "b": (50, 8), "c": (30, 3)}
    posteriors = [stats.beta(1 + s, 1 + n - s) for n, s in counts.values()]
    exact = best_by_integration([p.pdf for p in posteriors], [p.cdf for p in posteriors], 0.0, 1.0)
    assert math.isclose(sum(exact), 1.0, abs_tol=1e-6)
    policy = BanditPolicy(floor=0.0, min_outcomes=30, draws=40_000)
    arms = [binary(arm, n, s) for arm, (n, s) in counts.items()]

    result = thompson_shares(arms, EQUAL3, policy, seed=11)

    for (arm, (n, s)), p in zip(counts.items(), exact, strict=True):
        assert result.best_probability[arm] == pytest.approx(
            p, abs=monte_carlo_tolerance(p, policy.draws)
        ), arm
        assert result.posterior_mean[arm] == pytest.approx((1 + s) / (2 + n))
    assert result.changed
    assert result.reason == "Thompson sampling on 120 outcomes: b best with p=0.62"


def test_continuous_best_probability_matches_numeric_integration() -> None:
    rng = np.random.default_rng(5)
    samples = {
        "a": rng.normal(10.0, 3.0, 40),
        "b": rng.normal(11.0, 3.0, 60),
        "c": rng.normal(10.5, 5.0, 50),
    }
    arms = [continuous(arm, x) for arm, x in samples.items()]
    # The documented posterior: each arm's variance shrunk towards the variance of all
    # outcomes together with the weight of 2 outcomes.
    everything = np.concatenate(list(samples.values()))
    pooled = everything.var(ddof=1)
    posteriors = []
    for x in samples.values():
        variance = (((x - x.mean()) ** 2).sum() + 2 * pooled) / (len(x) - 1 + 2)
        posteriors.append(stats.norm(x.mean(), math.sqrt(variance / len(x))))
    exact = best_by_integration([p.pdf for p in posteriors], [p.cdf for p in posteriors], 0, 20)
    policy = BanditPolicy(reward="continuous", floor=0.0, min_outcomes=40, draws=40_000)

    result = thompson_shares(arms, EQUAL3, policy, seed=3)

    for (arm, x), p in zip(samples.items(), exact, strict=True):
        assert result.best_probability[arm] == pytest.approx(
            p, abs=monte_carlo_tolerance(p, policy.draws)
        ), arm
        assert result.posterior_mean[arm] == pytest.approx(x.mean())


def test_continuous_arms_with_one_outcome_borrow_the_spread_of_all() -> None:
    # One outcome each: no arm has a variance of its own, so each takes the variance of all
    # outcomes together (here 1.0: values 0, 1, 2) rather than claiming certainty.
    arms = [continuous("a", [0.0]), continuous("b", [1.0]), continuous("c", [2.0])]
    policy = BanditPolicy(reward="continuous", floor=0.0, min_outcomes=1, draws=40_000)
    result = thompson_shares(arms, EQUAL3, policy, seed=2)
    posteriors = [stats.norm(m, 1.0) for m in (0.0, 1.0, 2.0)]
    exact = best_by_integration([p.pdf for p in posteriors], [p.cdf for p in posteriors], -9, 11)
    for arm, p in zip("abc", exact, strict=True):
        assert result.best_probability[arm] == pytest.approx(
            p, abs=monte_carlo_tolerance(p, 40_000)
        )
    best = result.best_probability
    assert 0.02 < best["a"] < best["b"] < best["c"] < 0.8


def test_ties_are_broken_at_random() -> None:
    # Identical rewards everywhere: no spread at all, every draw ties, each arm wins a third.
    arms = [continuous(arm, [4.0] * 100) for arm in "abc"]
    policy = BanditPolicy(reward="continuous", floor=0.0)
    result = thompson_shares(arms, EQUAL3, policy, seed=8)
    for arm in "abc":
        assert result.best_probability[arm] == pytest.approx(
            1 / 3, abs=monte_carlo_tolerance(1 / 3, policy.draws)
        )


def test_same_seed_same_shares_and_other_seeds_other_draws() -> None:
    arms = [binary("a", 500, 30), binary("b", 500, 36), binary("c", 500, 33)]
    policy = BanditPolicy()
    first = thompson_shares(arms, EQUAL3, policy, seed=41)
    assert thompson_shares(arms, EQUAL3, policy, seed=41) == first
    assert thompson_shares(arms, EQUAL3, policy, seed=42).best_probability != (
        first.best_probability
    )


# --- the rules --------------------------------------------------------------------------------


def test_a_certain_winner_leaves_the_others_exactly_the_floor() -> None:
    arms = [binary("a", 1000, 100), binary("b", 1000, 500), binary("c", 1000, 90)]
    result = thompson_shares(arms, EQUAL3, BanditPolicy(floor=0.05), seed=1)
    assert result.best_probability == {"a": 0.0, "b": 1.0, "c": 0.0}
    assert result.shares == {"a": 5.0, "b": 90.0, "c": 5.0}
    assert list(result.shares) == ["a", "b", "c"]  # the arms' order, as routing adds them


def added_like_routing(shares: dict[str, float]) -> float:
    total = 0.0
    for share in shares.values():
        total += share
    return total


def test_shares_follow_the_formula_respect_the_floor_and_sum_to_exactly_100() -> None:
    rng = np.random.default_rng(2026)
    for case in range(150):
        k = int(rng.integers(2, 6))
        floor = float(rng.choice([0.0, 0.01, 0.02, 0.05, 0.1, 0.12345]))
        policy = BanditPolicy(floor=floor, min_outcomes=10, draws=1000)
        n = rng.integers(10, 400, size=k)
        arms = [
            binary(f"arm{i}", int(n[i]), int(rng.binomial(n[i], rng.uniform(0.02, 0.2))))
            for i in range(k)
        ]
        current = {a.arm: 100 / k for a in arms}
        result = thompson_shares(arms, current, policy, seed=case)
        shares = result.shares
        assert added_like_routing(shares) == 100.0, (case, shares)
        assert math.fsum(shares.values()) == 100.0, (case, shares)
        for arm, share in shares.items():
            # Plain hundredths of a percent, within the rounding of the formula: 0.01, or
            # 0.03 when hundredths move to make the float sum exact.
            assert share == round(share, 2), (case, shares)
            wanted = 100 * (floor + (1 - k * floor) * result.best_probability[arm])
            assert share == pytest.approx(wanted, abs=0.03), (case, arm)
            if floor != 0.12345:
                assert share >= 100 * floor, (case, arm)
            else:  # 12.345% is no whole number of hundredths: 12.34% is as close as it gets
                assert share >= 12.34, (case, arm)
        assert math.fsum(result.best_probability.values()) == pytest.approx(1.0)


def test_many_arms_still_sum_to_exactly_100_in_routing_order() -> None:
    # With 6 arms or more the hundredths cannot always be made to add up exactly: 93.85 and
    # five times 1.23 cannot, nor can any hundredths one or two moves away. Then the last
    # arm takes 100 minus the others, a hair off its hundredth.
    policy = BanditPolicy(floor=0.0123, min_outcomes=10, draws=1000)
    off_hundredths = 0
    for k in range(6, 11):
        for best in range(k):
            arms = [binary(f"arm{i}", 1000, 500 if i == best else 10) for i in range(k)]
            current = {a.arm: 100 / k for a in arms}
            shares = thompson_shares(arms, current, policy, seed=k).shares
            assert added_like_routing(shares) == 100.0, shares
            for share in shares.values():
                assert share >= 1.23 - 1e-12, shares
                assert share == pytest.approx(round(share, 2), abs=1e-12), shares
            off_hundredths += any(share != round(share, 2) for share in shares.values())
    assert off_hundredths > 0  # the last resort was exercised


def test_shares_stay_until_every_arm_has_its_minimum_of_outcomes() -> None:
    policy = BanditPolicy(min_outcomes=100)
    current = {"a": 20.0, "b": 50.0, "c": 30.0}
    arms = [binary("a", 40, 2), binary("b", 5000, 600), binary("c", 99, 5)]
    held = thompson_shares(arms, current, policy, seed=1)
    assert not held.changed
    assert held.shares == current
    assert (held.best_probability, held.posterior_mean) == ({}, {})
    assert held.reason == "waiting: arm a has 40 of 100; arm c has 99 of 100 outcomes"

    ready = [binary("a", 100, 2), binary("b", 5000, 600), binary("c", 100, 5)]
    moved = thompson_shares(ready, current, policy, seed=1)
    assert moved.changed
    assert moved.shares["b"] > 80


def test_evidence_is_json_and_reproduces_the_shares() -> None:
    arms = [binary("a", 1200, 60), binary("b", 1300, 80)]
    policy = BanditPolicy(floor=0.1, interval=timedelta(minutes=30))
    result = thompson_shares(arms, {"a": 50.0, "b": 50.0}, policy, seed=17)
    evidence = json.loads(json.dumps(result.evidence(), allow_nan=False))
    assert evidence["arms"]["b"] == {"n": 1300, "total": 80.0, "total_squares": 80.0}
    assert evidence["shares"] == result.shares
    assert evidence["reason"] == result.reason
    assert evidence["changed"] is True
    again = thompson_shares(
        [ArmRewards(arm, **v) for arm, v in evidence["arms"].items()],
        {"a": 50.0, "b": 50.0},
        BanditPolicy.from_dict(evidence["policy"]),
        seed=evidence["seed"],
    )
    assert again == result


def test_numpy_numbers_become_plain_python_ones() -> None:
    arm = ArmRewards("a", np.int64(10), np.float64(3.0), np.float32(3.0))  # type: ignore[arg-type]
    assert (type(arm.n), type(arm.total), type(arm.total_squares)) == (int, float, float)
    policy = BanditPolicy(min_outcomes=np.int64(5), draws=np.int32(100))  # type: ignore[arg-type]
    assert (type(policy.min_outcomes), type(policy.draws)) == (int, int)
    result = thompson_shares([arm, binary("b", 10, 1)], {"a": 50, "b": 50}, policy, seed=1)
    json.dumps(result.evidence(), allow_nan=False)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BanditPolicy(reward="counts"), r"reward 'counts' is unknown; use one of"),  # type: ignore[arg-type]
        (lambda: BanditPolicy(floor=-0.1), r"floor -0\.1 is a fraction .* \[0, 1\)"),
        (lambda: BanditPolicy(floor=1.0), r"floor 1 is a fraction"),
        (lambda: BanditPolicy(floor=math.nan), r"floor must be finite"),
        (lambda: BanditPolicy(interval=timedelta(0)), r"interval must be a positive timedelta"),
        (lambda: BanditPolicy(min_outcomes=0), r"min_outcomes must be at least 1, got 0"),
        (lambda: BanditPolicy(min_outcomes=2.5), r"min_outcomes must be a whole number"),  # type: ignore[arg-type]
        (lambda: BanditPolicy(draws=True), r"draws must be a whole number"),
        (lambda: BanditPolicy.from_dict({"flor": 0.1}), r"no field 'flor'; known: reward"),
        (lambda: ArmRewards("", 1, 1.0, 1.0), r"needs an arm name"),
        (lambda: ArmRewards("a", -1, 0.0, 0.0), r"arm 'a': n must be at least 0, got -1"),
        (lambda: ArmRewards("a", 3, math.inf, 1.0), r"arm 'a': total must be finite"),
        (lambda: ArmRewards("a", 3, 1.0, -1.0), r"arm 'a': total_squares -1 is a sum of squares"),
        (lambda: ArmRewards("a", 0, 1.0, 1.0), r"arm 'a' has no outcomes, so its totals must"),
    ],
)
def test_bad_declarations_say_what_is_wrong(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        make()
    assert isinstance(caught.value, StoreError)


@dataclass(frozen=True)
class BadCall:
    arms: list[ArmRewards]
    current: dict[str, float]
    message: str
    policy: BanditPolicy = field(default_factory=BanditPolicy)
    seed: int = 1


TWO = [binary("a", 200, 10), binary("b", 200, 12)]
HALF = {"a": 50.0, "b": 50.0}


@pytest.mark.parametrize(
    "bad",
    [
        BadCall(TWO[:1], {"a": 100.0}, r"two arms or more, got \['a'\]; deploy a single"),
        BadCall([*TWO, binary("a", 5, 1)], HALF, r"arm 'a' is given twice"),
        BadCall(
            [binary("a", 200, 250), TWO[1]], HALF, r"arm 'a': 250 successes in 200 binary outcomes"
        ),
        BadCall([ArmRewards("a", 200, -1.0, 1.0), TWO[1]], HALF, r"arm 'a': -1 successes"),
        BadCall(
            [ArmRewards("a", 3, 6.0, 5.0), ArmRewards("b", 3, 3.0, 3.0)],
            HALF,
            r"arm 'a': total_squares 5 is less than total\*\*2 / n = 12",
            BanditPolicy(reward="continuous"),
        ),
        BadCall(
            TWO, HALF, r"floor 0\.5 for each of 2 arms leaves nothing", BanditPolicy(floor=0.5)
        ),
        BadCall(TWO, {"a": 50.0, "c": 50.0}, r"missing \['b'\], unknown \['c'\]"),
        BadCall(TWO, {"a": 50.0, "b": 40.0}, r"current shares sum to 90%, not 100%"),
        BadCall(TWO, {"a": 150.0, "b": -50.0}, r"not percentages in \[0, 100\]"),
        BadCall(TWO, {"a": math.nan, "b": 50.0}, r"not percentages"),
        BadCall(TWO, HALF, r"seed must be a whole number >= 0", seed=-3),
    ],
    ids=lambda bad: bad.message[:40],
)
def test_bad_calls_say_what_is_wrong(bad: BadCall) -> None:
    with pytest.raises(ValueError, match=bad.message):
        thompson_shares(bad.arms, bad.current, bad.policy, seed=bad.seed)


def test_a_continuous_sum_of_squares_within_rounding_is_accepted() -> None:
    # SQL sums carry float error: total_squares a hair below total**2 / n is not an error.
    arms = [ArmRewards("a", 3, 0.3, 0.03 - 1e-12), ArmRewards("b", 3, 0.6, 0.2)]
    policy = BanditPolicy(reward="continuous", min_outcomes=3)
    assert thompson_shares(arms, HALF, policy, seed=1).changed


@pytest.mark.parametrize(
    "policy",
    [
        BanditPolicy(),
        BanditPolicy(
            reward="continuous",
            interval=timedelta(minutes=90),
            floor=0.0,
            min_outcomes=1,
            draws=123,
        ),
        BanditPolicy(interval=timedelta(seconds=1.5), floor=0.125),
    ],
)
def test_policy_round_trips_through_json(policy: BanditPolicy) -> None:
    stored = json.loads(json.dumps(policy.to_dict(), allow_nan=False))
    assert BanditPolicy.from_dict(stored) == policy


def test_policy_dict_is_readable() -> None:
    assert BanditPolicy().to_dict() == {
        "reward": "binary",
        "interval_seconds": 3600,
        "floor": 0.05,
        "min_outcomes": 100,
        "draws": 10_000,
    }
    assert BanditPolicy.from_dict({"floor": 0.02}) == BanditPolicy(floor=0.02)


# --- time ----------------------------------------------------------------------------------------

HOURLY = BanditPolicy()


@pytest.mark.parametrize(
    ("now", "interval", "start"),
    [
        (datetime(2026, 3, 1, 10, 17, 5), timedelta(hours=1), datetime(2026, 3, 1, 10, tzinfo=UTC)),
        (
            datetime(2026, 3, 1, 10, tzinfo=UTC),
            timedelta(hours=1),
            datetime(2026, 3, 1, 10, tzinfo=UTC),
        ),
        (
            datetime(2026, 3, 1, 9, 59, 59, 999_999, tzinfo=UTC),
            timedelta(hours=1),
            datetime(2026, 3, 1, 9, tzinfo=UTC),
        ),
        # 12:17 at UTC+2 is 10:17 UTC.
        (
            datetime(2026, 3, 1, 12, 17, tzinfo=timezone(timedelta(hours=2))),
            timedelta(hours=1),
            datetime(2026, 3, 1, 10, tzinfo=UTC),
        ),
        # Half past five in India (UTC+5:30) is midnight UTC: the grid is UTC's, not local.
        (
            datetime(2026, 3, 1, 5, 45, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            timedelta(days=1),
            datetime(2026, 3, 1, tzinfo=UTC),
        ),
        # 7 minutes does not divide a day: the grid starts at the epoch, not at midnight.
        # 2026-03-01 00:00 UTC is 29,538,720 minutes after the epoch, 1 past a multiple of 7,
        # so the grid points around it are 23:59 and 00:06.
        (
            datetime(2026, 3, 1, 0, 5),
            timedelta(minutes=7),
            datetime(2026, 2, 28, 23, 59, tzinfo=UTC),
        ),
        (datetime(2026, 3, 1, 0, 6), timedelta(minutes=7), datetime(2026, 3, 1, 0, 6, tzinfo=UTC)),
    ],
)
def test_interval_start_floors_to_the_utc_grid(
    now: datetime, interval: timedelta, start: datetime
) -> None:
    found = interval_start(now, BanditPolicy(interval=interval))
    assert found == start
    assert found.tzinfo is UTC
    assert (found - datetime(1970, 1, 1, tzinfo=UTC)) % interval == timedelta(0)


@pytest.mark.parametrize(
    ("last_change", "now", "expected"),
    [
        (datetime(2026, 3, 1, 10, 17), datetime(2026, 3, 1, 10, 59, 59), False),
        (datetime(2026, 3, 1, 10, 17), datetime(2026, 3, 1, 11), True),
        (datetime(2026, 3, 1, 10, 17, tzinfo=UTC), datetime(2026, 3, 1, 13, 2), True),
        # A change made on the boundary counts for the interval it opens.
        (datetime(2026, 3, 1, 11), datetime(2026, 3, 1, 11, tzinfo=UTC), False),
        (datetime(2026, 3, 1, 11), datetime(2026, 3, 1, 11, 59, 59, 999_999), False),
        (datetime(2026, 3, 1, 10, 59, 59, 999_999), datetime(2026, 3, 1, 11), True),
        # 11:30 at UTC+1 is 10:30 UTC: not due at 10:45 UTC, due at 11:00 UTC.
        (
            datetime(2026, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=1))),
            datetime(2026, 3, 1, 10, 45),
            False,
        ),
        (
            datetime(2026, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=1))),
            datetime(2026, 3, 1, 11),
            True,
        ),
        # A clock that went backwards never makes a change due.
        (datetime(2026, 3, 1, 12, 5), datetime(2026, 3, 1, 11, 5), False),
    ],
)
def test_due_once_a_grid_boundary_has_passed(
    last_change: datetime, now: datetime, expected: bool
) -> None:
    assert due(last_change, now, HOURLY) is expected


# --- simulations: the acceptance criterion ------------------------------------------------------

# Both environments: 3 arms starting from an equal split, 2,000 requests per interval routed
# by the live shares (multinomial), outcomes known by the end of their interval, shares
# recomputed every interval with the default 10,000 draws, floor 0.02 (so the best arm's
# share is at most 96%) and 100 outcomes per arm first (reached after the first interval).
TRAFFIC = 2_000
POLICY = BanditPolicy(floor=0.02, min_outcomes=100)
RUNS = 50
INTERVALS = 20  # simulated per run; regret is counted over all of them
# The criterion: the best arm gets at least 90% of the requests in every interval from
# HORIZON to the end of the simulation, in at least 95% of the runs. Reaching 90% once is
# not enough (binary runs do so at interval 2 in the median, all by interval 5): the share
# has to stay, and Thompson sampling gives some back while the starved second arm's
# estimate wanders (measured with 50 runs of each reward type: 98% of runs stay from
# interval 5 on, every run from interval 12 on).
BEST_SHARE = 0.90
HORIZON = 12
RUNS_MEETING_IT = 0.95
# Median over runs of (regret of an equal split) / (regret of the bandit) over INTERVALS,
# regret being the expected reward lost against always serving the best arm. Measured: 8.2x
# (binary; worst run 5.2x) and 8.5x (continuous; worst run 6.9x); asserted with a margin.
REGRET_FACTOR = 5.0

BINARY_RATES = (0.04, 0.05, 0.07)
CONTINUOUS_MEANS = (1.0, 1.05, 1.15)  # Gaussian rewards with standard deviation 1
CONTINUOUS_RUNS = 25  # half as many: each run costs as much as a binary one


@dataclass(frozen=True)
class Simulation:
    best_traffic: npt.NDArray[np.float64]  # runs x intervals: fraction of requests to the best
    regret: npt.NDArray[np.float64]  # runs x intervals: expected reward lost vs the best arm
    equal_split_regret: float  # per interval

    def meeting_the_horizon(self) -> float:
        return float(np.mean((self.best_traffic[:, HORIZON:] >= BEST_SHARE).all(axis=1)))

    def regret_factors(self) -> npt.NDArray[np.float64]:
        factors: npt.NDArray[np.float64] = (
            self.equal_split_regret * INTERVALS / self.regret.sum(axis=1)
        )
        return factors


def simulate(means: tuple[float, ...], policy: BanditPolicy, runs: int) -> Simulation:
    """Seeded runs of a bandit deployment; rewards are Bernoulli(mean) for binary policies,
    Normal(mean, 1) for continuous ones. Each reweighting is seeded from its run and revision."""
    k = len(means)
    mu = np.array(means)
    names = [f"arm{i}" for i in range(k)]
    best = int(np.argmax(mu))
    best_traffic = np.zeros((runs, INTERVALS))
    regret = np.zeros((runs, INTERVALS))
    for run in range(runs):
        rng = np.random.default_rng([2026, run])
        n = np.zeros(k, dtype=np.int64)
        total = np.zeros(k)
        squares = np.zeros(k)
        shares = {arm: 100 / k for arm in names}
        for t in range(INTERVALS):
            chosen = rng.multinomial(TRAFFIC, np.array(list(shares.values())) / 100)
            best_traffic[run, t] = chosen[best] / TRAFFIC
            regret[run, t] = chosen @ (mu.max() - mu)
            if policy.reward == "binary":
                successes = rng.binomial(chosen, mu)
                total += successes
                squares += successes
            else:
                arm_of = np.repeat(np.arange(k), chosen)
                rewards = rng.normal(mu[arm_of], 1.0)
                total += np.bincount(arm_of, rewards, minlength=k)
                squares += np.bincount(arm_of, rewards**2, minlength=k)
            n += chosen
            arms = [ArmRewards(a, n[i], total[i], squares[i]) for i, a in enumerate(names)]
            result: Reweighting = thompson_shares(arms, shares, policy, seed=run * 1000 + t + 2)
            shares = result.shares
    return Simulation(best_traffic, regret, TRAFFIC * (mu.max() - mu.mean()))


def report(name: str, sim: Simulation) -> None:
    """Printed with ``pytest -s``: the numbers the constants above were chosen from."""
    mean_share = sim.best_traffic.mean(axis=0)
    reached = (sim.best_traffic >= BEST_SHARE).argmax(axis=1)
    factors = sim.regret_factors()
    print(
        f"\n{name}: best arm's traffic by interval (mean of runs) "
        + " ".join(f"{t}:{mean_share[t]:.3f}" for t in (0, 1, 2, 3, 4, 6, 10, 15, INTERVALS - 1))
        + f"; first >= {BEST_SHARE:.0%} at interval {np.median(reached):g} (median), "
        f"{reached.max()} (last run); >= {BEST_SHARE:.0%} from interval {HORIZON} on in "
        f"{sim.meeting_the_horizon():.0%} of runs; regret of an equal split over {INTERVALS} "
        f"intervals / the bandit's: median {np.median(factors):.1f}x (worst run "
        f"{factors.min():.1f}x)"
    )


def test_binary_bandit_moves_traffic_to_the_best_arm_and_cuts_regret() -> None:
    sim = simulate(BINARY_RATES, POLICY, RUNS)
    report("binary", sim)
    assert sim.meeting_the_horizon() >= RUNS_MEETING_IT
    assert np.median(sim.regret_factors()) >= REGRET_FACTOR


def test_continuous_bandit_moves_traffic_to_the_best_arm() -> None:
    policy = BanditPolicy(reward="continuous", floor=0.02, min_outcomes=100)
    sim = simulate(CONTINUOUS_MEANS, policy, CONTINUOUS_RUNS)
    report("continuous", sim)
    assert sim.meeting_the_horizon() >= RUNS_MEETING_IT
    assert np.median(sim.regret_factors()) >= REGRET_FACTOR
