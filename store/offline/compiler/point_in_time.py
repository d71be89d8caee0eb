r"""Compiling a point-in-time join to SQL (pure: builds sqlglot trees, touches no database).

For every entity row and every requested view, the join picks the source row with the
same join keys whose event time is the latest at or before the entity row's time, the
later created time breaking ties (a missing created time loses to any); when the view has
a ttl, a row older than the entity time minus the ttl does not count (both ends
inclusive). No such row gives nulls; a null value in the chosen row stays null. Rows equal
in keys, event time and created time are interchangeable: which one is returned is not
specified.

The join is written once and rendered three ways, chosen from :data:`RENDERINGS`:

- ``asof`` (DuckDB, fast; Spark 4.3 behind its flag, spelled there by the rewrites of
  :mod:`.sql`: ``LEFT ASOF JOIN ... MATCH_CONDITION`` and ``CACHE TABLE``): two statements.
  1. ``CREATE TEMP TABLE __silage_matches``: one narrow ``ASOF LEFT JOIN`` per view on the
     event time (a BIGINT) finds, for each entity row, the matching event time, or null
     when there is none inside the ttl. The newest row at or before ``t`` is older than
     ``t - ttl`` exactly when no row lies in ``[t - ttl, t]``, so the ttl is a test on the
     match. Views without a created column carry their features through this join directly.
  2. For views with a created column, the source rows at exactly the matched (keys, event
     time) are joined back (a hash join whose build side is the matches) and
     ``arg_max(features, created)`` picks the latest write among tied rows.
  Splitting the work keeps the sort inside the ASOF join narrow (keys and a BIGINT) and
  lets DuckDB free it before the second step: on 10M source rows this halves peak memory
  against carrying a packed (event, created) key and every feature through one ASOF join.
  For a view with a ttl whose source is sparse per key per ttl window (``bucketed``, chosen
  by ``retrieval`` from Parquet footers), there is no ASOF join: each entity row meets the
  source rows of its ttl-wide time bucket and the previous one in a hash join, and
  ``arg_max`` over (event time, created time) picks the answer inside the ttl window.
- ``window`` (standard SQL, one statement): a range join of each entity row with its
  candidate rows and ``row_number()`` over (event time, created time) descending. It fans
  out over every earlier row of a key; being plain SQL, it is the rendering to bring up
  first on a new engine.
- ``carry`` (Spark, no range join): entity and source rows in one time line per key and
  time bucket, the last source row carried forward by a window. Partitioning by bucket as
  well as key spreads a hot key over many tasks; with a ttl each entity row also looks in
  the previous ttl-wide bucket; without one, only keys with more than
  :data:`HOT_KEY_ROWS` source rows are cut into buckets, and each bucket's last row is
  carried across buckets by a second window over the entity rows and those few rows. The
  hot keys are given (``ViewScan.hot_keys``, estimated before compiling) or counted by the
  query; when none can be hot, each key is one time line with no bucket.

Sources are read as tables named after their views (``__silage_source_<view>``, see
:mod:`.query`); the engine maps them to their Parquet files. Times are compared as integer
microseconds since the epoch in UTC (``epoch_us``), whatever the Parquet column's zone
annotation or unit. Entity rows carry ``__silage_row``, their
input position; results are ordered by it, so every entity row comes back once, in order.

Example:
    >>> from store.types import Float64, Int64
    >>> scan = ViewScan(name="stats", files=("/data/stats.parquet",), timestamp_column="ts",
    ...                 created_column=None, ttl_seconds=None, keys=(("driver_id", Int64),),
    ...                 features=(FeatureColumn("rate", "rate", Float64),))
    >>> compiled = compile_point_in_time(PointInTimeQuery(entity_columns=(), views=(scan,)))
    >>> len(compiled.setup), "ASOF LEFT JOIN" in compiled.setup[0]
    (1, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from store.offline.compiler.labels import LabelResolution, raw_table_name, resolved_history
from store.offline.compiler.query import (
    ENTITY_TABLE,
    ROW_COLUMN,
    TIMESTAMP_COLUMN,
    CompiledQuery,
    SourceTable,
    SparkRead,
    source_table_name,
)
from store.offline.compiler.sql import column as _col
from store.offline.compiler.sql import epoch_us as _epoch_us
from store.offline.compiler.sql import identifier as _q
from store.offline.compiler.sql import number as _number
from store.offline.compiler.sql import render, sql_type
from store.offline.compiler.sql import table as _table
from store.types import DType

__all__ = [
    "MATCHES_TABLE",
    "RENDERINGS",
    "FeatureColumn",
    "PointInTimeQuery",
    "Rendering",
    "ViewScan",
    "compile_point_in_time",
]

MATCHES_TABLE = "__silage_matches"
_TS = "__silage_ts"
_CREATED = "__silage_created"
_RANK = "__silage_rank"
_VALUES = "__silage_values"
_BUCKET = "__silage_bucket"
# The smallest BIGINT but one: a missing created time, older than any written one.
_NO_CREATED = -(2**63) + 1


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
    bucketed: bool = False
    # A label view whose conflicts resolve before the join (see :mod:`.labels`).
    labels: LabelResolution | None = None
    spark: SparkRead | None = None
    # Without a ttl, the keys the carry plan cuts into time buckets, when they are known
    # before the query runs (``retrieval`` estimates them from a sample of the Parquet
    # files): () means no key can be hot, so no bucket and no count. None: the query counts
    # rows per key itself. Any value gives the same answers; it only shapes the plan.
    hot_keys: tuple[tuple[int | str, ...], ...] | None = None

    @property
    def source_table(self) -> SourceTable:
        """The table compiled SQL reads the view's rows from, and what is behind it."""
        return SourceTable(source_table_name(self.name), self.files, self.spark)

    def source_column(self, column: str) -> str:
        """The Parquet column that ``field_mapping`` renames to ``column``."""
        for source, target in self.field_mapping:
            if target == column:
                return source
        return column


