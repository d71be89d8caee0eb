"""What only the Spark engine has: Spark's own plans of every rendering, its session, its
DataFrames, and its errors. Correctness is the shared conformance suite's job (the
``engine`` parameter runs it on Spark too); these tests cover the rest."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import FeatureStore, RequestError, SourceDataError
from store.errors import ConfigError
from store.offline.compiler.point_in_time import (
    RENDERINGS,
    PointInTimeQuery,
    compile_point_in_time,
)
from store.offline.compiler.query import ENTITY_TABLE, ROW_COLUMN
from store.offline.engines.spark import SparkEngine
from tests.backends import configure_offline, offline_engine
from tests.conftest import T0, serve_stale_values

from .test_point_in_time_sql import CASES

SPARK_RENDERINGS = sorted(r for r, spec in RENDERINGS.items() if "spark" in spec.dialects)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> SparkEngine:
    engine = offline_engine("spark", tmp_path_factory.mktemp("spark"))
    assert isinstance(engine, SparkEngine)
    return engine


def _planned_case(case: str, folder: Path) -> tuple[PointInTimeQuery, dict[str, pa.Table]]:
    """A golden case reading empty Parquet files of its columns' types, and one entity row
    (an empty entity table would let Spark prune the whole plan)."""
    query = CASES[case]
    entity: dict[str, pa.Array] = {"event_timestamp": pa.array([T0], pa.timestamp("us", tz="UTC"))}
    for column in query.entity_columns:
        if column == "driver_id":
            entity[column] = pa.array([1], pa.int64())
        elif column != "event_timestamp":
            entity[column] = pa.array(["x"])
    for view in query.views:
        for key, _ in view.keys:
            entity[key] = pa.array([1], pa.int64()) if key == "driver_id" else pa.array(["x"])
    entity[ROW_COLUMN] = pa.array([0], pa.int64())
    views = []
    for view in query.views:
        fields: dict[str, pa.DataType] = {
            view.source_column(k): pa.int64() if k == "driver_id" else pa.string()
            for k, _ in view.keys
        }
        fields[view.timestamp_column] = pa.timestamp("us", tz="UTC")
        if view.created_column:
            fields[view.created_column] = pa.timestamp("us", tz="UTC")
        for feature in view.features:
            array = feature.dtype.spec.startswith("Array")
            fields[view.source_column(feature.column)] = (
                pa.list_(pa.float64()) if array else pa.float64()
            )
        path = folder / f"{view.name}.parquet"
        pq.write_table(pa.schema(fields).empty_table(), path)
        views.append(dataclasses.replace(view, files=(str(path),)))
    return dataclasses.replace(query, views=tuple(views)), {ENTITY_TABLE: pa.table(entity)}


@pytest.mark.parametrize("rendering", SPARK_RENDERINGS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_spark_plans_every_rendering(
    spark: SparkEngine,
    case: str,
    rendering: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each golden query, as Spark plans it: a rendering Spark cannot plan fails here."""
    query, tables = _planned_case(case, tmp_path)
    compiled = compile_point_in_time(query, rendering=rendering, dialect="spark")
    spark.to_spark_df(compiled, tables).explain(mode="formatted")
    plan = capsys.readouterr().out
    assert "== Physical Plan ==" in plan
    if rendering == "asof":
        # The matches are found once, by Spark's sort-merge as-of join, and pinned: the final
        # query reads their rows (no as-of join, range join or cartesian product in it).
        cached = compiled.setup[-1]
        prefix = "CACHE TABLE `__silage_matches` AS "
        assert cached.startswith(prefix), cached
        session = spark._prepared(dataclasses.replace(compiled, setup=()), tables)
        session.sql(cached.removeprefix(prefix)).explain()
        joined = any(not (v.bucketed and v.ttl_seconds) for v in query.views)
        assert ("SortMergeAsOfJoin" in capsys.readouterr().out) is joined
        for absent in ("AsOfJoin", "NestedLoopJoin", "CartesianProduct"):
            assert absent not in plan, plan
        assert "Scan ExistingRDD" in plan, plan
    if rendering == "carry":
        # No range join: no nested loops, no cartesian product; the window does the work.
        assert "NestedLoopJoin" not in plan
        assert "CartesianProduct" not in plan
        assert "Window" in plan
        tree = plan.split("\n\n")[0].splitlines()
        scans = [i for i, line in enumerate(tree) if "Scan parquet" in line]
        # Each source is read once for its time line, whose rows cross the network once: in
        # the window's shuffle. Later shuffles (with a ttl, the merge of an entity row's two
        # bucket copies; the join back; the sort by entity row) sit above the filter that
        # keeps entity rows. A view without a ttl also reads its source's keys to find the
        # hot ones (for the source rows and for the entity rows), counted before the shuffle,
        # so no source row crosses the network there, unless its hot keys are known before
        # (given as literals, or none: then a key's time line is not cut at all).
        untimed = sum(2 for view in query.views if not view.ttl_seconds and view.hot_keys is None)
        one_line = any(not v.ttl_seconds and v.hot_keys == () for v in query.views)
        assert len(scans) == len(query.views) + untimed, tree
        aggregated = 0
        for scan in scans:
            above = _ancestors(tree, scan)
            shuffles = [i for i, a in enumerate(above) if a.startswith("Exchange")]
            if any("Aggregate" in a for a in above[: shuffles[0]]):
                aggregated += 1
                continue
            window = next(i for i, a in enumerate(above) if a.startswith("Window"))
            entity_rows = next(
                i for i, a in enumerate(above) if i > window and a.startswith("Filter")
            )
            assert shuffles[0] < window, tree
            # Partitioned by key and time bucket: a hot key's rows spread over many tasks.
            partitioning = _details(plan, above[shuffles[0]])
            assert "hashpartitioning(" in partitioning, partitioning
            assert ("__silage_bucket" in partitioning) is not one_line, partitioning
            assert all(i > entity_rows for i in shuffles[1:]), tree
            assert len(shuffles) <= 3, tree
        assert aggregated == untimed, tree


