"""Team-draft interleaving: the draft's properties, the credit, the sign test, and its power.

Three kinds of evidence. Properties of :func:`team_draft` on generated rankings, each pick
checked against a replay of the rule (the brute-force oracle). SciPy's ``binomtest`` as
the oracle of :func:`preference`. And a seeded simulation of users who click by a cascade
model, where ranker a is known to be better: interleaving reaches a significant verdict for
a with an order of magnitude fewer queries than an A/B test of clicks per query on the same
users (the issue's acceptance criterion).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from store.experiments.interleaving import Slot, credit, preference, team_draft

ITEMS = [f"doc{i}" for i in range(12)]
rankings = st.lists(st.sampled_from(ITEMS), unique=True, max_size=len(ITEMS))
keys = st.text(max_size=20)
lengths = st.one_of(st.none(), st.integers(min_value=0, max_value=len(ITEMS) + 3))
SETTINGS = settings(max_examples=120, deadline=None)


# --- team_draft ------------------------------------------------------------------------------


@SETTINGS
@given(a=rankings, b=rankings, key=keys, length=lengths)
def test_every_item_is_shown_at_most_once_up_to_length(
    a: list[str], b: list[str], key: str, length: int | None
) -> None:
    slots = team_draft(a, b, key=key, length=length)
    items = [slot.item for slot in slots]
    union = set(a) | set(b)
    assert len(items) == len(set(items))
    assert set(items) <= union
    assert len(items) == (len(union) if length is None else min(length, len(union)))
    assert [slot.rank for slot in slots] == list(range(len(slots)))


@SETTINGS
@given(a=rankings, b=rankings, key=keys, length=lengths)
def test_each_pick_is_its_team_best_item_not_yet_shown(
    a: list[str], b: list[str], key: str, length: int | None
) -> None:
    slots = team_draft(a, b, key=key, length=length)
    ranking = {"a": a, "b": b}
    shown: set[str] = set()
    for slot in slots:
        # Replay the rule: the team's highest-ranked item not shown before this position.
        assert slot.item == next(item for item in ranking[slot.team] if item not in shown)
        shown.add(slot.item)
    for team in ("a", "b"):  # hence each team's items keep their order in its ranking
        positions = [ranking[team].index(s.item) for s in slots if s.team == team]
        assert positions == sorted(positions)


@SETTINGS
@given(a=rankings, b=rankings, key=keys, length=lengths)
def test_teams_take_turns_while_both_rankings_have_items(
    a: list[str], b: list[str], key: str, length: int | None
) -> None:
    slots = team_draft(a, b, key=key, length=length)
    # With at least len(slots) items each, neither team runs out before the list is full.
    if min(len(a), len(b)) >= len(slots):
        teams = [slot.team for slot in slots]
        for end in range(len(teams) + 1):
            assert abs(teams[:end].count("a") - teams[:end].count("b")) <= 1
        for first, second in zip(teams[::2], teams[1::2], strict=False):
            assert {first, second} == {"a", "b"}  # one pick per team per round


def test_a_used_up_ranking_lets_the_other_team_keep_picking() -> None:
    slots = team_draft(["x"], ["y", "x", "z", "w"], key="q")
    assert [slot.item for slot in slots if slot.team == "b"] == ["y", "z", "w"]
    assert {slot.item for slot in slots if slot.team == "a"} == {"x"}


@SETTINGS
@given(a=rankings, b=rankings, key=keys, length=lengths)
def test_the_same_key_replays_the_same_list(
    a: list[str], b: list[str], key: str, length: int | None
) -> None:
    assert team_draft(a, b, key=key, length=length) == team_draft(
        tuple(a), tuple(b), key=key, length=length
    )


def test_keys_give_each_team_the_first_pick_half_of_the_time() -> None:
    a, b = ITEMS[:10], ITEMS[:10]
    lists = [team_draft(a, b, key=f"request-{i}") for i in range(3_200)]
    first = Counter(slots[0].team for slots in lists)
    assert 0.45 < first["a"] / len(lists) < 0.55
    # The coins of the five rounds are independent: all 32 patterns equally often.
    patterns = Counter("".join(s.team for s in slots[::2]) for slots in lists)
    assert len(patterns) == 32
    assert stats.chisquare(list(patterns.values())).pvalue > 0.001


@SETTINGS
@given(ranking=rankings, key=keys)
def test_identical_rankings_show_that_ranking_with_teams_by_coin(
    ranking: list[str], key: str
) -> None:
    slots = team_draft(ranking, ranking, key=key)
    assert [slot.item for slot in slots] == ranking
    teams = [slot.team for slot in slots]
    for first, second in zip(teams[::2], teams[1::2], strict=False):
        assert {first, second} == {"a", "b"}


def test_identical_rankings_tie_in_expectation() -> None:
    """Each round's two items go to a and b by a fair coin: neither is credited more."""
    rng = np.random.default_rng(7)
    ranking = ITEMS[:10]
    examined = 1 / np.arange(1, 11)  # users click the top more often
    credits = []
    for i in range(2_000):
        clicked = [item for item, p in zip(ranking, examined, strict=True) if rng.random() < p]
        credits.append(credit(team_draft(ranking, ranking, key=f"q{i}"), clicked))
    result = preference(credits)
    assert result.winner is None
    margins = np.array([a - b for a, b in credits])
    assert abs(margins.mean()) < 4 * margins.std() / np.sqrt(len(margins))
    assert abs(result.preference_b) < 4 * 0.5 / np.sqrt(len(credits))


