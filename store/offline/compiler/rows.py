"""Compiling "these features of a source in a time window" (pure: returns SQL).

Drift references that are a window of a view's source read their values with it: typed
feature columns, under the view's names, of the rows with an event time in
``[start_us, end_us)``.

Example:
    >>> from store.offline.compiler.point_in_time import FeatureColumn, ViewScan
    >>> from store.types import Float64, Int64
    >>> scan = ViewScan(name="stats", files=("s.parquet",), timestamp_column="ts",
    ...                 created_column=None, ttl_seconds=None, keys=(("driver_id", Int64),),
    ...                 features=(FeatureColumn("rate", "rate", Float64),),
    ...                 field_mapping=(("r", "rate"),))
    >>> compile_rows(scan, start_us=0, end_us=10).query[:60]
    'SELECT CAST("r" AS DOUBLE) AS "rate" FROM "__silage_source_s'
"""

from __future__ import annotations

from sqlglot import exp

from store.offline.compiler.point_in_time import ViewScan
from store.offline.compiler.query import CompiledQuery, source_table_name
from store.offline.compiler.sql import column, epoch_us, identifier, number, render, sql_type, table

__all__ = ["compile_rows"]


def compile_rows(
    scan: ViewScan, *, start_us: int | None, end_us: int | None, dialect: str = "duckdb"
) -> CompiledQuery:
    """The view's features (``scan.features``) of the rows with an event time in
    ``[start_us, end_us)`` (either bound may be None)."""
    columns = [
        exp.alias_(
            exp.cast(column(scan.source_column(f.column)), sql_type(f.dtype)),
            identifier(f.output),
        )
        for f in scan.features
    ]
    event = epoch_us(scan.source_column(scan.timestamp_column))
    conditions: list[exp.Expr] = []
    if start_us is not None:
        conditions.append(exp.GTE(this=event.copy(), expression=number(start_us)))
    if end_us is not None:
        conditions.append(exp.LT(this=event.copy(), expression=number(end_us)))
    select = exp.select(*columns).from_(table(source_table_name(scan.name)))
    if conditions:
        select = select.where(exp.and_(*conditions))
    return CompiledQuery(
        setup=(),
        query=render(select, dialect),
        sources=(scan.source_table,),
        dialect=dialect,
    )