def _details(plan: str, node: str) -> str:
    """The details block of a node of a formatted plan: ``Exchange (9)`` -> the text after
    ``(9) Exchange`` up to the next node's block."""
    number = node.rsplit("(", 1)[1].rstrip(")")
    name = node.rsplit(" (", 1)[0]
    block = plan.split(f"\n({number}) {name}", 1)[1]
    return block.split("\n\n(", 1)[0]


def _ancestors(tree: list[str], index: int) -> list[str]:
    """The operators above line ``index`` of an indented plan tree, nearest first."""
    found: list[str] = []
    depth = _depth(tree[index])
    for line in reversed(tree[:index]):
        if _depth(line) < depth:
            found.append(line.lstrip(" :+-"))
            depth = _depth(line)
    return found


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip(" :+-"))


def test_the_asof_rendering_is_spelled_the_way_spark_writes_it() -> None:
    """DuckDB's ``ASOF LEFT JOIN ... ON keys AND t >= u`` and temporary table become Spark
    4.3's ``LEFT ASOF JOIN ... MATCH_CONDITION (t >= u) ON keys`` and a cached view."""
    compiled = compile_point_in_time(CASES["two_views"], rendering="asof", dialect="spark")
    assert compiled.setup[0].startswith("CACHE TABLE `__silage_matches` AS WITH")
    assert "ASOF LEFT" not in compiled.setup[0]
    assert compiled.setup[0].count(" LEFT ASOF JOIN ") == 2
    view = "`v0_driver_hourly_stats`"
    assert (
        f"MATCH_CONDITION (`e`.`__silage_ts` >= {view}.`__silage_ts`) "
        f"ON `e`.`driver_id` = {view}.`driver_id`"
    ) in compiled.setup[0]


def _entities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": [1001, 1002, 1001],
            "event_timestamp": [T0 + pd.Timedelta(hours=2)] * 3,
            "label": [1, 0, 1],
        }
    )


