"""Model cards for people: every section as prose and tables, numbers rounded.

One renderer serves the web UI (which embeds :func:`sections_html` in its page) and
``silage models card --format html`` (:meth:`ModelCard.to_html`, a standalone page around
the same fragment). Values are shown by their shape, never as JSON dumps:

- text is a paragraph; a list of plain values is a bulleted list;
- a mapping of plain values is a two-column table (``name | value``);
- a mapping of mappings (``{slice: {metric: value}}``) is one table, a row per key and a
  column per inner key; a list of mappings is the same table, a row per item;
- deeper values nest the same rules inside a cell.

Numbers go through :func:`format_number`: integers (and floats holding one) with thousands
separators, other floats to four significant digits.

Example:
    >>> format_number(0.742804702655696), format_number(1000.0), format_number(12345.678)
    ('0.7428', '1,000', '12,346')
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = ["PRINT_CSS", "format_number", "format_value", "sections_html", "value_html"]

# The standalone page's style; the print rules also apply inside the web UI's stylesheet.
PRINT_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;line-height:1.5;"
    "padding:0 1rem;color:#1b1b1b}table{border-collapse:collapse;margin:.4rem 0}"
    "td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}.missing{color:#a40000}"
    ".status{font-weight:600}"
    "@media print{body{margin:0;max-width:none;font-size:10.5pt}nav,form,.noprint{display:none}"
    "h2{break-after:avoid}table,figure{break-inside:avoid}a{color:inherit;text-decoration:none}}"
)


def format_number(value: float) -> str:
    """A number as people read it: ``4,000``, ``0.7428``, ``1.3e-37``, ``12,346``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) < 1e-4:
        return f"{value:.2g}"
    return f"{value:.4g}"


def format_value(value: Any) -> str:
    """A plain value as text: numbers formatted, times in UTC, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S} UTC"
    return str(value)


def sections_html(sections: Mapping[str, Any], titles: Mapping[str, str], level: int = 2) -> str:
    """The card's sections as HTML: a heading each, then its content (escaped)."""
    parts = []
    for key, title in titles.items():
        value = sections.get(key)
        body = _block(value) if value else '<p class="missing">Missing.</p>'
        heading = f"<h{level}>{html.escape(title)}</h{level}>"
        parts.append(f'<section id="{key}">{heading}{body}</section>')
    return "\n".join(parts)


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | datetime)


def _cell(value: Any) -> str:
    if _plain(value):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        css = ' class="num"' if number else ""
        return f"<td{css}>{html.escape(format_value(value))}</td>"
    return f"<td>{_block(value)}</td>"


def _block(value: Any) -> str:
    if _plain(value):
        return f"<p>{html.escape(format_value(value))}</p>"
    if isinstance(value, Mapping):
        if value and all(isinstance(v, Mapping) for v in value.values()):
            return _grid([(str(k), v) for k, v in value.items()])
        rows = "".join(
            f'<tr><th scope="row">{html.escape(str(k))}</th>{_cell(v)}</tr>'
            for k, v in value.items()
        )
        return f"<table>{rows}</table>"
    if isinstance(value, Sequence) and not isinstance(value, str):
        if value and all(isinstance(v, Mapping) for v in value):
            return _grid([("", v) for v in value])
        if value and all(isinstance(v, int | float) for v in value):
            return f"<p>{html.escape(', '.join(format_value(v) for v in value))}</p>"
        items = "".join(
            f"<li>{html.escape(format_value(v)) if _plain(v) else _block(v)}</li>" for v in value
        )
        return f"<ul>{items}</ul>"
    return f"<p>{html.escape(str(value))}</p>"


def _grid(rows: list[tuple[str, Mapping[str, Any]]]) -> str:
    """Rows of mappings as one table, a column per key (in order of first appearance)."""
    columns: list[str] = []
    for _, row in rows:
        columns.extend(k for k in map(str, row) if k not in columns)
    labelled = any(label for label, _ in rows)
    head = ("<th></th>" if labelled else "") + "".join(
        f'<th scope="col">{html.escape(c)}</th>' for c in columns
    )
    body = "".join(
        "<tr>"
        + (f'<th scope="row">{html.escape(label)}</th>' if labelled else "")
        + "".join(_cell(row.get(c)) for c in columns)
        + "</tr>"
        for label, row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def value_html(value: Any) -> str:
    """Any value (a spec, a policy, evidence) as HTML by the same rules as a card section."""
    return _block(value) if value not in (None, "", {}, []) else "<p>—</p>"
