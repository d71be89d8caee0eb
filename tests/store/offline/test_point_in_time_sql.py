"""Golden SQL: the compiled point-in-time queries, pinned as files under tests/golden/sql.

The compiler is pure, so these run without a database. Each file starts with the sources
the SQL reads by name and their files, as comments. After an intended change, rewrite the
files with ``python -m tests.store.offline.test_point_in_time_sql`` and review the diff.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from store.offline.compiler.latest_rows import compile_latest_rows
from store.offline.compiler.point_in_time import (
    RENDERINGS,
    FeatureColumn,
    PointInTimeQuery,
    ViewScan,
    compile_point_in_time,
)
from store.offline.compiler.query import CompiledQuery, SourceTable
from store.offline.compiler.statistics import compile_statistics
from store.types import Array, Float32, Float64, Int64, String

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "sql"

STATS = ViewScan(
    name="driver_hourly_stats",
    files=("/data/driver_stats.parquet",),
    timestamp_column="event_timestamp",
    created_column="created",
    ttl_seconds=86400,
    keys=(("driver_id", Int64),),
    features=(
        FeatureColumn("conv_rate", "conv_rate", Float32),
        FeatureColumn("avg_daily_trips", "avg_daily_trips", Int64),
    ),
)
PAIRS = ViewScan(
    name="driver_customer",
    files=("/data/pairs/a.parquet", "/data/pairs/b.parquet"),
    timestamp_column="ts",
    created_column=None,
    ttl_seconds=None,
    keys=(("driver_id", Int64), ("customer_id", String)),
    features=(
        FeatureColumn("trips_together", "driver_customer__trips_together", Int64),
        FeatureColumn("ratings", "driver_customer__ratings", Array(Float64)),
    ),
    field_mapping=(("n_trips", "trips_together"),),
)

CASES = {
    "one_view": PointInTimeQuery(
        entity_columns=("driver_id", "event_timestamp", "label"),
        views=(STATS,),
        min_ts_us=1_767_225_600_000_000,
        max_ts_us=1_767_312_000_000_000,
    ),
    "two_views": PointInTimeQuery(
        entity_columns=("driver_id", "customer_id", "event_timestamp"),
        views=(STATS, PAIRS),
    ),
    "features_only": PointInTimeQuery(entity_columns=(), views=(PAIRS,)),
    "bucketed": PointInTimeQuery(
        entity_columns=("driver_id", "event_timestamp"),
        views=(dataclasses.replace(STATS, bucketed=True),),
    ),
    # Without a ttl, hot keys known before compiling: none at all, or two given ones.
    "no_hot_keys": PointInTimeQuery(
        entity_columns=("driver_id", "event_timestamp"),
        views=(dataclasses.replace(STATS, ttl_seconds=None, hot_keys=()),),
    ),
    "given_hot_keys": PointInTimeQuery(
        entity_columns=("driver_id", "customer_id", "event_timestamp"),
        views=(dataclasses.replace(PAIRS, hot_keys=((1, "a"), (2, "it's"))),),
        min_ts_us=1_767_225_600_000_000,
        max_ts_us=1_767_312_000_000_000,
    ),
}


# Every rendering in every dialect it renders for (DuckDB's files keep their short names).
RENDERED = [(r, d) for r in sorted(RENDERINGS) for d in sorted(RENDERINGS[r].dialects)]


def golden_path(case: str, rendering: str, dialect: str = "duckdb") -> Path:
    suffix = "" if dialect == "duckdb" else f".{dialect}"
    return GOLDEN / f"{case}.{rendering}{suffix}.sql"


def golden_text(compiled: CompiledQuery) -> str:
    sources = "".join(f"-- {s.name}: {', '.join(s.files)}\n" for s in compiled.sources)
    return sources + compiled.text


def latest_rows_text() -> str:
    return golden_text(compile_latest_rows(PAIRS, start_us=0, end_us=86_400_000_000, pretty=True))


@pytest.mark.parametrize(("rendering", "dialect"), RENDERED)
@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_sql_matches_golden_file(case: str, rendering: str, dialect: str) -> None:
    compiled = compile_point_in_time(CASES[case], rendering=rendering, dialect=dialect, pretty=True)
    assert golden_text(compiled) == golden_path(case, rendering, dialect).read_text()


def test_latest_rows_sql_matches_golden_file() -> None:
    assert latest_rows_text() == (GOLDEN / "latest_rows.sql").read_text()


def test_unknown_rendering_is_refused() -> None:
    with pytest.raises(ValueError, match="choose one of asof, window, carry"):
        compile_point_in_time(CASES["one_view"], rendering="hash")


def test_sql_no_engine_of_a_dialect_has_run_is_refused_not_rendered() -> None:
    """sqlglot prints DuckDB's ASOF join, QUALIFY and list quantiles into other dialects
    unchanged; the compilers refuse instead, naming what they render for."""
    with pytest.raises(ValueError, match=r"'carry' rendering .* cannot run in 'duckdb'"):
        compile_point_in_time(CASES["one_view"], rendering="carry", dialect="duckdb")
    with pytest.raises(ValueError, match="newest-rows compiler does not render for 'sqlite'"):
        compile_latest_rows(PAIRS, start_us=0, end_us=1, dialect="sqlite")
    with pytest.raises(ValueError, match="statistics compiler does not render for 'postgres'"):
        compile_statistics(SourceTable("t", ("t.parquet",)), [("x", Int64)], dialect="postgres")


if __name__ == "__main__":
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, query in CASES.items():
        for rendering, dialect in RENDERED:
            compiled = compile_point_in_time(
                query, rendering=rendering, dialect=dialect, pretty=True
            )
            golden_path(name, rendering, dialect).write_text(golden_text(compiled))
    (GOLDEN / "latest_rows.sql").write_text(latest_rows_text())
