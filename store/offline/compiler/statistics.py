"""Compiling per-column statistics of a table, per time window (pure: returns SQL, reads rows
back).

For each numeric column: its count of values, nulls, min, max, mean, variance (sample),
the 5th, 25th, 50th, 75th and 95th percentiles (linear interpolation), skewness and excess
kurtosis (both bias-corrected, as ``scipy.stats`` with ``bias=False``), and a histogram on
fixed bins; for any other column: count, nulls and the five most frequent values (ties
broken by value). Windows are fixed-width buckets of a time column aligned to the epoch in
UTC (hourly windows start on the hour, daily ones at midnight UTC); without a time column
the whole table is one window.

Two queries cover every column and window: one row of aggregates per window, and the top
values of the non-numeric columns per window. The histogram's bin edges are given (for
example a reference's), so that counts line up across windows; :meth:`StatisticsQuery.
collect` turns the rows into one JSON-ready dict per column per window.

Example:
    >>> from store.offline.compiler.query import SourceTable
    >>> from store.types import Float64, String
    >>> source = SourceTable("t", ("t.parquet",))
    >>> q = compile_statistics(source, [("rate", Float64), ("city", String)],
    ...                        edges={"rate": (0.0, 0.5, 1.0)})
    >>> "SKEWNESS" in q.summary.query and q.window_us is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sqlglot import exp

from store.offline.compiler.query import CompiledQuery, SourceTable
from store.offline.compiler.sql import (
    check_dialect,
    column,
    epoch_us,
    identifier,
    number,
    table,
)
from store.types import DType, PrimitiveType

__all__ = [
    "DIALECTS",
    "PERCENTILES",
    "TOP_VALUES",
    "StatisticsQuery",
    "WindowedStatistics",
    "compile_ranges",
    "compile_statistics",
    "equal_width_edges",
    "is_numeric",
]

# Dialects whose engines run these queries. DuckDB: QUANTILE_CONT over a list, HISTOGRAM,
# bias-corrected SKEWNESS and KURTOSIS. Spark: exact PERCENTILE over an array, a MAP of
# COUNT_IFs per bin, its population SKEWNESS and KURTOSIS corrected for bias here (sqlglot
# turns QUALIFY into a filtered subquery).
DIALECTS = frozenset({"duckdb", "spark"})
TOP_VALUES = 5
PERCENTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_NUMERIC = {"Int32", "Int64", "Float32", "Float64"}
_WINDOW = "__silage_window"


def is_numeric(dtype: DType) -> bool:
    """Whether a column gets moments, percentiles and a histogram rather than top values."""
    return isinstance(dtype, PrimitiveType) and dtype.name in _NUMERIC


@dataclass(frozen=True, slots=True)
class WindowedStatistics:
    """The statistics of every column in one window (``[start_us, end_us)``, or the whole
    table when both are None)."""

    start_us: int | None
    end_us: int | None
    columns: dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class StatisticsQuery:
    """The compiled queries, and how to read their rows back."""

    columns: tuple[tuple[str, DType], ...]
    edges: Mapping[str, tuple[float, ...]]
    window_us: int | None
    summary: CompiledQuery
    top_values: CompiledQuery | None

    def collect(
        self, summary: Sequence[Mapping[str, Any]], top_values: Sequence[Mapping[str, Any]]
    ) -> list[WindowedStatistics]:
        """Per window (in time order), per column, its statistics."""
        tops: dict[tuple[Any, int], list[dict[str, Any]]] = {}
        for row in top_values:
            key = (row.get(_WINDOW), row["position"])
            tops.setdefault(key, []).append({"value": row["value"], "count": row["n"]})
        windows = []
        for row in sorted(summary, key=lambda r: r.get(_WINDOW) or 0):
            start = row.get(_WINDOW)
            columns: dict[str, dict[str, Any]] = {}
            for i, (name, dtype) in enumerate(self.columns):
                entry: dict[str, Any] = {
                    "count": int(row[f"c{i}_count"]),
                    "nulls": int(row[f"c{i}_nulls"]),
                }
                if is_numeric(dtype):
                    entry |= self._numeric(row, i, name)
                else:
                    entry["top_values"] = tops.get((start, i), [])
                columns[name] = entry
            end = None if start is None or self.window_us is None else start + self.window_us
            windows.append(WindowedStatistics(start, end, columns))
        return windows

    def _numeric(self, row: Mapping[str, Any], i: int, name: str) -> dict[str, Any]:
        percentiles = row[f"c{i}_percentiles"]
        entry: dict[str, Any] = {
            "min": _number(row[f"c{i}_min"]),
            "max": _number(row[f"c{i}_max"]),
            "mean": _number(row[f"c{i}_mean"]),
            "variance": _number(row[f"c{i}_variance"]),
            "quantiles": {
                f"p{round(q * 100)}": _number(percentiles[k]) if percentiles else None
                for k, q in enumerate(PERCENTILES)
            },
            "skewness": _number(row[f"c{i}_skewness"]),
            "kurtosis": _number(row[f"c{i}_kurtosis"]),
        }
        edges = self.edges.get(name)
        if edges is not None:
            found = row[f"c{i}_histogram"] or {}
            counts = {int(k): int(v) for k, v in dict(found).items()}
            entry["histogram"] = {
                "edges": list(edges),
                "counts": [counts.get(b, 0) for b in range(len(edges) - 1)],
            }
        return entry


def compile_statistics(
    source: SourceTable,
    columns: Sequence[tuple[str, DType]],
    *,
    time_column: str | None = None,
    window_us: int | None = None,
    start_us: int | None = None,
    end_us: int | None = None,
    edges: Mapping[str, Sequence[float]] | None = None,
    dialect: str = "duckdb",
) -> StatisticsQuery:
    """The queries computing statistics of ``columns`` (name and dtype) of ``source``.

    Args:
        time_column: the column windows and bounds apply to (None: one window, no bounds).
        window_us: the windows' width in microseconds (None: one window over the range).
        start_us, end_us: keep rows with ``start_us <= time < end_us``.
        edges: per numeric column, increasing bin edges; a histogram counts values per bin
            (the first and last bins also take values below and above the edges).

    Raises:
        ValueError: a dialect not in :data:`DIALECTS`, or edges that do not increase.
    """
    check_dialect("statistics", dialect, DIALECTS)
    given = {name: tuple(float(e) for e in values) for name, values in (edges or {}).items()}
    for name, values in given.items():
        if len(values) < 2 or any(b <= a for a, b in pairwise(values)):
            raise ValueError(f"histogram edges of {name!r} must increase: {list(values)}")
    window = _window(time_column, window_us)
    where = _bounds(time_column, start_us, end_us)
    summary: list[exp.Expr] = [_as(window, _WINDOW)] if window is not None else []
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
            summary += _numeric_aggregates(value, i, given.get(name), dialect)
    select = exp.select(*summary).from_(table(source.name))
    if where is not None:
        select = select.where(where)
    if window is not None:
        select = select.group_by(exp.Literal.number(1))
    top = _top_values(source, columns, window, where, dialect)
    return StatisticsQuery(
        columns=tuple(columns),
        edges=given,
        window_us=window_us,
        summary=CompiledQuery(
            setup=(), query=select.sql(dialect=dialect), sources=(source,), dialect=dialect
        ),
        top_values=top,
    )


def compile_ranges(
    source: SourceTable,
    columns: Sequence[str],
    *,
    time_column: str | None = None,
    start_us: int | None = None,
    end_us: int | None = None,
    dialect: str = "duckdb",
) -> CompiledQuery:
    """One row: the min and max (``c<i>_min``, ``c<i>_max``) of numeric ``columns`` over the
    rows statistics would read; a cheap first pass that fixes histogram edges."""
    check_dialect("statistics", dialect, DIALECTS)
    found: list[exp.Expr] = [exp.alias_(exp.Count(this=exp.Star()), identifier("rows"))]
    for i, name in enumerate(columns):
        found += [
            _as(exp.Min(this=column(name)), f"c{i}_min"),
            _as(exp.Max(this=column(name)), f"c{i}_max"),
        ]
    select = exp.select(*found).from_(table(source.name))
    where = _bounds(time_column, start_us, end_us)
    if where is not None:
        select = select.where(where)
    return CompiledQuery(
        setup=(), query=select.sql(dialect=dialect), sources=(source,), dialect=dialect
    )


def equal_width_edges(low: float | None, high: float | None, bins: int = 10) -> tuple[float, ...]:
    """``bins`` bins of equal width from ``low`` to ``high`` (one unit wide around a single
    value; ``(0, 1)`` when there are no values).

    Example:
        >>> equal_width_edges(0, 1, bins=4)
        (0.0, 0.25, 0.5, 0.75, 1.0)
    """
    if low is None or high is None:
        return (0.0, 1.0)
    if high <= low:
        return (float(low) - 0.5, float(low) + 0.5)
    width = (float(high) - float(low)) / bins
    return (*(float(low) + k * width for k in range(bins)), float(high))


def _numeric_aggregates(
    value: exp.Expr, i: int, edges: tuple[float, ...] | None, dialect: str
) -> list[exp.Expr]:
    percentiles = exp.Array(expressions=[exp.Literal.number(q) for q in PERCENTILES])
    spark = dialect == "spark"
    found = [
        _as(exp.Min(this=value.copy()), f"c{i}_min"),
        _as(exp.Max(this=value.copy()), f"c{i}_max"),
        _as(exp.Avg(this=value.copy()), f"c{i}_mean"),
        _as(exp.Variance(this=value.copy()), f"c{i}_variance"),
        _as(
            exp.func("percentile" if spark else "quantile_cont", value.copy(), percentiles),
            f"c{i}_percentiles",
        ),
        _as(_skewness(value) if spark else exp.func("skewness", value.copy()), f"c{i}_skewness"),
        _as(_kurtosis(value) if spark else exp.func("kurtosis", value.copy()), f"c{i}_kurtosis"),
    ]
    if edges is not None:
        found.append(_as(_histogram(value, edges, spark=spark), f"c{i}_histogram"))
    return found


def _histogram(value: exp.Expr, edges: tuple[float, ...], *, spark: bool) -> exp.Expr:
    """Bin index to count: DuckDB's HISTOGRAM; on Spark a MAP of one COUNT_IF per bin."""
    binned = _bin(value, edges)
    if not spark:
        return exp.func("histogram", binned)
    bins = range(len(edges) - 1)
    return exp.VarMap(
        keys=exp.Array(expressions=[exp.Literal.number(b) for b in bins]),
        values=exp.Array(
            expressions=[
                exp.CountIf(this=exp.EQ(this=binned.copy(), expression=exp.Literal.number(b)))
                for b in bins
            ]
        ),
    )