def test_a_session_passed_in_runs_the_jobs_and_results_stay_in_spark(
    make_repo: Callable[..., Path], spark: SparkEngine, tmp_path: Path
) -> None:
    repo = make_repo("basic")
    configure_offline(repo, "spark")
    session = spark.root_session()
    fs = FeatureStore(repo_path=repo, spark=session)
    fs.apply()
    engine = fs.offline_engine
    assert isinstance(engine, SparkEngine)
    assert engine.root_session() is session
    features = ["driver_hourly_stats:avg_daily_trips", "driver_hourly_stats:conv_rate"]
    job = fs.get_historical_features(_entities(), features)
    expected = job.to_df()
    assert expected["avg_daily_trips"].tolist() == [2, 12, 2]
    # The same rows from a Spark DataFrame given as the entity table, and back as one.
    given = session.createDataFrame(pa.Table.from_pandas(_entities(), preserve_index=False))
    frame = fs.get_historical_features(given, features).to_spark_df()
    rows = frame.toArrow().to_pandas()
    assert rows.columns.tolist() == ["driver_id", "event_timestamp", "label", *expected.columns[3:]]
    assert rows["avg_daily_trips"].tolist() == [2, 12, 2]
    # to_parquet: Spark writes the parts in parallel; one file comes out, in order.
    out = job.to_parquet(tmp_path / "out" / "training.parquet")
    assert pq.read_table(out).column("avg_daily_trips").to_pylist() == [2, 12, 2]


def test_a_session_for_another_engine_is_refused(
    make_repo: Callable[..., Path], spark: SparkEngine
) -> None:
    repo = make_repo("basic")
    fs = FeatureStore(repo_path=repo, spark=spark.root_session())
    with pytest.raises(ConfigError, match=r"set offline_store: \{type: spark\}"):
        _ = fs.offline_engine


def test_to_spark_df_on_duckdb_says_what_to_use(make_repo: Callable[..., Path]) -> None:
    fs = FeatureStore(repo_path=make_repo("basic"))
    fs.apply()
    job = fs.get_historical_features(_entities(), ["driver_hourly_stats:conv_rate"])
    with pytest.raises(Exception, match="to_spark_df\\(\\) needs offline_store type spark"):
        job.to_spark_df()


def _parts_in_order(folder: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in sorted(folder.glob("part-*.parquet"))])


def test_to_parquet_at_a_uri_has_spark_write_the_folder_in_parallel(
    make_repo: Callable[..., Path], spark: SparkEngine, tmp_path: Path
) -> None:
    """A URI (here file://; s3a:// and hdfs:// go the same way) gets the parts Spark's
    tasks write, straight there and in order, instead of one file joined on the driver."""
    fs = _store(make_repo)
    entities = pd.DataFrame(
        {
            "driver_id": [1003, 1001, 1002, 1001, 9999] * 40,
            "event_timestamp": [T0 + pd.Timedelta(hours=h % 5) for h in range(200)],
        }
    )
    job = fs.get_historical_features(entities, ["driver_hourly_stats:avg_daily_trips"])
    uri = (tmp_path / "sets" / "trips").as_uri()
    assert job.to_parquet(uri) == uri
    written = _parts_in_order(tmp_path / "sets" / "trips")
    assert written.column("avg_daily_trips").to_pylist() == (
        job.to_arrow().column("avg_daily_trips").to_pylist()
    )
    assert written.column("driver_id").to_pylist() == entities["driver_id"].tolist()
    with pytest.raises(RequestError, match=r"exists already; to_parquet\(\) writes a new"):
        job.to_parquet(uri)


