"""Time as microseconds: the fast conversion of many values agrees with the exact one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from store.epoch import _FAST_LIMIT, from_micros, from_micros_many, to_micros

# Around the fast path's limits, at half-microsecond-prone values, and far beyond them.
edges = st.sampled_from([0, 1, _FAST_LIMIT - 1, _FAST_LIMIT, -1, 1_767_225_600_000_000])
micros = st.one_of(
    edges,
    st.integers(min_value=0, max_value=_FAST_LIMIT - 1),
    st.integers(min_value=-62_135_596_800_000_000, max_value=253_402_300_799_999_999),
)


@given(values=st.lists(st.one_of(st.none(), micros), max_size=50))
def test_many_at_once_equals_one_by_one(values: list[int | None]) -> None:
    expected = [None if v is None else from_micros(v) for v in values]
    assert from_micros_many(values) == expected
    assert [None if d is None else to_micros(d) for d in expected] == values


def test_every_microsecond_of_one_second_near_the_limit() -> None:
    start = _FAST_LIMIT - 1_000_000
    values = list(range(start, _FAST_LIMIT))
    assert from_micros_many(values) == [from_micros(v) for v in values]