def _skewness(value: exp.Expr) -> exp.Expr:
    """Spark's SKEWNESS is the population's (g1); the bias-corrected one (DuckDB's, scipy's
    with ``bias=False``) is ``g1 * sqrt(n (n - 1)) / (n - 2)``, null below three values."""
    n = _count_as_double(value)
    corrected = exp.Div(
        this=exp.Mul(
            this=exp.func("skewness", value.copy()),
            expression=exp.Sqrt(this=exp.Mul(this=n.copy(), expression=_minus(n, 1))),
        ),
        expression=_minus(n, 2),
    )
    return exp.Case(ifs=[exp.If(this=exp.GT(this=n.copy(), expression=number(2)), true=corrected)])


def _kurtosis(value: exp.Expr) -> exp.Expr:
    """Spark's KURTOSIS is the population's excess kurtosis (g2); the bias-corrected one is
    ``((n + 1) g2 + 6) (n - 1) / ((n - 2) (n - 3))``, null below four values."""
    n = _count_as_double(value)
    g2 = exp.func("kurtosis", value.copy())
    top = exp.Mul(
        this=exp.Paren(
            this=exp.Add(
                this=exp.Mul(
                    this=exp.Paren(this=exp.Add(this=n.copy(), expression=number(1))), expression=g2
                ),
                expression=number(6),
            )
        ),
        expression=_minus(n, 1),
    )
    corrected = exp.Div(
        this=top, expression=exp.Paren(this=exp.Mul(this=_minus(n, 2), expression=_minus(n, 3)))
    )
    return exp.Case(ifs=[exp.If(this=exp.GT(this=n.copy(), expression=number(3)), true=corrected)])


