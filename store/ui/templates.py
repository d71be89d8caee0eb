"""The Jinja2 environment: the one module that imports Jinja2.

Templates live in ``store/ui/templates/`` (shipped in the wheel), autoescape is on for
every template, and the filters format values the way the model card does
(:mod:`registry.card_render`): ``num`` for numbers, ``when`` for times (UTC, shown as
such), ``share`` for traffic percentages. SVG strings built by :mod:`store.ui.svg`, and the
card's rendered sections, are the only values marked safe, by the templates themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from registry.card_render import format_value, value_html

__all__ = ["render"]

HERE = Path(__file__).resolve().parent


def when(value: datetime | None) -> str:
    """A time as ``2026-11-27 10:00:00 UTC`` (em dash when unknown)."""
    if value is None:
        return "—"
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def share(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"


def block(value: Any) -> Any:
    """A nested value (parameters, a spec) as tables and lists, escaped, marked safe."""
    from markupsafe import Markup

    return Markup(value_html(value))  # safe: value_html escapes every value it holds


@cache
def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=format_value, when=when, share=share, block=block)
    env.globals.update(zip=zip)
    return env


def render(template: str, **context: Any) -> str:
    """Render ``template`` with ``context`` (autoescaped)."""
    return str(_environment().get_template(template).render(**context))


def stylesheet() -> str:
    """The UI's one stylesheet."""
    return (HERE / "static" / "ui.css").read_text(encoding="utf-8")