def test_a_sorted_frame_written_in_parts_reads_back_in_order(
    spark: SparkEngine, tmp_path: Path
) -> None:
    """What to_parquet(uri) relies on: the parts of a sorted frame, read in name order,
    hold its rows in order, however many tasks wrote them."""
    session = spark.root_session().newSession()
    session.conf.set("spark.sql.shuffle.partitions", "7")
    session.conf.set("spark.sql.adaptive.enabled", "false")
    session.conf.set("spark.sql.files.maxRecordsPerFile", "13")
    keys = [(i * 7919) % 1000 for i in range(1000)]
    frame = session.createDataFrame(pa.table({"k": keys})).orderBy("k")
    uri = (tmp_path / "sorted").as_uri()
    spark.write_parquet_folder(frame, uri)
    assert len(list((tmp_path / "sorted").glob("part-*.parquet"))) > 7
    assert _parts_in_order(tmp_path / "sorted").column("k").to_pylist() == sorted(keys)
    with pytest.raises(RequestError, match=r"Spark cannot write nosuchfs://x/y: .*hadoop-aws"):
        spark.write_parquet_folder(frame, "nosuchfs://x/y")


def test_on_demand_features_reach_spark_dataframes_and_folders(
    make_repo: Callable[..., Path], spark: SparkEngine, tmp_path: Path
) -> None:
    """The on-demand functions run in Python over the joined rows; the DataFrame and the
    folder hold their outputs, and none of the hidden input columns."""
    repo = make_repo("on_demand")
    configure_offline(repo, "spark")
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    entities = pd.DataFrame(
        {
            "driver_id": [1001, 1002],
            "event_timestamp": [T0 + pd.Timedelta(hours=2), T0 + pd.Timedelta(hours=1)],
            "val_to_add": [1, 2],
            "val_to_add_2": [10, 20],
        }
    )
    job = fs.get_historical_features(
        entities, ["transformed_conv_rate:conv_rate_plus_val1", "driver_hourly_stats:conv_rate"]
    )
    expected = job.to_arrow()
    frame = job.to_spark_df().toArrow()
    assert frame.column_names == expected.column_names
    assert not [c for c in frame.column_names if c.startswith("__")]
    assert frame.column("conv_rate_plus_val1").to_pylist() == (
        expected.column("conv_rate_plus_val1").to_pylist()
    )
    uri = (tmp_path / "odfv").as_uri()
    job.to_parquet(uri)
    written = _parts_in_order(tmp_path / "odfv")
    assert written.column("conv_rate_plus_val1").to_pylist() == (
        expected.column("conv_rate_plus_val1").to_pylist()
    )


def test_a_uri_on_duckdb_says_it_writes_local_files(make_repo: Callable[..., Path]) -> None:
    fs = FeatureStore(repo_path=make_repo("basic"))
    fs.apply()
    job = fs.get_historical_features(_entities(), ["driver_hourly_stats:conv_rate"])
    for uri in ("s3a://bucket/sets/trips", "file:/tmp/sets/trips"):  # Hadoop's forms
        with pytest.raises(RequestError, match=r"'duckdb': it writes local files; give"):
            job.to_parquet(uri)


def _store(make_repo: Callable[..., Path]) -> FeatureStore:
    repo = make_repo("basic")
    configure_offline(repo, "spark")
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    return fs


def test_an_unreadable_source_names_the_view(
    make_repo: Callable[..., Path], spark: SparkEngine
) -> None:
    fs = _store(make_repo)
    (fs.repo_path / "data" / "driver_stats.parquet").write_bytes(b"not parquet at all")
    job = fs.get_historical_features(_entities(), ["driver_hourly_stats:conv_rate"])
    with pytest.raises(SourceDataError, match="'driver_hourly_stats'"):
        job.using("window").to_df()


def test_a_value_that_does_not_fit_its_type_names_the_view(
    make_repo: Callable[..., Path], spark: SparkEngine
) -> None:
    fs = _store(make_repo)
    path = fs.repo_path / "data" / "driver_stats.parquet"
    table = pq.read_table(path)
    texts = pa.array(["many"] * table.num_rows)
    table = table.set_column(
        table.schema.get_field_index("avg_daily_trips"), "avg_daily_trips", texts
    )
    entity = _entities()
    # Applied while the data was right; the file changed since.
    pq.write_table(table, path)
    job = fs.get_historical_features(entity, ["driver_hourly_stats:avg_daily_trips"])
    with pytest.raises(SourceDataError, match=r"'driver_hourly_stats'.*declared type"):
        job.to_df()


