"""Materialization and online reads through the FeatureStore: newest wins, windows, ttl,
push, order, bad input. Part of the online conformance suite: every test runs with each
online backend (the ``backend`` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import FeatureStore, ObjectNotFoundError, OnlineStoreError, RequestError
from store.online.layout import layout_of
from store.online.read import NOT_FOUND, OUTSIDE_MAX_AGE, PRESENT
from tests.backends import OnlineUnderTest
from tests.conftest import T0

H = timedelta(hours=1)
REFS = ["driver_hourly_stats:avg_daily_trips", "driver_hourly_stats:conv_rate"]


def open_store(
    make_repo: Callable[..., Path], backend: OnlineUnderTest, *, enforce_ttl: bool = False
) -> FeatureStore:
    """The basic repository on a fresh store of ``backend``; the fixture data is months old,
    so ttl enforcement is off unless asked for."""
    repo = make_repo("basic")
    backend.configure(repo, **({} if enforce_ttl else {"enforce_ttl": False}))
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    return fs


def trips(fs: FeatureStore, drivers: list[int]) -> list[object]:
    rows = [{"driver_id": d} for d in drivers]
    return fs.get_online_features(REFS[:1], rows).to_dict()["avg_daily_trips"]


def test_materialize_loads_the_newest_row_per_key_in_the_window(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_store(make_repo, backend)
    (done,) = fs.materialize(T0, T0 + 2 * H)
    assert (done.feature_view, done.rows) == ("driver_hourly_stats", 3)
    # avg_daily_trips = 10 * driver + hour; the newest hour inside the window is 2
    assert trips(fs, [1001, 1002, 1003]) == [2, 12, 22]
    (interval,) = fs.registry.catalog.materialization_intervals("basic", "driver_hourly_stats")
    assert (interval.start, interval.end, interval.rows_written) == (T0, T0 + 2 * H, 3)
    response = fs.get_online_features(REFS, [{"driver_id": 1001}])
    assert response.statuses["avg_daily_trips"] == [PRESENT]
    assert response.event_timestamps["avg_daily_trips"] == [T0 + 2 * H]


def test_an_older_window_never_brings_old_values_back(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_store(make_repo, backend)
    fs.materialize(T0 + 3 * H, T0 + 3 * H)
    fs.materialize(T0, T0 + H)
    assert trips(fs, [1001, 1002]) == [3, 13]


def test_order_duplicates_and_missing_keys(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_store(make_repo, backend)
    fs.materialize(T0, T0 + 10 * H)
    response = fs.get_online_features(
        REFS, [{"driver_id": 1003}, {"driver_id": 1001}, {"driver_id": 1003}, {"driver_id": 7}]
    )
    result = response.to_dict(include_statuses=True)
    assert result["driver_id"] == [1003, 1001, 1003, 7]
    assert result["avg_daily_trips"] == [23, 3, 23, None]
    assert result["avg_daily_trips__status"] == [PRESENT, PRESENT, PRESENT, NOT_FOUND]
    # Feast's columnar form of entity rows works too, and full names
    columnar = fs.get_online_features(
        REFS, {"driver_id": [1002]}, full_feature_names=True
    ).to_dict()
    assert list(columnar) == [
        "driver_id",
        "driver_hourly_stats__avg_daily_trips",
        "driver_hourly_stats__conv_rate",
    ]
    frame = fs.get_online_features(REFS, [{"driver_id": 1002}]).to_df()
    assert frame["avg_daily_trips"].tolist() == [13]


def test_ttl_is_enforced_online_by_default(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_store(make_repo, backend, enforce_ttl=True)
    fs.materialize(T0, T0 + 10 * H)  # months ago: older than the one-day ttl now
    response = fs.get_online_features(REFS, [{"driver_id": 1001}])
    assert response.to_dict()["avg_daily_trips"] == [None]
    assert response.statuses["avg_daily_trips"] == [OUTSIDE_MAX_AGE]
    assert response.event_timestamps["avg_daily_trips"] == [T0 + 3 * H]


def test_materialize_incremental_continues_where_it_stopped(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_store(make_repo, backend)
    (first,) = fs.materialize_incremental(T0 + H)
    assert first.start == T0 + H - timedelta(days=1)  # never materialized: end minus ttl
    assert trips(fs, [1001]) == [1]
    (second,) = fs.materialize_incremental(T0 + 3 * H)
    assert (second.start, second.end) == (T0 + H, T0 + 3 * H)
    assert trips(fs, [1001]) == [3]


def test_push_validates_and_applies_newest_wins(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_store(make_repo, backend)
    fs.materialize(T0, T0 + 10 * H)
    fresh = pd.DataFrame(
        {
            "driver_id": [1001, 1002],
            "event_timestamp": [T0 + 5 * H, T0 - 5 * H],  # the second is older than stored
            "conv_rate": [0.9, 0.9],
            "acc_rate": [0.9, 0.9],
            "avg_daily_trips": [99, 99],
        }
    )
    assert fs.push("driver_hourly_stats", fresh) == 2
    assert trips(fs, [1001, 1002]) == [99, 13]
    with pytest.raises(RequestError, match="lack column"):
        fs.push("driver_hourly_stats", fresh.drop(columns=["acc_rate"]))
    with pytest.raises(RequestError, match="column 'avg_daily_trips' is string"):
        fs.write_to_online_store("driver_hourly_stats", fresh.assign(avg_daily_trips=["a", "b"]))
    assert trips(fs, [1001, 1002]) == [99, 13]


def test_push_into_a_view_never_materialized_makes_it_readable(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_store(make_repo, backend)
    with pytest.raises(OnlineStoreError, match="never been materialized; run `silage materialize"):
        fs.get_online_features(REFS, [{"driver_id": 1001}])
    fs.push(
        "driver_hourly_stats",
        pd.DataFrame(
            {
                "driver_id": [1001],
                "event_timestamp": [datetime.now(UTC)],
                "conv_rate": [0.5],
                "acc_rate": [0.5],
                "avg_daily_trips": [5],
            }
        ),
    )
    assert trips(fs, [1001]) == [5]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"rider": 1}], "entity_rows have no 'driver_id'"),
        ([{"driver_id": "1001"}], r"driver_id='1001' is str, but feature view\(s\)"),
        ([{"driver_id": 1.5}], "is float"),
        ([{"driver_id": True}], "is bool"),
        ([], "entity_rows is empty"),
    ],
)
def test_bad_entity_rows(
    make_repo: Callable[..., Path],
    backend: OnlineUnderTest,
    rows: list[dict[str, object]],
    message: str,
) -> None:
    fs = open_store(make_repo, backend)
    fs.materialize(T0, T0 + H)
    with pytest.raises(RequestError, match=message):
        fs.get_online_features(REFS, rows)


def test_unknown_reference_offline_view_and_bad_window(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_store(make_repo, backend)
    fs.materialize(T0, T0 + H)
    with pytest.raises(RequestError, match="has no feature 'speed'"):
        fs.get_online_features(["driver_hourly_stats:speed"], [{"driver_id": 1}])
    with pytest.raises(ObjectNotFoundError, match="no feature view named 'nope'"):
        fs.write_to_online_store("nope", pd.DataFrame())
    with pytest.raises(RequestError, match=r"end_date .* is before start_date"):
        fs.materialize(T0 + H, T0)
    make_repo("basic_v2", into=fs.repo_path)  # adds driver_city, an offline view
    fs.apply()
    with pytest.raises(RequestError, match=r"driver_city are not online"):
        fs.materialize(T0, T0 + H, feature_views=["driver_city"])
    with pytest.raises(RequestError, match="'driver_city' is not online"):
        fs.get_online_features(["driver_city:city"], [{"driver_id": 1001}])


def test_materialize_breaks_event_time_ties_by_created_time(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    from tests.store.offline.test_retrieval import row, write

    fs = open_store(make_repo, backend)
    write(
        fs.repo_path,
        [
            row(1, T0, 10, created=T0 + H),
            row(1, T0, 11, created=T0 + 2 * H),  # a late correction
            row(1, T0, 12, created=None),  # no write time: loses
            row(2, T0, 20, created=None),
        ],
    )
    fs.materialize(T0, T0)
    assert trips(fs, [1, 2]) == [11, 20]
    # Pushing the same event time with an older write changes nothing; a newer one wins.
    base = {"driver_id": [1], "event_timestamp": [T0], "conv_rate": [0.0], "acc_rate": [0.0]}
    fs.push("driver_hourly_stats", pd.DataFrame({**base, "avg_daily_trips": [98], "created": [T0]}))
    assert trips(fs, [1]) == [11]
    fs.push(
        "driver_hourly_stats",
        pd.DataFrame({**base, "avg_daily_trips": [99], "created": [T0 + 3 * H]}),
    )
    assert trips(fs, [1]) == [99]


TYPED_REPO = """
from store import Entity, FeatureView, Field, FileSource
from store.types import (Array, Bool, Bytes, Float32, Float64, Int32, String,
                         UnixTimestamp)

