"""Resolving a label view's conflicting labels as of every moment (pure: sqlglot trees).

A label view's labels change only when a label is written, so "the labels resolved as of
``t``" equals "the labels resolved as of the newest write at or before ``t``". This module
turns a label view's raw rows into that **resolved history**: one row per entity and write
time, holding the labels the view's conflict policy picks from every row written up to that
time. The point-in-time join then reads the resolved history in place of the raw rows, with
its usual rule (the newest row at or before the entity row's time, within the ttl), and the
answer is the policy applied to exactly the labels the entity row may see: nothing written
later leaks in, whichever way conflicts are decided.

The history is a temporary view (:func:`resolved_history`) named as the join expects the
view's source (``__silage_source_<view>``) over the raw rows, registered under
:func:`raw_table_name`. Each write time meets the earlier rows of its entity (a range join
on the keys): label tables are small per entity, so this costs little, and it needs no
ASOF join, so it renders for every engine.

- ``labeler_priority``: for each write time, the row ranked first by (the labeler's rank,
  newest event time, newest created time).
- ``majority_vote``: for each write time and each label, the non-null value with the most
  rows, then the newest event time among its rows, then the greater value; the labeler
  column reads ``'majority_vote'``.

Example:
    >>> from store.offline.compiler.point_in_time import FeatureColumn, ViewScan
    >>> from store.types import Int64, String
    >>> scan = ViewScan(name="q", files=("q.parquet",), timestamp_column="ts",
    ...     created_column=None, ttl_seconds=None, keys=(("driver_id", Int64),),
    ...     features=(FeatureColumn("score", "score", Int64),),
    ...     labels=LabelResolution(policy="majority_vote", labeler_column="labeler",
    ...         labels=(("score", Int64),), labeler_priority=()))
    >>> resolved_history(scan).sql("duckdb").startswith(
    ...     'CREATE OR REPLACE TEMPORARY VIEW "__silage_source_q"')
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from store.offline.compiler.query import source_table_name
from store.offline.compiler.sql import column as _col
from store.offline.compiler.sql import epoch_us
from store.offline.compiler.sql import identifier as _q
from store.offline.compiler.sql import number as _number
from store.offline.compiler.sql import table as _table
from store.types import DType

if TYPE_CHECKING:
    from store.offline.compiler.point_in_time import ViewScan

__all__ = ["POLICIES", "LabelResolution", "raw_table_name", "resolved_history"]

POLICIES = ("labeler_priority", "majority_vote")
_EVENTS, _ROWS, _RANK = "__silage_events", "__silage_rows", "__silage_rank"
# A missing created time loses to any written one (as in the point-in-time join).
_NO_CREATED = -(2**63) + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelResolution:
    """How a label view's rows resolve before the join (names after field mapping).

    ``policy`` is one of :data:`POLICIES` (last write wins needs no resolution: the join's
    own rule is that policy); ``labels`` are the label columns and their types;
    ``labeler_priority`` ranks labelers, highest first.
    """

    policy: str
    labeler_column: str
    labels: tuple[tuple[str, DType], ...]
    labeler_priority: tuple[str, ...]


def raw_table_name(view: str) -> str:
    """The table under which the engine registers a label view's raw rows."""
    return f"__silage_labels_{view}"


def resolved_history(view: ViewScan) -> exp.Create:
    """``CREATE OR REPLACE TEMPORARY VIEW __silage_source_<view> AS`` the resolved history,
    with the raw source's column names, so the join reads it as it reads any source."""
    assert view.labels is not None, "only label views resolve"
    if view.labels.policy == "labeler_priority":
        body = _by_priority(view)
    elif view.labels.policy == "majority_vote":
        body = _by_majority(view)
    else:
        raise ValueError(f"unknown label policy {view.labels.policy!r}; use one of {POLICIES}")
    return exp.Create(
        this=_table(source_table_name(view.name)),
        kind="VIEW",
        replace=True,
        expression=body,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )


def _raw(view: ViewScan, name: str) -> str:
    return view.source_column(name)


def _events(view: ViewScan) -> exp.Select:
    """Each entity's distinct write times."""
    names = [*(k for k, _ in view.keys), view.timestamp_column]
    return (
        exp.select(*(_col(_raw(view, n)) for n in names))
        .distinct()
        .from_(_table(raw_table_name(view.name)))
    )


