"""What an online table holds, and which table changes an apply makes (pure: no database).

Each online feature view has one table, named ``<project>__<view>``, holding the newest row
per entity key: the join keys (typed), one column per feature, and the row's event and
created times as integer microseconds since the epoch, UTC. Every backend stores this
layout its own way; the layout hash covers exactly what the columns depend on, so a change
of description or tags never forces a rebuild, and a change of a feature's type does.

Rows travel between the stores as Arrow record batches whose columns are
:attr:`TableLayout.columns`: keys and features in their Arrow types
(:func:`store.types.to_arrow`), then ``__event_ts`` and ``__created_ts`` as int64
(``__created_ts`` may be null). Materialization produces them (the newest-rows query),
pushes are converted to them (:mod:`.write`), and backends write them.

Example:
    >>> from store.types import Int64, Float64
    >>> layout = TableLayout(project="p", feature_view="stats",
    ...                      keys=(("driver_id", Int64),), features=(("rate", Float64),))
    >>> layout.table, layout.columns
    ('p__stats', ['driver_id', 'rate', '__event_ts', '__created_ts'])
    >>> [c.action for c in plan_table_changes({}, [layout], drop_missing=True)]
    ['create']
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from store.definitions.feature_view import FeatureView
from store.definitions.on_demand import OnDemandFeatureView
from store.offline.compiler.query import CREATED_TS, EVENT_TS
from store.types import DType

__all__ = [
    "CREATED_TS",
    "EVENT_TS",
    "OnlineTableChange",
    "StoredTable",
    "TableLayout",
    "layout_of",
    "plan_table_changes",
    "stored_layout_of",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class TableLayout:
    """The columns of one online table."""

    project: str
    feature_view: str
    keys: tuple[tuple[str, DType], ...]
    features: tuple[tuple[str, DType], ...]

    @property
    def table(self) -> str:
        """The table's name: ``<project>__<view>``."""
        return f"{self.project}__{self.feature_view}"

    @property
    def layout_hash(self) -> str:
        """sha256 of the key and feature names and types, in order."""
        text = ";".join(
            [f"k:{n}:{t.spec}" for n, t in self.keys]
            + [f"f:{n}:{t.spec}" for n, t in self.features]
        )
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def columns(self) -> list[str]:
        """Every column, in the order rows are written: keys, features, the two times."""
        return [*(n for n, _ in self.keys), *(n for n, _ in self.features), EVENT_TS, CREATED_TS]


def layout_of(project: str, view: FeatureView) -> TableLayout:
    """The online table layout of a fully resolved view (every join key typed)."""
    typed = {f.name: f.dtype for f in view.entity_columns}
    missing = [k for k in view.join_keys if k not in typed]
    if missing:
        raise ValueError(f"feature view {view.name!r}: join key types unresolved: {missing}")
    return TableLayout(
        project=project,
        feature_view=view.name,
        keys=tuple((k, typed[k]) for k in view.join_keys),
        features=tuple((f.name, f.dtype) for f in view.features),
    )


def stored_layout_of(
    project: str, view: OnDemandFeatureView, sources: Mapping[str, FeatureView]
) -> TableLayout:
    """The online table of an on-demand view declared ``write_to_online_store=True``: its
    join keys (typed as its fully resolved source views in ``sources``, by name, type them)
    and its outputs. Its rows carry the newest event time of the source rows they were
    computed from."""
    typed: dict[str, DType] = {}
    for source in view.feature_sources:
        resolved = sources.get(source.view.name, source.view)
        typed.update((f.name, f.dtype) for f in resolved.entity_columns)
    missing = [k for k in view.join_keys if k not in typed]
    if missing:
        raise ValueError(f"on-demand feature view {view.name!r}: join key types unresolved")
    return TableLayout(
        project=project,
        feature_view=view.name,
        keys=tuple((k, typed[k]) for k in view.join_keys),
        features=tuple((f.name, f.dtype) for f in view.features),
    )


@dataclass(frozen=True, slots=True)
class StoredTable:
    """A table a backend holds for a view, as its bookkeeping records it."""

    table: str
    layout_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OnlineTableChange:
    """An online table to create, rebuild (its columns change) or drop."""

    feature_view: str
    table: str
    action: Literal["create", "rebuild", "drop"]


def plan_table_changes(
    existing: Mapping[str, StoredTable],
    layouts: Sequence[TableLayout],
    *,
    drop_missing: bool,
    drop: Collection[str] = (),
) -> list[OnlineTableChange]:
    """The changes that make a project's tables (``existing``, by view) match ``layouts``:
    create what is new, rebuild what changed, and drop the tables of the views in ``drop``
    (with ``drop_missing``: of every view not in ``layouts``). Sorted by view."""
    changes: list[OnlineTableChange] = []
    for layout in layouts:
        found = existing.get(layout.feature_view)
        if found is None or found.layout_hash != layout.layout_hash:
            changes.append(
                OnlineTableChange(
                    feature_view=layout.feature_view,
                    table=layout.table,
                    action="create" if found is None else "rebuild",
                )
            )
    wanted = {layout.feature_view for layout in layouts}
    changes.extend(
        OnlineTableChange(feature_view=view, table=stored.table, action="drop")
        for view, stored in existing.items()
        if view not in wanted and (drop_missing or view in drop)
    )
    return sorted(changes, key=lambda c: c.feature_view)
