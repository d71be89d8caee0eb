"""Team-draft interleaving: which of two rankers do users prefer, from a few hundred queries.

An A/B test of two ranking models serves each query with one of them and compares a metric
such as clicks per query; the difference between good rankers is small beside the
differences between queries, so it takes many thousands of queries to see. Interleaving
(Radlinski, Kurup and Joachims, "How does clickthrough data reflect retrieval quality?",
CIKM 2008) shows every user *both* rankers at once and asks which one's results they click:

1. :func:`team_draft` merges ranking ``a`` and ranking ``b`` of the same candidates into
   one list, remembering which ranker ("team") contributed each item;
2. the user sees the list; :func:`credit` credits each clicked item to the team that
   contributed it, and the team with more credited clicks wins the query (equal: a tie);
3. :func:`preference` counts wins over many queries and runs a two-sided sign test (binomial,
   p = 0.5) on the queries that were not ties.

Each query compares the two rankers on the same user, the same intent and the same
candidates, which is why it needs 10 to 100 times fewer queries than an A/B test (Chapelle,
Joachims, Radlinski and Yue, "Large-scale validation and analysis of interleaved search
evaluation", TOIS 2012); ``tests/store/experiments/test_interleaving.py`` measures the
ratio on simulated users (about 20 there).

The draft. Round after round, a coin decides which team picks first; each team in turn
takes its highest-ranked item not yet in the list. A team whose ranking is used up skips
its turn, so the other keeps picking until the list is ``length`` long or both rankings are
used up. The coins come from SHA-256 of the key (the caller's query or request id) and the
round number, so logging the key is enough to rebuild the list the user saw.

Pure functions on plain values: no I/O, no clock, no global random state. Errors are
:class:`ValueError` whose message names the bad value and the fix.

Example:
    >>> slots = team_draft(["d1", "d2", "d3"], ["d2", "d4", "d1"], key="query-17")
    >>> [(s.item, s.team) for s in slots]
    [('d1', 'a'), ('d2', 'b'), ('d3', 'a'), ('d4', 'b')]
    >>> credit(slots, clicked=["d1", "d4"])
    (1, 1)
    >>> credit(slots, clicked=["d2", "d4"])
    (0, 2)
    >>> result = preference([(2, 0)] * 12 + [(0, 1)] * 2 + [(1, 1)] * 6)
    >>> result.winner, result.wins_a, result.wins_b, result.ties, round(result.p_value, 4)
    ('a', 12, 2, 6, 0.0129)
    >>> print(result.render())  # doctest: +NORMALIZE_WHITESPACE
    a preferred: a won 12 and b won 2 of 20 queries, 6 ties
    (preference for b -0.25, p = 0.013 < 0.05)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from scipy import special

__all__ = ["TEAMS", "Preference", "Slot", "credit", "preference", "team_draft"]

TEAMS: Final = ("a", "b")
"""The two team names: the caller maps them to model versions."""


@dataclass(frozen=True, slots=True)
class Slot:
    """One position of an interleaved list: the item shown there and the team that picked it.

    Attributes:
        item: The candidate's id, as the rankers gave it.
        team: ``"a"`` or ``"b"``, the ranker that contributed the item.
        rank: The 0-based position in the interleaved list.

    Raises:
        ValueError: ``team`` is not ``"a"`` or ``"b"``, or ``rank`` is negative.
    """

    item: str
    team: str
    rank: int

    def __post_init__(self) -> None:
        if self.team not in TEAMS:
            raise ValueError(
                f"Slot {self.item!r}: team {self.team!r} is not one of {TEAMS}; "
                "map your two model versions to 'a' and 'b'."
            )
        if self.rank < 0:
            raise ValueError(
                f"Slot {self.item!r}: rank {self.rank} is negative; ranks count from 0."
            )


def team_draft(
    a: Sequence[str], b: Sequence[str], *, key: str, length: int | None = None
) -> list[Slot]:
    """Interleave rankings ``a`` and ``b`` by team draft, with coins drawn from ``key``.

    Round ``r`` (from 0) flips one coin: team ``a`` picks first when the first byte of
    ``sha256(key.encode("utf-8") + r.to_bytes(8, "big"))`` is below 128, team ``b``
    otherwise. Each team in turn then takes its highest-ranked item not yet in the list;
    a team with nothing left skips its turn. While both rankings have items left, each
    round adds one item per team, so the team sizes never differ by more than one. Items may
    appear in only one of the rankings.

    Args:
        a: Ranker a's items, best first.
        b: Ranker b's items, best first.
        key: What makes the coins of this list: the query or request id. The same key
            gives the same list, so log it to replay what a user saw; prefix it with the
            experiment's name when one request takes part in several experiments, so that
            their coins differ.
        length: How many items to show. ``None`` (the default), or a length past the
            number of distinct items, shows them all.

    Returns:
        The interleaved list, one :class:`Slot` per position, with ``rank`` 0, 1, 2, ...

    Raises:
        ValueError: An item appears twice in one ranking (the draft would show it twice or
            skip a pick); or ``length`` is negative.

    Example:
        >>> [s.item for s in team_draft(["x", "y"], ["y", "x"], key="q1")]
        ['x', 'y']
        >>> team_draft(["x", "y", "x"], ["y"], key="q1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ranking a lists item 'x' twice (positions 0 and 2); deduplicate it ...
    """
    distinct_a, distinct_b = set(a), set(b)
    for name, ranking, distinct in (("a", a, distinct_a), ("b", b, distinct_b)):
        if len(distinct) != len(ranking):
            raise ValueError(_duplicate(name, ranking))
    if length is not None and length < 0:
        raise ValueError(f"length {length} is negative; pass None to show every item.")
    union = len(distinct_a | distinct_b)
    # While fewer than `union` items are shown, some team has one left and picks it: the
    # loop ends.
    limit = union if length is None else min(length, union)

    # Each team's ranking and where its next candidate is; items the other team took are
    # skipped lazily when the cursor reaches them.
    teams = ((a, len(a), "a"), (b, len(b), "b"))
    cursor = [0, 0]
    shown: set[str] = set()
    picks: list[tuple[str, str]] = []
    seed = hashlib.sha256(key.encode("utf-8"))
    round_ = 0
    while len(picks) < limit:
        coin = seed.copy()
        coin.update(round_.to_bytes(8, "big"))
        for t in (0, 1) if coin.digest()[0] < 128 else (1, 0):
            ranking, size, team = teams[t]
            i = cursor[t]
            while i < size and ranking[i] in shown:
                i += 1
            cursor[t] = i + 1
            if i < size and len(picks) < limit:
                shown.add(ranking[i])
                picks.append((ranking[i], team))
        round_ += 1
    return [Slot(item, team, rank) for rank, (item, team) in enumerate(picks)]


def credit(slots: Sequence[Slot], clicked: Iterable[str]) -> tuple[int, int]:
    """Count the clicked items each team contributed to an interleaved list.

    A click credits the team whose slot holds the item. An item clicked several times
    counts once: the method credits clicked items, not click events.

    Args:
        slots: The list the user saw, as :func:`team_draft` returned it.
        clicked: The ids of the items the user clicked, in any order.

    Returns:
        ``(clicks credited to a, clicks credited to b)``; the query is a win for the team
        with more, a tie when they are equal (no clicks included).

    Raises:
        ValueError: A clicked item is not in ``slots`` (a click logged against another
            list, or the wrong query's slots), or ``slots`` shows an item twice.

    Example:
        >>> slots = [Slot("x", "a", 0), Slot("y", "b", 1), Slot("z", "b", 2)]
        >>> credit(slots, ["y", "z", "y"])
        (0, 2)
        >>> credit(slots, ["w"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: clicked items ['w'] are not in the interleaved list of 3 items ['x', ...
    """
    team_of: dict[str, str] = {}
    for slot in slots:
        if slot.item in team_of:
            raise ValueError(
                f"the interleaved list shows item {slot.item!r} twice; "
                "pass the slots team_draft returned."
            )
        team_of[slot.item] = slot.team
    unique = set(clicked)
    unknown = sorted(unique - team_of.keys())
    if unknown:
        listed = [slot.item for slot in slots]
        raise ValueError(
            f"clicked items {unknown} are not in the interleaved list of {len(listed)} items "
            f"{_preview(listed)}; pass the slots of the list the user saw."
        )
    to_a = sum(1 for item in unique if team_of[item] == "a")
    return to_a, len(unique) - to_a


@dataclass(frozen=True, slots=True, kw_only=True)
class Preference:
    """Which ranker users preferred over many interleaved queries.

    Attributes:
        queries: Queries counted, ties included.
        wins_a: Queries where a's items got more clicks than b's.
        wins_b: Queries where b's items got more clicks than a's.
        ties: Queries with equal credit, queries without clicks included.
        preference_b: ``(wins_b + ties / 2) / queries - 0.5``, in [-0.5, 0.5]: positive when
            users prefer b. It is the "delta" of Chapelle et al. (2012) with b as the
            first ranker; 0.0 when there are no queries. Queries without clicks count as
            ties and pull it towards 0; leave out credits of ``(0, 0)`` to measure the
            preference among queries with clicks (the p-value is the same either way).
        p_value: Two-sided binomial test of ``wins_b`` among ``wins_a + wins_b`` against
            p = 0.5 (a sign test: ties carry no evidence either way); 1.0 when every query
            was a tie.
        winner: ``"a"`` or ``"b"``, the ranker with more wins, when ``p_value < alpha``;
            ``None`` otherwise (no evidence yet, which is not evidence of equality).
        alpha: The significance level the winner was decided at.
    """

    queries: int
    wins_a: int
    wins_b: int
    ties: int
    preference_b: float
    p_value: float
    winner: str | None
    alpha: float

    def render(self) -> str:
        """One line for people, e.g. for a CLI or a report.

        Example:
            >>> print(preference([(0, 1), (1, 1)]).render())  # doctest: +NORMALIZE_WHITESPACE
            no preference yet: a won 0 and b won 1 of 2 queries, 1 tie
            (preference for b +0.25, p = 1 >= 0.05)
        """
        verdict = f"{self.winner} preferred" if self.winner else "no preference yet"
        ties = "1 tie" if self.ties == 1 else f"{self.ties} ties"
        compare = "<" if self.winner else ">="
        return (
            f"{verdict}: a won {self.wins_a} and b won {self.wins_b} of {self.queries} "
            f"queries, {ties} (preference for b {self.preference_b:+.3g}, "
            f"p = {self.p_value:.2g} {compare} {self.alpha:g})"
        )


def preference(credits: Iterable[tuple[int, int]], *, alpha: float = 0.05) -> Preference:
    """Decide which ranker users prefer from the credits of many interleaved queries.

    Each query's ``(a, b)`` credit, as :func:`credit` returns it, is a win for a, a win
    for b or a tie. Under "no preference" each non-tied query is a fair coin, so the
    number of b's wins among them is Binomial(n, 0.5): the p-value is the exact two-sided
    binomial test, equal to ``scipy.stats.binomtest(wins_b, n, 0.5).pvalue``. Pass one
    credit per query (not per user or session): the test assumes the queries are
    independent.

    Args:
        credits: One ``(clicks credited to a, clicks credited to b)`` pair per query.
        alpha: The significance level, in (0, 1).

    Returns:
        The counts, the preference for b, the p-value and the winner, if any.

    Raises:
        ValueError: ``alpha`` is not in (0, 1), or a credit is negative.

    Example:
        >>> result = preference([(1, 0), (0, 2), (0, 1), (0, 0)])
        >>> result.wins_a, result.wins_b, result.ties, result.preference_b, result.winner
        (1, 2, 1, 0.125, None)
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha {alpha} is not in (0, 1); 0.05 is the usual level.")
    wins_a = wins_b = ties = 0
    for to_a, to_b in credits:
        if to_a < 0 or to_b < 0:
            raise ValueError(
                f"credit ({to_a}, {to_b}) is negative; pass the click counts credit() returns."
            )
        if to_a > to_b:
            wins_a += 1
        elif to_b > to_a:
            wins_b += 1
        else:
            ties += 1
    queries = wins_a + wins_b + ties
    decided = wins_a + wins_b
    # Binomial(n, 1/2) is symmetric, so the two-sided p-value is twice the smaller tail:
    # binomtest's value to rounding, in a microsecond instead of its 2 ms (it searches for
    # the other tail), which matters to dashboards and simulations that test many prefixes.
    # With no decided query there is no evidence (and binomtest would reject n = 0).
    fewer = min(wins_a, wins_b)
    p_value = min(1.0, 2.0 * float(special.bdtr(fewer, decided, 0.5))) if decided else 1.0
    winner = None
    if p_value < alpha:
        winner = "b" if wins_b > wins_a else "a"
    return Preference(
        queries=queries,
        wins_a=wins_a,
        wins_b=wins_b,
        ties=ties,
        preference_b=(wins_b + ties / 2) / queries - 0.5 if queries else 0.0,
        p_value=p_value,
        winner=winner,
        alpha=alpha,
    )


def _duplicate(name: str, ranking: Sequence[str]) -> str:
    """The message naming the first item that ``ranking`` lists twice."""
    first: dict[str, int] = {}
    for position, item in enumerate(ranking):
        if item in first:
            return (
                f"ranking {name} lists item {item!r} twice (positions {first[item]} and "
                f"{position}); deduplicate it before interleaving."
            )
        first[item] = position
    return f"ranking {name} lists an item twice; deduplicate it before interleaving."


def _preview(items: list[str], limit: int = 10) -> str:
    """The first ``limit`` items, for messages about long lists."""
    if len(items) <= limit:
        return repr(items)
    return f"{items[:limit]!r} and {len(items) - limit} more"
