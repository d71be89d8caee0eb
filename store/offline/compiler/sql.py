"""Small sqlglot builders shared by the compilers, and the SQL type of each dtype (pure).

Types are sqlglot ``DataType`` trees, so each dialect spells them its own way
(``Float32`` is ``REAL`` in DuckDB, ``FLOAT`` in Spark). A ``Json`` document is text
(DuckDB's ``JSON`` type would reach Arrow as an extension type, and Spark has none).

Compilers write SQL out through :func:`render`, which applies the dialect's rewrites from
:data:`REWRITES` first: Spark casts structs by field position, so a cast to a type holding
a struct becomes, for Spark, the struct rebuilt from its fields by name (DuckDB casts
structs by name already).

Example:
    >>> from store.types import Array, Float64, Int64, Map, Struct
    >>> sql_type(Array(Float64)).sql("duckdb"), sql_type(Array(Float64)).sql("spark")
    ('DOUBLE[]', 'ARRAY<DOUBLE>')
    >>> sql_type(Map(Float64)).sql("duckdb"), sql_type(Map(Float64)).sql("spark")
    ('MAP(TEXT, DOUBLE)', 'MAP<STRING, DOUBLE>')
    >>> cast = exp.cast(column("s"), sql_type(Struct({"a": Int64})))
    >>> render(cast, "duckdb")
    'CAST("s" AS STRUCT("a" BIGINT))'
    >>> render(cast, "spark")
    'IF(`s` IS NULL, NULL, STRUCT(CAST(`s`.`a` AS BIGINT) AS `a`))'
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from store.types import Array, DType, MapType, PrimitiveType, Struct

__all__ = [
    "REWRITES",
    "check_dialect",
    "column",
    "epoch_us",
    "identifier",
    "number",
    "render",
    "sql_type",
    "table",
]

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


# --- rendering -------------------------------------------------------------------------------


def render(expression: exp.Expr, dialect: str, *, pretty: bool = False) -> str:
    """``expression`` as SQL text in ``dialect``, after the dialect's rewrites (:data:`REWRITES`);
    the tree itself is left as it was."""
    rewrite = REWRITES.get(dialect)
    tree = expression if rewrite is None else rewrite(expression.copy())
    return tree.sql(dialect=dialect, pretty=pretty)


def casts_by_name(tree: exp.Expr) -> exp.Expr:
    """``tree`` with every cast to a type that holds a struct written so that struct fields
    are matched by name: Spark casts a struct by field position (a Parquet struct whose
    fields are stored in another order would fail, or worse, swap values of one type), so
    the struct is rebuilt from its fields by name, each cast on its own; structs inside
    arrays and map values through ``TRANSFORM`` and ``TRANSFORM_VALUES``. A null struct
    stays null (not a struct of nulls)."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if type(node) is exp.Cast and _holds_struct(node.to):
            return _by_name(node.this, node.to, 0)
        return node

    return tree.transform(rewrite)


def _holds_struct(kind: exp.DataType) -> bool:
    return any(
        isinstance(part, exp.DataType) and part.this == exp.DataType.Type.STRUCT
        for part in kind.walk()
    )


def _by_name(value: exp.Expr, kind: exp.DataType, depth: int) -> exp.Expr:
    """``value`` as ``kind``, structs rebuilt field by field (``depth`` names the lambda
    variables of nested arrays and maps apart)."""
    if not _holds_struct(kind):
        return exp.Cast(this=value, to=kind.copy())
    parts = kind.expressions
    if kind.this == exp.DataType.Type.STRUCT:
        fields = [
            exp.PropertyEQ(
                this=part.this.copy(),
                expression=_by_name(
                    exp.Dot(this=value.copy(), expression=part.this.copy()),
                    part.args["kind"],
                    depth,
                ),
            )
            for part in parts
        ]
        is_null = exp.Is(this=value.copy(), expression=exp.null())
        return exp.If(this=is_null, true=exp.null(), false=exp.Struct(expressions=fields))
    element = identifier(f"__silage_x{depth}")
    if kind.this == exp.DataType.Type.ARRAY:
        body = _by_name(element.copy(), parts[0], depth + 1)
        return exp.Transform(this=value, expression=exp.Lambda(this=body, expressions=[element]))
    # A map: its keys are strings already (Spark has one string type), its values rebuilt.
    assert kind.this == exp.DataType.Type.MAP
    key = identifier(f"__silage_k{depth}")
    body = _by_name(element.copy(), parts[1], depth + 1)
    return exp.func("TRANSFORM_VALUES", value, exp.Lambda(this=body, expressions=[key, element]))


def asof_joins_as_spark_writes_them(tree: exp.Expr) -> exp.Expr:
    """``tree`` with each ``ASOF LEFT JOIN ... ON keys AND t >= u`` (DuckDB's spelling) as
    Spark 4.3 writes it: ``LEFT ASOF JOIN ... MATCH_CONDITION (t >= u) ON keys``."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Join) or str(node.args.get("method") or "").upper() != "ASOF":
            return node
        on = node.args["on"]
        conditions = list(on.flatten()) if isinstance(on, exp.And) else [on]
        ordered = [c for c in conditions if isinstance(c, exp.GTE | exp.GT | exp.LTE | exp.LT)]
        assert len(ordered) == 1, "an as-of join has one inequality"
        keys = [c for c in conditions if c is not ordered[0]]
        joined = node.copy()
        joined.set("method", None)
        joined.set("kind", "ASOF")
        joined.set("match_condition", ordered[0].copy())
        joined.set("on", exp.and_(*[k.copy() for k in keys]))
        return joined

    return tree.transform(rewrite)


def temporary_tables_as_cached_views(tree: exp.Expr) -> exp.Expr:
    """``CREATE TEMPORARY TABLE t AS query`` as Spark's ``CACHE TABLE t AS query``: a
    temporary view whose rows are computed once, when the statement runs (Spark has no
    temporary tables; dropping the view frees the cache)."""
    if not isinstance(tree, exp.Create) or str(tree.args.get("kind")).upper() != "TABLE":
        return tree
    properties = tree.args.get("properties")
    temporary = properties is not None and any(
        isinstance(p, exp.TemporaryProperty) for p in properties.expressions
    )
    if not temporary:
        return tree
    return exp.Cache(this=tree.this.copy(), expression=tree.expression.copy())


def _spark(tree: exp.Expr) -> exp.Expr:
    return temporary_tables_as_cached_views(asof_joins_as_spark_writes_them(casts_by_name(tree)))


# Per dialect, what its SQL needs rewritten before rendering.
REWRITES: dict[str, Callable[[exp.Expr], exp.Expr]] = {"spark": _spark}
