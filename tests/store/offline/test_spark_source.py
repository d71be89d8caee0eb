"""A SparkSource read by the Spark engine: a metastore table, a query and files of another
format each give the training set the same data gives through a FileSource (checked against
the brute-force reference, on every Spark plan); DuckDB refuses one, saying what to set; a
missing table is named with its source; apply records it like any source."""

from __future__ import annotations

import dataclasses
import random
import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from store import ConfigError, FeatureStore, RepoValidationError, SourceDataError, SparkSource
from store.definitions.feature_view import FeatureView
from store.offline.engines.spark import SparkEngine
from store.offline.retrieval import build_retrieval_job
from tests.backends import configure_offline, offline_engine
from tests.conftest import T0

from .pit_reference import every_plan
from .test_point_in_time import (
    BASE,
    check_against_reference,
    entity_frame,
    views_for,
    write_source,
)

FEATURES = ["stats:trips", "stats:rate", "stats:ts_us", "stats:created_us", "pairs:together"]
TS = pa.timestamp("us", tz="UTC")
STATS_SCHEMA = pa.schema(
    [
        ("driver_id", pa.int64()),
        ("ts", TS),
        ("created", TS),
        ("trips", pa.int64()),
        ("rate", pa.float64()),
        ("ts_us", pa.int64()),
        ("created_us", pa.int64()),
    ]
)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> SparkEngine:
    engine = offline_engine("spark", tmp_path_factory.mktemp("spark"))
    assert isinstance(engine, SparkEngine)
    return engine


def _stats_rows(rng: random.Random) -> list[dict[str, Any]]:
    """Rows on a coarse time grid, so ties (some broken by a created time, some not), nulls
    and rows before 1970 all occur."""
    rows = []
    for _ in range(40):
        ts = BASE + timedelta(seconds=rng.randint(0, 8))
        created = rng.choice([None, ts + timedelta(seconds=30), BASE.replace(year=1960)])
        rows.append(
            {
                "driver_id": rng.randint(1, 3),
                "ts": ts,
                "created": created,
                "trips": rng.choice([None, rng.randint(-5, 5)]),
                "rate": rng.choice([None, rng.uniform(-10, 10)]),
                "ts_us": int(ts.timestamp() * 1_000_000),
                "created_us": None if created is None else int(created.timestamp() * 1_000_000),
            }
        )
    return rows


def _entities(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "driver_id": rng.randint(1, 4),
            "customer_id": rng.choice(["a", "b", "c"]),
            "event_timestamp": BASE + timedelta(seconds=rng.randint(-2, 15)),
            "label": i,
        }
        for i in range(30)
    ]


def _pairs_rows(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "driver_id": rng.randint(1, 3),
            "customer_id": rng.choice(["a", "b"]),
            "ts": BASE + timedelta(seconds=rng.randint(0, 8)),
            "together": rng.choice([None, rng.randint(-5, 5)]),
            "created": None,
        }
        for _ in range(20)
    ]


def _save_table(engine: SparkEngine, name: str, parquet: Path, folder: Path) -> None:
    """An external table in Spark's catalog holding the Parquet file's rows (kept in
    ``folder``, so nothing lands in the working directory's warehouse)."""
    frame = engine.root_session().read.parquet(str(parquet))
    frame.write.option("path", str(folder)).saveAsTable(name)


def _spark_source(kind: str, engine: SparkEngine, parquet: Path) -> Iterator[SparkSource]:
    """The stats data as a SparkSource of ``kind``, and whatever Spark object it needs for as
    long as the test runs."""
    root = engine.root_session()
    name = f"silage_stats_{uuid.uuid4().hex[:12]}"
    common: dict[str, Any] = {
        "name": "stats_source",
        "timestamp_field": "ts",
        "created_timestamp_column": "created",
    }
    if kind == "table":  # an external table in the metastore, over the Parquet file
        _save_table(engine, name, parquet, parquet.parent / "table")
        try:
            yield SparkSource(table=name, **common)
        finally:
            root.sql(f"DROP TABLE IF EXISTS {name}")
    elif kind == "global_view":
        root.read.parquet(str(parquet)).createOrReplaceGlobalTempView(name)
        try:
            yield SparkSource(table=f"global_temp.{name}", **common)
        finally:
            root.catalog.dropGlobalTempView(name)
    elif kind == "query":
        yield SparkSource(query=f"SELECT * FROM parquet.`{parquet}`", **common)
    else:  # the same rows as ORC files, read by format
        folder = parquet.parent / "orc"
        root.read.parquet(str(parquet)).write.orc(str(folder))
        yield SparkSource(path=str(folder), file_format="orc", **common)


@pytest.mark.parametrize("driver_ttl", [None, 3])
@pytest.mark.parametrize("kind", ["table", "global_view", "query", "path"])
def test_a_spark_source_gives_what_the_same_data_gives_as_a_file_source(
    spark: SparkEngine, tmp_path: Path, kind: str, driver_ttl: int | None
) -> None:
    rng = random.Random(f"{kind}-{driver_ttl}")
    stats_rows, pairs, entities = _stats_rows(rng), _pairs_rows(rng), _entities(rng)
    write_source(tmp_path / "stats.parquet", stats_rows, STATS_SCHEMA)
    pairs_schema = pa.schema(
        [
            ("driver_id", pa.int32()),
            ("customer_id", pa.string()),
            ("ts", TS),
            ("together", pa.int64()),
        ]
    )
    write_source(tmp_path / "pairs.parquet", pairs, pairs_schema)
    views = views_for(tmp_path, driver_ttl, 4)
    for source in _spark_source(kind, spark, tmp_path / "stats.parquet"):
        through_spark = {**views, "stats": dataclasses.replace(views["stats"], source=source)}
        for declared in (views, through_spark):
            job = build_retrieval_job(
                entity_frame(entities, "UTC"),
                FEATURES,
                lookup_view=declared.__getitem__,
                repo_root=tmp_path,
                engine=spark,
            )
            for plan in every_plan(job):
                check_against_reference(plan.to_df(), entities, views, stats_rows, pairs)


