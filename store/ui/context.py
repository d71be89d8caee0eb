"""Shapes shared by every page's context, and the JSON form of any context.

A page's context is a frozen dataclass of plain values, registry records and nested
dataclasses. :func:`to_json` turns it into the JSON twin: dataclasses become objects
(field by field, in declaration order), tuples lists, times ISO 8601 strings in UTC with a
``Z``, non-finite floats ``null``. The twin's shape is therefore the context's fields: a
field added to a context appears in both renderings at once, and a test pins that every
HTML page has its twin.

Example:
    >>> from datetime import UTC, datetime
    >>> to_json(Paging(offset=0, limit=50, total=120, sort="name", filter=""))["next_offset"]
    50
    >>> to_json(datetime(2026, 1, 2, 3, 4, tzinfo=UTC))
    '2026-01-02T03:04:00Z'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["PAGE_SIZE", "NotFound", "Paging", "to_json"]

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class NotFound(LookupError):
    """A URL naming something the registry does not hold: ``what`` and ``name`` are shown
    on the 404 page, with a link back to ``back`` (a path under /ui)."""

    def __init__(self, what: str, name: str, back: str = "") -> None:
        super().__init__(f"no {what} named {name!r}")
        self.what, self.name, self.back = what, name, back


@dataclass(frozen=True, slots=True, kw_only=True)
class Paging:
    """Where a paged list is: rows ``offset`` to ``offset + limit`` of ``total``, and the
    sort and filter the URL asked for (echoed so links can keep them)."""

    offset: int
    limit: int
    total: int
    sort: str
    filter: str

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def previous_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset > 0 else None

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.limit, self.total)


def to_json(value: Any) -> Any:
    """A context (or any part of one) as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Paging):
            out["next_offset"] = value.next_offset
            out["previous_offset"] = value.previous_offset
        return out
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_json(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return value


def page_args(query: Mapping[str, str], default_sort: str) -> tuple[int, int, str, str]:
    """``offset``, ``limit``, ``sort`` and ``q`` from a query string, bad numbers ignored."""
    offset = _int(query.get("offset"), 0, 0, 10**9)
    limit = _int(query.get("limit"), PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return offset, limit, query.get("sort") or default_sort, (query.get("q") or "").strip()


def _int(text: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(text or default), low), high)
    except ValueError:
        return default
