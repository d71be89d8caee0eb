"""Compiling a view's expectations into one aggregate query (pure: returns SQL).

Every expectation of a view becomes a few aggregates of a single ``SELECT`` over the
view's source rows with an event time in the window (or over rows being pushed, given to
the engine as a table under the source's name), so a check costs one scan whatever the
number of expectations. :meth:`ValidationQuery.collect` turns the one result row into an
outcome per expectation: the value observed and whether it passes.

Shares count only the rows that can be judged: ``ValueRange``, ``AllowedValues`` and
``Matches`` the non-null values, ``Compare`` the rows where both sides are set. A check
with nothing to judge (an empty window) passes, and says so: ``"n": 0``; ``RowCount`` and
``Freshness`` are the checks that catch an empty window.

Example:
    >>> from store.definitions.expectations import NullShare, RowCount
    >>> from store.offline.compiler.point_in_time import FeatureColumn, ViewScan
    >>> from store.types import Float64, Int64
    >>> scan = ViewScan(name="stats", files=("s.parquet",), timestamp_column="ts",
    ...                 created_column=None, ttl_seconds=None, keys=(("driver_id", Int64),),
    ...                 features=(FeatureColumn("rate", "rate", Float64),))
    >>> q = compile_validation(scan, [NullShare("rate", at_most=0.1), RowCount(min=1)],
    ...                        start_us=0, end_us=10, as_of_us=10)
    >>> [(o.expectation.kind, o.passed) for o in q.collect(
    ...     {"rows": 4, "newest_us": 9, "e0_values": 3, "e1_rows": 4})]
    [('null_share', False), ('row_count', True)]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from store.definitions.expectations import (
    AllowedValues,
    Compare,
    Expectation,
    Freshness,
    Matches,
    NullShare,
    QuantileRange,
    RowCount,
    UniqueKeys,
    ValueRange,
)
from store.offline.compiler.point_in_time import ViewScan
from store.offline.compiler.query import CompiledQuery, source_table_name
from store.offline.compiler.sql import check_dialect, column, epoch_us, identifier, number, table

__all__ = ["DIALECTS", "CheckOutcome", "ValidationQuery", "compile_validation"]

# DuckDB; Spark (its exact PERCENTILE for a quantile, a STRUCT for a composite key).
DIALECTS = frozenset({"duckdb", "spark"})
_COMPARE: dict[str, type[exp.Binary]] = {
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
    "==": exp.EQ,
    "!=": exp.NEQ,
}


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One expectation's result: what was observed, and whether that passes."""

    expectation: Expectation
    observed: dict[str, Any]
    passed: bool

    def describe(self) -> str:
        """``conv_rate in [0, 1]: share 0.97 (failed)``."""
        shown = ", ".join(f"{k} {_show(v)}" for k, v in self.observed.items())
        return f"{self.expectation.describe()}: {shown} ({'passed' if self.passed else 'FAILED'})"


@dataclass(frozen=True, slots=True)
class ValidationQuery:
    """The compiled check of a view, and how to read its one row back."""

    expectations: tuple[Expectation, ...]
    query: CompiledQuery
    as_of_us: int

    def collect(self, row: Mapping[str, Any]) -> list[CheckOutcome]:
        """An outcome per expectation, in declaration order, from the query's result row."""
        return [
            _judge(expectation, i, row, self.as_of_us)
            for i, expectation in enumerate(self.expectations)
        ]