@dataclass(frozen=True, slots=True, kw_only=True)
class PointInTimeQuery:
    """A whole request: the entity columns to return (in order) and the views to join.

    ``min_ts_us``/``max_ts_us``: the entity rows' time range, when known; source rows that
    no entity row can match are skipped early.
    """

    entity_columns: tuple[str, ...]
    views: tuple[ViewScan, ...]
    min_ts_us: int | None = None
    max_ts_us: int | None = None


# --- small builders --------------------------------------------------------------------------


def _alias(view: ViewScan, index: int) -> str:
    return f"v{index}_{view.name}"


def _match_column(index: int) -> str:
    return f"__silage_match_{index}"


def _unique_columns(view: ViewScan) -> list[FeatureColumn]:
    seen: dict[str, FeatureColumn] = {}
    for feature in view.features:
        seen.setdefault(feature.column, feature)
    return list(seen.values())


# --- pieces shared by both renderings ------------------------------------------------------


def _scan(
    view: ViewScan,
    query: PointInTimeQuery,
    *,
    created: bool,
    features: bool,
    bucket: bool = False,
) -> exp.Select:
    """A view's source rows: typed keys, the event time in microseconds, and optionally the
    created time and the typed features, skipping rows outside the entity rows' reach."""
    columns: list[exp.Expr] = [
        exp.alias_(exp.cast(_col(view.source_column(k)), sql_type(t)), _q(k)) for k, t in view.keys
    ]
    columns.append(exp.alias_(_epoch_us(view.source_column(view.timestamp_column)), _q(_TS)))
    if created:
        value = (
            _epoch_us(view.source_column(view.created_column))
            if view.created_column is not None
            else exp.cast(exp.null(), "BIGINT")
        )
        columns.append(exp.alias_(value, _q(_CREATED)))
    if features:
        columns.extend(
            exp.alias_(
                exp.cast(_col(view.source_column(f.column)), sql_type(f.dtype)), _q(f.column)
            )
            for f in _unique_columns(view)
        )
    if bucket:
        columns.append(
            exp.alias_(
                _bucket_of(_epoch_us(view.source_column(view.timestamp_column)), view), _q(_BUCKET)
            )
        )
    select = exp.select(*columns).from_(_table(source_table_name(view.name)))
    bounds = _time_bounds(view, query)
    return select.where(bounds) if bounds is not None else select


def _time_bounds(view: ViewScan, query: PointInTimeQuery) -> exp.Expr | None:
    epoch = _epoch_us(view.source_column(view.timestamp_column))
    conditions: list[exp.Expr] = []
    if query.max_ts_us is not None:
        conditions.append(exp.LTE(this=epoch.copy(), expression=_number(query.max_ts_us)))
    if query.min_ts_us is not None and view.ttl_seconds:
        lowest = query.min_ts_us - view.ttl_seconds * 1_000_000
        conditions.append(exp.GTE(this=epoch.copy(), expression=_number(lowest)))
    return exp.and_(*conditions) if conditions else None


def _bucket_of(epoch: exp.Expr, view: ViewScan) -> exp.Expr:
    """The ttl-wide time bucket of a time. DuckDB's ``//`` truncates toward zero, so buckets
    are at least one ttl wide everywhere and ``[t - ttl, t]`` always lies in ``t``'s bucket
    or the one before."""
    assert view.ttl_seconds
    return exp.IntDiv(this=epoch, expression=_number(view.ttl_seconds * 1_000_000))


