"""What people read in a terminal, and what machines read instead.

Every ``silage`` command builds one value (a registry record, a report, a list of rows) and
shows it twice over: for a person by default (tables, trees, rounded numbers, relative
times) and, with ``--json``, as :func:`plain` JSON for machines. The JSON of a command is
its value's fields, as the public dataclasses of :mod:`registry` and :mod:`store` name
them (times in ISO 8601 with their UTC offset), so it changes only when those types do.

Example:
    >>> print(table([("NAME", "ROWS"), ("trips", "1,000"), ("drivers", "12")]))
    NAME     ROWS
    trips    1,000
    drivers  12
    >>> print(tree(("model v2", [("training set t", ["view a v1", "view b v3"])])))
    model v2
    └── training set t
        ├── view a v1
        └── view b v3
    >>> number(0.742804702655696), number(1000.0), number(1234567.0), number(None)
    ('0.7428', '1000', '1,234,567', '-')
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeAlias

__all__ = ["Node", "ago", "number", "outline", "plain", "table", "to_json", "tree"]

# A tree: a label, or a label with its children.
Node: TypeAlias = str | tuple[str, Sequence["Node"]]


def table(rows: Sequence[Sequence[Any]]) -> str:
    """Rows as aligned columns (the first row is the header); cells are ``str()``-ed."""
    cells = [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def tree(root: Node) -> str:
    """A tree drawn with box-drawing lines, one node per line."""
    label, children = (root, ()) if isinstance(root, str) else root
    lines = [label]
    for i, child in enumerate(children):
        last = i == len(children) - 1
        branch, indent = ("└── ", "    ") if last else ("├── ", "│   ")
        sub = tree(child).splitlines()
        lines.append(branch + sub[0])
        lines.extend(indent + line for line in sub[1:])
    return "\n".join(lines)


def outline(value: Any) -> list[Node]:
    """Nested data (a spec, a record) as tree nodes: ``key: value`` for scalars and lists of
    scalars, a branch per mapping and per item of a list of mappings (labelled by its
    ``name`` when it has one).

    Example:
        >>> spec = {"ttl": 86400, "schema": [{"name": "x", "dtype": "Int64"}]}
        >>> print(tree(("view", outline(spec))))
        view
        ├── ttl: 86400
        └── schema
            └── x
                └── dtype: Int64
    """
    data = plain(value)
    if isinstance(data, dict):
        nodes: list[Node] = []
        for key, item in data.items():
            nested = isinstance(item, list) and any(isinstance(i, dict) for i in item)
            if nested or (isinstance(item, dict) and item):
                nodes.append((str(key), outline(item)))
            else:
                nodes.append(f"{key}: {_scalar(item)}")
        return nodes
    if isinstance(data, list):
        branches: list[Node] = []
        for i, item in enumerate(data):
            if isinstance(item, dict):
                label = str(item.get("name", i))
                rest = {k: v for k, v in item.items() if k != "name"}
                branches.append((label, outline(rest)) if rest else label)
            else:
                branches.append(_scalar(item))
        return branches
    return [_scalar(data)]


def _scalar(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_scalar(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return "(none)"
    if isinstance(value, float):
        return number(value)
    return "-" if value is None else str(value)


def number(value: float | int | None, digits: int = 4) -> str:
    """A number for people: ``digits`` significant digits, whole numbers with thousands
    separators (``1000.0`` is ``1000``, not ``1000.0``), ``-`` for none or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if float(value).is_integer() and abs(value) < 1e15:
        whole = int(value)
        return f"{whole:,}" if abs(whole) >= 10_000 else str(whole)
    return f"{value:.{digits}g}"


def ago(when: datetime, now: datetime | None = None) -> str:
    """How long ago ``when`` was, roughly (``3 min ago``, ``2 h ago``, ``5 d ago``), with the
    UTC time for anything older than a week."""
    now = now or datetime.now(UTC)
    seconds = (now - when).total_seconds()
    if seconds < 0:
        return f"{when:%Y-%m-%d %H:%M} UTC"
    for unit, size in (("s", 60), ("min", 3600), ("h", 86400), ("d", 7 * 86400)):
        if seconds < size:
            scale = {"s": 1, "min": 60, "h": 3600, "d": 86400}[unit]
            return f"{int(seconds // scale)} {unit} ago"
    return f"{when:%Y-%m-%d %H:%M} UTC"


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses as objects of their fields, mappings as
    objects, sequences as arrays, times in ISO 8601, durations in seconds, non-finite
    numbers as null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, str | bytes):
        return value if isinstance(value, str) else value.hex()
    if isinstance(value, Sequence | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float):
        return value
    if hasattr(value, "item"):  # a NumPy scalar
        return plain(value.item())
    return str(value)


def to_json(value: Any) -> str:
    """:func:`plain` ``value`` as indented JSON text."""
    return json.dumps(plain(value), indent=2)
