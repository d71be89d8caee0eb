"""The online backend interface, tested directly: the conformance suite every backend runs.

Newest wins (against a brute-force reference on generated writes), every dtype round-trips,
reads come back in order with repeats and gaps, a write is one transaction (a failed one
changes nothing; readers see before or after), tables are created, rebuilt and dropped per
project.
"""

from __future__ import annotations

import itertools
import random
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.online.backend import OnlineBackend
from store.online.layout import TableLayout
from store.types import (
    Array,
    Bool,
    Bytes,
    DType,
    Float32,
    Float64,
    Int32,
    Int64,
    Json,
    Map,
    String,
    Struct,
    UnixTimestamp,
    to_arrow,
)
from tests.backends import ONLINE_BACKENDS, OnlineUnderTest, online_backend
from tests.store.online.test_values import typed_columns

STATS = TableLayout(
    project="p",
    feature_view="stats",
    keys=(("driver_id", Int64),),
    features=(("trips", Int64), ("city", String)),
)
PAIRS = TableLayout(
    project="p",
    feature_view="pairs",
    keys=(("driver_id", Int64), ("customer_id", String)),
    features=(("together", Int64),),
)


def batch(layout: TableLayout, rows: list[dict[str, Any]]) -> pa.RecordBatch:
    """Rows in the online batch format: typed keys and features, times as int64 micros."""
    types = dict((*layout.keys, *layout.features))
    arrays = [pa.array([r.get(n) for r in rows], to_arrow(types[n])) for n in types]
    arrays += [pa.array([r.get(c) for r in rows], pa.int64()) for c in layout.columns[-2:]]
    return pa.RecordBatch.from_arrays(arrays, names=layout.columns)


def stats_row(
    driver: int, trips: int | None, event: int, created: int | None = None
) -> dict[str, Any]:
    return {
        "driver_id": driver,
        "trips": trips,
        "city": f"c{trips}",
        "__event_ts": event,
        "__created_ts": created,
    }


@pytest.fixture
def store(backend: OnlineUnderTest) -> Iterator[OnlineBackend]:
    with online_backend(backend.name, backend.folder) as opened:
        opened.sync_tables("p", [STATS, PAIRS], drop_missing=True)
        yield opened


def test_tables_are_created_rebuilt_and_dropped_per_project(store: OnlineBackend) -> None:
    assert {view: t.layout_hash for view, t in store.tables("p").items()} == {
        "stats": STATS.layout_hash,
        "pairs": PAIRS.layout_hash,
    }
    # Another project in the same store keeps its own tables.
    other = TableLayout(project="q", feature_view="stats", keys=STATS.keys, features=STATS.features)
    assert [c.action for c in store.sync_tables("q", [other], drop_missing=True)] == ["create"]
    store.write(STATS, [batch(STATS, [stats_row(1, 10, 100)])])
    store.write(other, [batch(other, [stats_row(1, 99, 100)])])
    assert store.read(STATS, ["trips"], [[1]]) == [(10, 100)]
    assert store.read(other, ["trips"], [[1]]) == [(99, 100)]
    # Unchanged layouts: nothing to do.
    assert store.sync_tables("p", [STATS, PAIRS], drop_missing=True) == []
    # A changed layout rebuilds the table empty; with drop_missing, an undeclared one goes.
    wider = TableLayout(
        project="p", feature_view="stats", keys=STATS.keys, features=(("trips", Float64),)
    )
    changes = store.sync_tables("p", [wider], drop_missing=True)
    assert [(c.feature_view, c.action) for c in changes] == [
        ("pairs", "drop"),
        ("stats", "rebuild"),
    ]
    assert store.read(wider, ["trips"], [[1]]) == [(None, None)]
    assert not store.has_rows(wider)
    assert set(store.tables("p")) == {"stats"}
    # Without drop_missing only the views named in `drop` go.
    assert store.sync_tables("p", [], drop_missing=False) == []
    assert [c.action for c in store.sync_tables("p", [], drop_missing=False, drop={"stats"})] == [
        "drop"
    ]
    assert store.tables("p") == {}
    assert store.read(other, ["trips"], [[1]]) == [(99, 100)]


