"""Tables and descriptions of catalog objects, for ``silage list`` and ``silage describe``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from store.errors import ObjectNotFoundError

if TYPE_CHECKING:
    from registry import CatalogObject, Kind

__all__ = ["describe_objects", "format_seconds", "list_rows"]

_HEADERS: dict[str, tuple[str, ...]] = {
    "entity": ("NAME", "JOIN KEY", "DESCRIPTION"),
    "data_source": ("NAME", "PATH", "TIMESTAMP FIELD", "CREATED COLUMN"),
    "feature_view": ("NAME", "VERSION", "ENTITIES", "FEATURES", "TTL", "ONLINE"),
    "feature_service": ("NAME", "FEATURES"),
}


def list_rows(objects: Sequence[CatalogObject], kind: Kind) -> list[tuple[str, ...]]:
    """A header row, then one row per catalog object of ``kind`` (all of ``objects``)."""
    rows = [_HEADERS[kind]]
    rows.extend(_row(obj) for obj in objects)
    return rows


def _row(obj: CatalogObject) -> tuple[str, ...]:
    spec = obj.spec
    if obj.kind == "entity":
        return (obj.name, spec["join_key"], spec["description"])
    if obj.kind == "data_source" and spec.get("type") == "request":
        return (
            obj.name,
            "(request: " + ",".join(f["name"] for f in spec["schema"]) + ")",
            "-",
            "-",
        )
    if obj.kind == "data_source" and spec.get("type") == "push":
        batch = spec["batch_source"]
        return (
            obj.name,
            f"(push: into {batch['name']}) {batch['path']}",
            batch["timestamp_field"],
            batch["created_timestamp_column"] or "-",
        )
    if obj.kind == "feature_view" and spec.get("type") == "on_demand":
        # Computed when read: entities of the views it reads, no ttl of its own.
        entities = dict.fromkeys(
            e["name"]
            for s in spec["sources"]
            if s["type"] == "feature_view"
            for e in s["view"]["entities"]
        )
        return (
            obj.name,
            str(obj.version),
            ",".join(entities),
            str(len(spec["schema"])),
            "on demand",
            "computed",
        )
    if obj.kind == "data_source":
        return (
            obj.name,
            spec["path"],
            spec["timestamp_field"],
            spec["created_timestamp_column"] or "-",
        )
    if obj.kind == "feature_view":
        keys = {e["join_key"] for e in spec["entities"]}
        features = [f["name"] for f in spec["schema"] if f["name"] not in keys]
        ttl = spec["ttl_seconds"]
        return (
            obj.name,
            str(obj.version),
            ",".join(e["name"] for e in spec["entities"]),
            str(len(features)),
            format_seconds(ttl) if ttl else "none",
            "yes" if spec["online"] else "no",
        )
    count = sum(len(p["features"]) for p in spec["features"])
    return (obj.name, str(count))


def format_seconds(seconds: int) -> str:
    """``86400`` -> ``1d``, ``5400`` -> ``90m``: the largest unit that divides evenly."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def describe_objects(objects: Sequence[CatalogObject], name: str) -> list[dict[str, Any]]:
    """Every catalog object called ``name`` (a view and a service may share a name)."""
    found = [
        {
            "kind": o.kind,
            "name": o.name,
            "version": o.version,
            "content_hash": o.content_hash,
            "created_at": o.created_at,
            "updated_at": o.updated_at,
            "spec": o.spec,
        }
        for o in objects
        if o.name == name
    ]
    if not found:
        raise ObjectNotFoundError("object", name, [o.name for o in objects])
    return found