def _spark_views(folder: Path, source: SparkSource) -> dict[str, FeatureView]:
    views = views_for(folder, None, None)
    return {**views, "stats": dataclasses.replace(views["stats"], source=source)}


def test_duckdb_refuses_a_spark_source_naming_it_and_the_setting(tmp_path: Path) -> None:
    write_source(tmp_path / "pairs.parquet", [], pa.schema([("ts", TS)]))
    source = SparkSource(name="stats_source", table="warehouse.stats", timestamp_field="ts")
    views = _spark_views(tmp_path, source)
    entities = pd.DataFrame({"driver_id": [1], "event_timestamp": [T0]})
    job = build_retrieval_job(
        entities,
        ["stats:trips"],
        lookup_view=views.__getitem__,
        repo_root=tmp_path,
        engine=offline_engine("duckdb", tmp_path),
    )
    with pytest.raises(ConfigError) as caught:
        job.to_df()
    message = str(caught.value)
    assert "data source 'stats_source', a SparkSource (table 'warehouse.stats')" in message
    assert "set `offline_store: {type: spark}`" in message


def test_a_missing_table_is_named_with_its_source(spark: SparkEngine, tmp_path: Path) -> None:
    source = SparkSource(name="stats_source", table="no_such_table_here", timestamp_field="ts")
    views = _spark_views(tmp_path, source)
    entities = pd.DataFrame({"driver_id": [1], "event_timestamp": [T0]})
    job = build_retrieval_job(
        entities, ["stats:trips"], lookup_view=views.__getitem__, repo_root=tmp_path, engine=spark
    )
    with pytest.raises(SourceDataError) as caught:
        job.to_df()
    message = str(caught.value)
    assert "SparkSource 'stats_source'" in message
    assert "table 'no_such_table_here' does not exist" in message
    assert "global_temp" in message


def _declare_spark_source(repo: Path, location: str) -> None:
    """The fixture repository's driver stats read through a SparkSource at ``location``."""
    definitions = repo / "definitions.py"
    text = definitions.read_text(encoding="utf-8")
    old = textwrap.dedent(
        """\
        driver_stats_source = FileSource(
            name="driver_stats_source",
            path="data/driver_stats.parquet",
        """
    )
    new = f'driver_stats_source = SparkSource(\n    name="driver_stats_source",\n    {location},\n'
    assert old in text
    text = text.replace(old, new).replace("FileSource", "FileSource, SparkSource", 1)
    definitions.write_text(text, encoding="utf-8")


def _entity_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {"driver_id": [1001, 1002, 1001], "event_timestamp": [T0 + pd.Timedelta(hours=2)] * 3}
    )


def test_apply_records_a_spark_source_like_any_source(
    make_repo: Callable[..., Path], spark: SparkEngine
) -> None:
    repo = make_repo("basic")
    configure_offline(repo, "spark")
    table = f"silage_driver_stats_{uuid.uuid4().hex[:12]}"
    data = repo / "data" / "driver_stats.parquet"
    root = spark.root_session()
    _save_table(spark, table, data, repo / "data" / "table")
    try:
        _declare_spark_source(repo, f'table="{table}"')
        fs = FeatureStore(repo_path=repo)
        applied = fs.apply()
        assert ("data_source", "driver_stats_source") in {(o.kind, o.name) for o in applied.objects}
        assert not fs.plan().has_changes  # the spec round-trips: nothing to change
        source = fs.get_data_source("driver_stats_source")
        assert source == SparkSource(
            name="driver_stats_source",
            table=table,
            timestamp_field="event_timestamp",
            created_timestamp_column="created",
        )
        view = fs.get_feature_view("driver_hourly_stats")
        assert view.source == source
        # Join-key types come from the table's schema, read by Spark at apply.
        assert [f.dtype.spec for f in view.entity_columns] == ["Int64"]
        job = fs.get_historical_features(_entity_rows(), ["driver_hourly_stats:avg_daily_trips"])
        assert job.to_df()["avg_daily_trips"].tolist() == [2, 12, 2]
    finally:
        root.sql(f"DROP TABLE IF EXISTS {table}")


def test_apply_names_a_missing_table(make_repo: Callable[..., Path], spark: SparkEngine) -> None:
    repo = make_repo("basic")
    configure_offline(repo, "spark")
    _declare_spark_source(repo, 'table="no_such_stats_table"')
    with pytest.raises(RepoValidationError, match="table 'no_such_stats_table' does not exist"):
        FeatureStore(repo_path=repo).apply()


def test_apply_on_duckdb_refuses_a_spark_source(make_repo: Callable[..., Path]) -> None:
    repo = make_repo("basic")
    _declare_spark_source(repo, 'table="warehouse.driver_stats"')
    with pytest.raises(RepoValidationError) as caught:
        FeatureStore(repo_path=repo).apply()
    message = str(caught.value)
    assert "data source 'driver_stats_source' is a SparkSource" in message
    assert "set `offline_store: {type: spark}`" in message
