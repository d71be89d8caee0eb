"""get_historical_features through the FeatureStore: edge cases by hand, outputs, bad input.

Part of the offline conformance suite: every test runs with each engine (the ``engine``
fixture), and the edge cases with every plan the engine runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import FeatureStore, ObjectNotFoundError, RequestError, SourceDataError
from tests.backends import configure_offline, parquet_table
from tests.conftest import T0

from .pit_reference import every_plan

H = timedelta(hours=1)


def write(repo: Path, rows: list[dict[str, Any]]) -> None:
    schema = pa.schema(
        [
            ("driver_id", pa.int64()),
            ("event_timestamp", pa.timestamp("us", tz="UTC")),
            ("created", pa.timestamp("us", tz="UTC")),
            ("conv_rate", pa.float64()),
            ("acc_rate", pa.float64()),
            ("avg_daily_trips", pa.int64()),
        ]
    )
    cols = {n: [r.get(n) for r in rows] for n in schema.names}
    pq.write_table(pa.table(cols, schema=schema), repo / "data" / "driver_stats.parquet")


def row(
    driver: int, ts: datetime, trips: int | None, created: datetime | None = None
) -> dict[str, Any]:
    return {
        "driver_id": driver,
        "event_timestamp": ts,
        "created": created,
        "conv_rate": 0.5,
        "acc_rate": 0.5,
        "avg_daily_trips": trips,
    }


def trips_by_plan(fs: FeatureStore, entity: pd.DataFrame) -> list[list[Any]]:
    """``avg_daily_trips`` per entity row, once per plan the engine runs."""
    job = fs.get_historical_features(entity, ["driver_hourly_stats:avg_daily_trips"])
    return [
        [None if pd.isna(v) else int(v) for v in plan.to_df()["avg_daily_trips"].tolist()]
        for plan in every_plan(job)
    ]


def test_edge_cases_by_hand(store: FeatureStore) -> None:
    day = timedelta(days=1)  # the view's ttl
    midnight = pd.Timestamp(T0).ceil("D") + day
    write(
        store.repo_path,
        [
            row(1, T0, 10, created=T0),
            row(1, T0, 11, created=T0 + H),  # a late correction wins the tie
            row(2, T0, 20, created=T0 + H),
            row(2, T0, 21, created=None),  # an unknown write time loses the tie
            row(3, T0, None, created=T0),  # a null value stays null...
            row(3, T0 - H, 30, created=T0),  # ...rather than falling back to an older row
            row(4, T0, 40, created=T0),
            row(5, T0 + H, 50, created=T0),  # in the entity row's future
            # Either side of a midnight (ttl-wide buckets start there): the window of an
            # entity row spans its own bucket and the previous one.
            row(7, midnight - 2 * H, 70, created=T0),
            row(7, midnight + H, 71, created=T0),
        ],
    )
    entity = pd.DataFrame(
        {
            "driver_id": [1, 2, 3, 4, 4, 4, 5, 6, 1, 7, 7],
            "event_timestamp": [
                T0,
                T0,
                T0,
                T0 + day,  # exactly on the ttl boundary: still inside
                T0 + day + timedelta(microseconds=1),  # just past it
                T0 - timedelta(microseconds=1),  # before any row
                T0,
                T0,  # no rows for this key
                T0,  # a duplicate of the first row
                midnight + 2 * H,  # the newer row, in its own bucket
                midnight + H / 2,  # only the previous bucket's row is older
            ],
        }
    )
    for trips in trips_by_plan(store, entity):
        assert trips == [11, 20, None, 40, None, None, None, None, 11, 71, 70]


def test_entity_timestamps_in_any_zone_or_naive_mean_the_same_instant(
    store: FeatureStore,
) -> None:
    write(store.repo_path, [row(1, T0, 1, T0), row(1, T0 + H, 2, T0 + H)])
    instant = pd.Timestamp(T0 + timedelta(minutes=30))
    for ts in (
        instant,
        instant.tz_convert("Asia/Kolkata"),
        instant.tz_convert("America/Los_Angeles"),
        instant.tz_localize(None),  # naive means UTC
    ):
        entity = pd.DataFrame({"driver_id": [1], "event_timestamp": [ts]})
        given = entity.copy()
        assert all(trips == [1] for trips in trips_by_plan(store, entity))
        result = store.get_historical_features(entity, ["driver_hourly_stats:conv_rate"]).to_df()
        assert result["event_timestamp"].tolist() == [instant]
        pd.testing.assert_frame_equal(entity, given)  # the caller's frame is left alone


def test_outputs_keep_order_columns_and_types(store: FeatureStore, tmp_path: Path) -> None:
    entity = pd.DataFrame(
        {
            "trip": ["c", "a", "b"],
            "driver_id": [1003, 1001, 1002],
            "event_timestamp": [T0 + 3 * H] * 3,
            "label": [True, False, True],
        },
        index=[10, 5, 7],
    )
    refs = ["driver_hourly_stats:avg_daily_trips", "driver_hourly_stats:conv_rate"]
    job = store.get_historical_features(entity, refs, full_feature_names=True)
    df = job.to_df()
    assert list(df.columns) == [
        "trip",
        "driver_id",
        "event_timestamp",
        "label",
        "driver_hourly_stats__avg_daily_trips",
        "driver_hourly_stats__conv_rate",
    ]
    assert df["trip"].tolist() == ["c", "a", "b"]
    assert df["driver_hourly_stats__avg_daily_trips"].tolist() == [23, 3, 13]
    assert str(df["driver_hourly_stats__avg_daily_trips"].dtype) == "Int64"
    assert str(df["driver_hourly_stats__conv_rate"].dtype) == "float32"
    table = job.to_arrow()
    assert table.schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    assert table.column("driver_hourly_stats__avg_daily_trips").to_pylist() == [23, 3, 13]
    path = job.to_parquet(tmp_path / "out" / "train.parquet")
    assert pq.read_table(path).to_pylist() == table.to_pylist()
    # The query to_parquet runs, formatted; DuckDB's first plan stages its ASOF matches.
    assert job.engine.dialect != "duckdb" or 'CREATE TEMPORARY TABLE "__silage_matches"' in job.sql


def test_entity_table_as_arrow_parquet_path_or_sql(store: FeatureStore, tmp_path: Path) -> None:
    entity = pa.table(
        {
            "driver_id": pa.array([1001, 1002], pa.int32()),
            "event_timestamp": pa.array([T0 + H, T0 + 2 * H], pa.timestamp("ms")),
        }
    )
    path = tmp_path / "entities.parquet"
    pq.write_table(entity, path)
    refs = ["driver_hourly_stats:avg_daily_trips"]
    expected = [1, 12]
    query = f"SELECT * FROM {parquet_table(store.offline_engine.dialect, path)} ORDER BY driver_id"
    for given in (entity, path, str(path), query):
        table = store.get_historical_features(given, refs).to_arrow()
        assert table.column("avg_daily_trips").to_pylist() == expected


def test_feature_service_and_registry_only_resolution(store: FeatureStore, tmp_path: Path) -> None:
    # The repository's Python files are not needed once applied.
    (store.repo_path / "definitions.py").unlink()
    service = store.get_feature_service("driver_activity")
    entity = pd.DataFrame({"driver_id": [1001], "event_timestamp": [T0 + H]})
    df = store.get_historical_features(entity, service).to_df()
    assert list(df.columns)[2:] == ["conv_rate", "acc_rate", "avg_daily_trips"]


@pytest.mark.parametrize(
    ("entity", "features", "error", "message"),
    [
        (
            pd.DataFrame({"driver_id": [1]}),
            ["driver_hourly_stats:conv_rate"],
            RequestError,
            "entity table has no 'event_timestamp' column (it has driver_id)",
        ),
        (
            pd.DataFrame({"event_timestamp": [T0]}),
            ["driver_hourly_stats:conv_rate"],
            RequestError,
            "entity table has no column 'driver_id', the join key of feature view(s) "
            "driver_hourly_stats",
        ),
        (
            pd.DataFrame({"driver_id": ["1001"], "event_timestamp": [T0]}),
            ["driver_hourly_stats:conv_rate"],
            RequestError,
            "entity table column 'driver_id' is string, but feature view(s) driver_hourly_stats "
            "key it as Int64; convert the column",
        ),
        (
            pd.DataFrame({"driver_id": [1], "event_timestamp": ["2026-01-01"]}),
            ["driver_hourly_stats:conv_rate"],
            RequestError,
            "is string, not a timestamp",
        ),
        (
            pd.DataFrame({"driver_id": [1], "event_timestamp": [T0]}),
            ["nope:conv_rate"],
            ObjectNotFoundError,
            "no feature view named 'nope' in the registry (registered: driver_hourly_stats)",
        ),
        (
            pd.DataFrame({"driver_id": [1], "event_timestamp": [T0]}),
            ["driver_hourly_stats:speed"],
            RequestError,
            "feature view 'driver_hourly_stats' has no feature 'speed'; its features are "
            "conv_rate, acc_rate, avg_daily_trips",
        ),
        (
            pd.DataFrame({"driver_id": [1], "event_timestamp": [T0]}),
            ["driver_hourly_stats"],
            RequestError,
            "not of the form 'feature_view:feature'",
        ),
        (
            pd.DataFrame({"driver_id": [1], "event_timestamp": [T0], "conv_rate": [0.1]}),
            ["driver_hourly_stats:conv_rate"],
            RequestError,
            "column 'conv_rate' would come from both the entity table and "
            "driver_hourly_stats:conv_rate",
        ),
        (
            "SELEKT driver_id FROM nowhere",
            ["driver_hourly_stats:conv_rate"],
            RequestError,
            "the entity table's SQL query failed",
        ),
        (
            "missing_entities.parquet",
            ["driver_hourly_stats:conv_rate"],
            RequestError,
            "entity table file missing_entities.parquet does not exist",
        ),
    ],
)
def test_bad_requests_name_the_column_or_reference(
    store: FeatureStore, entity: Any, features: list[str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        store.get_historical_features(entity, features).to_df()
    assert message in str(info.value)


def test_missing_source_file_is_reported_for_the_view(store: FeatureStore) -> None:
    (store.repo_path / "data" / "driver_stats.parquet").unlink()
    entity = pd.DataFrame({"driver_id": [1], "event_timestamp": [T0]})
    with pytest.raises(
        SourceDataError, match="feature view 'driver_hourly_stats': no Parquet file"
    ):
        store.get_historical_features(entity, ["driver_hourly_stats:conv_rate"])


def test_same_feature_name_from_two_views_needs_full_names(
    make_repo: Callable[..., Path], engine: str
) -> None:
    repo = make_repo("basic")
    configure_offline(repo, engine)
    (repo / "more.py").write_text(
        "from definitions import driver, driver_stats_source\n"
        "from store import FeatureView, Field\n"
        "from store.types import Float32\n"
        "copy = FeatureView(name='copy', entities=[driver], source=driver_stats_source,\n"
        "                   schema=[Field(name='conv_rate', dtype=Float32)])\n"
    )
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        entity = pd.DataFrame({"driver_id": [1001], "event_timestamp": [T0 + H]})
        refs = ["driver_hourly_stats:conv_rate", "copy:conv_rate"]
        with pytest.raises(RequestError, match="pass full_feature_names=True"):
            fs.get_historical_features(entity, refs)
        df = fs.get_historical_features(entity, refs, full_feature_names=True).to_df()
        assert df["copy__conv_rate"].tolist() == df["driver_hourly_stats__conv_rate"].tolist()


def test_field_mapping_and_a_folder_source_end_to_end(tmp_path: Path, engine: str) -> None:
    repo = tmp_path / "repo"
    (repo / "data" / "stats").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text("project: mapped\n")
    (repo / "defs.py").write_text(
        "from store import Entity, FeatureView, Field, FileSource\n"
        "from store.types import Int64\n"
        "rider = Entity(name='rider', join_keys=['rider_id'])\n"
        "src = FileSource(path='data/stats', timestamp_field='ts',\n"
        "                 field_mapping={'id': 'rider_id', 'n': 'trips'})\n"
        "fv = FeatureView(name='rides', entities=[rider], source=src,\n"
        "                 schema=[Field(name='trips', dtype=Int64)])\n"
    )
    for part, hour in (("a", 0), ("b", 1)):
        pq.write_table(
            pa.table(
                {
                    "id": pa.array([7], pa.int64()),
                    "ts": pa.array([T0 + hour * H], pa.timestamp("us", tz="UTC")),
                    "n": pa.array([hour + 10], pa.int64()),
                }
            ),
            repo / "data" / "stats" / f"{part}.parquet",
        )
    configure_offline(repo, engine)
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        entity = pd.DataFrame({"rider_id": [7, 7], "event_timestamp": [T0, T0 + 2 * H]})
        df = fs.get_historical_features(entity, ["rides:trips"]).to_df()
        assert df["trips"].tolist() == [10, 11]


def test_sparse_ttl_views_use_the_bucketed_join_and_dense_ones_the_asof_join(
    store: FeatureStore,
) -> None:
    refs = ["driver_hourly_stats:avg_daily_trips"]

    def plan(drivers: list[int]) -> bool:
        entity = pd.DataFrame({"driver_id": drivers, "event_timestamp": [T0 + H] * len(drivers)})
        (scan,) = store.get_historical_features(entity, refs).scans
        return scan.bucketed

    # 12 source rows over 3 drivers: with 3 distinct entity keys, 8 rows per ttl window
    assert plan([1001, 1002, 1003]) is True
    # one distinct key: every source row might be a candidate, so the ASOF join is used
    assert plan([1001, 1001, 1001]) is False
    hourly = [row(1001, T0 + i * H, i, T0) for i in range(200)]
    write(store.repo_path, hourly)  # 200 rows within ~8 days for one key: dense
    assert plan([1001, 1002, 1003]) is False
