"""Online reads: the newest stored values of features for a list of entities.

A request's plan (views, layouts, output columns) is built once and cached; a call then
costs one backend read per view, which answers every key in input order, duplicates
included. What is the same for every backend happens here: checking entity rows, the ttl
at read time, statuses and the response's shape.

By default a value older than its view's ttl at read time is withheld: None, with status
``OUTSIDE_MAX_AGE`` (Feast ignores ttl online). ``online_store: {enforce_ttl: false}``
turns that off.

On-demand feature views run after the stored reads, over the request's rows
(:mod:`store.transformation`): the features they read are fetched with the rest (under
hidden names when not requested themselves), and the entity rows supply their request
fields. Their values are ``PRESENT`` unless the function returned None. An on-demand view
declared ``write_to_online_store=True`` is not run here: its outputs were computed when
its inputs were written (:mod:`.stored_on_demand`) and are read from its own table, like a
stored view's (no ttl: they are as fresh as the rows they were computed from).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING, Any

from store.definitions.feature_service import FeatureService
from store.definitions.feature_view import FeatureView
from store.definitions.field import Field
from store.definitions.on_demand import OnDemandFeatureView
from store.definitions.references import AnyView, RequestedView, resolve_features
from store.epoch import from_micros_many
from store.errors import OnlineStoreError, RequestError
from store.online.backend import OnlineBackend, StoredRow
from store.online.layout import TableLayout, layout_of, stored_layout_of
from store.transformation import (
    check_request_fields,
    input_names,
    run_on_demand,
    source_features,
)
from store.types import String

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NOT_FOUND", "OUTSIDE_MAX_AGE", "PRESENT", "OnlineReader", "OnlineResponse"]

PRESENT = "PRESENT"
NOT_FOUND = "NOT_FOUND"
OUTSIDE_MAX_AGE = "OUTSIDE_MAX_AGE"


class OnlineResponse:
    """Feature values per entity row, with each value's status and event time.

    ``entities``, ``features`` and ``statuses`` map a column name to one list per entity
    row. ``event_timestamps`` does too; its datetimes are made on first use, since most
    callers (predictions) never ask for them.
    """

    __slots__ = ("_event_micros", "_event_timestamps", "entities", "features", "statuses")

    def __init__(
        self,
        entities: dict[str, list[Any]],
        features: dict[str, list[Any]],
        statuses: dict[str, list[str]],
        event_micros: dict[str, Sequence[int | None]],
    ) -> None:
        self.entities = entities
        self.features = features
        self.statuses = statuses
        self._event_micros = event_micros
        self._event_timestamps: dict[str, list[datetime | None]] | None = None

    @property
    def event_timestamps(self) -> dict[str, list[datetime | None]]:
        """Each value's event time (UTC), None where no row is stored."""
        if self._event_timestamps is None:
            converted: dict[int, list[datetime | None]] = {}  # a view's outputs share one list
            stamps: dict[str, list[datetime | None]] = {}
            for name, micros in self._event_micros.items():
                found = converted.get(id(micros))
                if found is None:
                    found = converted[id(micros)] = from_micros_many(micros)
                stamps[name] = list(found)
            self._event_timestamps = stamps
        return self._event_timestamps

    def to_dict(
        self, include_event_timestamps: bool = False, include_statuses: bool = False
    ) -> dict[str, list[Any]]:
        """Feast's shape: the entity columns, then one list per feature (None where missing).
        Optionally ``<feature>__event_timestamp`` and ``<feature>__status`` lists too."""
        out: dict[str, list[Any]] = {**self.entities, **self.features}
        for name in self.features:
            if include_event_timestamps:
                out[f"{name}__event_timestamp"] = self.event_timestamps[name]
            if include_statuses:
                out[f"{name}__status"] = self.statuses[name]
        return out

    def to_df(
        self, include_event_timestamps: bool = False, include_statuses: bool = False
    ) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.to_dict(include_event_timestamps, include_statuses))

    def __repr__(self) -> str:
        return f"OnlineResponse({self.to_dict(include_statuses=True)!r})"


