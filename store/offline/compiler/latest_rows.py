"""Compiling "the newest row per entity key in a time window" (pure: returns SQL).

Materialization loads these rows into the online store. Newest means the latest event
time, then the latest created time (a missing created time loses), the same order the
point-in-time join uses. Both ends of the window are inclusive, so consecutive windows may
share their boundary; the online store's newest-wins upsert makes loading a row twice
harmless.

The rows come out in the online store's batch format: the keys and features in their
declared types (arrays as lists, ``UnixTimestamp`` as a UTC timestamp), then the event and
created times as integer microseconds since the epoch (:data:`~.query.EVENT_TS`,
:data:`~.query.CREATED_TS`), ordered by key.

Example:
    >>> from store.offline.compiler.point_in_time import FeatureColumn, ViewScan
    >>> from store.types import Int64
    >>> scan = ViewScan(name="stats", files=("/d/s.parquet",), timestamp_column="ts",
    ...                 created_column=None, ttl_seconds=None, keys=(("driver_id", Int64),),
    ...                 features=(FeatureColumn("trips", "trips", Int64),))
    >>> compiled = compile_latest_rows(scan, start_us=0, end_us=10)
    >>> "QUALIFY" in compiled.query, compiled.sources[0].files
    (True, ('/d/s.parquet',))
"""

from __future__ import annotations

from sqlglot import exp

from store.offline.compiler.point_in_time import ViewScan
from store.offline.compiler.query import (
    CREATED_TS,
    EVENT_TS,
    CompiledQuery,
    source_table_name,
)
from store.offline.compiler.sql import check_dialect, number, render, sql_type, table
from store.offline.compiler.sql import column as _col
from store.offline.compiler.sql import epoch_us as _epoch_us
from store.offline.compiler.sql import identifier as _q

__all__ = ["DIALECTS", "compile_earliest_event", "compile_latest_rows"]

# Dialects whose engines run these queries (see sql.check_dialect). Spark has no QUALIFY;
# sqlglot renders it there as a filter over a subquery, which Spark runs.
DIALECTS = frozenset({"duckdb", "spark"})


def compile_latest_rows(
    view: ViewScan, *, start_us: int, end_us: int, dialect: str = "duckdb", pretty: bool = False
) -> CompiledQuery:
    """SQL returning, per entity key, the newest source row with an event time in
    ``[start_us, end_us]`` (microseconds since the epoch, UTC).

    Raises:
        ValueError: a dialect not in :data:`DIALECTS`.
    """
    check_dialect("newest-rows", dialect, DIALECTS)
    event = _epoch_us(view.source_column(view.timestamp_column))
    created: exp.Expr = (
        _epoch_us(view.source_column(view.created_column))
        if view.created_column is not None
        else exp.cast(exp.null(), exp.DataType.Type.BIGINT)
    )
    keys = [exp.cast(_col(view.source_column(k)), sql_type(t)) for k, t in view.keys]
    columns: list[exp.Expr] = [
        exp.alias_(key, _q(name)) for key, (name, _) in zip(keys, view.keys, strict=True)
    ]
    columns += [
        exp.alias_(exp.cast(_col(view.source_column(f.column)), sql_type(f.dtype)), _q(f.column))
        for f in view.features
    ]
    columns += [exp.alias_(event.copy(), _q(EVENT_TS)), exp.alias_(created.copy(), _q(CREATED_TS))]
    newest = exp.Window(
        this=exp.RowNumber(),
        partition_by=[key.copy() for key in keys],
        order=exp.Order(
            expressions=[
                exp.Ordered(this=event.copy(), desc=True, nulls_first=False),
                exp.Ordered(this=created.copy(), desc=True, nulls_first=False),
            ]
        ),
    )
    in_window = exp.and_(
        exp.GTE(this=event.copy(), expression=number(start_us)),
        exp.LTE(this=event.copy(), expression=number(end_us)),
    )
    select = (
        exp.select(*columns)
        .from_(table(source_table_name(view.name)))
        .where(in_window)
        .qualify(exp.EQ(this=newest, expression=exp.Literal.number(1)))
        # In key order, a B-tree keyed like the online table (SQLite's) is appended to
        # instead of jumped around in: the load takes half the time.
        .order_by(*[_q(k) for k, _ in view.keys])
    )
    return CompiledQuery(
        setup=(),
        query=render(select, dialect, pretty=pretty),
        sources=(view.source_table,),
        dialect=dialect,
    )


def compile_earliest_event(view: ViewScan, *, dialect: str = "duckdb") -> CompiledQuery:
    """SQL returning the earliest event time of a view's source, in microseconds (or NULL),
    as a one-row, one-column result."""
    check_dialect("earliest-event", dialect, DIALECTS)
    earliest = exp.func("min", _epoch_us(view.source_column(view.timestamp_column)))
    select = exp.select(exp.alias_(earliest, _q("earliest"))).from_(
        table(source_table_name(view.name))
    )
    return CompiledQuery(
        setup=(),
        query=render(select, dialect),
        sources=(view.source_table,),
        dialect=dialect,
    )