def _bucketed_latest(view: ViewScan, query: PointInTimeQuery) -> exp.Select:
    """The latest write per entity row for a view with a ttl, without an ASOF join: entity
    rows meet the source rows of their own time bucket and the one before (a hash join),
    the ttl window filters them, and ``arg_max`` over (event time, created time) picks one.
    Chosen when few source rows per key fall in a ttl window (see ``retrieval``)."""
    entity_columns = [_col(ROW_COLUMN), *[_col(k) for k, _ in view.keys]]
    epoch = exp.UnixMicros(this=_col(TIMESTAMP_COLUMN))

    def side(offset: int) -> exp.Select:
        bucket: exp.Expr = _bucket_of(epoch.copy(), view)
        if offset:
            bucket = exp.Sub(this=bucket, expression=_number(offset))
        return exp.select(
            *[c.copy() for c in entity_columns],
            exp.alias_(epoch.copy(), _q(_TS)),
            exp.alias_(bucket, _q(_BUCKET)),
        ).from_(_table(ENTITY_TABLE))

    entities = exp.union(side(0), side(1), distinct=False)
    values = exp.Struct(
        expressions=[
            exp.PropertyEQ(this=_q(f.column), expression=_col(f.column, "f"))
            for f in _unique_columns(view)
        ]
    )
    order = exp.Struct(
        expressions=[
            exp.PropertyEQ(this=_q("t"), expression=_col(_TS, "f")),
            exp.PropertyEQ(
                this=_q("c"),
                expression=exp.func("coalesce", _col(_CREATED, "f"), _number(_NO_CREATED)),
            ),
        ]
    )
    within = _within_ttl(view, "f")
    assert within is not None
    return (
        exp.select(
            _col(ROW_COLUMN, "e"), exp.alias_(exp.func("arg_max", values, order), _q(_VALUES))
        )
        .from_(exp.Subquery(this=entities, alias=exp.TableAlias(this=_q("e"))))
        .join(
            exp.Subquery(
                this=_scan(view, query, created=True, features=True, bucket=True),
                alias=exp.TableAlias(this=_q("f")),
            ),
            on=exp.and_(
                *_keys_match(view, "e", "f"),
                exp.EQ(this=_col(_BUCKET, "f"), expression=_col(_BUCKET, "e")),
            ),
        )
        .where(exp.and_(exp.LTE(this=_col(_TS, "f"), expression=_col(_TS, "e")), within))
        .group_by(_col(ROW_COLUMN, "e"))
    )


def _within_ttl(view: ViewScan, feature_table: str) -> exp.Expr | None:
    """The chosen row is inside the ttl window; None when the view has no ttl."""
    if not view.ttl_seconds:
        return None
    oldest = exp.Sub(this=_col(_TS, "e"), expression=_number(view.ttl_seconds * 1_000_000))
    return exp.GTE(this=_col(_TS, feature_table), expression=oldest)


def _when(condition: exp.Expr | None, value: exp.Expr) -> exp.Expr:
    return value if condition is None else exp.Case(ifs=[exp.If(this=condition, true=value)])


def _keys_match(view: ViewScan, left: str, right: str) -> list[exp.Expr]:
    return [exp.EQ(this=_col(k, left), expression=_col(k, right)) for k, _ in view.keys]


def _entities(query: PointInTimeQuery) -> exp.Select:
    epoch = exp.UnixMicros(this=_col(TIMESTAMP_COLUMN))
    return exp.select(exp.Star(), exp.alias_(epoch, _q(_TS))).from_(_table(ENTITY_TABLE))


# --- asof: narrow ASOF matches, then the latest write among ties ---------------------------