@pytest.mark.parametrize(
    ("a", "b", "named"), [(["x", "y", "x"], ["y"], "'x'"), ([], ["z"] * 2, "'z'")]
)
def test_a_ranking_with_a_duplicate_item_is_refused(a: list[str], b: list[str], named: str) -> None:
    with pytest.raises(ValueError, match=f"item {named} twice"):
        team_draft(a, b, key="q")


def test_a_negative_length_is_refused() -> None:
    with pytest.raises(ValueError, match="length -1 is negative"):
        team_draft(["x"], ["y"], key="q", length=-1)


def test_slots_validate_their_team_and_rank() -> None:
    with pytest.raises(ValueError, match="team 'c' is not one of"):
        Slot("x", "c", 0)
    with pytest.raises(ValueError, match="rank -1 is negative"):
        Slot("x", "a", -1)


# --- credit ----------------------------------------------------------------------------------


def test_credit_counts_clicked_items_per_team() -> None:
    slots = [Slot("x", "a", 0), Slot("y", "b", 1), Slot("z", "b", 2), Slot("w", "a", 3)]
    assert credit(slots, []) == (0, 0)
    assert credit(slots, ["x"]) == (1, 0)
    assert credit(slots, ["z", "y"]) == (0, 2)
    assert credit(slots, iter(["w", "y", "x", "w"])) == (2, 1)  # a repeated click counts once


@SETTINGS
@given(a=rankings, b=rankings, key=keys, data=st.data())
def test_credit_agrees_with_counting_by_hand(
    a: list[str], b: list[str], key: str, data: st.DataObject
) -> None:
    slots = team_draft(a, b, key=key)
    clicked = data.draw(st.lists(st.sampled_from([s.item for s in slots]))) if slots else []
    teams = [s.team for s in slots if s.item in set(clicked)]
    assert credit(slots, clicked) == (teams.count("a"), teams.count("b"))


def test_a_click_on_an_item_not_shown_is_refused_naming_it() -> None:
    slots = team_draft(["x", "y"], ["y", "z"], key="q")
    with pytest.raises(ValueError, match=r"clicked items \['nope'\] are not in"):
        credit(slots, ["x", "nope"])


def test_slots_showing_an_item_twice_are_refused() -> None:
    with pytest.raises(ValueError, match="shows item 'x' twice"):
        credit([Slot("x", "a", 0), Slot("x", "b", 1)], ["x"])


# --- preference ------------------------------------------------------------------------------

credit_pairs = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=60)