def compile_validation(
    scan: ViewScan,
    expectations: Sequence[Expectation],
    *,
    start_us: int | None,
    end_us: int | None,
    as_of_us: int,
    dialect: str = "duckdb",
) -> ValidationQuery:
    """The aggregate query checking ``expectations`` on the rows of ``scan`` with an event
    time in ``[start_us, end_us]`` (either may be None: unbounded). ``as_of_us`` is the
    time freshness is judged at.

    Raises:
        ValueError: a dialect not in :data:`DIALECTS`.
    """
    check_dialect("validation", dialect, DIALECTS)
    event = epoch_us(scan.source_column(scan.timestamp_column))
    columns: list[exp.Expr] = [
        _as(exp.Count(this=exp.Star()), "rows"),
        _as(exp.Min(this=event.copy()), "oldest_us"),
        _as(exp.Max(this=event.copy()), "newest_us"),
    ]
    for i, expectation in enumerate(expectations):
        columns.extend(
            _as(value, f"e{i}_{name}") for name, value in _aggregates(expectation, scan, dialect)
        )
    conditions: list[exp.Expr] = []
    if start_us is not None:
        conditions.append(exp.GTE(this=event.copy(), expression=number(start_us)))
    if end_us is not None:
        conditions.append(exp.LTE(this=event.copy(), expression=number(end_us)))
    select = exp.select(*columns).from_(table(source_table_name(scan.name)))
    if conditions:
        select = select.where(exp.and_(*conditions))
    compiled = CompiledQuery(
        setup=(),
        query=select.sql(dialect=dialect),
        sources=(scan.source_table,),
        dialect=dialect,
    )
    return ValidationQuery(tuple(expectations), compiled, as_of_us)


def _aggregates(
    expectation: Expectation, scan: ViewScan, dialect: str
) -> list[tuple[str, exp.Expr]]:
    """The named aggregates an expectation needs."""

    def col(name: str) -> exp.Expr:
        return column(scan.source_column(name))

    def count_if(condition: exp.Expr) -> exp.Expr:
        return exp.CountIf(this=condition)

    if isinstance(expectation, ValueRange):
        x = col(expectation.feature)
        inside = [
            op(this=x.copy(), expression=_literal(bound))
            for op, bound in ((exp.GTE, expectation.min), (exp.LTE, expectation.max))
            if bound is not None
        ]
        return [
            ("values", exp.Count(this=x.copy())),
            ("inside", count_if(exp.and_(*inside))),
            ("min", exp.Min(this=x.copy())),
            ("max", exp.Max(this=x.copy())),
        ]
    if isinstance(expectation, QuantileRange):
        x = col(expectation.feature)
        return [
            ("values", exp.Count(this=x.copy())),
            (
                "quantile",
                exp.func("percentile", x.copy(), _literal(expectation.quantile))
                if dialect == "spark"
                else exp.PercentileCont(this=x.copy(), expression=_literal(expectation.quantile)),
            ),
        ]
    if isinstance(expectation, NullShare):
        return [("values", exp.Count(this=col(expectation.feature)))]
    if isinstance(expectation, AllowedValues):
        x = col(expectation.feature)
        allowed = exp.In(this=x.copy(), expressions=[_literal(v) for v in expectation.values])
        return [("values", exp.Count(this=x.copy())), ("inside", count_if(allowed))]
    if isinstance(expectation, Matches):
        x = col(expectation.feature)
        match = exp.RegexpLike(this=x.copy(), expression=exp.Literal.string(expectation.pattern))
        return [("values", exp.Count(this=x.copy())), ("inside", count_if(match))]
    if isinstance(expectation, Compare):
        left, right = col(expectation.left), col(expectation.right)
        both = exp.and_(
            exp.Not(this=exp.Is(this=left.copy(), expression=exp.null())),
            exp.Not(this=exp.Is(this=right.copy(), expression=exp.null())),
        )
        holds = _COMPARE[expectation.op](this=left.copy(), expression=right.copy())
        return [("values", count_if(both)), ("inside", count_if(holds))]
    if isinstance(expectation, UniqueKeys):
        parts = [
            *(col(k) for k, _ in scan.keys),
            epoch_us(scan.source_column(scan.timestamp_column)),
        ]
        # One value per row, nulls included (Spark's COUNT(DISTINCT a, b) skips rows with a null).
        key = exp.Struct(expressions=parts) if dialect == "spark" else exp.Tuple(expressions=parts)
        distinct = exp.Count(this=exp.Distinct(expressions=[key]))
        return [("duplicates", exp.Sub(this=exp.Count(this=exp.Star()), expression=distinct))]
    if isinstance(expectation, RowCount):
        return [("rows", exp.Count(this=exp.Star()))]
    if isinstance(expectation, Freshness):
        return []  # the newest event time is read once for every check
    raise TypeError(f"no SQL for expectation {expectation!r}")