driver = Entity(name="driver", join_keys=["driver_id"])
typed = FeatureView(
    name="typed",
    entities=[driver],
    source=FileSource(path="data/typed.parquet", timestamp_field="event_timestamp",
                      created_timestamp_column="created"),
    schema=[
        Field(name="i32", dtype=Int32),
        Field(name="f32", dtype=Float32),
        Field(name="f64", dtype=Float64),
        Field(name="s", dtype=String),
        Field(name="b", dtype=Bool),
        Field(name="raw", dtype=Bytes),
        Field(name="when", dtype=UnixTimestamp),
        Field(name="floats", dtype=Array(Float32)),
        Field(name="words", dtype=Array(String)),
        Field(name="stamps", dtype=Array(UnixTimestamp)),
        Field(name="blobs", dtype=Array(Bytes)),
    ],
)
"""
TYPED = ["i32", "f32", "f64", "s", "b", "raw", "when", "floats", "words", "stamps", "blobs"]


def typed_rows(hour: int, n: int = 3) -> pa.Table:
    ts = pa.timestamp("us", tz="UTC")
    naive_ns = pa.timestamp("ns")  # a naive nanosecond column: UTC, truncated to microseconds
    when = [T0 - timedelta(days=20_000) + timedelta(microseconds=7 * d + hour) for d in range(n)]
    return pa.table(
        {
            "driver_id": pa.array(range(n), pa.int64()),
            "event_timestamp": pa.array([T0 + hour * H] * n, ts),
            "created": pa.array([T0 + hour * H] * n, ts),
            "i32": pa.array([d - hour for d in range(n)], pa.int32()),
            "f32": pa.array([0.1 * d + hour for d in range(n)], pa.float32()),
            "f64": pa.array([None if d == 1 else d / 3 + hour for d in range(n)], pa.float64()),
            "s": pa.array([f"s{d}{hour}" for d in range(n)]),
            "b": pa.array([d % 2 == hour % 2 for d in range(n)]),
            "raw": pa.array([bytes([d, hour, 255]) for d in range(n)]),
            "when": pa.array([w.replace(tzinfo=None) for w in when], naive_ns),
            "floats": pa.array(
                [[0.1, None, float(d + hour)] for d in range(n)], pa.list_(pa.float32())
            ),
            "words": pa.array([["a", str(hour)], None, [], *[[str(d)] for d in range(n)]][:n]),
            "stamps": pa.array([[w, None] for w in when], pa.list_(ts)),
            "blobs": pa.array([[b"\x00", None, bytes([d])] for d in range(n)]),
        }
    )


def test_online_values_equal_the_training_values_for_every_dtype(
    tmp_path: Path, backend: OnlineUnderTest
) -> None:
    """Training-serving consistency: what materialization and push serve online is exactly
    what a training set built at the same time holds, for every dtype."""
    repo = tmp_path / "typed"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text("project: typed\n")
    (repo / "definitions.py").write_text(TYPED_REPO)
    pq.write_table(typed_rows(0), repo / "data" / "typed.parquet")
    backend.configure(repo, enforce_ttl=False)
    refs = [f"typed:{name}" for name in TYPED]
    drivers = [0, 1, 2]
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        fs.materialize(T0, T0 + H)
        online = fs.get_online_features(refs, {"driver_id": drivers}).to_dict()
        entity = pd.DataFrame({"driver_id": drivers, "event_timestamp": [T0 + H] * 3})
        offline = fs.get_historical_features(entity, refs).to_arrow().to_pydict()
        assert {name: online[name] for name in TYPED} == {name: offline[name] for name in TYPED}
        pushed = typed_rows(1)
        fs.push("typed", pushed)
        again = fs.get_online_features(refs, {"driver_id": drivers}).to_dict()
    expected = pushed.to_pydict()
    expected["when"] = [
        w.replace(tzinfo=UTC) for w in pushed.column("when").cast(pa.timestamp("us")).to_pylist()
    ]
    assert {name: again[name] for name in TYPED} == {name: expected[name] for name in TYPED}


def test_apply_creates_and_teardown_removes_the_online_tables(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_store(make_repo, backend)
    with fs:
        assert set(fs.online_store.tables("basic")) == {"driver_hourly_stats"}
        fs.materialize(T0, T0 + H)
        view = fs.get_feature_view("driver_hourly_stats")
        layout = layout_of("basic", view)
        assert fs.online_store.has_rows(layout)
        fs.teardown()
        assert fs.online_store.tables("basic") == {}
        assert not fs.online_store.has_rows(layout)
        fs.apply()  # declared again: the table is back, empty
        assert fs.online_store.read(layout, ["avg_daily_trips"], [[1001]]) == [(None, None)]