def _count_as_double(value: exp.Expr) -> exp.Expr:
    return exp.cast(exp.Count(this=value.copy()), exp.DataType.Type.DOUBLE)


def _minus(n: exp.Expr, k: int) -> exp.Expr:
    return exp.Paren(this=exp.Sub(this=n.copy(), expression=number(k)))


def _bin(value: exp.Expr, edges: tuple[float, ...]) -> exp.Expr:
    """The bin index of a value: ``edges[b] <= value < edges[b + 1]``, the outer bins open
    ended, the last one closed (so the top edge counts in it)."""
    missing = exp.If(this=exp.Is(this=value.copy(), expression=exp.null()), true=exp.null())
    cases = [missing] + [
        exp.If(
            this=exp.LT(this=value.copy(), expression=exp.Literal.number(repr(edge))),
            true=exp.Literal.number(b),
        )
        for b, edge in enumerate(edges[1:-1])
    ]
    return exp.Case(ifs=cases, default=exp.Literal.number(len(edges) - 2))


def _top_values(
    source: SourceTable,
    columns: Sequence[tuple[str, DType]],
    window: exp.Expr | None,
    where: exp.Expr | None,
    dialect: str,
) -> CompiledQuery | None:
    counted = []
    for i, (name, dtype) in enumerate(columns):
        if is_numeric(dtype):
            continue
        present = exp.Not(this=exp.Is(this=column(name), expression=exp.null()))
        keys: list[exp.Expr] = [_as(window.copy(), _WINDOW)] if window is not None else []
        part = (
            exp.select(
                *keys,
                _as(exp.Literal.number(i), "position"),
                _as(_as_text(column(name), dtype, dialect), "value"),
                _as(exp.Count(this=exp.Star()), "n"),
            )
            .from_(table(source.name))
            .where(exp.and_(present, where.copy()) if where is not None else present)
            .group_by(*[exp.Literal.number(k + 1) for k in range(len(keys) + 2) if k != len(keys)])
        )
        counted.append(part)
    if not counted:
        return None
    union: exp.Query = counted[0]
    for part in counted[1:]:
        union = exp.union(union, part, distinct=False)
    partition = [column("position"), *([column(_WINDOW)] if window is not None else [])]
    rank = exp.Window(
        this=exp.RowNumber(),
        partition_by=partition,
        order=exp.Order(
            expressions=[
                exp.Ordered(this=column("n"), desc=True),
                exp.Ordered(this=column("value")),
            ]
        ),
    )
    ranked = (
        exp.select(exp.Star())
        .from_(exp.Subquery(this=union, alias=exp.TableAlias(this=identifier("counts"))))
        .qualify(exp.LTE(this=rank, expression=exp.Literal.number(TOP_VALUES)))
        .order_by(*partition, exp.Ordered(this=column("n"), desc=True), column("value"))
    )
    return CompiledQuery(
        setup=(), query=ranked.sql(dialect=dialect), sources=(source,), dialect=dialect
    )