def _judge(expectation: Expectation, i: int, row: Mapping[str, Any], as_of_us: int) -> CheckOutcome:
    def get(name: str) -> Any:
        return row[f"e{i}_{name}"]

    judge = _JUDGES[type(expectation)]
    observed, passed = judge(expectation, get, row, as_of_us)
    return CheckOutcome(expectation, observed, passed)


Getter = Callable[[str], Any]


def _share_judge(
    expectation: Any, get: Getter, row: Mapping[str, Any], as_of_us: int
) -> tuple[dict[str, Any], bool]:
    # COUNT_IF over no rows is NULL in DuckDB, not 0.
    values, inside = int(get("values") or 0), int(get("inside") or 0)
    share = inside / values if values else None
    observed: dict[str, Any] = {"share": share, "n": values}
    if isinstance(expectation, ValueRange):
        observed |= {"min": _plain(get("min")), "max": _plain(get("max"))}
    return observed, share is None or share >= expectation.mostly


def _quantile_judge(
    expectation: Any, get: Getter, row: Mapping[str, Any], as_of_us: int
) -> tuple[dict[str, Any], bool]:
    value = _plain(get("quantile"))
    observed = {"value": value, "n": int(get("values"))}
    if value is None:
        return observed, True
    low, high = expectation.min, expectation.max
    return observed, (low is None or value >= low) and (high is None or value <= high)


def _null_judge(
    expectation: Any, get: Getter, row: Mapping[str, Any], as_of_us: int
) -> tuple[dict[str, Any], bool]:
    rows = int(row["rows"])
    share = (rows - int(get("values"))) / rows if rows else None
    return {"share": share, "n": rows}, share is None or share <= expectation.at_most


def _unique_judge(
    expectation: Any, get: Getter, row: Mapping[str, Any], as_of_us: int
) -> tuple[dict[str, Any], bool]:
    duplicates = int(get("duplicates"))
    return {"duplicates": duplicates, "n": int(row["rows"])}, duplicates == 0


def _fresh_judge(
    expectation: Any, get: Getter, row: Mapping[str, Any], as_of_us: int
) -> tuple[dict[str, Any], bool]:
    newest = row["newest_us"]
    if newest is None:
        return {"age_seconds": None, "n": 0}, False
    age = (as_of_us - int(newest)) / 1_000_000
    return {"age_seconds": age, "n": int(row["rows"])}, age <= expectation.max_age.total_seconds()


def _count_judge(
    expectation: Any, get: Getter, row: Mapping[str, Any], as_of_us: int
) -> tuple[dict[str, Any], bool]:
    rows = int(get("rows"))
    low, high = expectation.min, expectation.max
    return {"rows": rows}, (low is None or rows >= low) and (high is None or rows <= high)


_JUDGES: dict[type, Callable[..., tuple[dict[str, Any], bool]]] = {
    ValueRange: _share_judge,
    AllowedValues: _share_judge,
    Matches: _share_judge,
    Compare: _share_judge,
    QuantileRange: _quantile_judge,
    NullShare: _null_judge,
    UniqueKeys: _unique_judge,
    Freshness: _fresh_judge,
    RowCount: _count_judge,
}


def _literal(value: object) -> exp.Expr:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return number(value)
    if isinstance(value, float):
        literal = exp.Literal.number(repr(abs(value)))
        return exp.Neg(this=literal) if value < 0 else literal
    return exp.Literal.string(str(value))


def _plain(value: Any) -> Any:
    """A JSON-ready number (Decimals and NumPy scalars become floats)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return float(value)


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "none" if value is None else str(value)


def _as(expression: exp.Expr, name: str) -> exp.Expr:
    return exp.alias_(expression, identifier(name))
