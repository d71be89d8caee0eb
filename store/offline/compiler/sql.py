"""Small sqlglot builders shared by the compilers, and the SQL type of each dtype (pure).

Types are sqlglot ``DataType`` trees, so each dialect spells them its own way
(``Float32`` is ``REAL`` in DuckDB, ``FLOAT`` in Spark). A ``Json`` document is text
(DuckDB's ``JSON`` type would reach Arrow as an extension type, and Spark has none).

Example:
    >>> from store.types import Array, Float64, Map
    >>> sql_type(Array(Float64)).sql("duckdb"), sql_type(Array(Float64)).sql("spark")
    ('DOUBLE[]', 'ARRAY<DOUBLE>')
    >>> sql_type(Map(Float64)).sql("duckdb"), sql_type(Map(Float64)).sql("spark")
    ('MAP(TEXT, DOUBLE)', 'MAP<STRING, DOUBLE>')
"""

from __future__ import annotations

from sqlglot import exp

from store.types import Array, DType, MapType, PrimitiveType, Struct

__all__ = ["check_dialect", "column", "epoch_us", "identifier", "number", "sql_type", "table"]

_TYPES: dict[str, object] = {
    "Int32": exp.DataType.Type.INT,
    "Int64": exp.DataType.Type.BIGINT,
    "Float32": exp.DataType.Type.FLOAT,
    "Float64": exp.DataType.Type.DOUBLE,
    "String": exp.DataType.Type.VARCHAR,
    "Bool": exp.DataType.Type.BOOLEAN,
    "Bytes": exp.DataType.Type.VARBINARY,
    "UnixTimestamp": exp.DataType.Type.TIMESTAMPTZ,
    "Json": exp.DataType.Type.VARCHAR,
}


def sql_type(dtype: DType) -> exp.DataType:
    """The SQL type a dtype is read as."""
    if isinstance(dtype, Array):
        return exp.DataType(
            this=exp.DataType.Type.ARRAY, expressions=[sql_type(dtype.element)], nested=True
        )
    if isinstance(dtype, MapType):
        keys = exp.DataType(this=exp.DataType.Type.VARCHAR)
        return exp.DataType(
            this=exp.DataType.Type.MAP, expressions=[keys, sql_type(dtype.value)], nested=True
        )
    if isinstance(dtype, Struct):
        fields = [exp.ColumnDef(this=identifier(n), kind=sql_type(t)) for n, t in dtype.fields]
        return exp.DataType(this=exp.DataType.Type.STRUCT, expressions=fields, nested=True)
    assert isinstance(dtype, PrimitiveType)
    return exp.DataType(this=_TYPES[dtype.name])


def identifier(name: str) -> exp.Identifier:
    """A quoted identifier: every name Silage writes into SQL is quoted."""
    return exp.to_identifier(name, quoted=True)


def column(name: str, table: str | None = None) -> exp.Column:
    """``"table"."name"``, or ``"name"``."""
    return exp.column(identifier(name), table=identifier(table) if table else None)


def table(name: str, alias: str | None = None) -> exp.Table:
    """``"name" AS "alias"``, or ``"name"``."""
    return exp.Table(
        this=identifier(name), alias=exp.TableAlias(this=identifier(alias)) if alias else None
    )


def number(value: int) -> exp.Expr:
    """An integer literal; negative ones as a negation, which every dialect reads."""
    literal = exp.Literal.number(abs(value))
    return exp.Neg(this=literal) if value < 0 else literal


def epoch_us(name: str, table: str | None = None) -> exp.Expr:
    """Microseconds since the epoch, UTC (DuckDB's ``epoch_us``, Spark's ``unix_micros``). The
    cast reads naive Parquet timestamps as UTC (the connection's zone), costs nothing on
    zoned ones, and accepts nanosecond columns."""
    return exp.UnixMicros(this=exp.cast(column(name, table), exp.DataType.Type.TIMESTAMPTZ))


def check_dialect(compiler: str, dialect: str, supported: frozenset[str]) -> None:
    """Refuse to render for a dialect whose engine has not run this compiler's SQL: sqlglot
    prints functions it does not know unchanged, so the SQL would fail only when it runs.

    Raises:
        ValueError: naming the compiler, the dialect and the supported ones.
    """
    if dialect not in supported:
        raise ValueError(
            f"the {compiler} compiler does not render for {dialect!r} yet; "
            f"supported: {', '.join(sorted(supported))}"
        )
