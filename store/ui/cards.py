"""Context builder for a model card: a revision's sections, its revisions and a diff.

The sections are rendered by :func:`registry.card_render.sections_html`, the renderer
``silage models card --format html`` uses, so the page and the file say the same thing.
The registry fills model details, metrics and training data on every read; people's
sections come from the revision shown (``?revision=n``, the latest by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry import SECTIONS
from registry.browse import CardRevision
from registry.card_render import sections_html
from registry.cards import HUMAN_SECTIONS
from store.ui.context import NotFound
from store.ui.diff import Change, diff

if TYPE_CHECKING:
    from store.feature_store import FeatureStore

__all__ = ["CardPage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CardPage:
    """``/ui/models/<name>/versions/<n>/card``: ``sections`` (the JSON twin's content,
    by section key; a deleted version's card keeps only people's sections),
    ``sections_html`` (the same, rendered), the revisions, and the changes
    from ``diff_from`` (``?diff=<revision>``, default the one before) to the revision."""

    title: str
    model: str
    version: int
    deleted: bool
    revision: int
    status: str
    created_by: str
    created_at: str
    sections: Mapping[str, Any]
    section_titles: Mapping[str, str]
    missing: tuple[str, ...]
    revisions: tuple[CardRevision, ...]
    diff_from: int | None
    changes: tuple[Change, ...]
    sections_html: str


def card_page(store: FeatureStore, name: str, number: int, query: Mapping[str, str]) -> CardPage:
    version = store.registry.browse.version(store.project, name, number)
    if version is None:
        raise NotFound("model version", f"{name} v{number}", f"/models/{name}")
    known: dict[str, Any] = {}
    if version.deleted_at is None:  # a deleted version keeps its revisions, not its facts
        latest = store.model_registry.cards.get(name, number)
        known = {k: v for k, v in latest.sections.items() if k not in HUMAN_SECTIONS}
    revisions = store.registry.browse.card_revisions(store.project, name, number)
    chosen = _number(query.get("revision"))
    shown = next(
        (r for r in revisions if r.revision == chosen), revisions[-1] if revisions else None
    )
    if chosen is not None and (shown is None or shown.revision != chosen):
        raise NotFound("card revision", f"{name} v{number} revision {chosen}", f"/models/{name}")
    sections = {**known, **(dict(shown.content) if shown else {})}
    base = _number(query.get("diff"))
    if base is None and shown is not None and shown.revision > 1:
        base = shown.revision - 1
    before = next((r for r in revisions if r.revision == base), None)
    changes = diff(dict(before.content), dict(shown.content)) if before and shown else []
    return CardPage(
        title=f"Model card: {name} v{number}",
        model=name,
        version=number,
        deleted=version.deleted_at is not None,
        revision=shown.revision if shown else 0,
        status=shown.status if shown else "draft",
        created_by=shown.created_by if shown else version.created_by,
        created_at=f"{(shown.created_at if shown else version.created_at):%Y-%m-%d %H:%M} UTC",
        sections=sections,
        section_titles=dict(SECTIONS),
        missing=tuple(SECTIONS[k] for k in SECTIONS if not sections.get(k)),
        revisions=tuple(revisions),
        diff_from=before.revision if before else None,
        changes=tuple(changes),
        sections_html=sections_html(sections, SECTIONS),
    )


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None