def _render_asof(query: PointInTimeQuery) -> tuple[tuple[exp.Expr, ...], exp.Select]:
    keys: dict[str, None] = {}
    matches = exp.select(_col(ROW_COLUMN, "e"))
    asof_views = [(i, v) for i, v in enumerate(query.views) if not _is_bucketed(v)]
    for index, view in asof_views:
        alias = _alias(view, index)
        if view.created_column is None:
            # No tie to break: the ASOF join's match is the answer; features ride along.
            within = _within_ttl(view, alias)
            matches = matches.select(
                *[
                    exp.alias_(_when(within, _col(f.column, alias)), _q(f.output))
                    for f in view.features
                ],
                append=True,
            )
        else:
            keys.update((k, None) for k, _ in view.keys)
            match = _when(_within_ttl(view, alias), _col(_TS, alias))
            matches = matches.select(exp.alias_(match, _q(_match_column(index))), append=True)
    matches = matches.select(*[_col(k, "e") for k in keys], append=True)
    matches = matches.from_(exp.Table(this=_q("e"))).with_(_q("e"), as_=_entities(query))
    for index, view in asof_views:
        alias = _alias(view, index)
        scan = _scan(view, query, created=False, features=view.created_column is None)
        matches = matches.with_(_q(alias), as_=scan)
        on = exp.and_(
            *_keys_match(view, "e", alias),
            exp.GTE(this=_col(_TS, "e"), expression=_col(_TS, alias)),
        )
        matches = matches.join(exp.Table(this=_q(alias)), on=on, join_type="asof left")
    create = exp.Create(
        this=_table(MATCHES_TABLE),
        kind="TABLE",
        expression=matches,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )

    result = exp.select(*[_col(c, "e") for c in query.entity_columns])
    for index, view in enumerate(query.views):
        if view.created_column is None and not _is_bucketed(view):
            result = result.select(
                *[exp.alias_(_col(f.output, "m"), _q(f.output)) for f in view.features],
                append=True,
            )
            continue
        latest = f"p{index}_{view.name}"
        if _is_bucketed(view):
            result = result.with_(_q(latest), as_=_bucketed_latest(view, query))
            result = result.select(*_extracted(view, latest), append=True)
            continue
        values = exp.Struct(
            expressions=[
                exp.PropertyEQ(this=_q(f.column), expression=_col(f.column, "s"))
                for f in _unique_columns(view)
            ]
        )
        newest_write = exp.func("coalesce", _col(_CREATED, "s"), _number(_NO_CREATED))
        tied = (
            exp.select(
                _col(ROW_COLUMN, "m"),
                exp.alias_(exp.func("arg_max", values, newest_write), _q(_VALUES)),
            )
            .from_(_table(MATCHES_TABLE, "m"))
            .join(
                exp.Subquery(
                    this=_scan(view, query, created=True, features=True),
                    alias=exp.TableAlias(this=_q("s")),
                ),
                on=exp.and_(
                    *_keys_match(view, "m", "s"),
                    exp.EQ(this=_col(_TS, "s"), expression=_col(_match_column(index), "m")),
                ),
            )
            .group_by(_col(ROW_COLUMN, "m"))
        )
        result = result.with_(_q(latest), as_=tied)
        result = result.select(*_extracted(view, latest), append=True)
    result = result.from_(_table(MATCHES_TABLE, "m"))
    if query.entity_columns:
        result = result.join(
            _table(ENTITY_TABLE, "e"),
            on=exp.EQ(this=_col(ROW_COLUMN, "e"), expression=_col(ROW_COLUMN, "m")),
        )
    for index, view in enumerate(query.views):
        if view.created_column is not None or _is_bucketed(view):
            latest = f"p{index}_{view.name}"
            result = result.join(
                exp.Table(this=_q(latest)),
                on=exp.EQ(this=_col(ROW_COLUMN, latest), expression=_col(ROW_COLUMN, "m")),
                join_type="left",
            )
    return (create,), result.order_by(_col(ROW_COLUMN, "m"))


def _is_bucketed(view: ViewScan) -> bool:
    return view.bucketed and bool(view.ttl_seconds)


def _extracted(view: ViewScan, latest: str) -> list[exp.Expr]:
    return [
        exp.alias_(
            exp.StructExtract(this=_col(_VALUES, latest), expression=exp.Literal.string(f.column)),
            _q(f.output),
        )
        for f in view.features
    ]


# --- window: a portable range join ranked by row_number() ----------------------------------


def _render_window(query: PointInTimeQuery) -> tuple[tuple[exp.Expr, ...], exp.Select]:
    select = exp.select(*[_col(c, "e") for c in query.entity_columns])
    select = select.from_(exp.Table(this=_q("e"))).with_(_q("e"), as_=_entities(query))
    for index, view in enumerate(query.views):
        alias = _alias(view, index)
        source = f"{alias}_src"
        select = select.with_(_q(source), as_=_scan(view, query, created=True, features=True))
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
        within = _within_ttl(view, "f")
        if within is not None:
            in_window.append(within)
        candidates = (
            exp.select(
                _col(ROW_COLUMN, "e"),
                *[_col(f.column, "f") for f in _unique_columns(view)],
                exp.alias_(rank, _q(_RANK)),
            )
            .from_(exp.Table(this=_q("e")))
            .join(_table(source, "f"), on=exp.and_(*in_window))
        )
        select = select.with_(_q(alias), as_=candidates)
        select = select.select(
            *[exp.alias_(_col(f.column, alias), _q(f.output)) for f in view.features], append=True
        )
        select = select.join(
            exp.Table(this=_q(alias)),
            on=exp.and_(
                exp.EQ(this=_col(ROW_COLUMN, alias), expression=_col(ROW_COLUMN, "e")),
                exp.EQ(this=_col(_RANK, alias), expression=exp.Literal.number(1)),
            ),
            join_type="left",
        )
    return (), select.order_by(_col(ROW_COLUMN, "e"))