# Per dialect, the function that writes a container value (array, map, struct) as text for
# the top values: Spark's cast to a string writes the raw bytes of binary values inside them
# (not UTF-8), its JSON writes them as base64.
_CONTAINER_TEXT = {"spark": "TO_JSON"}


def _as_text(value: exp.Expr, dtype: DType, dialect: str) -> exp.Expr:
    """A value as the text its top values are counted by."""
    container = not isinstance(dtype, PrimitiveType) and dialect in _CONTAINER_TEXT
    if container:
        return exp.func(_CONTAINER_TEXT[dialect], value)
    return exp.cast(value, exp.DataType.Type.VARCHAR)


def _window(time_column: str | None, window_us: int | None) -> exp.Expr | None:
    """The start of a row's window in microseconds, ``t - (t mod width)`` with a remainder
    that is never negative (SQL's ``%`` takes the dividend's sign), in exact integers, so
    windows before 1970 are aligned like the others."""
    if time_column is None or window_us is None:
        return None
    width = number(window_us)
    moment = epoch_us(time_column)
    remainder = exp.Mod(
        this=exp.Paren(
            this=exp.Add(
                this=exp.Mod(this=moment.copy(), expression=width.copy()), expression=width.copy()
            )
        ),
        expression=width.copy(),
    )
    return exp.Sub(this=moment, expression=exp.Paren(this=remainder))


def _bounds(time_column: str | None, start_us: int | None, end_us: int | None) -> exp.Expr | None:
    if time_column is None:
        return None
    conditions: list[exp.Expr] = []
    if start_us is not None:
        conditions.append(exp.GTE(this=epoch_us(time_column), expression=number(start_us)))
    if end_us is not None:
        conditions.append(exp.LT(this=epoch_us(time_column), expression=number(end_us)))
    return exp.and_(*conditions) if conditions else None


def _as(expression: exp.Expr, name: str) -> exp.Expr:
    return exp.alias_(expression, identifier(name))


def _number(value: Any) -> float | None:
    if value is None:
        return None
    found = float(value)
    return None if math.isnan(found) else found  # NaN (the skewness of one value): none
