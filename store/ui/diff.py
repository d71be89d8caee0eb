"""Field-level differences between two nested values (view specs, card revisions).

Both sides are flattened to dotted paths (``source.path``, ``features.2.dtype``); a
change is a path whose value differs, was added or was removed.

Example:
    >>> [c.path for c in diff({"ttl": 3600, "tags": {"a": 1}}, {"ttl": 7200, "tags": {"a": 2}})]
    ['tags.a', 'ttl']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Change", "diff", "flatten"]

_ABSENT = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One path: ``kind`` is ``added``, ``removed`` or ``changed``; values as text."""

    path: str
    kind: str
    before: str | None
    after: str | None


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a nested value by dotted path; empty containers are leaves."""
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list | tuple) and value:
        out = {}
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return {prefix: value}


def diff(before: Any, after: Any) -> list[Change]:
    """Paths whose values differ, sorted by path."""
    old, new = flatten(before), flatten(after)
    changes = []
    for path in sorted(set(old) | set(new)):
        a, b = old.get(path, _ABSENT), new.get(path, _ABSENT)
        if a == b:
            continue
        kind = "added" if a is _ABSENT else "removed" if b is _ABSENT else "changed"
        changes.append(
            Change(
                path=path,
                kind=kind,
                before=None if a is _ABSENT else str(a),
                after=None if b is _ABSENT else str(b),
            )
        )
    return changes