# --- carry: entity and source rows in one time line, the last write carried forward ---------


_SIDE = "__silage_side"
_ORDER = "__silage_order"
_CARRIED = "__silage_carried"
_LAST = "__silage_last"
_TAIL = "__silage_tail"
# Without a ttl, a key with more source rows than this is hot: its time line is cut into
# time buckets (one task each); other keys keep one time line each, as one task handles
# that many rows quickly and splitting them would only add work.
HOT_KEY_ROWS = 100_000
# Without a ttl, a hot key's time line is cut into about this many buckets over the entity
# rows' time range, so that its rows spread over that many tasks.
_CARRY_BUCKETS = 64
# The bucket width when the entity rows' time range is unknown, and the narrowest one.
_DAY_US = 86_400 * 1_000_000
_SECOND_US = 1_000_000


def _carry_bucket_us(query: PointInTimeQuery) -> int:
    """The width of the carry plan's time buckets for hot keys of views without a ttl: the
    entity rows' time range over :data:`_CARRY_BUCKETS` (at least a second), or a day when
    unknown. Any width gives the same answers; it only decides how a key's work is split."""
    if query.min_ts_us is None or query.max_ts_us is None:
        return _DAY_US
    return max(-(-(query.max_ts_us - query.min_ts_us + 1) // _CARRY_BUCKETS), _SECOND_US)


def _hot_key(index: int) -> str:
    return f"__silage_hot_{index}"


def _hot_keys(view: ViewScan, query: PointInTimeQuery) -> exp.Select:
    """Without a ttl: the keys with more than :data:`HOT_KEY_ROWS` source rows, under
    ``__silage_hot_<i>``. A count per key, aggregated before its shuffle: a few rows per key
    and task cross the network, and the result is small enough to broadcast."""
    keys = [k for k, _ in view.keys]
    scan = _scan(view, query, created=False, features=False)
    return (
        exp.select(*[exp.alias_(_col(k), _q(_hot_key(i))) for i, k in enumerate(keys)])
        .from_(exp.Subquery(this=scan, alias=exp.TableAlias(this=_q("s"))))
        .group_by(*[_col(k) for k in keys])
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=_number(HOT_KEY_ROWS)))
    )


def _one_time_line(view: ViewScan) -> bool:
    """Without a ttl and with no hot key (known before the query runs): each key's rows form
    one time line, with no bucket and nothing to carry across buckets."""
    return not view.ttl_seconds and view.hot_keys == ()


def _literal(value: int | str) -> exp.Expr:
    return exp.Literal.string(value) if isinstance(value, str) else _number(value)


def _is_given_hot_key(view: ViewScan) -> exp.Expr:
    """The row's keys are one of ``view.hot_keys`` (given as literals)."""
    assert view.hot_keys
    keys = [k for k, _ in view.keys]
    if len(keys) == 1:
        return exp.In(this=_col(keys[0]), expressions=[_literal(h[0]) for h in view.hot_keys])
    return exp.or_(
        *[
            exp.and_(
                *[
                    exp.EQ(this=_col(k), expression=_literal(v))
                    for k, v in zip(keys, hot, strict=True)
                ]
            )
            for hot in view.hot_keys
        ]
    )


def _with_hot_bucket(
    select: exp.Select, view: ViewScan, query: PointInTimeQuery, hot: str
) -> exp.Select:
    """``select`` (rows with keys and ``__silage_ts``) with its time bucket: for a hot key
    (those given in ``view.hot_keys``, or else those :func:`_hot_keys` counts, broadcast to
    every task) the time divided by :func:`_carry_bucket_us`, for any other key null (one
    bucket). Integer division is monotone in time, which is all the plan needs: a later
    bucket never holds an earlier time."""
    keys = [k for k, _ in view.keys]
    is_hot: exp.Expr = (
        _is_given_hot_key(view)
        if view.hot_keys
        else exp.Not(this=exp.Is(this=_col(_hot_key(0)), expression=exp.null()))
    )
    bucket = exp.Case(
        ifs=[
            exp.If(
                this=is_hot,
                true=exp.IntDiv(this=_col(_TS), expression=_number(_carry_bucket_us(query))),
            )
        ]
    )
    bucketed = select.select(exp.alias_(bucket, _q(_BUCKET)), append=True)
    if view.hot_keys:
        return bucketed
    joined = bucketed.join(
        exp.Table(this=_q(hot)),
        on=exp.and_(
            *[exp.EQ(this=_col(k), expression=_col(_hot_key(i))) for i, k in enumerate(keys)]
        ),
        join_type="left",
    )
    hint = exp.JoinHint(this="BROADCAST", expressions=[exp.Table(this=_q(hot))])
    joined.set("hint", exp.Hint(expressions=[hint]))
    return joined


