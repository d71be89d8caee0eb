"""Inline SVG drawn in Python: histograms, a metric-over-versions chart, the lineage graph.

Each function returns a complete ``<svg>`` element (well-formed XML, every text escaped,
``role="img"`` (``role="group"`` when it holds links) and an ``aria-label``); pages put a
table or list with the same numbers beside it for screen readers and for copying. No script,
no external resource.

Example:
    >>> histogram([1, 3, 2], "conv_rate").startswith("<svg")
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from registry.card_render import format_number

__all__ = ["GraphEdge", "GraphNode", "graph", "histogram", "line_chart", "paired_histogram"]

_BAR = "#3b6fb6"
_REFERENCE = "#9a9a9a"
_LINES = ("#3b6fb6", "#c0562a", "#2f8f4e", "#8a4fb0", "#b08a1e", "#2a8fa0")


def _svg(width: int, height: int, label: str, body: str, *, role: str = "img") -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="{role}" aria-label="{escape(label)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def histogram(counts: Sequence[float], label: str, *, width: int = 160, height: int = 40) -> str:
    """Bars of ``counts`` (a small one fits in a table cell)."""
    top = max([*counts, 1e-12])
    n = max(len(counts), 1)
    bar = width / n
    rects = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - c / top * height:.1f}" '
        f'width="{max(bar - 1, 1):.1f}" height="{c / top * height:.1f}" fill="{_BAR}"/>'
        for i, c in enumerate(counts)
    )
    return _svg(width, height, f"histogram of {label}", rects)


def paired_histogram(
    reference: Sequence[float], current: Sequence[float], label: str, *, width: int = 420
) -> str:
    """Reference (grey) and current (blue) shares per bin, side by side."""
    height, gap = 120, 3
    n = max(len(reference), 1)
    bar = (width - gap * n) / (2 * n)
    top = max([*reference, *current, 1e-12])
    rects = []
    for i, pair in enumerate(zip(reference, current, strict=False)):
        x = i * (2 * bar + gap)
        for offset, value, color in ((0.0, pair[0], _REFERENCE), (bar, pair[1], _BAR)):
            h = value / top * (height - 4)
            rects.append(
                f'<rect x="{x + offset:.1f}" y="{height - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"/>'
            )
    return _svg(width, height, f"{label}: reference (grey) and current (blue)", "".join(rects))


def line_chart(
    series: Mapping[str, Sequence[tuple[int, float]]], label: str, *, width: int = 560
) -> str:
    """One line per series over integer x (versions); each series scaled to its own range,
    its minimum and maximum printed in the legend (metrics differ in scale)."""
    height, left, right, top, bottom = 180, 8, 8, 8, 22
    xs = sorted({x for points in series.values() for x, _ in points})
    if not xs:
        return _svg(width, height, label, "")
    lo_x, hi_x = xs[0], xs[-1]
    span_x = max(hi_x - lo_x, 1)
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = []
    legend_y = 12
    for i, (name, points) in enumerate(sorted(series.items())):
        if not points:
            continue
        color = _LINES[i % len(_LINES)]
        ys = [y for _, y in points]
        lo, hi = min(ys), max(ys)
        span = (hi - lo) or 1.0

        # A flat series is drawn at mid-height; others fill 90% of the height.
        scale = 0.9 if hi != lo else 0.0
        coords = [
            (
                left + (x - lo_x) / span_x * plot_w,
                top
                + plot_h * (0.95 - (0.45 if hi == lo else 0.0))
                - (y - lo) / span * plot_h * scale,
            )
            for x, y in points
        ]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in coords)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        parts.extend(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"/>' for px, py in coords
        )
        parts.append(
            f'<text x="{width - right}" y="{legend_y}" text-anchor="end" font-size="11" '
            f'fill="{color}">{escape(name)} {escape(format_number(lo))} to '
            f"{escape(format_number(hi))}</text>"
        )
        legend_y += 13
    for x in xs if len(xs) <= 20 else xs[:: max(len(xs) // 10, 1)]:
        px = left + (x - lo_x) / span_x * plot_w
        parts.append(
            f'<text x="{px:.1f}" y="{height - 6}" text-anchor="middle" font-size="11">v{x}</text>'
        )
    return _svg(width, height, label, "".join(parts))


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphNode:
    """A node of the lineage graph: its column (stage), label, link and whether the object
    it stands for was deleted."""

    id: str
    kind: str
    label: str
    column: int
    href: str | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class GraphEdge:
    source: str
    target: str


def graph(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge], label: str) -> str:
    """Nodes in columns left to right (sources to deployments), edges as curves, each node
    a link to its page; deleted objects drawn dashed and struck through."""
    box_w, box_h, col_gap, row_gap, pad = 170, 34, 40, 12, 8
    columns: dict[int, list[GraphNode]] = {}
    for node in nodes:
        columns.setdefault(node.column, []).append(node)
    order = sorted(columns)
    where: dict[str, tuple[float, float]] = {}
    for ci, column in enumerate(order):
        for ri, node in enumerate(columns[column]):
            where[node.id] = (pad + ci * (box_w + col_gap), pad + ri * (box_h + row_gap))
    rows = max((len(c) for c in columns.values()), default=1)
    width = pad * 2 + len(order) * (box_w + col_gap) - col_gap
    height = pad * 2 + rows * (box_h + row_gap) - row_gap
    parts = []
    for edge in edges:
        if edge.source not in where or edge.target not in where:
            continue
        (x1, y1), (x2, y2) = where[edge.source], where[edge.target]
        x1, y1, y2 = x1 + box_w, y1 + box_h / 2, y2 + box_h / 2
        mid = (x1 + x2) / 2
        curve = f"M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        parts.append(f'<path d="{curve}" fill="none" stroke="#888" stroke-width="1.2"/>')
    for node in nodes:
        x, y = where[node.id]
        dash = ' stroke-dasharray="4 3"' if node.deleted else ""
        text = node.label if len(node.label) <= 24 else node.label[:23] + "…"
        deco = ' text-decoration="line-through"' if node.deleted else ""
        box = (
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="4" '
            f'fill="{"#f4f4f4" if node.deleted else "#eef3fa"}" stroke="#3b6fb6"{dash}/>'
            f'<text x="{x + 6}" y="{y + 13}" font-size="10" fill="#555">{escape(node.kind)}'
            f"{' (deleted)' if node.deleted else ''}</text>"
            f'<text x="{x + 6}" y="{y + 27}" font-size="12"{deco}>{escape(text)}</text>'
        )
        if node.href:
            box = f'<a href="{escape(node.href)}">{box}</a>'
        parts.append(box)
    # A picture whose nodes are links is a group, not an image: an image's content is
    # hidden from assistive technology, so its links would be unreachable.
    role = "group" if any(node.href for node in nodes) else "img"
    return _svg(max(width, 1), max(height, 1), label, "".join(parts), role=role)
