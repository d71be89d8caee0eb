"""Compiling per-column statistics of a table (pure: returns SQL and reads its rows back).

For each numeric column: its count of values, nulls, min, max, mean and quartiles; for any
other column: count, nulls and the five most frequent values (ties broken by value). Two
queries cover every column of a table: one summary row, and the top values of the
non-numeric columns; :meth:`StatisticsQuery.collect` turns their rows into one JSON-ready
dict per column.

Example:
    >>> from store.offline.compiler.query import SourceTable
    >>> from store.types import Float64, String
    >>> source = SourceTable("t", ("t.parquet",))
    >>> q = compile_statistics(source, [("rate", Float64), ("city", String)])
    >>> q.collect({"c0_count": 2, "c0_nulls": 0, "c0_min": 0.5, "c0_max": 1.5, "c0_mean": 1.0,
    ...            "c0_quartiles": [0.75, 1.0, 1.25], "c1_count": 2, "c1_nulls": 0},
    ...           [{"position": 1, "value": "Oslo", "n": 2}])["city"]
    {'count': 2, 'nulls': 0, 'top_values': [{'value': 'Oslo', 'count': 2}]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from store.offline.compiler.query import CompiledQuery, SourceTable
from store.offline.compiler.sql import check_dialect, column, identifier, table
from store.types import DType, PrimitiveType

__all__ = ["DIALECTS", "TOP_VALUES", "StatisticsQuery", "compile_statistics", "is_numeric"]

# Dialects whose engines run these queries (quantile_cont over a list is DuckDB's).
DIALECTS = frozenset({"duckdb"})

TOP_VALUES = 5
_NUMERIC = {"Int32", "Int64", "Float32", "Float64"}
_QUARTILES = (0.25, 0.5, 0.75)


def is_numeric(dtype: DType) -> bool:
    """Whether a column gets min, max, mean and quartiles rather than top values."""
    return isinstance(dtype, PrimitiveType) and dtype.name in _NUMERIC


@dataclass(frozen=True, slots=True)
class StatisticsQuery:
    """The compiled queries, and how to read their rows back."""

    columns: tuple[tuple[str, DType], ...]
    summary: CompiledQuery
    top_values: CompiledQuery | None

    def collect(
        self, summary: Mapping[str, Any], top_values: Sequence[Mapping[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """Per column, its statistics, from the summary row and the top-values rows."""
        stats: dict[str, dict[str, Any]] = {}
        for i, (name, dtype) in enumerate(self.columns):
            entry: dict[str, Any] = {
                "count": summary[f"c{i}_count"],
                "nulls": summary[f"c{i}_nulls"],
            }
            if is_numeric(dtype):
                quartiles = summary[f"c{i}_quartiles"]
                entry |= {
                    "min": _number(summary[f"c{i}_min"]),
                    "max": _number(summary[f"c{i}_max"]),
                    "mean": _number(summary[f"c{i}_mean"]),
                    "quantiles": {
                        f"p{round(q * 100)}": _number(quartiles[k]) if quartiles else None
                        for k, q in enumerate(_QUARTILES)
                    },
                }
            else:
                entry["top_values"] = [
                    {"value": row["value"], "count": row["n"]}
                    for row in top_values
                    if row["position"] == i
                ]
            stats[name] = entry
        return stats


def compile_statistics(
    source: SourceTable, columns: Sequence[tuple[str, DType]], *, dialect: str = "duckdb"
) -> StatisticsQuery:
    """The queries computing statistics of ``columns`` (name and dtype) of ``source``.

    Raises:
        ValueError: a dialect not in :data:`DIALECTS`.
    """
    check_dialect("statistics", dialect, DIALECTS)
    summary: list[exp.Expr] = []
    for i, (name, dtype) in enumerate(columns):
        value = column(name)
        summary += [
            _as(exp.Count(this=value.copy()), f"c{i}_count"),
            _as(
                exp.Sub(this=exp.Count(this=exp.Star()), expression=exp.Count(this=value.copy())),
                f"c{i}_nulls",
            ),
        ]
        if is_numeric(dtype):
            quartiles = exp.Array(expressions=[exp.Literal.number(q) for q in _QUARTILES])
            summary += [
                _as(exp.Min(this=value.copy()), f"c{i}_min"),
                _as(exp.Max(this=value.copy()), f"c{i}_max"),
                _as(exp.Avg(this=value.copy()), f"c{i}_mean"),
                _as(exp.func("quantile_cont", value.copy(), quartiles), f"c{i}_quartiles"),
            ]
    summary_sql = exp.select(*summary).from_(table(source.name)).sql(dialect=dialect)
    counted = [
        exp.select(
            _as(exp.Literal.number(i), "position"),
            _as(exp.cast(column(name), exp.DataType.Type.VARCHAR), "value"),
            _as(exp.Count(this=exp.Star()), "n"),
        )
        .from_(table(source.name))
        .where(exp.Not(this=exp.Is(this=column(name), expression=exp.null())))
        .group_by(exp.Literal.number(2))
        for i, (name, dtype) in enumerate(columns)
        if not is_numeric(dtype)
    ]
    top: CompiledQuery | None = None
    if counted:
        union: exp.Query = counted[0]
        for part in counted[1:]:
            union = exp.union(union, part, distinct=False)
        rank = exp.Window(
            this=exp.RowNumber(),
            partition_by=[column("position")],
            order=exp.Order(
                expressions=[
                    exp.Ordered(this=column("n"), desc=True),
                    exp.Ordered(this=column("value")),
                ]
            ),
        )
        ranked = (
            exp.select(column("position"), column("value"), column("n"))
            .from_(exp.Subquery(this=union, alias=exp.TableAlias(this=identifier("counts"))))
            .qualify(exp.LTE(this=rank, expression=exp.Literal.number(TOP_VALUES)))
            .order_by(column("position"), exp.Ordered(this=column("n"), desc=True), column("value"))
        )
        top = CompiledQuery(
            setup=(), query=ranked.sql(dialect=dialect), sources=(source,), dialect=dialect
        )
    return StatisticsQuery(
        columns=tuple(columns),
        summary=CompiledQuery(setup=(), query=summary_sql, sources=(source,), dialect=dialect),
        top_values=top,
    )


def _as(expression: exp.Expr, name: str) -> exp.Expr:
    return exp.alias_(expression, identifier(name))


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
