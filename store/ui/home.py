"""Context builders for the home page (counts, recent activity) and the search page (one
box over every kind of object, matched by name in SQL)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from registry.browse import Activity, SearchHit

if TYPE_CHECKING:
    from store.feature_store import FeatureStore

__all__ = ["HomePage", "SearchPage"]

ACTIVITY = 25
HITS_PER_KIND = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class HomePage:
    """``/ui/``: how many objects of each kind the project holds, and the newest events."""

    title: str
    project: str
    counts: Mapping[str, int]
    activity: tuple[Activity, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchPage:
    """``/ui/search?q=``: objects whose name contains ``q`` (case-insensitive), at most
    20 per kind."""

    title: str
    query: str
    hits: tuple[SearchHit, ...]


def home_page(store: FeatureStore) -> HomePage:
    browse = store.registry.browse
    return HomePage(
        title=f"Silage: {store.project}",
        project=store.project,
        counts=browse.counts(store.project),
        activity=tuple(browse.activity(store.project, limit=ACTIVITY)),
    )


def search_page(store: FeatureStore, query: Mapping[str, str]) -> SearchPage:
    text = (query.get("q") or "").strip()[:200]
    hits = store.registry.browse.search(store.project, text, limit=HITS_PER_KIND)
    return SearchPage(title=f"Search: {text}" if text else "Search", query=text, hits=tuple(hits))
