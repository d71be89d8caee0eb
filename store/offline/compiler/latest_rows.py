"""Compiling "the newest row per entity key in a time window" (pure: returns SQL).

Materialization loads these rows into the online store. Newest means the latest event
time, then the latest created time (a missing created time loses), the same order the
point-in-time join uses. Both ends of the window are inclusive, so consecutive windows may
share their boundary; the online store's newest-wins upsert makes loading a row twice
harmless.

The columns come out exactly as the online table stores them: typed keys and features,
arrays as JSON text, and the event and created times as integer microseconds, UTC.

Example:
    >>> from store.offline.compiler.point_in_time import FeatureColumn, ViewScan
    >>> from store.types import Int64
    >>> scan = ViewScan(name="stats", files=("/d/s.parquet",), timestamp_column="ts",
    ...                 created_column=None, ttl_seconds=None, keys=(("driver_id", Int64),),
    ...                 features=(FeatureColumn("trips", "trips", Int64),))
    >>> "QUALIFY" in compile_latest_rows(scan, start_us=0, end_us=10)
    True
"""

from __future__ import annotations

from sqlglot import exp

from store.offline.compiler.point_in_time import ViewScan
from store.offline.compiler.sql import column as _col
from store.offline.compiler.sql import epoch_us as _epoch_us
from store.offline.compiler.sql import identifier as _q
from store.offline.compiler.sql import read_parquet
from store.online.layout import CREATED_TS, EVENT_TS
from store.types import Array, UnixTimestamp, duckdb_type

__all__ = ["compile_earliest_event", "compile_latest_rows"]


def compile_latest_rows(view: ViewScan, *, start_us: int, end_us: int, pretty: bool = False) -> str:
    """SQL returning, per entity key, the newest source row with an event time in
    ``[start_us, end_us]`` (microseconds since the epoch, UTC)."""
    event = _epoch_us(view.source_column(view.timestamp_column))
    created: exp.Expr = (
        _epoch_us(view.source_column(view.created_column))
        if view.created_column is not None
        else exp.cast(exp.null(), "BIGINT")
    )
    columns: list[exp.Expr] = [
        exp.alias_(exp.cast(_col(view.source_column(k)), duckdb_type(t)), _q(k))
        for k, t in view.keys
    ]
    for feature in view.features:
        name = view.source_column(feature.column)
        value: exp.Expr = exp.cast(_col(name), duckdb_type(feature.dtype))
        if isinstance(feature.dtype, Array):
            value = exp.cast(exp.func("to_json", value), "VARCHAR")
        elif feature.dtype == UnixTimestamp:
            value = _epoch_us(name)
        columns.append(exp.alias_(value, _q(feature.column)))
    columns += [exp.alias_(event.copy(), _q(EVENT_TS)), exp.alias_(created.copy(), _q(CREATED_TS))]
    newest = exp.Window(
        this=exp.RowNumber(),
        partition_by=[exp.cast(_col(view.source_column(k)), duckdb_type(t)) for k, t in view.keys],
        order=exp.Order(
            expressions=[
                exp.Ordered(this=event.copy(), desc=True, nulls_first=False),
                exp.Ordered(this=created.copy(), desc=True, nulls_first=False),
            ]
        ),
    )
    in_window = exp.and_(
        exp.GTE(this=event.copy(), expression=exp.Literal.number(start_us)),
        exp.LTE(this=event.copy(), expression=exp.Literal.number(end_us)),
    )
    select = (
        exp.select(*columns)
        .from_(read_parquet(view.files))
        .where(in_window)
        .qualify(exp.EQ(this=newest, expression=exp.Literal.number(1)))
        # In key order, SQLite appends to its primary-key B-tree instead of jumping around
        # in it: the load into the online store takes half the time.
        .order_by(*[_q(k) for k, _ in view.keys])
    )
    return select.sql(dialect="duckdb", pretty=pretty)


def compile_earliest_event(view: ViewScan) -> str:
    """SQL returning the earliest event time of a view's source, in microseconds (or NULL)."""
    earliest = exp.func("min", _epoch_us(view.source_column(view.timestamp_column)))
    return exp.select(earliest).from_(read_parquet(view.files)).sql(dialect="duckdb")