@SETTINGS
@given(credits=credit_pairs, alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_preference_is_a_sign_test_on_the_queries_that_were_not_ties(
    credits: list[tuple[int, int]], alpha: float
) -> None:
    result = preference(credits, alpha=alpha)
    wins_a = sum(a > b for a, b in credits)
    wins_b = sum(b > a for a, b in credits)
    assert (result.queries, result.wins_a, result.wins_b) == (len(credits), wins_a, wins_b)
    assert result.ties == len(credits) - wins_a - wins_b
    if wins_a + wins_b:
        expected = stats.binomtest(wins_b, wins_a + wins_b, 0.5).pvalue
        assert result.p_value == pytest.approx(expected, rel=1e-9)
    else:
        assert result.p_value == 1.0
    if credits:
        assert result.preference_b == pytest.approx((wins_b + result.ties / 2) / len(credits) - 0.5)
    assert result.alpha == alpha
    if result.p_value < alpha:
        assert result.winner == ("a" if wins_a > wins_b else "b")
    else:
        assert result.winner is None


def test_preference_names_the_winner_and_renders_one_line() -> None:
    result = preference([(0, 1)] * 15 + [(1, 0)] * 3 + [(0, 0)] * 2)
    assert result.winner == "b"
    assert result.preference_b == pytest.approx((15 + 1) / 20 - 0.5)
    line = result.render()
    assert "\n" not in line
    assert line.startswith("b preferred: a won 3 and b won 15 of 20 queries, 2 ties")
    assert "< 0.05" in line


def test_preference_without_decided_queries_has_no_winner() -> None:
    for credits in ([], [(0, 0), (2, 2)]):
        result = preference(credits)
        assert (result.p_value, result.winner) == (1.0, None)
        assert result.render().startswith("no preference yet")
    assert preference([]).preference_b == 0.0


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5])
def test_preference_refuses_an_alpha_outside_0_1(alpha: float) -> None:
    with pytest.raises(ValueError, match=f"alpha {alpha} is not in"):
        preference([(1, 0)], alpha=alpha)


def test_preference_refuses_negative_credit() -> None:
    with pytest.raises(ValueError, match=r"credit \(-1, 0\) is negative"):
        preference([(1, 0), (-1, 0)])


# --- simulation: interleaving against an A/B test --------------------------------------------
#
# The users. Each query has DOCS candidates; a candidate is relevant with the query's own
# probability (Beta(1, 2): some queries have many good results, many have few), and a
# relevant one has grade 1 to 4 with probabilities 45%, 30%, 17% and 8% (0: not relevant).
# Both rankers order the candidates by grade + normal noise; a's noise has SD 0.7 and b's
# 1.2, so a is better: NDCG@10 about 0.91 against 0.77, and 6% more clicks per query (1.73
# against 1.63). Users see the top SHOWN results and behave as in a cascade model with
# satisfaction (Chapelle and Zhang 2009): they read from the top, click a result with a
# probability rising with its grade (ATTRACT), stop after a click when satisfied (SATISFY),
# and otherwise go on to the next result with probability PATIENCE. So examination decays
# with rank, and a query has 1.7 clicks on average, none for about 15% of queries.
#
# The click model matters. Users who stop once satisfied make clicks per query nearly the
# same under both rankers (a user finds a good result either way, a little lower under b),
# while interleaving still sees whose result was found: interleaving needs about 20 times
# fewer queries here. With a position-based model instead (each shown result clicked
# independently, nobody stops), clicks per query track relevance directly and the ratio
# falls to about 3.5. Iizuka, Morita and Kato ("Theoretical analysis on the efficiency of
# interleaved comparisons", 2023) show why: interleaving's advantage comes from users
# leaving the list depending on relevance, as real users do.
#
# The measure. For each method, REPS seeded repetitions each draw a stream of queries; the
# method needs N queries when, at N, it declares a significantly better (p < 0.05) in at
# least POWER (80%) of the repetitions. N runs over a grid of 5% steps, and the streams are
# extended in chunks as N grows (a sequential search: no simulated query is wasted).