def _carry_union(view: ViewScan, query: PointInTimeQuery, hot: str) -> exp.Expr:
    """Source rows (side 0) and entity rows (side 1) of one view in one relation: keys, time,
    the time bucket, the entity row number, the write order, and the source row's values
    packed in one struct (null on entity rows). With a ttl each entity row
    also goes into the previous bucket, so its whole window ``[t - ttl, t]`` is covered by
    the two copies (the copy in the previous bucket sorts after all of that bucket's source
    rows): the window below is per key and bucket, and a hot key's rows spread over as many
    tasks as it has buckets. Doubling the entity rows rather than the source rows keeps
    the sorted time line short (source rows are usually many more). Without a ttl each row
    is in one bucket, and :func:`_carry_latest` carries values across buckets."""
    ttl = bool(view.ttl_seconds)
    keys = [k for k, _ in view.keys]
    values = exp.Struct(
        expressions=[
            exp.PropertyEQ(this=_q(_TS), expression=_col(_TS)),
            *[
                exp.PropertyEQ(this=_q(f.column), expression=_col(f.column))
                for f in _unique_columns(view)
            ],
        ]
    )
    order = exp.func("coalesce", _col(_CREATED), _number(_NO_CREATED))

    source: list[exp.Expr] = [_col(k) for k in keys]
    source.append(_col(_TS))
    if ttl:
        source.append(exp.alias_(_bucket_of(_col(_TS), view), _q(_BUCKET)))
    source += [
        exp.alias_(exp.cast(exp.null(), "BIGINT"), _q(ROW_COLUMN)),
        exp.alias_(_number(0), _q(_SIDE)),
        exp.alias_(order, _q(_ORDER)),
        exp.alias_(values, _q(_VALUES)),
    ]
    scan = _scan(view, query, created=True, features=True)
    rows = exp.select(*source).from_(exp.Subquery(this=scan, alias=exp.TableAlias(this=_q("s"))))
    bucketed = not ttl and not _one_time_line(view)
    if bucketed:
        rows = _with_hot_bucket(rows, view, query, hot)

    entity_columns: list[exp.Expr] = [_col(k) for k in keys]
    entity_columns.append(_col(_TS))
    if ttl:
        # Each entity row in its own bucket and the previous one, doubled by the generator.
        bucket = _bucket_of(_col(_TS), view)
        both = exp.Array(expressions=[bucket, exp.Sub(this=bucket.copy(), expression=_number(1))])
        entity_columns.append(exp.alias_(exp.Explode(this=both), _q(_BUCKET)))
    entity_columns += [
        _col(ROW_COLUMN),
        exp.alias_(_number(1), _q(_SIDE)),
        exp.alias_(exp.cast(exp.null(), "BIGINT"), _q(_ORDER)),
        exp.alias_(exp.null(), _q(_VALUES)),
    ]
    entities = exp.select(*entity_columns).from_(exp.Table(this=_q("e")))
    if bucketed:
        entities = _with_hot_bucket(entities, view, query, hot)
    return exp.union(rows, entities, distinct=False)


def _carry_latest(view: ViewScan, union: str, alias: str) -> list[tuple[str, exp.Select]]:
    """Per entity row, the newest source row at or before it: the last non-null values
    struct over the key's time line, cut into time buckets, source rows sorting before entity
    rows at the same time and by write order among themselves.

    The window runs per key and bucket, so a hot key's rows spread over as many tasks as it
    has buckets. With a ttl, an entity row's two copies (its bucket and the one before) are
    merged: the newer of the two carried rows (they come from different buckets, so their
    times differ). Without a ttl, only hot keys have buckets, and a value can come from an
    earlier bucket: see :func:`_carried_across_buckets`.

    Without a ttl and with no hot key at all, each key is one time line: no bucket.

    Returns the named steps (common table expressions) in order; the last one, named
    ``alias``, has each entity row's number, time and carried values struct."""
    partition: list[exp.Expr] = [_col(k) for k, _ in view.keys]
    if not _one_time_line(view):
        partition.append(_col(_BUCKET))
    order = exp.Order(
        expressions=[
            exp.Ordered(this=_col(_TS), desc=False, nulls_first=True),
            exp.Ordered(this=_col(_SIDE), desc=False, nulls_first=True),
            exp.Ordered(this=_col(_ORDER), desc=False, nulls_first=True),
        ]
    )
    window = exp.Window(
        this=exp.IgnoreNulls(this=exp.LastValue(this=_col(_VALUES))),
        partition_by=partition,
        order=order,
        spec=exp.WindowSpec(
            kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"
        ),
    )
    if not view.ttl_seconds and not _one_time_line(view):
        return _carried_across_buckets(view, union, alias, window)
    carried = exp.select(
        _col(ROW_COLUMN), _col(_TS), _col(_SIDE), exp.alias_(window, _q(_CARRIED))
    ).from_(exp.Table(this=_q(union)))
    entity_rows = (
        exp.select(_col(ROW_COLUMN), _col(_TS), _col(_CARRIED))
        .from_(exp.Subquery(this=carried, alias=exp.TableAlias(this=_q("w"))))
        .where(exp.EQ(this=_col(_SIDE), expression=_number(1)))
    )
    if _one_time_line(view):
        return [(alias, entity_rows)]
    newest = exp.ArgMax(this=_col(_CARRIED), expression=_field(_col(_CARRIED), _TS))
    merged = (
        exp.select(
            _col(ROW_COLUMN),
            exp.alias_(exp.Max(this=_col(_TS)), _q(_TS)),
            exp.alias_(newest, _q(_CARRIED)),
        )
        .from_(exp.Subquery(this=entity_rows, alias=exp.TableAlias(this=_q("c"))))
        .group_by(_col(ROW_COLUMN))
    )
    return [(alias, merged)]