def test_reads_come_back_in_order_with_repeats_and_gaps(store: OnlineBackend) -> None:
    store.write(STATS, [batch(STATS, [stats_row(d, d * 10, 1000 + d) for d in range(1, 6)])])
    keys = [5, 1, 42, 5, 3]
    assert store.read(STATS, ["city", "trips"], [keys]) == [
        ("c50", 50, 1005),
        ("c10", 10, 1001),
        (None, None, None),
        ("c50", 50, 1005),
        ("c30", 30, 1003),
    ]
    assert store.read(STATS, ["trips"], [[42]]) == [(None, None)]
    assert store.read(STATS, ["trips"], [[2]]) == [(20, 1002)]
    pairs = [
        {"driver_id": 1, "customer_id": "a", "together": 3, "__event_ts": 5},
        {"driver_id": 1, "customer_id": "b", "together": 4, "__event_ts": 6},
        {"driver_id": 2, "customer_id": "a", "together": 5, "__event_ts": 7},
    ]
    store.write(PAIRS, [batch(PAIRS, pairs)])
    drivers, customers = [2, 1, 1, 2, 1], ["a", "b", "a", "b", "b"]
    assert store.read(PAIRS, ["together"], [drivers, customers]) == [
        (5, 7),
        (4, 6),
        (3, 5),
        (None, None),
        (4, 6),
    ]
    assert store.read(PAIRS, ["together"], [[1], ["b"]]) == [(4, 6)]


def test_many_keys_in_one_read(store: OnlineBackend) -> None:
    count = 40_000  # beyond SQLite's default limit of bound parameters
    rows = [stats_row(d, d, d) for d in range(0, count, 2)]
    store.write(STATS, [batch(STATS, rows[i : i + 5000]) for i in range(0, len(rows), 5000)])
    keys = list(range(count))
    random.Random(3).shuffle(keys)
    found = store.read(STATS, ["trips"], [keys])
    assert found == [(k, k) if k % 2 == 0 else (None, None) for k in keys]


def test_newest_wins_by_event_time_then_created_time(store: OnlineBackend) -> None:
    store.write(STATS, [batch(STATS, [stats_row(1, 1, 100, 5), stats_row(2, 1, 100, None)])])
    store.write(
        STATS,
        [
            batch(
                STATS,
                [
                    stats_row(1, 2, 100, 4),  # same event time, earlier write: loses
                    stats_row(2, 2, 100, 1),  # a created time beats a missing one
                    stats_row(3, 1, 50, None),
                ],
            )
        ],
    )
    store.write(STATS, [batch(STATS, [stats_row(3, 2, 49, 99), stats_row(1, 3, 101, None)])])
    assert store.read(STATS, ["trips"], [[1, 2, 3]]) == [(3, 101), (2, 100), (1, 50)]