def test_materialization_computes_the_newest_rows_on_spark(
    make_repo: Callable[..., Path], spark: SparkEngine
) -> None:
    """Newest rows per key, computed by Spark, streamed to the online store in batches."""
    repo = make_repo("basic")
    configure_offline(repo, "spark")
    serve_stale_values(repo)  # the fixture data is older than its ttl
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    (done,) = fs.materialize(T0, T0 + pd.Timedelta(hours=2))
    assert (done.feature_view, done.rows) == ("driver_hourly_stats", 3)
    rows = [{"driver_id": d} for d in (1001, 1002, 1003)]
    online = fs.get_online_features(["driver_hourly_stats:avg_daily_trips"], rows)
    assert online.to_dict()["avg_daily_trips"] == [2, 12, 22]


def test_an_entity_query_that_fails_says_so(spark: SparkEngine) -> None:
    with pytest.raises(Exception, match="entity table's SQL query failed on Spark"):
        spark.run_sql("SELECT * FROM no_such_table_anywhere")


def test_without_java_spark_says_what_to_install(tmp_path: Path) -> None:
    """A fresh process whose JAVA_HOME points nowhere: a ConfigError naming the fix."""
    script = (
        "from store.offline.engines.spark import SparkEngine\n"
        "from store.offline.compiler.query import CompiledQuery\n"
        "try:\n"
        "    SparkEngine().run_sql('SELECT 1')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    env: dict[str, Any] = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java")}
    env.pop("SPARK_HOME", None)
    out = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert out.startswith("ConfigError"), out
    assert "Java 17" in out


def _leftovers(session: Any) -> tuple[str, list[str]]:
    """What a probe could leave on the root session: the as-of flag's value, and views."""
    return (
        session.conf.get("spark.sql.join.asofJoin.enabled"),
        [t.name for t in session.catalog.listTables()],
    )


def test_the_asof_probe_runs_once_and_leaves_the_root_session_as_it_was(
    spark: SparkEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spark 4.3 (installed here) runs ``ASOF JOIN ... MATCH_CONDITION`` behind its flag;
    the probe finds it by running one, not by reading the version."""
    import pyspark

    from store.offline.engines import spark as module

    root = spark.root_session()
    before = _leftovers(root)
    monkeypatch.setattr(module, "_ASOF_PROBES", weakref.WeakKeyDictionary())
    runs: list[object] = []
    probe = module._probe_asof_join
    monkeypatch.setattr(module, "_probe_asof_join", lambda s: runs.append(s) or probe(s))
    major_minor = tuple(int(p) for p in pyspark.__version__.split(".")[:2])
    assert spark.asof_join_available() is (major_minor >= (4, 3))
    assert spark.asof_join_available() is (major_minor >= (4, 3))
    assert runs == [root]  # once per session
    assert _leftovers(root) == before  # the flag stays off, no view is left


@pytest.mark.parametrize(
    "query",
    [
        # Syntax Spark does not parse (as on a Spark without the as-of join).
        "SELECT 1 FROM VALUES (1) AS l(k) ASOF JOIN VALUES (1) AS r(k) MATCHING (l.k) ON 1 = 1",
        # Runs, but with a wrong answer: the probe checks what it gets.
        "SELECT 1 AS k, 3 AS t",
    ],
)
def test_a_failing_asof_probe_says_no_and_leaves_nothing_behind(
    spark: SparkEngine, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    from store.offline.engines import spark as module

    root = spark.root_session()
    before = _leftovers(root)
    monkeypatch.setattr(module, "_ASOF_PROBES", weakref.WeakKeyDictionary())
    monkeypatch.setattr(module, "_ASOF_PROBE", query)
    assert spark.asof_join_available() is False
    assert _leftovers(root) == before
    # Without an as-of join, the asof rendering is not offered, and a job refuses it.
    assert spark.renderings == ("carry", "window")
