"""Plans: what applying a repository would change, down to the field.

Pure functions over specs: :func:`diff_specs` compares two specs field by field and
:func:`diff_catalog` compares a repository with the catalog. The facade adds the online
tables to create, rebuild or drop and renders the result for ``silage plan``.

Example:
    >>> before = {"ttl_seconds": 60, "tags": {}}
    >>> for d in diff_specs(before, {"ttl_seconds": 120, "tags": {"a": "b"}}):
    ...     print(d)
    FieldDiff(path='tags.a', before=None, after='b')
    FieldDiff(path='ttl_seconds', before=60, after=120)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from store.definitions.spec import KIND_LABEL
from store.online.layout import OnlineTableChange

__all__ = [
    "FieldDiff",
    "ObjectDiff",
    "OnlineTableChange",
    "Plan",
    "diff_catalog",
    "diff_specs",
]

KIND_ORDER = ("entity", "data_source", "feature_view", "feature_service")
_SYMBOL = {"create": "+", "update": "~", "delete": "-"}
_PAST = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "rebuild": "rebuilt",
    "drop": "dropped",
}


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One changed value at a dotted path of a spec (``schema.conv_rate.dtype``)."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectDiff:
    """A catalog object to create, update or delete."""

    kind: str
    name: str
    action: Literal["create", "update", "delete"]
    fields: tuple[FieldDiff, ...] = ()
    version_before: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """Everything an apply changes. Empty when the registry already matches."""

    project: str
    objects: tuple[ObjectDiff, ...] = ()
    online_tables: tuple[OnlineTableChange, ...] = ()

    @property
    def has_changes(self) -> bool:
        return bool(self.objects or self.online_tables)

    def render(self, *, applied: bool = False) -> str:
        """The text ``silage plan`` prints (``applied``: what ``silage apply`` did), one line
        per object and one per changed field."""
        verb = _PAST if applied else {a: a for a in _PAST}
        lines = [f"Project {self.project}:"]
        if not self.has_changes:
            lines.append("  No changes: the registry matches the repository.")
            return "\n".join(lines) + "\n"
        for obj in self.objects:
            label = f"{KIND_LABEL[obj.kind]} {obj.name}"
            if obj.kind == "feature_view" and obj.action == "update":
                label += f" (version {obj.version_before} -> {obj.version_before + 1})"  # type: ignore[operator]
            lines.append(f"  {_SYMBOL[obj.action]} {verb[obj.action]} {label}")
            lines.extend(
                f"      {f.path}: {_show(f.before)} -> {_show(f.after)}" for f in obj.fields
            )
        for table in self.online_tables:
            note = " (data must be materialized again)" if table.action == "rebuild" else ""
            lines.append(
                f"  * {verb[table.action]} online table {table.table} "
                f"for feature view {table.feature_view}{note}"
            )
        counts = {
            a: sum(o.action == a for o in self.objects) for a in ("create", "update", "delete")
        }
        summary = ", ".join(f"{n} {verb[a] if applied else 'to ' + a}" for a, n in counts.items())
        lines.append(f"{summary}; {len(self.online_tables)} online table change(s).")
        return "\n".join(lines) + "\n"


def diff_specs(before: Any, after: Any, path: str = "") -> list[FieldDiff]:
    """Field-level differences between two specs, sorted by path.

    Dicts compare key by key; lists of named dicts (a schema) compare by name, so that
    reordering reports a position change rather than every field; other lists compare whole.
    """
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        diffs: list[FieldDiff] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else str(key)
            diffs.extend(diff_specs(before.get(key), after.get(key), sub))
        return diffs
    if _named_list(before) and _named_list(after):
        old = {item["name"]: item for item in before}
        new = {item["name"]: item for item in after}
        diffs = diff_specs(old, new, path)
        if [i["name"] for i in before] != [i["name"] for i in after] and set(old) == set(new):
            diffs.append(
                FieldDiff(f"{path}.order", [i["name"] for i in before], [i["name"] for i in after])
            )
        return diffs
    return [] if before == after else [FieldDiff(path, before, after)]


def diff_catalog(
    current: Mapping[tuple[str, str], tuple[Mapping[str, Any], str, int | None]],
    desired: Mapping[tuple[str, str], tuple[Mapping[str, Any], str]],
    *,
    delete_missing: bool,
) -> list[ObjectDiff]:
    """Compare catalog objects ``(kind, name) -> (spec, hash, version)`` with declared ones
    ``(kind, name) -> (spec, hash)``; sorted by kind, then name."""
    diffs: list[ObjectDiff] = []
    for key, (spec, digest) in desired.items():
        found = current.get(key)
        if found is None:
            diffs.append(ObjectDiff(kind=key[0], name=key[1], action="create"))
        elif found[1] != digest:
            diffs.append(
                ObjectDiff(
                    kind=key[0],
                    name=key[1],
                    action="update",
                    fields=tuple(diff_specs(found[0], spec)),
                    version_before=found[2],
                )
            )
    if delete_missing:
        diffs.extend(
            ObjectDiff(kind=key[0], name=key[1], action="delete", version_before=found[2])
            for key, found in current.items()
            if key not in desired
        )
    return sorted(diffs, key=lambda d: (KIND_ORDER.index(d.kind), d.name))


def _named_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(i, Mapping) and isinstance(i.get("name"), str) for i in value)
        and len({i["name"] for i in value}) == len(value)
    )


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    return json.dumps(value, sort_keys=True)