def test_every_dtype_round_trips(backend: OnlineUnderTest) -> None:
    primitives: list[DType] = [Int32, Int64, Float32, Float64, String, Bool, Bytes, UnixTimestamp]
    dtypes = [(f"v_{t.spec.lower()}", t) for t in primitives]
    dtypes += [(f"a_{t.spec.lower()}", Array(t)) for t in primitives]  # type: ignore[arg-type]
    layout = TableLayout(
        project="p", feature_view="all", keys=(("k", String),), features=tuple(dtypes)
    )
    when = datetime(2026, 3, 1, 12, 30, 0, 123456, tzinfo=UTC)
    before_1970 = datetime(1960, 5, 1, 0, 0, 0, 1, tzinfo=UTC)
    scalars: dict[str, Any] = {
        "Int32": -(2**31),
        "Int64": 2**63 - 1,
        "Float32": 0.5,
        "Float64": 1e-300,
        "String": "naïve ✓",
        "Bool": True,
        "Bytes": b"\x00\xff",
        "UnixTimestamp": when,
    }
    others: dict[str, Any] = {
        "Int32": 7,
        "Int64": -(2**63),
        "Float32": -2.0,
        "Float64": float("inf"),
        "String": "",
        "Bool": False,
        "Bytes": b"",
        "UnixTimestamp": before_1970,
    }
    full: dict[str, Any] = {"k": "full", "__event_ts": 1}
    partial: dict[str, Any] = {"k": "partial", "__event_ts": 2}
    for name, dtype in dtypes:
        element = dtype.element.spec if isinstance(dtype, Array) else dtype.spec
        if isinstance(dtype, Array):
            full[name] = [scalars[element], None, others[element]]
            partial[name] = []
        else:
            full[name] = scalars[element]
            partial[name] = others[element]
    nulls = {"k": "nulls", "__event_ts": 3}
    names = [n for n, _ in dtypes]
    with online_backend(backend.name, backend.folder) as store:
        store.sync_tables("p", [layout], drop_missing=True)
        store.write(layout, [batch(layout, [full, partial, nulls])])
        found = store.read(layout, names, [["full", "partial", "nulls", "none"]])
    assert found == [
        (*(full[n] for n in names), 1),
        (*(partial[n] for n in names), 2),
        (*(None for _ in names), 3),
        (*(None for _ in names), None),
    ]
    for row in found[:2]:
        assert type(row[names.index("v_bool")]) is bool
        assert row[names.index("v_unixtimestamp")].tzinfo is not None


# Feast's document and record types, nested in each other, with nulls at every depth, empty
# containers, unicode and the values JSON spells specially (timestamps, bytes, infinities).
NESTED = TableLayout(
    project="p",
    feature_view="nested",
    keys=(("k", String),),
    features=(
        ("doc", Json),
        ("tags", Map),
        ("rates", Map(Float64)),
        ("profile", Struct({"name": String, "born": UnixTimestamp, "seen": Map(Array(Bytes))})),
        ("docs", Array(Json)),
        ("history", Array(Map(Int64))),
        ("trips", Array(Struct({"km": Float32, "ok": Bool}))),
        ("grid", Array(Array(Int32))),
    ),
)
_WHEN = datetime(2026, 3, 1, 12, 30, 0, 123456, tzinfo=UTC)
NESTED_ROWS: list[dict[str, Any]] = [
    {
        "k": "full",
        "doc": '{"b": [1, 2.50, null], "a": "naïve ✓"}',  # kept as written: order, spaces
        "tags": {"zeta": "z", "alpha": None, "ünï": "✓", "": "empty key"},
        "rates": {"inf": float("inf"), "tiny": 1e-300, "neg": -0.0},
        "profile": {"name": "Zoë", "born": _WHEN, "seen": {"x": [b"\x00\xff", None], "y": []}},
        "docs": ["{}", None, "[1]"],
        "history": [{"a": 1, "b": None}, {}, None],
        "trips": [{"km": 1.5, "ok": True}, None, {"km": None, "ok": False}],
        "grid": [[1, None], [], None],
        "__event_ts": 1,
    },
    {
        "k": "empty",
        "doc": "null",
        "tags": {},
        "rates": {},
        "profile": {"name": None, "born": None, "seen": {}},
        "docs": [],
        "history": [],
        "trips": [],
        "grid": [],
        "__event_ts": 2,
    },
    {"k": "nulls", "__event_ts": 3},
]