DOCS, SHOWN = 30, 10
NOISE_A, NOISE_B = 0.7, 1.2
RELEVANT_SHARE = (1.0, 2.0)  # Beta parameters of a query's share of relevant candidates
# P(grade >= g | relevant), g = 1..4
GRADE_AT_LEAST = np.array([1.0, 0.55, 0.25, 0.08], dtype=np.float32)
ATTRACT = np.array([0.05, 0.2, 0.4, 0.7, 0.9])  # P(click | read), by grade 0..4
SATISFY = np.array([0.0, 0.075, 0.15, 0.225, 0.3])  # P(stop | clicked), by grade 0..4
PATIENCE = 0.9  # P(read the next result | did not stop)
REPS, POWER, ALPHA = 200, 0.8, 0.05
AB_CAP = 20_000  # the A/B search stops there (about 10 s); it needs about 5,000
GRID = sorted({int(10 * 1.05**k) // 2 * 2 for k in range(150)} - set(range(20)))
NAMES = np.array([f"d{i}" for i in range(DOCS)])


def _grades(rng: np.random.Generator, n: int) -> np.ndarray:
    """Relevance grades (0 to 4) of the candidates of n queries, shape (n, DOCS)."""
    share = rng.beta(*RELEVANT_SHARE, size=(n, 1)).astype(np.float32)
    # u / share is uniform on (0, 1) for a relevant candidate; 1 or more for the others.
    ratio = rng.random((n, DOCS), dtype=np.float32) / share
    grades = np.zeros((n, DOCS), dtype=np.int8)
    for at_least in GRADE_AT_LEAST:
        grades += ratio < at_least
    return grades


def _rank(rng: np.random.Generator, grades: np.ndarray, noise: float) -> np.ndarray:
    """Candidate indices ordered best first by grade + N(0, noise^2), one row per query."""
    scores = grades + np.float32(noise) * rng.standard_normal(grades.shape, dtype=np.float32)
    return np.argsort(-scores, axis=1)


def _clicks(rng: np.random.Generator, shown: np.ndarray) -> np.ndarray:
    """Clicks (bool) of cascade users on lists whose grades by position are ``shown``."""
    reading = np.ones(len(shown), dtype=bool)
    clicks = np.zeros(shown.shape, dtype=bool)
    for k in range(shown.shape[1]):
        u = rng.random((len(shown), 3))
        clicks[:, k] = reading & (u[:, 0] < ATTRACT[shown[:, k]])
        satisfied = clicks[:, k] & (u[:, 1] < SATISFY[shown[:, k]])
        reading &= ~satisfied & (u[:, 2] < PATIENCE)
    return clicks


def _interleaved_credits(
    rng: np.random.Generator, reps: int, n: int, start: int
) -> list[list[tuple[int, int]]]:
    """The credits of queries start..start+n of each repetition's stream, interleaved."""
    grades = _grades(rng, reps * n)
    order_a, order_b = _rank(rng, grades, NOISE_A), _rank(rng, grades, NOISE_B)
    lists = [
        team_draft(
            NAMES[order_a[q]].tolist(),
            NAMES[order_b[q]].tolist(),
            key=f"rep{q // n}/query{start + q % n}",
            length=SHOWN,
        )
        for q in range(reps * n)
    ]
    shown = np.array([[int(slot.item[1:]) for slot in slots] for slots in lists])
    clicks = _clicks(rng, np.take_along_axis(grades, shown, axis=1))
    credits = [
        credit(slots, [slot.item for slot, click in zip(slots, row, strict=True) if click])
        for slots, row in zip(lists, clicks, strict=True)
    ]
    return [credits[r * n : (r + 1) * n] for r in range(reps)]


def _ab_clicks(rng: np.random.Generator, reps: int, n: int, noise: float) -> np.ndarray:
    """Clicks per query of n queries per repetition, each served by one ranker alone."""
    grades = _grades(rng, reps * n)
    top = _rank(rng, grades, noise)[:, :SHOWN]
    clicks: np.ndarray = _clicks(rng, np.take_along_axis(grades, top, axis=1)).sum(axis=1)
    return clicks.reshape(reps, n).astype(float)


def _queries_needed(
    extend: Callable[[int], None], power_at: Callable[[int], float], *, cap: int
) -> int | None:
    """The first N of the grid at which the method finds a better in POWER of the reps.

    None when no N up to ``cap`` does: the search stops there so that a broken method fails
    in seconds instead of simulating forever.
    """
    for n in GRID:
        if n > cap:
            return None
        extend(n)
        if power_at(n) >= POWER:
            return n
    raise AssertionError(f"the grid ends at {GRID[-1]}, below the cap {cap}")


def interleaving_queries(seed: int, *, cap: int) -> int | None:
    """Queries interleaving needs: team_draft, cascade clicks, credit, then preference."""
    rng = np.random.default_rng(seed)
    streams: list[list[tuple[int, int]]] = [[] for _ in range(REPS)]

    def extend(n: int) -> None:
        have = len(streams[0])
        if n > have:
            chunk = max(n - have, 50)
            for stream, more in zip(
                streams, _interleaved_credits(rng, REPS, chunk, have), strict=True
            ):
                stream.extend(more)

    def power_at(n: int) -> float:
        return float(np.mean([preference(s[:n], alpha=ALPHA).winner == "a" for s in streams]))

    return _queries_needed(extend, power_at, cap=cap)


def ab_queries(seed: int, *, cap: int) -> int | None:
    """Queries an A/B test needs: half served by each ranker, Welch's t on clicks per query."""
    rng = np.random.default_rng(seed)
    arms = {"a": np.empty((REPS, 0)), "b": np.empty((REPS, 0))}

    def extend(n: int) -> None:  # n queries in all: n / 2 served by each ranker
        have = arms["a"].shape[1]
        if n // 2 > have:
            chunk = max(n // 2 - have, 500)
            for arm, noise in (("a", NOISE_A), ("b", NOISE_B)):
                arms[arm] = np.hstack([arms[arm], _ab_clicks(rng, REPS, chunk, noise)])

    def power_at(n: int) -> float:
        a, b = arms["a"][:, : n // 2], arms["b"][:, : n // 2]
        test = stats.ttest_ind(a, b, axis=1, equal_var=False)  # Welch, one per repetition
        return float(np.mean((test.pvalue < ALPHA) & (test.statistic > 0)))

    return _queries_needed(extend, power_at, cap=cap)


def test_the_simulated_rankers_differ_as_documented() -> None:
    """The settings above: a is better than b, by a margin an A/B test struggles to see."""
    rng = np.random.default_rng(1)
    grades = _grades(rng, 100_000)
    discount = 1 / np.log2(np.arange(2, SHOWN + 2))
    ideal = ((2.0 ** -np.sort(-grades, axis=1)[:, :SHOWN] - 1) * discount).sum(axis=1)
    some = ideal > 0
    ndcg, clicks = {}, {}
    for name, noise in (("a", NOISE_A), ("b", NOISE_B)):
        shown = np.take_along_axis(grades, _rank(rng, grades, noise)[:, :SHOWN], axis=1)
        gain = ((2.0**shown - 1) * discount).sum(axis=1)
        ndcg[name] = np.mean(gain[some] / ideal[some])
        clicks[name] = _clicks(rng, shown).sum(axis=1)
    assert ndcg["a"] == pytest.approx(0.91, abs=0.01)
    assert ndcg["b"] == pytest.approx(0.77, abs=0.01)
    assert clicks["a"].mean() == pytest.approx(1.73, abs=0.02)
    assert clicks["b"].mean() == pytest.approx(1.63, abs=0.02)
    assert np.mean(clicks["a"] == 0) == pytest.approx(0.15, abs=0.02)


def test_interleaving_needs_ten_times_fewer_queries_than_an_ab_test() -> None:
    interleaved = interleaving_queries(seed=2008, cap=1_000)
    assert interleaved is not None, f"interleaving found a in under {POWER:.0%} by 1,000"
    ab = ab_queries(seed=2012, cap=AB_CAP)
    # Past the cap the A/B test needs more than AB_CAP queries: the ratio is a lower bound.
    ratio = (ab or AB_CAP) / interleaved
    print(
        f"queries to find the better ranker in {POWER:.0%} of {REPS} repetitions: "
        f"interleaving {interleaved}, A/B test {ab or f'over {AB_CAP}'}, "
        f"ratio {'over ' if ab is None else ''}{ratio:.1f}"
    )
    assert ratio >= 10, (interleaved, ab)