def _earlier_rows(view: ViewScan, select: exp.Select) -> exp.Select:
    """``select`` over each write time joined to its entity's rows written at or before it."""
    on: list[exp.Expr] = [
        _col(_raw(view, k), _ROWS).eq(_col(_raw(view, k), _EVENTS)) for k, _ in view.keys
    ]
    ts = _raw(view, view.timestamp_column)
    on.append(epoch_us(ts, _ROWS) <= epoch_us(ts, _EVENTS))
    events = exp.Subquery(this=_events(view), alias=exp.TableAlias(this=_q(_EVENTS)))
    return select.from_(events).join(_table(raw_table_name(view.name), _ROWS), on=exp.and_(*on))


def _event_columns(view: ViewScan) -> list[exp.Expr]:
    names = [*(k for k, _ in view.keys), view.timestamp_column]
    return [exp.alias_(_col(_raw(view, n), _EVENTS), _q(_raw(view, n))) for n in names]


def _first(select: exp.Select, partition: list[exp.Expr], order: list[exp.Ordered]) -> exp.Select:
    """Rows of ``select`` ranked first in their partition (a ``row_number()`` filter)."""
    ranked = select.select(
        exp.alias_(
            exp.Window(
                this=exp.RowNumber(),
                partition_by=partition,
                order=exp.Order(expressions=order),
            ),
            _q(_RANK),
        )
    )
    outputs = [_col(e.alias_or_name) for e in select.expressions]
    return (
        exp.select(*outputs)
        .from_(exp.Subquery(this=ranked, alias=exp.TableAlias(this=_q("__silage_ranked"))))
        .where(_col(_RANK).eq(_number(1)))
    )


def _partition(view: ViewScan) -> list[exp.Expr]:
    names = [*(k for k, _ in view.keys), view.timestamp_column]
    return [_col(_raw(view, n), _EVENTS) for n in names]


def _by_priority(view: ViewScan) -> exp.Select:
    labels = view.labels
    assert labels is not None
    labeler = _col(_raw(view, labels.labeler_column), _ROWS)
    rank: exp.Expr = exp.Case(
        ifs=[
            exp.If(this=labeler.eq(exp.Literal.string(name)), true=_number(i))
            for i, name in enumerate(labels.labeler_priority)
        ],
        default=_number(len(labels.labeler_priority)),
    )
    created = (
        exp.func("COALESCE", epoch_us(_raw(view, view.created_column), _ROWS), _number(_NO_CREATED))
        if view.created_column is not None
        else _number(0)
    )
    columns = [
        *_event_columns(view),
        *(
            exp.alias_(_col(_raw(view, name), _ROWS), _q(_raw(view, name)))
            for name in _all_features(view)
        ),
    ]
    order = [
        exp.Ordered(this=rank, desc=False),
        exp.Ordered(this=epoch_us(_raw(view, view.timestamp_column), _ROWS), desc=True),
        exp.Ordered(this=created, desc=True),
    ]
    return _first(_earlier_rows(view, exp.select(*columns)), _partition(view), order)


def _by_majority(view: ViewScan) -> exp.Select:
    labels = view.labels
    assert labels is not None
    select = exp.select(*_event_columns(view)).from_(
        exp.Subquery(this=_events(view), alias=exp.TableAlias(this=_q(_EVENTS)))
    )
    for index, (name, _) in enumerate(labels.labels):
        raw = _raw(view, name)
        alias = f"__silage_vote_{index}"
        value = _col(raw, _ROWS)
        votes = (
            _earlier_rows(view, exp.select(*_event_columns(view), exp.alias_(value, _q(raw))))
            .where(value.is_(exp.null()).not_())
            .group_by(*_partition(view), value)
        )
        order = [
            exp.Ordered(this=exp.Count(this=exp.Star()), desc=True),
            exp.Ordered(
                this=exp.Max(this=epoch_us(_raw(view, view.timestamp_column), _ROWS)), desc=True
            ),
            exp.Ordered(this=value, desc=True),
        ]
        winners = _first(votes, _partition(view), order)
        on = [
            _col(_raw(view, n), alias).eq(_col(_raw(view, n), _EVENTS))
            for n in [*(k for k, _ in view.keys), view.timestamp_column]
        ]
        select = select.join(
            exp.Subquery(this=winners, alias=exp.TableAlias(this=_q(alias))),
            on=exp.and_(*on),
            join_type="LEFT",
        ).select(exp.alias_(_col(raw, alias), _q(raw)))
    return select.select(
        exp.alias_(exp.Literal.string("majority_vote"), _q(_raw(view, labels.labeler_column)))
    )


def _all_features(view: ViewScan) -> list[str]:
    """Every label and the labeler column, whichever the request reads."""
    labels = view.labels
    assert labels is not None
    return [*(name for name, _ in labels.labels), labels.labeler_column]