def test_maps_json_structs_and_nested_arrays_round_trip(backend: OnlineUnderTest) -> None:
    names = [n for n, _ in NESTED.features]
    with online_backend(backend.name, backend.folder) as store:
        store.sync_tables("p", [NESTED], drop_missing=True)
        store.write(NESTED, [batch(NESTED, NESTED_ROWS)])
        found = store.read(NESTED, names, [["full", "empty", "nulls", "none"]])
        one = store.read(NESTED, ["profile", "tags"], [["full"]])
    expected = [(*(row.get(n) for n in names), row["__event_ts"]) for row in NESTED_ROWS]
    assert found == [*expected, (*(None for _ in names), None)]
    assert one == [(NESTED_ROWS[0]["profile"], NESTED_ROWS[0]["tags"], 1)]
    full = dict(zip(names, found[0], strict=False))
    # Orders are kept: a map's entries and a struct's fields as written, a document's text.
    assert list(full["tags"]) == ["zeta", "alpha", "ünï", ""]
    assert list(full["profile"]) == ["name", "born", "seen"]
    assert full["doc"] == NESTED_ROWS[0]["doc"]
    assert full["profile"]["born"].tzinfo is not None
    assert str(full["rates"]["neg"]) == "-0.0"


@pytest.mark.parametrize("backend", ONLINE_BACKENDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=typed_columns())
def test_generated_nested_values_round_trip(backend: str, case: tuple[DType, list[Any]]) -> None:
    """Any type tree (arrays, maps and structs of each other and of every scalar) and any
    values of it, nulls at every depth, come back as written."""
    dtype, column = case
    layout = TableLayout(
        project="p", feature_view="generated", keys=(("k", Int64),), features=(("v", dtype),)
    )
    rows = [{"k": i, "v": v, "__event_ts": i} for i, v in enumerate(column)]
    with tempfile.TemporaryDirectory() as tmp, online_backend(backend, Path(tmp)) as store:
        store.sync_tables("p", [layout], drop_missing=True)
        store.write(layout, [batch(layout, rows)] if rows else [])
        found = store.read(layout, ["v"], [[*range(len(column)), -1]])
    assert repr(found) == repr([*((v, i) for i, v in enumerate(column)), (None, None)])


def test_a_failed_write_changes_nothing(store: OnlineBackend) -> None:
    store.write(STATS, [batch(STATS, [stats_row(1, 1, 100)])])

    def batches() -> Iterator[pa.RecordBatch]:
        yield batch(STATS, [stats_row(1, 2, 200), stats_row(2, 2, 200)])
        raise RuntimeError("the source broke midway")

    with pytest.raises(RuntimeError, match="midway"):
        store.write(STATS, batches())
    assert store.read(STATS, ["trips"], [[1, 2]]) == [(1, 100), (None, None)]


def test_readers_see_a_write_whole_or_not_at_all(store: OnlineBackend) -> None:
    store.write(STATS, [batch(STATS, [stats_row(d, 0, 100) for d in range(100)])])
    first_written, release = threading.Event(), threading.Event()
    progress: list[int] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for part in range(2):
            yield batch(STATS, [stats_row(d, 1, 200) for d in range(part * 50, part * 50 + 50)])

    def on_rows(rows: int) -> None:
        progress.append(rows)
        if rows == 50:
            first_written.set()
            assert release.wait(30)

    writer = threading.Thread(target=store.write, args=(STATS, batches(), on_rows))
    writer.start()
    try:
        assert first_written.wait(30)
        # Half the rows are written inside the open transaction; a reader sees none of them.
        assert {row[0] for row in store.read(STATS, ["trips"], [list(range(100))])} == {0}
    finally:
        release.set()
        writer.join(30)
    assert progress == [50, 100]
    assert {row[0] for row in store.read(STATS, ["trips"], [list(range(100))])} == {1}
    assert store.has_rows(STATS)


def test_has_rows_reports_what_is_loaded(store: OnlineBackend) -> None:
    missing = TableLayout(
        project="p", feature_view="never", keys=STATS.keys, features=STATS.features
    )
    assert not store.has_rows(missing)
    assert not store.has_rows(STATS)
    assert store.write(STATS, [batch(STATS, [stats_row(1, 1, 1)])]) == 1
    assert store.has_rows(STATS)
    store.close()  # connections reopen on the next use
    assert store.has_rows(STATS)


