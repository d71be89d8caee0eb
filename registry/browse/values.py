"""The values browse calls return: a page of rows and what each row says."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

__all__ = [
    "Activity",
    "AliasChange",
    "CardRevision",
    "CatalogFeature",
    "ModelSummary",
    "Page",
    "SearchHit",
    "TrainingSetSummary",
    "VersionSummary",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Rows ``offset`` to ``offset + len(rows)`` of ``total``."""

    rows: tuple[T, ...]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSummary:
    """A model in a listing: its live versions, the newest, its aliases."""

    name: str
    description: str
    versions: int
    latest_version: int | None
    updated_at: datetime
    aliases: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionSummary:
    """A model version in a listing, with its aliases and its card's latest status.

    ``card_status`` is None when nobody wrote a card; ``deleted_at`` is set for deleted
    versions (listings skip them; :meth:`Browse.version` finds them)."""

    model: str
    version: int
    created_at: datetime
    created_by: str
    description: str
    model_type: str
    metrics: Mapping[str, Any]
    tags: Mapping[str, Any]
    params: Mapping[str, Any]
    input_features: tuple[str, ...]
    training_set: str | None
    aliases: tuple[str, ...]
    card_status: str | None
    card_revision: int | None
    artifact_sha256: str
    artifact_size: int
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AliasChange:
    """One move of an alias (versions are None where it did not point)."""

    alias: str
    from_version: int | None
    to_version: int | None
    changed_by: str
    changed_at: datetime
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CardRevision:
    """One revision of a model card as written (people's sections only)."""

    revision: int
    status: str
    content: Mapping[str, Any]
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogFeature:
    """A feature of a current feature view's newest version."""

    feature_view: str
    version: int
    name: str
    dtype: str
    position: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingSetSummary:
    """A training set in a listing."""

    name: str
    fingerprint: str
    row_count: int
    features: int
    entity_time_min: datetime | None
    entity_time_max: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Activity:
    """Something that happened: ``kind`` is ``version``, ``alias``, ``deployment``,
    ``card`` or ``alert``; ``model``/``version``/``environment`` say where when known."""

    kind: str
    at: datetime
    by: str
    summary: str
    model: str | None = None
    version: int | None = None
    environment: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchHit:
    """An object whose name matched: ``kind`` is a catalog kind, ``feature`` (named
    ``view:feature``), ``training_set`` or ``model``."""

    kind: str
    name: str
    detail: str
