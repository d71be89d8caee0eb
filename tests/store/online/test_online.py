"""Materialization and online reads through the FeatureStore: newest wins, windows, ttl,
push, order, bad input. Part of the online conformance suite: every test runs with each
online backend (the ``backend`` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from store import FeatureStore, ObjectNotFoundError, OnlineStoreError, RequestError
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
