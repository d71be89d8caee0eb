"""Small sqlglot builders shared by the compilers (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

__all__ = ["column", "epoch_us", "identifier", "read_parquet"]


def identifier(name: str) -> exp.Identifier:
    """A quoted identifier: every name Silage writes into SQL is quoted."""
    return exp.to_identifier(name, quoted=True)


def column(name: str, table: str | None = None) -> exp.Column:
    return exp.column(identifier(name), table=identifier(table) if table else None)


def epoch_us(name: str) -> exp.Expr:
    """Microseconds since the epoch, UTC. The cast reads naive Parquet timestamps as UTC (the
    connection's zone), costs nothing on zoned ones, and accepts nanosecond columns."""
    return exp.func("epoch_us", exp.cast(column(name), "TIMESTAMPTZ"))


def read_parquet(files: Sequence[str]) -> exp.Table:
    """``read_parquet([...], union_by_name = true)`` as a table: files may differ in column
    order or miss a column that others have."""
    paths = exp.Array(expressions=[exp.Literal.string(f) for f in files])
    return exp.Table(
        this=exp.Anonymous(
            this="read_parquet",
            expressions=[paths, exp.EQ(this=exp.var("union_by_name"), expression=exp.true())],
        )
    )
