"""Context builders for the feature catalog: entities, sources, feature views (with their
version history, a field-level diff and their consumers), the flat feature catalogue and
feature services.

Specs are shown by shape (:func:`registry.card_render.value_html`): whatever a spec holds,
including fields this version of the UI does not know, appears as escaped text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry import CatalogObject, FeatureUsers, MaterializationInterval
from registry.browse import CatalogFeature, TrainingSetSummary
from registry.card_render import value_html
from store.ui.context import NotFound, Paging, page_args
from store.ui.diff import Change, diff

if TYPE_CHECKING:
    from store.feature_store import FeatureStore

__all__ = ["CatalogList", "ObjectPage", "ViewPage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogList:
    """``/ui/entities``, ``/ui/sources``, ``/ui/feature-views``, ``/ui/feature-services``:
    a page of the current objects of a kind (filter ``q`` over names and descriptions;
    sort ``name`` or ``updated``, ``-`` for descending)."""

    title: str
    kind: str
    path: str
    objects: tuple[CatalogObject, ...]
    paging: Paging


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectPage:
    """An entity, source or service: its spec, and the feature views that use it."""

    title: str
    object: CatalogObject
    used_by_views: tuple[str, ...]
    spec_html: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ViewPage:
    """``/ui/feature-views/<name>``: the version shown (``?version=n``, the newest by
    default), its schema, every version, the changes from ``?from=`` (default: the
    version before) to it, and its consumers."""

    title: str
    name: str
    deleted: bool
    version: CatalogObject
    versions: tuple[CatalogObject, ...]
    schema: tuple[Mapping[str, Any], ...]
    diff_from: int | None
    changes: tuple[Change, ...]
    services: tuple[str, ...]
    training_sets: tuple[TrainingSetSummary, ...]
    users: FeatureUsers
    materialized: tuple[MaterializationInterval, ...]
    spec_html: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FeaturesPage:
    """``/ui/features``: every feature of every current view, paged (filter ``q`` over
    feature and view names; sort ``view``, ``name``, ``dtype``)."""

    title: str
    features: tuple[CatalogFeature, ...]
    paging: Paging


_KINDS = {
    "entity": ("Entities", "entity"),
    "data_source": ("Data sources", "data source"),
    "feature_view": ("Feature views", "feature view"),
    "feature_service": ("Feature services", "feature service"),
}


_LIST_SORTS: dict[str, Callable[[CatalogObject], Any]] = {
    "name": lambda o: o.name,
    "updated": lambda o: o.updated_at,
}


def _list(store: FeatureStore, kind: Any, path: str, query: Mapping[str, str]) -> CatalogList:
    """A page of one kind's objects. The current catalog is held by the store between
    registry changes (one counter read per request), so filtering, sorting and slicing
    happen on that copy rather than in a query per page."""
    offset, limit, sort, text = page_args(query, "name")
    if sort.lstrip("-") not in _LIST_SORTS:
        sort = "name"
    needle = text.casefold()
    found = [
        o
        for o in store.catalog_objects(kind)
        if needle in o.name.casefold() or needle in str(o.spec.get("description") or "").casefold()
    ]
    found.sort(key=_LIST_SORTS[sort.lstrip("-")], reverse=sort.startswith("-"))
    return CatalogList(
        title=_KINDS[kind][0],
        kind=kind,
        path=path,
        objects=tuple(found[offset : offset + limit]),
        paging=Paging(offset=offset, limit=limit, total=len(found), sort=sort, filter=text),
    )


def entities_page(store: FeatureStore, query: Mapping[str, str]) -> CatalogList:
    return _list(store, "entity", "/entities", query)


def sources_page(store: FeatureStore, query: Mapping[str, str]) -> CatalogList:
    return _list(store, "data_source", "/sources", query)


def views_page(store: FeatureStore, query: Mapping[str, str]) -> CatalogList:
    return _list(store, "feature_view", "/feature-views", query)


def services_page(store: FeatureStore, query: Mapping[str, str]) -> CatalogList:
    return _list(store, "feature_service", "/feature-services", query)


def _object(store: FeatureStore, kind: Any, name: str, uses: Any) -> ObjectPage:
    objects = store.catalog_objects()
    found = next((o for o in objects if o.kind == kind and o.name == name), None)
    if found is None:
        back = {"entity": "/entities", "data_source": "/sources"}.get(kind, "/feature-services")
        raise NotFound(_KINDS[kind][1], name, back)
    views = tuple(o.name for o in objects if o.kind == "feature_view" and uses(o.spec, name))
    return ObjectPage(
        title=f"{_KINDS[kind][1].capitalize()} {name}",
        object=found,
        used_by_views=views,
        spec_html=value_html(dict(found.spec)),
    )


def entity_page(store: FeatureStore, name: str) -> ObjectPage:
    return _object(
        store,
        "entity",
        name,
        lambda spec, n: any(e.get("name") == n for e in spec.get("entities", [])),
    )


def source_page(store: FeatureStore, name: str) -> ObjectPage:
    return _object(
        store, "data_source", name, lambda spec, n: (spec.get("source") or {}).get("name") == n
    )


def service_page(store: FeatureStore, name: str) -> ObjectPage:
    def served(spec: Mapping[str, Any], n: str) -> bool:
        return False

    page = _object(store, "feature_service", name, served)
    views = tuple(
        str(p.get("feature_view"))
        for p in page.object.spec.get("features", [])
        if isinstance(p, Mapping)
    )
    return ObjectPage(
        title=page.title, object=page.object, used_by_views=views, spec_html=page.spec_html
    )


def view_page(store: FeatureStore, name: str, query: Mapping[str, str]) -> ViewPage:
    try:
        versions = store.registry.catalog.feature_view_versions(store.project, name)
    except LookupError:
        raise NotFound("feature view", name, "/feature-views") from None
    by_number = {v.version: v for v in versions}
    wanted = _number(query.get("version"))
    if wanted is not None and wanted not in by_number:
        raise NotFound("feature view version", f"{name} v{wanted}", f"/feature-views/{name}")
    shown = by_number[wanted] if wanted is not None else versions[-1]
    base = _number(query.get("from"))
    if base is None and shown.version and shown.version > 1:
        base = shown.version - 1
    before = by_number.get(base) if base is not None else None
    changes = diff(dict(before.spec), dict(shown.spec)) if before is not None else []
    objects = store.catalog_objects()
    current = {o.name for o in objects if o.kind == "feature_view"}
    services = tuple(
        o.name
        for o in objects
        if o.kind == "feature_service"
        and any(p.get("feature_view") == name for p in o.spec.get("features", []))
    )
    return ViewPage(
        title=f"Feature view {name}",
        name=name,
        deleted=name not in current,
        version=shown,
        versions=tuple(reversed(versions)),
        schema=tuple(dict(f) for f in shown.spec.get("schema", [])),
        diff_from=before.version if before is not None else None,
        changes=tuple(changes),
        services=services,
        training_sets=store.registry.browse.training_sets(
            store.project, using_view=name, limit=50
        ).rows,
        users=store.model_registry.lineage.users_of(name),
        materialized=tuple(store.registry.catalog.materialization_intervals(store.project, name))[
            -20:
        ],
        spec_html=value_html({k: v for k, v in shown.spec.items() if k not in ("schema", "name")}),
    )


def features_page(store: FeatureStore, query: Mapping[str, str]) -> FeaturesPage:
    offset, limit, sort, text = page_args(query, "view")
    page = store.registry.browse.features(
        store.project, contains=text, sort=sort, offset=offset, limit=limit
    )
    return FeaturesPage(
        title="Features",
        features=page.rows,
        paging=Paging(offset=offset, limit=limit, total=page.total, sort=sort, filter=text),
    )


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None