def _carried_across_buckets(
    view: ViewScan, union: str, alias: str, window: exp.Window
) -> list[tuple[str, exp.Select]]:
    """Without a ttl: the window per (key, bucket) also marks each bucket's last row, whose
    carried value is the bucket's newest source row (its tail). The entity rows and the hot
    keys' tails (one row per bucket: a cold key has one bucket, no tail to pass on) then go
    through a second window per key, ordered by bucket with each tail last in its bucket:
    the last tail strictly before an entity row is the newest source row of the earlier
    buckets, which an entity row takes when its own bucket has nothing before it. Only
    entity rows and tails are shuffled for it, never the source rows."""
    keys = [_col(k) for k, _ in view.keys]
    partition = [*[k.copy() for k in keys], _col(_BUCKET)]
    last = exp.Is(
        this=exp.Window(
            this=exp.func("LEAD", _col(_SIDE)),
            partition_by=partition,
            order=window.args["order"].copy(),
        ),
        expression=exp.null(),
    )
    carried = exp.select(
        *keys,
        _col(_BUCKET),
        _col(ROW_COLUMN),
        _col(_TS),
        _col(_SIDE),
        exp.alias_(window, _q(_CARRIED)),
        exp.alias_(last, _q(_LAST)),
    ).from_(exp.Table(this=_q(union)))
    hot_tail = exp.and_(
        _col(_LAST), exp.Not(this=exp.Is(this=_col(_BUCKET), expression=exp.null()))
    )
    kept = (
        exp.select(
            *[k.copy() for k in keys],
            _col(_BUCKET),
            _col(ROW_COLUMN),
            _col(_TS),
            _col(_SIDE),
            _col(_CARRIED),
            exp.alias_(hot_tail.copy(), _q(_LAST)),
        )
        .from_(exp.Subquery(this=carried, alias=exp.TableAlias(this=_q("w"))))
        .where(exp.or_(exp.EQ(this=_col(_SIDE), expression=_number(1)), hot_tail))
    )
    tail = exp.Case(ifs=[exp.If(this=_col(_LAST), true=_col(_CARRIED))])
    before = exp.Window(
        this=exp.IgnoreNulls(this=exp.LastValue(this=tail)),
        partition_by=[k.copy() for k in keys],
        order=exp.Order(
            expressions=[
                exp.Ordered(this=_col(_BUCKET), desc=False, nulls_first=True),
                # A bucket's tail after its entity rows: it is not "before" its own bucket.
                exp.Ordered(this=_col(_LAST), desc=False, nulls_first=True),
            ]
        ),
        spec=exp.WindowSpec(
            kind="ROWS",
            start="UNBOUNDED",
            start_side="PRECEDING",
            end=_number(1),
            end_side="PRECEDING",
        ),
    )
    across = exp.select(
        _col(ROW_COLUMN),
        _col(_TS),
        _col(_SIDE),
        exp.alias_(exp.func("coalesce", _col(_CARRIED), before), _q(_CARRIED)),
    ).from_(exp.Table(this=_q(f"{alias}_kept")))
    result = (
        exp.select(_col(ROW_COLUMN), _col(_TS), _col(_CARRIED))
        .from_(exp.Subquery(this=across, alias=exp.TableAlias(this=_q("a"))))
        .where(exp.EQ(this=_col(_SIDE), expression=_number(1)))
    )
    return [(f"{alias}_kept", kept), (alias, result)]