@dataclass(frozen=True, slots=True)
class _ViewPlan:
    layout: TableLayout
    keys: tuple[str, ...]
    key_kinds: tuple[type, ...]
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    ttl_us: int | None


@dataclass(frozen=True, slots=True)
class _OnDemandPlan:
    view: OnDemandFeatureView
    inputs: tuple[tuple[str, str], ...]  # (input name, column of the stored reads)
    features: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(slots=True)
class _Plan:
    views: tuple[_ViewPlan, ...]
    built_at: float
    keys: dict[str, tuple[type, list[str]]] = field(default_factory=dict)
    on_demand: tuple[_OnDemandPlan, ...] = ()
    hidden: tuple[str, ...] = ()  # stored reads only on-demand views asked for
    order: tuple[str, ...] = ()  # the requested outputs, in request order


class OnlineReader:
    """Serves ``get_online_features`` for one project; plans are cached for ``cache_seconds``."""

    def __init__(
        self,
        *,
        project: str,
        online: OnlineBackend,
        lookup_view: Callable[[str], AnyView],
        is_loaded: Callable[[FeatureView | OnDemandFeatureView, TableLayout], bool],
        enforce_ttl: bool = True,
        cache_seconds: float = 60.0,
    ) -> None:
        self._project = project
        self._online = online
        self._lookup_view = lookup_view
        self._is_loaded = is_loaded
        self._enforce_ttl = enforce_ttl
        self._cache_seconds = cache_seconds
        self._plans: dict[tuple[Any, ...], _Plan] = {}

    def clear_cache(self) -> None:
        self._plans.clear()

    def read(
        self,
        features: Sequence[str] | FeatureService,
        entity_rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
        *,
        full_feature_names: bool = False,
    ) -> OnlineResponse:
        plan = self._plan(features, full_feature_names)
        columns = _entity_columns(entity_rows, plan.keys)
        count = len(next(iter(columns.values()))) if columns else 0
        now_us = (time.time_ns() // 1000) if self._enforce_ttl else None
        values: dict[str, list[Any]] = {}
        statuses: dict[str, list[str]] = {}
        micros: dict[str, Sequence[int | None]] = {}
        for view in plan.views:
            keys = [columns[k] for k in view.keys]
            rows = self._online.read(view.layout, view.features, keys) if count else []
            oldest = now_us - view.ttl_us if (now_us is not None and view.ttl_us) else None
            _columns(view, rows, count, oldest, (values, statuses, micros))
        if plan.on_demand:
            _run_on_demand(plan, columns, count, (values, statuses, micros))
            values = {name: values[name] for name in plan.order}
        return OnlineResponse(columns, values, statuses, micros)

    def _plan(self, features: Sequence[str] | FeatureService, full_names: bool) -> _Plan:
        key = (
            ("service", features.name) if isinstance(features, FeatureService) else tuple(features),
            full_names,
        )
        plan = self._plans.get(key)
        if plan is not None and time.monotonic() - plan.built_at < self._cache_seconds:
            return plan
        requested = resolve_features(features, self._lookup_view, full_feature_names=full_names)
        stored, on_demand, hidden = self._reads(requested)
        plan = _Plan(
            tuple(self._view_plan(r) for r in stored),
            time.monotonic(),
            on_demand=tuple(on_demand),
            hidden=tuple(hidden),
            order=tuple(o for r in requested for o in r.outputs),
        )
        for r, view_plan in zip(stored, plan.views, strict=True):
            for name, kind in zip(view_plan.keys, view_plan.key_kinds, strict=True):
                plan.keys.setdefault(name, (kind, []))[1].append(r.view.name)
        self._plans[key] = plan
        return plan

    def _reads(
        self, requested: list[RequestedView]
    ) -> tuple[list[RequestedView], list[_OnDemandPlan], list[str]]:
        """The stored reads (requested ones, plus what on-demand views read, hidden), the
        on-demand plans, and the hidden output names."""
        reads: dict[str, tuple[FeatureView | OnDemandFeatureView, dict[Field, str]]] = {}
        for r in requested:
            if _is_stored(r.view):
                chosen = reads.setdefault(r.view.name, (r.view, {}))[1]
                chosen.update(zip(r.features, r.outputs, strict=True))
        plans: list[_OnDemandPlan] = []
        hidden: list[str] = []
        for r in requested:
            if not isinstance(r.view, OnDemandFeatureView) or r.view.write_to_online_store:
                continue
            where: dict[tuple[str, str], str] = {}
            for view, found in source_features(r.view, self._lookup_view):
                view_reads = reads.setdefault(view.name, (view, {}))[1]
                if found not in view_reads:
                    view_reads[found] = f"__silage_in__{view.name}__{found.name}"
                    hidden.append(view_reads[found])
                where[(view.name, found.name)] = view_reads[found]
            plans.append(
                _OnDemandPlan(
                    view=r.view,
                    inputs=tuple((n, where[(v, f)]) for v, f, n in input_names(r.view)),
                    features=tuple(f.name for f in r.features),
                    outputs=r.outputs,
                )
            )
        stored = [
            RequestedView(view, tuple(chosen), tuple(chosen.values()))
            for view, chosen in reads.values()
        ]
        return stored, plans, hidden

    def _view_plan(self, requested: RequestedView) -> _ViewPlan:
        view = requested.view
        if isinstance(view, OnDemandFeatureView):
            return self._stored_on_demand_plan(view, requested)
        if not view.online:
            raise RequestError(
                f"feature view {view.name!r} is not online; set online=True in its "
                f"declaration, run `silage apply`, then `silage materialize`"
            )
        layout = layout_of(self._project, view)
        if not self._is_loaded(view, layout):
            raise OnlineStoreError(
                f"feature view {view.name!r} has never been materialized; run "
                f"`silage materialize START END --views {view.name}` (or push rows to it)"
            )
        return _ViewPlan(
            layout=layout,
            keys=tuple(n for n, _ in layout.keys),
            key_kinds=tuple(str if t == String else int for _, t in layout.keys),
            features=tuple(f.name for f in requested.features),
            outputs=requested.outputs,
            ttl_us=view.ttl_seconds * 1_000_000 if view.ttl_seconds else None,
        )

    def _stored_on_demand_plan(
        self, view: OnDemandFeatureView, requested: RequestedView
    ) -> _ViewPlan:
        """Read an on-demand view's stored outputs like a stored view's, without a ttl."""
        sources: dict[str, FeatureView] = {}
        for source in view.feature_sources:
            found = self._lookup_view(source.view.name)
            if isinstance(found, FeatureView):
                sources[found.name] = found
        layout = stored_layout_of(self._project, view, sources)
        if not self._is_loaded(view, layout):
            raise OnlineStoreError(
                f"on-demand feature view {view.name!r} stores its outputs online, but none "
                f"were computed yet; materialize or push rows to "
                f"{', '.join(s.view.name for s in view.feature_sources)}"
            )
        return _ViewPlan(
            layout=layout,
            keys=tuple(n for n, _ in layout.keys),
            key_kinds=tuple(str if t == String else int for _, t in layout.keys),
            features=tuple(f.name for f in requested.features),
            outputs=requested.outputs,
            ttl_us=None,
        )


def _is_stored(view: AnyView) -> bool:
    """Whether a view's values are read from an online table (not computed when read)."""
    return isinstance(view, FeatureView) or view.write_to_online_store


def _columns(
    view: _ViewPlan,
    rows: list[StoredRow],
    count: int,
    oldest: int | None,
    out: tuple[dict[str, list[Any]], dict[str, list[str]], dict[str, Sequence[int | None]]],
) -> None:
    """One view's rows (aligned to the entities) as output columns: values, statuses and
    event times. A value whose event time is before ``oldest`` (the ttl at read time; None:
    not enforced) is withheld: None, ``OUTSIDE_MAX_AGE``, its event time still reported."""
    values, statuses, micros = out
    by_column = list(zip(*rows, strict=True)) if rows else [()] * (len(view.features) + 1)
    events = by_column[-1]
    if None not in events and (oldest is None or not events or min(events) >= oldest):
        # Every entity found and fresh: the columns are the answer.
        for output, column in zip(view.outputs, by_column, strict=False):
            values[output] = list(column)
            statuses[output] = [PRESENT] * count
            micros[output] = events
        return
    status = [
        NOT_FOUND
        if event is None
        else OUTSIDE_MAX_AGE
        if oldest is not None and event < oldest
        else PRESENT
        for event in events
    ]
    for output, column in zip(view.outputs, by_column, strict=False):
        values[output] = [
            value if state is PRESENT else None for value, state in zip(column, status, strict=True)
        ]
        statuses[output] = status.copy()
        micros[output] = events


def _run_on_demand(
    plan: _Plan,
    columns: dict[str, list[Any]],
    count: int,
    out: tuple[dict[str, list[Any]], dict[str, list[str]], dict[str, Sequence[int | None]]],
) -> None:
    """Compute each on-demand view over the request's rows, from the stored values read
    and the request's own columns; then drop the reads only they asked for."""
    values, statuses, micros = out
    no_times: list[int | None] = [None] * count
    for odfv in plan.on_demand:
        check_request_fields(odfv.view, list(columns), "the entity rows")
        inputs: dict[str, Any] = dict(columns)
        for name, column in odfv.inputs:
            inputs[name] = values[column]
        arrays = run_on_demand(odfv.view, inputs, count)
        by_name = {f.name: a for f, a in zip(odfv.view.schema, arrays, strict=True)}
        for feature, output in zip(odfv.features, odfv.outputs, strict=True):
            computed = by_name[feature].to_pylist()
            values[output] = computed
            statuses[output] = [NOT_FOUND if v is None else PRESENT for v in computed]
            micros[output] = no_times
    for name in plan.hidden:
        del values[name], statuses[name], micros[name]


def _entity_columns(
    entity_rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
    keys: Mapping[str, tuple[type, list[str]]],
) -> dict[str, list[Any]]:
    """Entity rows as columns, every needed key present with the right type."""
    if isinstance(entity_rows, Mapping):
        columns = {str(k): list(v) for k, v in entity_rows.items()}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise RequestError(f"entity_rows columns have different lengths: {sorted(lengths)}")
    else:
        rows = list(entity_rows)
        if not rows:
            raise RequestError("entity_rows is empty; pass at least one row like {'driver_id': 1}")
        names = list(dict.fromkeys(chain.from_iterable(rows)))  # every row's keys, in order
        columns = {}
        for name in names:
            try:
                columns[name] = [row[name] for row in rows]
            except KeyError:
                i = next(i for i, row in enumerate(rows) if name not in row)
                raise RequestError(f"entity row {i} has no {name!r}; every row needs it") from None
    for key, (kind, views) in keys.items():
        given = columns.get(key)
        if given is None:
            raise RequestError(
                f"entity_rows have no {key!r}, the join key of feature view(s) "
                f"{', '.join(views)}; add it to every row"
            )
        if set(map(type, given)) <= {kind}:
            continue  # every value already of the key's type: nothing to check one by one
        for i, value in enumerate(given):
            if type(value) is not kind and not (kind is int and _is_integer(value)):
                expected = "an integer" if kind is int else "a string"
                raise RequestError(
                    f"entity row {i}: {key}={value!r} is {type(value).__name__}, but feature "
                    f"view(s) {', '.join(views)} key it by {expected}; convert the value"
                )
            if kind is int and type(value) is not int:
                given[i] = int(value)
    return columns


def _is_integer(value: Any) -> bool:
    """numpy integers count as integers; bools and floats do not."""
    return hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"
