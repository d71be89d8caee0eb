"""Compiling a point-in-time join to SQL (pure: builds a sqlglot tree, touches no database).

For every entity row and every requested view, the join picks the source row with the
same join keys whose event time is the latest at or before the entity row's time, the
later created time breaking ties; when the view has a ttl, a row older than the entity
time minus the ttl does not count (both ends inclusive). No such row gives nulls; a null
value in the chosen row stays null.

The join is written once and rendered two ways, chosen from :data:`RENDERINGS`:

- ``asof`` (DuckDB): one ``ASOF LEFT JOIN`` per view on an ordering key that packs
  (event time, created time) into one HUGEINT, ``event_us * 2**64 + (created_us + 2**63)``.
  The entity side uses the largest low half, so "the greatest key at or below" is exactly
  "the latest event time at or before, then the latest created time", without a separate
  de-duplication pass. A null created time packs as 0: it loses ties to any written time.
  The ttl then nulls a match that is too old: the newest row at or before ``t`` is older than
  ``t - ttl`` exactly when no row lies inside ``[t - ttl, t]``.
- ``window`` (portable SQL): a range join of each entity row with its candidate rows and
  ``row_number()`` over (event time, created time) descending. It fans out over every
  earlier row of a key, so it serves as the reference rendering for other engines.

Times are compared as integer microseconds since the epoch in UTC (``epoch_us``), whatever
the Parquet column's time zone annotation. Entity rows carry ``__silage_row``, their
input position; the result is ordered by it, so every entity row comes back once, in order.

Example:
    >>> from store.types import Float64, Int64
    >>> scan = ViewScan(name="stats", files=("/data/stats.parquet",), timestamp_column="ts",
    ...                 created_column=None, ttl_seconds=None, keys=(("driver_id", Int64),),
    ...                 features=(FeatureColumn("rate", "rate", Float64),))
    >>> sql = compile_point_in_time(PointInTimeQuery(entity_columns=("driver_id",),
    ...                                              views=(scan,)))
    >>> "ASOF LEFT JOIN" in sql
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from store.types import DType, duckdb_type

__all__ = [
    "ENTITY_TABLE",
    "RENDERINGS",
    "ROW_COLUMN",
    "TIMESTAMP_COLUMN",
    "FeatureColumn",
    "PointInTimeQuery",
    "ViewScan",
    "compile_point_in_time",
]

ENTITY_TABLE = "__silage_entities"
ROW_COLUMN = "__silage_row"
TIMESTAMP_COLUMN = "event_timestamp"
_TS = "__silage_ts"
_CREATED = "__silage_created"
_ORDER = "__silage_order"
_TWO_64 = 2**64
_TWO_63 = 2**63


@dataclass(frozen=True, slots=True)
class FeatureColumn:
    """A feature to return: its column after field mapping, its output name and its type."""

    column: str
    output: str
    dtype: DType


@dataclass(frozen=True, slots=True, kw_only=True)
class ViewScan:
    """What the join needs to know of one requested view (names after field mapping)."""

    name: str
    files: tuple[str, ...]
    timestamp_column: str
    created_column: str | None
    ttl_seconds: int | None
    keys: tuple[tuple[str, DType], ...]
    features: tuple[FeatureColumn, ...]
    field_mapping: tuple[tuple[str, str], ...] = ()

    def source_column(self, column: str) -> str:
        """The Parquet column that ``field_mapping`` renames to ``column``."""
        for source, target in self.field_mapping:
            if target == column:
                return source
        return column


@dataclass(frozen=True, slots=True, kw_only=True)
class PointInTimeQuery:
    """A whole request: the entity table's columns (in order) and the views to join.

    ``min_ts_us``/``max_ts_us``: the entity rows' time range, when known; used to skip
    source rows that no entity row can match (Parquet row groups are pruned on them).
    """

    entity_columns: tuple[str, ...]
    views: tuple[ViewScan, ...]
    min_ts_us: int | None = None
    max_ts_us: int | None = None


def _q(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(_q(name), table=_q(table) if table else None)


def _alias(name: str, index: int) -> str:
    return f"v{index}_{name}"


def _epoch_us(column: str) -> exp.Expr:
    """Microseconds since the epoch, UTC. The cast reads naive Parquet timestamps as UTC (the
    connection's zone), costs nothing on zoned ones, and accepts nanosecond columns."""
    return exp.func("epoch_us", exp.cast(_col(column), "TIMESTAMPTZ"))


def _scan(view: ViewScan, query: PointInTimeQuery, *, with_order: bool) -> exp.Select:
    """The source rows of a view: keys, times as microseconds, typed features."""
    epoch = _epoch_us(view.source_column(view.timestamp_column))
    columns: list[exp.Expr] = [
        exp.alias_(exp.cast(_col(view.source_column(k)), duckdb_type(t)), _q(k))
        for k, t in view.keys
    ]
    columns.append(exp.alias_(epoch.copy(), _q(_TS)))
    if view.created_column is not None:
        created = _epoch_us(view.source_column(view.created_column))
        columns.append(exp.alias_(created, _q(_CREATED)))
    else:
        columns.append(exp.alias_(exp.cast(exp.null(), "BIGINT"), _q(_CREATED)))
    if with_order:
        low: exp.Expr = exp.Literal.number(0)
        if view.created_column is not None:
            created = _epoch_us(view.source_column(view.created_column))
            low = exp.func(
                "coalesce",
                exp.Add(this=exp.cast(created, "HUGEINT"), expression=exp.Literal.number(_TWO_63)),
                exp.Literal.number(0),
            )
        order = exp.Add(
            this=exp.Mul(
                this=exp.cast(epoch.copy(), "HUGEINT"), expression=exp.Literal.number(_TWO_64)
            ),
            expression=low,
        )
        columns.append(exp.alias_(order, _q(_ORDER)))
    seen: set[str] = set()
    for feature in view.features:
        if feature.column in seen:
            continue
        seen.add(feature.column)
        columns.append(
            exp.alias_(
                exp.cast(_col(view.source_column(feature.column)), duckdb_type(feature.dtype)),
                _q(feature.column),
            )
        )
    files = exp.Array(expressions=[exp.Literal.string(f) for f in view.files])
    source = exp.Anonymous(
        this="read_parquet",
        expressions=[files, exp.EQ(this=exp.var("union_by_name"), expression=exp.true())],
    )
    select = exp.select(*columns).from_(exp.Table(this=source))
    bounds = _time_bounds(view, query, epoch)
    return select.where(bounds) if bounds is not None else select


def _time_bounds(view: ViewScan, query: PointInTimeQuery, epoch: exp.Expr) -> exp.Expr | None:
    conditions: list[exp.Expr] = []
    if query.max_ts_us is not None:
        conditions.append(
            exp.LTE(this=epoch.copy(), expression=exp.Literal.number(query.max_ts_us))
        )
    if query.min_ts_us is not None and view.ttl_seconds:
        lowest = query.min_ts_us - view.ttl_seconds * 1_000_000
        conditions.append(exp.GTE(this=epoch.copy(), expression=exp.Literal.number(lowest)))
    return exp.and_(*conditions) if conditions else None


def _within_ttl(view: ViewScan, feature_table: str) -> exp.Expr:
    """The chosen row is inside the ttl window (true when the view has no ttl)."""
    if not view.ttl_seconds:
        return exp.true()
    return exp.GTE(
        this=_col(_TS, feature_table),
        expression=exp.Sub(
            this=_col(_TS, "e"), expression=exp.Literal.number(view.ttl_seconds * 1_000_000)
        ),
    )


def _keys_match(view: ViewScan, left: str, right: str) -> list[exp.Expr]:
    return [exp.EQ(this=_col(k, left), expression=_col(k, right)) for k, _ in view.keys]


def _entity_cte(query: PointInTimeQuery, *, with_order: bool) -> exp.Select:
    epoch = exp.func("epoch_us", _col(TIMESTAMP_COLUMN))
    columns: list[exp.Expr] = [exp.Star(), exp.alias_(epoch.copy(), _q(_TS))]
    if with_order:
        top = exp.Add(
            this=exp.Mul(this=exp.cast(epoch, "HUGEINT"), expression=exp.Literal.number(_TWO_64)),
            expression=exp.Literal.number(_TWO_64 - 1),
        )
        columns.append(exp.alias_(top, _q(_ORDER)))
    return exp.select(*columns).from_(exp.Table(this=_q(ENTITY_TABLE)))


def _feature_outputs(view: ViewScan, table: str, *, ttl: bool) -> list[exp.Expr]:
    condition = _within_ttl(view, table) if ttl else exp.true()
    outputs: list[exp.Expr] = []
    for feature in view.features:
        value: exp.Expr = _col(feature.column, table)
        if not isinstance(condition, exp.Boolean):
            value = exp.Case(ifs=[exp.If(this=condition.copy(), true=value)])
        outputs.append(exp.alias_(value, _q(feature.output)))
    return outputs


def _render_asof(query: PointInTimeQuery) -> exp.Select:
    select = exp.select(*[_col(c, "e") for c in query.entity_columns])
    for index, view in enumerate(query.views):
        select = select.select(
            *_feature_outputs(view, _alias(view.name, index), ttl=True), append=True
        )
    select = select.from_(exp.Table(this=_q("e"))).with_(
        _q("e"), as_=_entity_cte(query, with_order=True)
    )
    for index, view in enumerate(query.views):
        alias = _alias(view.name, index)
        select = select.with_(_q(alias), as_=_scan(view, query, with_order=True))
        on = exp.and_(
            *_keys_match(view, "e", alias),
            exp.GTE(this=_col(_ORDER, "e"), expression=_col(_ORDER, alias)),
        )
        select = select.join(exp.Table(this=_q(alias)), on=on, join_type="asof left")
    return select.order_by(_col(ROW_COLUMN, "e"))


def _render_window(query: PointInTimeQuery) -> exp.Select:
    select = exp.select(*[_col(c, "e") for c in query.entity_columns])
    select = select.from_(exp.Table(this=_q("e"))).with_(
        _q("e"), as_=_entity_cte(query, with_order=False)
    )
    for index, view in enumerate(query.views):
        alias = _alias(view.name, index)
        source = f"{alias}_src"
        select = select.with_(_q(source), as_=_scan(view, query, with_order=False))
        rank = exp.Window(
            this=exp.RowNumber(),
            partition_by=[_col(ROW_COLUMN, "e")],
            order=exp.Order(
                expressions=[
                    exp.Ordered(this=_col(_TS, "f"), desc=True, nulls_first=False),
                    exp.Ordered(this=_col(_CREATED, "f"), desc=True, nulls_first=False),
                ]
            ),
        )
        in_window = [
            *_keys_match(view, "e", "f"),
            exp.LTE(this=_col(_TS, "f"), expression=_col(_TS, "e")),
        ]
        if view.ttl_seconds:
            in_window.append(_within_ttl(view, "f"))
        candidates = (
            exp.select(
                _col(ROW_COLUMN, "e"),
                *[_col(f.column, "f") for f in _unique_columns(view)],
                exp.alias_(rank, _q("__silage_rank")),
            )
            .from_(exp.Table(this=_q("e")))
            .join(
                exp.Table(this=_q(source), alias=exp.TableAlias(this=_q("f"))),
                on=exp.and_(*in_window),
            )
        )
        select = select.with_(_q(alias), as_=candidates)
        select = select.select(*_feature_outputs(view, alias, ttl=False), append=True)
        select = select.join(
            exp.Table(this=_q(alias)),
            on=exp.and_(
                exp.EQ(this=_col(ROW_COLUMN, alias), expression=_col(ROW_COLUMN, "e")),
                exp.EQ(this=_col("__silage_rank", alias), expression=exp.Literal.number(1)),
            ),
            join_type="left",
        )
    return select.order_by(_col(ROW_COLUMN, "e"))


def _unique_columns(view: ViewScan) -> list[FeatureColumn]:
    seen: dict[str, FeatureColumn] = {}
    for feature in view.features:
        seen.setdefault(feature.column, feature)
    return list(seen.values())


RENDERINGS: dict[str, Callable[[PointInTimeQuery], exp.Select]] = {
    "asof": _render_asof,
    "window": _render_window,
}


def compile_point_in_time(
    query: PointInTimeQuery, *, rendering: str = "asof", pretty: bool = False
) -> str:
    """The SQL of a point-in-time join, in DuckDB's dialect.

    Args:
        query: the entity columns and the views to join.
        rendering: ``"asof"`` (fast, DuckDB) or ``"window"`` (portable window functions).
        pretty: format over several lines, for reading and golden files.

    Raises:
        ValueError: an unknown rendering.
    """
    try:
        render = RENDERINGS[rendering]
    except KeyError:
        raise ValueError(
            f"unknown rendering {rendering!r}; choose one of {', '.join(RENDERINGS)}"
        ) from None
    tree = render(query)
    return tree.sql(dialect="duckdb", pretty=pretty)


def parse(sql: str) -> exp.Expr:
    """Parse DuckDB SQL (used to check that an entity query is a query)."""
    return sqlglot.parse_one(sql, read="duckdb")