def _field(struct: exp.Expr, name: str) -> exp.Expr:
    return exp.Dot(this=struct, expression=_q(name))


def _render_carry(query: PointInTimeQuery) -> tuple[tuple[exp.Expr, ...], exp.Select]:
    select = exp.select(*[_col(c, "e") for c in query.entity_columns])
    select = select.from_(exp.Table(this=_q("e"))).with_(_q("e"), as_=_entities(query))
    for index, view in enumerate(query.views):
        alias = _alias(view, index)
        union = f"{alias}_timeline"
        hot = f"{alias}_hot"
        if not view.ttl_seconds and view.hot_keys is None:
            select = select.with_(_q(hot), as_=_hot_keys(view, query))
        select = select.with_(_q(union), as_=_carry_union(view, query, hot))
        for name, step in _carry_latest(view, union, alias):
            select = select.with_(_q(name), as_=step)
        carried = _col(_CARRIED, alias)
        within: exp.Expr | None = None
        if view.ttl_seconds:
            oldest = exp.Sub(
                this=_col(_TS, alias), expression=_number(view.ttl_seconds * 1_000_000)
            )
            within = exp.GTE(this=_field(carried.copy(), _TS), expression=oldest)
        select = select.select(
            *[
                exp.alias_(_when(within, _field(carried.copy(), f.column)), _q(f.output))
                for f in view.features
            ],
            append=True,
        )
        select = select.join(
            exp.Table(this=_q(alias)),
            on=exp.EQ(this=_col(ROW_COLUMN, alias), expression=_col(ROW_COLUMN, "e")),
            join_type="left",
        )
    return (), select.order_by(_col(ROW_COLUMN, "e"))


@dataclass(frozen=True, slots=True)
class Rendering:
    """One way to write the join, and the SQL dialects it can be rendered in: a rendering
    that uses one engine's features (DuckDB's ``ASOF JOIN``, ``arg_max`` over structs) is
    refused for other dialects instead of producing SQL that fails when it runs."""

    build: Callable[[PointInTimeQuery], tuple[tuple[exp.Expr, ...], exp.Select]]
    dialects: frozenset[str]


RENDERINGS: dict[str, Rendering] = {
    # Spark 4.3's as-of join too (behind a flag; the Spark engine offers it only when its
    # probe finds it): the SQL rewrites of :mod:`.sql` spell the join and the temporary
    # table Spark's way.
    "asof": Rendering(_render_asof, frozenset({"duckdb", "spark"})),
    # Standard SQL in shape (a range join ranked by row_number()), so the first one to try on
    # a new engine; listed for the dialects its tests have run on.
    "window": Rendering(_render_window, frozenset({"duckdb", "spark"})),
    # Window functions only, no range join: for engines without an ASOF join (Spark).
    "carry": Rendering(_render_carry, frozenset({"spark"})),
}


def compile_point_in_time(
    query: PointInTimeQuery,
    *,
    rendering: str = "asof",
    dialect: str = "duckdb",
    pretty: bool = False,
) -> CompiledQuery:
    """The SQL of a point-in-time join.

    Args:
        query: the entity columns and the views to join.
        rendering: a key of :data:`RENDERINGS`: ``"asof"`` (fast), ``"window"`` or
            ``"carry"`` (Spark).
        dialect: the sqlglot dialect of the engine that will run it.
        pretty: format over several lines, for reading and golden files.

    Raises:
        ValueError: an unknown rendering, or one the dialect cannot run.
    """
    try:
        chosen = RENDERINGS[rendering]
    except KeyError:
        raise ValueError(
            f"unknown rendering {rendering!r}; choose one of {', '.join(RENDERINGS)}"
        ) from None
    if dialect not in chosen.dialects:
        usable = [name for name, r in RENDERINGS.items() if dialect in r.dialects]
        raise ValueError(
            f"the {rendering!r} rendering of the point-in-time join cannot run in {dialect!r}; "
            f"renderings for {dialect!r}: {', '.join(usable) or 'none'}"
        )
    # Label views are joined through their resolved history, a view over their raw rows
    # that already holds one row per entity and write time (so no created column).
    resolving = tuple(resolved_history(v) for v in query.views if v.labels is not None)
    joined = dataclasses.replace(
        query,
        views=tuple(
            dataclasses.replace(v, created_column=None) if v.labels is not None else v
            for v in query.views
        ),
    )
    setup, final = chosen.build(joined)
    return CompiledQuery(
        setup=tuple(render(s, dialect, pretty=pretty) for s in (*resolving, *setup)),
        query=render(final, dialect, pretty=pretty),
        sources=tuple(
            SourceTable(raw_table_name(v.name), v.files, v.spark)
            if v.labels is not None
            else v.source_table
            for v in query.views
        ),
        dialect=dialect,
    )