writes = st.lists(
    st.tuples(
        st.integers(0, 3),  # key
        st.integers(0, 4),  # event time
        st.one_of(st.none(), st.integers(-2, 2)),  # created time
    ),
    min_size=1,
    max_size=30,
)


@pytest.mark.parametrize("backend", ONLINE_BACKENDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(writes=writes, cuts=st.lists(st.integers(0, 30), max_size=4))
def test_newest_wins_against_a_reference(
    backend: str, writes: list[tuple[int, int, int | None]], cuts: list[int]
) -> None:
    """Whatever the order and batching of writes, each key holds a row with the greatest
    (event time, created time), a missing created time below any; equal rows may be any."""
    rows = [stats_row(key, i, event, created) for i, (key, event, created) in enumerate(writes)]
    bounds = sorted({0, len(rows), *(min(c, len(rows)) for c in cuts)})
    calls = [rows[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    with tempfile.TemporaryDirectory() as tmp, online_backend(backend, Path(tmp)) as store:
        store.sync_tables("p", [STATS], drop_missing=True)
        for call in calls:  # each call one transaction; a call's rows in one batch or two
            half = len(call) // 2
            parts = [call] if half == 0 else [call[:half], call[half:]]
            store.write(STATS, [batch(STATS, part) for part in parts])
        found = store.read(STATS, ["trips"], [[0, 1, 2, 3]])
    for key, (trips, event) in zip(range(4), found, strict=True):
        mine = [r for r in rows if r["driver_id"] == key]
        if not mine:
            assert (trips, event) == (None, None)
            continue

        def rank(r: dict[str, Any]) -> tuple[int, int, int]:
            created = r["__created_ts"]
            return (r["__event_ts"], created is not None, created or 0)

        best = max(rank(r) for r in mine)
        assert trips in {r["trips"] for r in mine if rank(r) == best}
        assert event == best[0]


def test_one_views_rewrite_rebuild_and_drop_leave_another_alone(store: OnlineBackend) -> None:
    """Each view keeps its own rows per entity (Feast's Redis store keeps one hash per
    entity for every view, so rewriting or dropping one view touches the others)."""
    other = TableLayout(
        project="p", feature_view="other", keys=STATS.keys, features=(("trips", Int64),)
    )
    store.sync_tables("p", [STATS, PAIRS, other], drop_missing=True)
    store.write(STATS, [batch(STATS, [stats_row(1, 1, 100)])])
    store.write(other, [batch(other, [{"driver_id": 1, "trips": 7, "__event_ts": 50}])])
    store.write(STATS, [batch(STATS, [stats_row(1, 2, 200)])])  # a rewrite of one view
    assert store.read(other, ["trips"], [[1]]) == [(7, 50)]
    assert store.read(STATS, ["trips"], [[1]]) == [(2, 200)]
    wider = TableLayout(
        project="p", feature_view="stats", keys=STATS.keys, features=(("trips", Float64),)
    )
    store.sync_tables("p", [wider, PAIRS, other], drop_missing=True)  # a rebuild
    assert store.read(wider, ["trips"], [[1]]) == [(None, None)]
    assert store.read(other, ["trips"], [[1]]) == [(7, 50)]
    store.sync_tables("p", [PAIRS, other], drop_missing=True)  # a drop
    assert store.read(other, ["trips"], [[1]]) == [(7, 50)]
    assert store.has_rows(other)


def test_a_dropped_view_comes_back_empty(store: OnlineBackend) -> None:
    store.write(STATS, [batch(STATS, [stats_row(1, 1, 100)])])
    store.sync_tables("p", [PAIRS], drop_missing=True)
    assert not store.has_rows(STATS)
    store.sync_tables("p", [STATS, PAIRS], drop_missing=True)  # the same layout again
    assert store.read(STATS, ["trips"], [[1]]) == [(None, None)]
    assert not store.has_rows(STATS)
