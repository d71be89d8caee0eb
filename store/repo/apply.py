"""Plan and apply: make the registry and the online tables match declared definitions.

A declarative apply of a whole repository creates what is new, updates what changed and
deletes what is gone. Upserting a list of objects (``FeatureStore.apply(objects=[...])``)
touches only those objects, plus the entities and sources their views use.

Everything is checked before anything is written: references between objects, then
every view against its Parquet schema. The catalog write and the online-table changes
then happen in one registry transaction: the online tables change in a hook that runs
before the registry commits, so a failure in either leaves both as they were.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from registry import CatalogChange, CatalogObject, DeclaredObject, Registry
from store.definitions.data_source import DATA_SOURCE_TYPES
from store.definitions.entity import Entity
from store.definitions.feature_service import FeatureService
from store.definitions.feature_view import FeatureView
from store.definitions.label_view import LabelView
from store.definitions.on_demand import OnDemandFeatureView
from store.definitions.push_source import PushSource
from store.definitions.request_source import RequestSource
from store.definitions.source import FileSource
from store.definitions.spark_source import SparkSource
from store.errors import RepoValidationError, SourceDataError
from store.offline.engine import OfflineEngine
from store.offline.sources import check_view, read_source_schema
from store.online.backend import OnlineBackend
from store.online.layout import (
    OnlineTableChange,
    TableLayout,
    layout_of,
    plan_table_changes,
    stored_layout_of,
)
from store.repo.loader import (
    DEFINITION_TYPES,
    Definition,
    RepoContents,
    kind_of,
    validate_references,
)
from store.repo.plan import ObjectDiff, Plan, diff_catalog

__all__ = [
    "apply_contents",
    "check_against_data",
    "contents_for_objects",
    "definition_from_catalog",
    "plan_contents",
    "prepare",
]


def prepare(
    contents: RepoContents, repo_root: Path, engine: OfflineEngine | None = None
) -> RepoContents:
    """Check views against their data and fill in join-key types; raise on any problem.
    ``engine``: the offline engine, which reads the schemas of sources only it reads
    (a ``SparkSource`` on Spark)."""
    resolved, problems = check_against_data(contents, repo_root, engine)
    if problems:
        raise RepoValidationError(problems)
    return resolved


def check_against_data(
    contents: RepoContents, repo_root: Path, engine: OfflineEngine | None = None
) -> tuple[RepoContents, list[str]]:
    """Check every view against its source's Parquet schema; return the contents with key
    types filled in, and the problems found, each naming its file and object (empty when
    all is well)."""
    problems: list[str] = []
    schemas: dict[str, dict[str, object]] = {}
    for source in contents.data_sources:
        try:
            schemas[source.name] = read_source_schema(source, repo_root, engine)
        except SourceDataError as exc:
            problems.append(f"{contents.where('data_source', source.name or '')}: {exc}")
    resolved: list[FeatureView] = []
    for view in contents.feature_views:
        schema = schemas.get(view.source.name)
        if schema is None:
            resolved.append(view)
            continue
        view_problems, fixed = check_view(
            view,
            schema,
            structs_as_maps=engine.reads_structs_as_maps if engine is not None else True,
        )
        where = contents.where("feature_view", view.name)
        problems.extend(f"{where}: {p}" for p in view_problems)
        resolved.append(fixed)
    return dataclasses.replace(contents, feature_views=tuple(resolved)), problems


def declared(contents: RepoContents) -> list[DeclaredObject]:
    """The catalog rows for a repository's definitions."""
    out: list[DeclaredObject] = []
    for obj in contents.all():
        features: tuple[tuple[str, str], ...] = ()
        if isinstance(obj, FeatureView | OnDemandFeatureView):
            features = tuple((f.name, f.dtype.spec) for f in obj.features)
        out.append(
            DeclaredObject(
                kind=kind_of(obj),  # type: ignore[arg-type]
                name=obj.name,
                spec=obj.to_spec(),
                content_hash=obj.content_hash,
                features=features,
            )
        )
    return out


def plan_contents(
    project: str,
    contents: RepoContents,
    registry: Registry,
    online: OnlineBackend,
    *,
    delete_missing: bool,
) -> Plan:
    """What :func:`apply_contents` would change; writes nothing."""
    current: dict[tuple[str, str], tuple[Mapping[str, Any], str, int | None]] = {
        (o.kind, o.name): (o.spec, o.content_hash, o.version)
        for o in registry.catalog.objects(project)
    }
    wanted: dict[tuple[str, str], tuple[Mapping[str, Any], str]] = {
        (d.kind, d.name): (d.spec, d.content_hash) for d in declared(contents)
    }
    objects = diff_catalog(current, wanted, delete_missing=delete_missing)
    layouts, offline = _online_targets(project, contents)
    tables = plan_table_changes(
        online.tables(project), layouts, drop_missing=delete_missing, drop=offline
    )
    return Plan(project=project, objects=tuple(objects), online_tables=tuple(tables))


def apply_contents(
    project: str,
    contents: RepoContents,
    registry: Registry,
    online: OnlineBackend,
    *,
    delete_missing: bool,
) -> Plan:
    """Write ``contents`` to the catalog and sync the online tables, all or nothing.

    Returns what was carried out: under concurrency, each apply reports what it changed
    itself, which may be less than a plan computed before it started.
    """
    preview = plan_contents(project, contents, registry, online, delete_missing=delete_missing)
    fields = {(o.kind, o.name): o.fields for o in preview.objects}
    layouts, offline = _online_targets(project, contents)
    table_changes: list[OnlineTableChange] = []

    def rebuilt_views(_: list[CatalogChange]) -> list[str]:
        # Intervals describe rows of an online table; a rebuilt or dropped table has none.
        planned = plan_table_changes(
            online.tables(project), layouts, drop_missing=delete_missing, drop=offline
        )
        return [c.feature_view for c in planned if c.action != "create"]

    def sync_online(_: list[CatalogChange]) -> None:
        table_changes.extend(
            online.sync_tables(project, layouts, drop_missing=delete_missing, drop=offline)
        )

    changes = registry.catalog.apply(
        project,
        declared(contents),
        delete_missing=delete_missing,
        reset_materialization=rebuilt_views,
        before_commit=sync_online,
    )
    return Plan(
        project=project,
        objects=tuple(
            ObjectDiff(
                kind=c.kind,
                name=c.name,
                action=c.action,
                fields=fields.get((c.kind, c.name), ()),
                version_before=c.version_before,
            )
            for c in changes
        ),
        online_tables=tuple(table_changes),
    )


def _online_targets(project: str, contents: RepoContents) -> tuple[list[TableLayout], set[str]]:
    """Layouts of the online views (on-demand views that store their outputs included), and
    the names of views that keep no online table."""
    layouts = [layout_of(project, v) for v in contents.feature_views if v.online]
    offline = {v.name for v in contents.feature_views if not v.online}
    resolved = {v.name: v for v in contents.feature_views}
    for odfv in contents.on_demand_feature_views:
        if odfv.write_to_online_store:
            layouts.append(stored_layout_of(project, odfv, resolved))
        else:
            offline.add(odfv.name)
    return layouts, offline


def contents_for_objects(
    objects: Sequence[Definition], current: Sequence[CatalogObject]
) -> RepoContents:
    """Contents for an upsert of ``objects``: they, the entities and sources their views use,
    checked against each other and the catalog's objects."""
    chosen: dict[tuple[str, str], Definition] = {}
    for obj in objects:
        if not isinstance(obj, DEFINITION_TYPES):
            raise TypeError(
                f"apply() takes Entity, FileSource, SparkSource, PushSource, RequestSource, "
                f"FeatureView, "
                f"OnDemandFeatureView and FeatureService objects, got {obj!r}"
            )
        chosen[(kind_of(obj), obj.name)] = obj
        if isinstance(obj, FeatureView):
            chosen.setdefault(("data_source", obj.source.name), obj.source)
            if obj.push_source is not None:
                chosen.setdefault(("data_source", obj.push_source.name), obj.push_source)
            for entity in obj.entities:
                chosen.setdefault(("entity", entity.name), entity)
        if isinstance(obj, PushSource):
            chosen.setdefault(("data_source", obj.batch_source.name), obj.batch_source)
        if isinstance(obj, OnDemandFeatureView):
            for request in obj.request_sources:
                chosen.setdefault(("data_source", request.name), request)
    # Reference checks see the catalog's objects too, overridden by the ones being applied.
    universe: dict[tuple[str, str], Definition] = {
        (o.kind, o.name): definition_from_catalog(o) for o in current
    }
    universe.update(chosen)
    validate_references(_contents(universe.values()))
    return _contents(chosen.values())


def _contents(objects: Iterable[Definition]) -> RepoContents:
    items = list(objects)
    return RepoContents(
        entities=tuple(o for o in items if isinstance(o, Entity)),
        data_sources=tuple(o for o in items if isinstance(o, DATA_SOURCE_TYPES)),
        feature_views=tuple(o for o in items if isinstance(o, FeatureView)),
        feature_services=tuple(o for o in items if isinstance(o, FeatureService)),
        request_sources=tuple(o for o in items if isinstance(o, RequestSource)),
        on_demand_feature_views=tuple(o for o in items if isinstance(o, OnDemandFeatureView)),
        push_sources=tuple(o for o in items if isinstance(o, PushSource)),
    )


def definition_from_catalog(obj: CatalogObject) -> Definition:
    """Rebuild the definition a catalog row holds (by its kind, then its spec's type)."""
    return _BUILDERS[(obj.kind, obj.spec.get("type"))](obj.spec)


_BUILDERS: dict[tuple[str, Any], Callable[[Mapping[str, Any]], Definition]] = {
    ("entity", None): Entity.from_spec,
    ("data_source", "file"): FileSource.from_spec,
    ("data_source", "spark"): SparkSource.from_spec,
    ("data_source", "request"): RequestSource.from_spec,
    ("data_source", "push"): PushSource.from_spec,
    ("feature_view", None): FeatureView.from_spec,
    ("feature_view", "on_demand"): OnDemandFeatureView.from_spec,
    ("feature_view", "label"): LabelView.from_spec,
    ("feature_service", None): FeatureService.from_spec,
}
