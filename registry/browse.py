"""Browsing the registry: paged listings, counts, recent activity and name search, in SQL.

The other registry classes answer one object at a time and read what surrounds each row
with a query of its own, which is right for the CLI and for serving. A web page listing a
thousand models cannot do that: every method here reads a page of rows, and what belongs
to those rows (aliases, card status, deployment targets), in a fixed number of queries
whatever the page holds. Sorting, filtering and paging run in the database.

Filters are case-insensitive substring matches (``LIKE`` with ``%`` and ``_`` escaped);
sorting by a metric reads it from the JSON column (``metrics[key]`` cast to a number),
which SQLite and PostgreSQL both support; versions missing the metric sort last.

Example:
    >>> from registry import Registry
    >>> browse = Registry("sqlite://").browse
    >>> browse.models("demo").total
    0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from registry.database import Database
from registry.deployments import DeploymentRevision, Target
from registry.tables import (
    AlertEventRow,
    DataSourceRow,
    DeploymentRevisionRow,
    DeploymentTargetRow,
    EntityRow,
    EnvironmentRow,
    FeatureServiceRow,
    FeatureViewFeatureRow,
    FeatureViewRow,
    FeatureViewVersionRow,
    ModelAliasHistoryRow,
    ModelAliasRow,
    ModelCardRow,
    ModelRow,
    ModelVersionRow,
    ProjectRow,
    TrainingSetFeatureRow,
    TrainingSetRow,
)

__all__ = [
    "Activity",
    "AliasChange",
    "Browse",
    "CardRevision",
    "CatalogFeature",
    "ModelSummary",
    "Page",
    "SearchHit",
    "TrainingSetSummary",
    "VersionSummary",
]

T = TypeVar("T")
MODEL_SORTS = ("name", "-name", "versions", "-versions", "updated", "-updated")
VERSION_SORTS = ("version", "-version", "created", "-created")  # and "metric:<key>" / "-metric:"
FEATURE_SORTS = ("name", "-name", "view", "-view", "dtype", "-dtype")
TRAINING_SET_SORTS = ("name", "-name", "created", "-created", "rows", "-rows")


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


class Browse:
    """Paged, batched reads over any project of one registry database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- counts and activity -------------------------------------------------------------

    def counts(self, project: str) -> dict[str, int]:
        """How many objects of each kind the project holds (deleted ones not counted)."""
        pid = _project_id(project)
        tables: dict[str, Select[Any]] = {
            "entities": select(func.count()).where(EntityRow.project_id == pid),
            "data_sources": select(func.count()).where(DataSourceRow.project_id == pid),
            "feature_views": select(func.count()).where(
                FeatureViewRow.project_id == pid, FeatureViewRow.deleted_at.is_(None)
            ),
            "feature_services": select(func.count()).where(FeatureServiceRow.project_id == pid),
            "training_sets": select(func.count()).where(TrainingSetRow.project_id == pid),
            "models": select(func.count()).where(ModelRow.project_id == pid),
            "model_versions": select(func.count())
            .select_from(ModelVersionRow)
            .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
            .where(ModelRow.project_id == pid, ModelVersionRow.deleted_at.is_(None)),
            "alerts": select(func.count()).where(AlertEventRow.project_id == pid),
        }
        with self._db.read() as session:
            # One statement: every count as a scalar subquery.
            row = session.execute(
                select(*(q.scalar_subquery().label(k) for k, q in tables.items()))
            ).one()
            return {key: int(value or 0) for key, value in zip(tables, row, strict=True)}

    def activity(self, project: str, *, limit: int = 20) -> list[Activity]:
        """The newest events, newest first: versions registered, aliases moved, deployment
        revisions, card revisions approved, alerts fired (one query per kind)."""
        pid = _project_id(project)
        found: list[Activity] = []
        with self._db.read() as session:
            for row in session.execute(
                select(ModelRow.name, ModelVersionRow.version, ModelVersionRow.created_by)
                .add_columns(ModelVersionRow.created_at)
                .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .where(ModelRow.project_id == pid)
                .order_by(ModelVersionRow.created_at.desc(), ModelVersionRow.id.desc())
                .limit(limit)
            ):
                found.append(
                    Activity(
                        kind="version",
                        at=row.created_at,
                        by=row.created_by,
                        summary=f"registered {row.name} v{row.version}",
                        model=row.name,
                        version=row.version,
                    )
                )
            for move in self._alias_moves(session, pid, None, limit):
                model, change = move
                target = f"v{change.to_version}" if change.to_version else "nothing (removed)"
                found.append(
                    Activity(
                        kind="alias",
                        at=change.changed_at,
                        by=change.changed_by,
                        summary=f"{model}@{change.alias} to {target}",
                        model=model,
                        version=change.to_version,
                    )
                )
            for dep in session.execute(
                select(
                    ModelRow.name,
                    EnvironmentRow.name.label("environment"),
                    DeploymentRevisionRow.revision,
                    DeploymentRevisionRow.action,
                    DeploymentRevisionRow.created_by,
                    DeploymentRevisionRow.created_at,
                )
                .join(ModelRow, ModelRow.id == DeploymentRevisionRow.model_id)
                .join(EnvironmentRow, EnvironmentRow.id == DeploymentRevisionRow.environment_id)
                .where(ModelRow.project_id == pid)
                .order_by(DeploymentRevisionRow.created_at.desc(), DeploymentRevisionRow.id.desc())
                .limit(limit)
            ):
                found.append(
                    Activity(
                        kind="deployment",
                        at=dep.created_at,
                        by=dep.created_by,
                        summary=f"{dep.name} in {dep.environment}: revision {dep.revision} "
                        f"({dep.action})",
                        model=dep.name,
                        environment=dep.environment,
                    )
                )
            for card in session.execute(
                select(
                    ModelRow.name,
                    ModelVersionRow.version,
                    ModelCardRow.revision,
                    ModelCardRow.created_by,
                    ModelCardRow.created_at,
                )
                .join(ModelVersionRow, ModelVersionRow.id == ModelCardRow.model_version_id)
                .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .where(ModelRow.project_id == pid, ModelCardRow.status == "approved")
                .order_by(ModelCardRow.created_at.desc(), ModelCardRow.id.desc())
                .limit(limit)
            ):
                found.append(
                    Activity(
                        kind="card",
                        at=card.created_at,
                        by=card.created_by,
                        summary=f"approved the card of {card.name} v{card.version} "
                        f"(revision {card.revision})",
                        model=card.name,
                        version=card.version,
                    )
                )
            for alert in session.scalars(
                select(AlertEventRow)
                .where(AlertEventRow.project_id == pid)
                .order_by(AlertEventRow.fired_at.desc(), AlertEventRow.id.desc())
                .limit(limit)
            ):
                found.append(
                    Activity(
                        kind="alert",
                        at=alert.fired_at,
                        by="monitoring",
                        summary=f"alert {alert.rule}: {alert.condition}",
                        model=alert.model,
                        environment=alert.environment,
                    )
                )
        found.sort(key=lambda a: a.at, reverse=True)
        return found[:limit]

    # --- models --------------------------------------------------------------------------

    def models(
        self,
        project: str,
        *,
        contains: str = "",
        sort: str = "name",
        offset: int = 0,
        limit: int = 50,
    ) -> Page[ModelSummary]:
        """A page of models, by name (``contains`` filters), version count or last update."""
        live = (
            select(
                ModelVersionRow.model_id,
                func.count().label("versions"),
                func.max(ModelVersionRow.version).label("latest"),
            )
            .where(ModelVersionRow.deleted_at.is_(None))
            .group_by(ModelVersionRow.model_id)
            .subquery()
        )
        where = [ModelRow.project_id == _project_id(project)]
        if contains:
            where.append(_contains(ModelRow.name, contains))
        keys: dict[str, Any] = {
            "name": ModelRow.name,
            "versions": func.coalesce(live.c.versions, 0),
            "updated": ModelRow.updated_at,
        }
        order = _order(keys, sort, "name")
        with self._db.read() as session:
            total = session.scalar(select(func.count()).select_from(ModelRow).where(*where)) or 0
            rows = session.execute(
                select(ModelRow, live.c.versions, live.c.latest)
                .outerjoin(live, live.c.model_id == ModelRow.id)
                .where(*where)
                .order_by(order, ModelRow.name)
                .offset(offset)
                .limit(limit)
            ).all()
            aliases: dict[int, list[tuple[str, int]]] = {}
            if rows:
                for model_id, alias, version in session.execute(
                    select(ModelAliasRow.model_id, ModelAliasRow.alias, ModelVersionRow.version)
                    .join(ModelVersionRow, ModelVersionRow.id == ModelAliasRow.model_version_id)
                    .where(ModelAliasRow.model_id.in_([r[0].id for r in rows]))
                    .order_by(ModelAliasRow.alias)
                ):
                    aliases.setdefault(model_id, []).append((alias, version))
        summaries = tuple(
            ModelSummary(
                name=model.name,
                description=model.description,
                versions=int(count or 0),
                latest_version=latest,
                updated_at=model.updated_at,
                aliases=tuple(aliases.get(model.id, ())),
            )
            for model, count, latest in rows
        )
        return Page(summaries, int(total), offset, limit)

    def has_model(self, project: str, name: str) -> bool:
        """Whether the project has a model of this name (with or without versions)."""
        with self._db.read() as session:
            found = session.scalar(
                select(ModelRow.id).where(
                    ModelRow.project_id == _project_id(project), ModelRow.name == name
                )
            )
        return found is not None

    def model_names(self, project: str, *, limit: int = 500) -> list[str]:
        """The first ``limit`` model names of the project, by name (one indexed query; for
        pages that only link to models)."""
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(ModelRow.name)
                    .where(ModelRow.project_id == _project_id(project))
                    .order_by(ModelRow.name)
                    .limit(limit)
                )
            )

    def versions(
        self,
        project: str,
        model: str,
        *,
        sort: str = "-version",
        offset: int = 0,
        limit: int = 50,
    ) -> Page[VersionSummary]:
        """A page of a model's versions; ``sort`` is ``version``, ``created`` or
        ``metric:<key>``, with ``-`` for descending."""
        descending = sort.startswith("-")
        key = sort.lstrip("-")
        where = [
            ModelRow.project_id == _project_id(project),
            ModelRow.name == model,
            ModelVersionRow.deleted_at.is_(None),
        ]
        if key.startswith("metric:"):
            value = ModelVersionRow.metrics[key.removeprefix("metric:")].as_float()
            # Versions without the metric last, whichever the direction.
            order: list[Any] = [value.is_(None), value.desc() if descending else value.asc()]
        else:
            column = ModelVersionRow.created_at if key == "created" else ModelVersionRow.version
            order = [column.desc() if descending else column.asc()]
        with self._db.read() as session:
            total = session.scalar(
                select(func.count())
                .select_from(ModelVersionRow)
                .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .where(*where)
            )
            rows = self._versions(session, where, [*order, ModelVersionRow.version], offset, limit)
        return Page(tuple(rows), int(total or 0), offset, limit)

    def version(self, project: str, model: str, version: int) -> VersionSummary | None:
        """One version, deleted or not; None when it never existed."""
        where = [
            ModelRow.project_id == _project_id(project),
            ModelRow.name == model,
            ModelVersionRow.version == version,
        ]
        with self._db.read() as session:
            rows = self._versions(session, where, [ModelVersionRow.version], 0, 1)
        return rows[0] if rows else None

    def versions_by_number(
        self, project: str, model: str, numbers: Sequence[int]
    ) -> list[VersionSummary]:
        """The named versions (deleted ones included), in version order."""
        where = [
            ModelRow.project_id == _project_id(project),
            ModelRow.name == model,
            ModelVersionRow.version.in_(list(numbers)),
        ]
        with self._db.read() as session:
            return self._versions(session, where, [ModelVersionRow.version], 0, len(numbers))

    def metric_series(self, project: str, model: str) -> list[tuple[int, Mapping[str, Any]]]:
        """Every live version's number and metrics, oldest first: a chart's points."""
        with self._db.read() as session:
            rows = session.execute(
                select(ModelVersionRow.version, ModelVersionRow.metrics)
                .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .where(
                    ModelRow.project_id == _project_id(project),
                    ModelRow.name == model,
                    ModelVersionRow.deleted_at.is_(None),
                )
                .order_by(ModelVersionRow.version)
            ).all()
        return [(int(v), dict(m or {})) for v, m in rows]

    def alias_history(self, project: str, model: str, *, limit: int = 200) -> list[AliasChange]:
        """A model's alias moves, newest first."""
        with self._db.read() as session:
            moves = self._alias_moves(session, _project_id(project), model, limit)
        return [change for _, change in moves]

    def card_revisions(self, project: str, model: str, version: int) -> list[CardRevision]:
        """Every revision of a version's card, oldest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(ModelCardRow)
                .join(ModelVersionRow, ModelVersionRow.id == ModelCardRow.model_version_id)
                .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .where(
                    ModelRow.project_id == _project_id(project),
                    ModelRow.name == model,
                    ModelVersionRow.version == version,
                )
                .order_by(ModelCardRow.revision)
            ).all()
        return [
            CardRevision(
                revision=r.revision,
                status=r.status,
                content=dict(r.content),
                created_by=r.created_by,
                created_at=r.created_at,
            )
            for r in rows
        ]

    # --- deployments ---------------------------------------------------------------------

    def deployment_history(
        self, project: str, model: str | None = None, environment: str | None = None
    ) -> list[DeploymentRevision]:
        """Deployment revisions with their targets, oldest first (two queries)."""
        where: list[ColumnElement[bool]] = [ModelRow.project_id == _project_id(project)]
        if model is not None:
            where.append(ModelRow.name == model)
        if environment is not None:
            where.append(EnvironmentRow.name == environment)
        return self._revisions(where, latest_only=False)

    def live_deployments(self, project: str, model: str | None = None) -> list[DeploymentRevision]:
        """The newest revision of every model in every environment (two queries)."""
        where: list[ColumnElement[bool]] = [ModelRow.project_id == _project_id(project)]
        if model is not None:
            where.append(ModelRow.name == model)
        return self._revisions(where, latest_only=True)

    # --- catalog -------------------------------------------------------------------------

    def features(
        self,
        project: str,
        *,
        contains: str = "",
        sort: str = "view",
        offset: int = 0,
        limit: int = 100,
    ) -> Page[CatalogFeature]:
        """A page of the flat feature catalogue: every feature of every current view."""
        latest = (
            select(
                FeatureViewVersionRow.feature_view_id,
                func.max(FeatureViewVersionRow.version).label("version"),
            )
            .group_by(FeatureViewVersionRow.feature_view_id)
            .subquery()
        )
        base = (
            select(
                FeatureViewRow.name.label("view"),
                FeatureViewVersionRow.version,
                FeatureViewFeatureRow.name,
                FeatureViewFeatureRow.dtype,
                FeatureViewFeatureRow.position,
            )
            .join(latest, latest.c.feature_view_id == FeatureViewRow.id)
            .join(
                FeatureViewVersionRow,
                and_(
                    FeatureViewVersionRow.feature_view_id == FeatureViewRow.id,
                    FeatureViewVersionRow.version == latest.c.version,
                ),
            )
            .join(
                FeatureViewFeatureRow,
                FeatureViewFeatureRow.feature_view_version_id == FeatureViewVersionRow.id,
            )
            .where(
                FeatureViewRow.project_id == _project_id(project),
                FeatureViewRow.deleted_at.is_(None),
            )
        )
        if contains:
            base = base.where(
                or_(
                    _contains(FeatureViewFeatureRow.name, contains),
                    _contains(FeatureViewRow.name, contains),
                )
            )
        keys: dict[str, Any] = {
            "name": FeatureViewFeatureRow.name,
            "view": FeatureViewRow.name,
            "dtype": FeatureViewFeatureRow.dtype,
        }
        order = _order(keys, sort, "view")
        with self._db.read() as session:
            total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
            rows = session.execute(
                base.order_by(order, FeatureViewRow.name, FeatureViewFeatureRow.position)
                .offset(offset)
                .limit(limit)
            ).all()
        return Page(
            tuple(
                CatalogFeature(
                    feature_view=r.view,
                    version=r.version,
                    name=r.name,
                    dtype=r.dtype,
                    position=r.position,
                )
                for r in rows
            ),
            int(total),
            offset,
            limit,
        )

    def training_sets(
        self,
        project: str,
        *,
        contains: str = "",
        sort: str = "-created",
        offset: int = 0,
        limit: int = 50,
        using_view: str | None = None,
    ) -> Page[TrainingSetSummary]:
        """A page of training sets (only those reading ``using_view``, when given)."""
        width = (
            select(TrainingSetFeatureRow.training_set_id, func.count().label("features"))
            .group_by(TrainingSetFeatureRow.training_set_id)
            .subquery()
        )
        where: list[ColumnElement[bool]] = [TrainingSetRow.project_id == _project_id(project)]
        if contains:
            where.append(_contains(TrainingSetRow.name, contains))
        if using_view is not None:
            where.append(
                TrainingSetRow.id.in_(
                    select(TrainingSetFeatureRow.training_set_id)
                    .join(
                        FeatureViewVersionRow,
                        FeatureViewVersionRow.id == TrainingSetFeatureRow.feature_view_version_id,
                    )
                    .join(
                        FeatureViewRow, FeatureViewRow.id == FeatureViewVersionRow.feature_view_id
                    )
                    .where(FeatureViewRow.name == using_view)
                )
            )
        keys: dict[str, Any] = {
            "name": TrainingSetRow.name,
            "created": TrainingSetRow.created_at,
            "rows": TrainingSetRow.row_count,
        }
        order = _order(keys, sort, "-created")
        with self._db.read() as session:
            total = (
                session.scalar(select(func.count()).select_from(TrainingSetRow).where(*where)) or 0
            )
            rows = session.execute(
                select(
                    TrainingSetRow.name,
                    TrainingSetRow.fingerprint,
                    TrainingSetRow.row_count,
                    TrainingSetRow.entity_time_min,
                    TrainingSetRow.entity_time_max,
                    TrainingSetRow.created_at,
                    width.c.features,
                )
                .outerjoin(width, width.c.training_set_id == TrainingSetRow.id)
                .where(*where)
                .order_by(order, TrainingSetRow.name)
                .offset(offset)
                .limit(limit)
            ).all()
        return Page(
            tuple(
                TrainingSetSummary(
                    name=r.name,
                    fingerprint=r.fingerprint,
                    row_count=r.row_count,
                    features=int(r.features or 0),
                    entity_time_min=r.entity_time_min,
                    entity_time_max=r.entity_time_max,
                    created_at=r.created_at,
                )
                for r in rows
            ),
            int(total),
            offset,
            limit,
        )

    def trained_on(self, project: str, training_set: str) -> list[tuple[str, int, bool]]:
        """Model versions trained on a training set: (model, version, deleted)."""
        with self._db.read() as session:
            rows = session.execute(
                select(ModelRow.name, ModelVersionRow.version, ModelVersionRow.deleted_at)
                .join(ModelVersionRow, ModelVersionRow.model_id == ModelRow.id)
                .join(TrainingSetRow, TrainingSetRow.id == ModelVersionRow.training_set_id)
                .where(
                    ModelRow.project_id == _project_id(project),
                    TrainingSetRow.name == training_set,
                )
                .order_by(ModelRow.name, ModelVersionRow.version)
            ).all()
        return [(str(m), int(v), d is not None) for m, v, d in rows]

    def deleted_views(self, project: str) -> set[str]:
        """Names of the project's deleted feature views (their versions stay)."""
        with self._db.read() as session:
            return set(
                session.scalars(
                    select(FeatureViewRow.name).where(
                        FeatureViewRow.project_id == _project_id(project),
                        FeatureViewRow.deleted_at.is_not(None),
                    )
                )
            )

    def search(self, project: str, text: str, *, limit: int = 20) -> list[SearchHit]:
        """Objects of every kind whose name contains ``text`` (case-insensitive), at most
        ``limit`` per kind; one query per kind."""
        if not text.strip():
            return []
        pid = _project_id(project)
        text = text.strip()
        named: list[tuple[str, Any, list[ColumnElement[bool]]]] = [
            ("entity", EntityRow, [EntityRow.project_id == pid]),
            ("data_source", DataSourceRow, [DataSourceRow.project_id == pid]),
            (
                "feature_view",
                FeatureViewRow,
                [FeatureViewRow.project_id == pid, FeatureViewRow.deleted_at.is_(None)],
            ),
            ("feature_service", FeatureServiceRow, [FeatureServiceRow.project_id == pid]),
            ("training_set", TrainingSetRow, [TrainingSetRow.project_id == pid]),
            ("model", ModelRow, [ModelRow.project_id == pid]),
        ]
        hits: list[SearchHit] = []
        with self._db.read() as session:
            for kind, table, where in named:
                for name in session.scalars(
                    select(table.name)
                    .where(*where, _contains(table.name, text))
                    .order_by(table.name)
                    .limit(limit)
                ):
                    hits.append(SearchHit(kind=kind, name=name, detail=""))
        features = self.features(project, contains=text, limit=limit)
        hits.extend(
            SearchHit(
                kind="feature",
                name=f"{f.feature_view}:{f.name}",
                detail=f"{f.dtype}, {f.feature_view} v{f.version}",
            )
            for f in features.rows
            if text.lower() in f.name.lower()
        )
        return hits

    # --- internals -----------------------------------------------------------------------

    def _versions(
        self,
        session: Session,
        where: Sequence[ColumnElement[bool]],
        order: Sequence[Any],
        offset: int,
        limit: int,
    ) -> list[VersionSummary]:
        latest_card = (
            select(
                ModelCardRow.model_version_id,
                func.max(ModelCardRow.revision).label("revision"),
            )
            .group_by(ModelCardRow.model_version_id)
            .subquery()
        )
        card = aliased(ModelCardRow)
        rows = session.execute(
            select(ModelRow.name, ModelVersionRow, TrainingSetRow.name, card.status, card.revision)
            .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
            .outerjoin(TrainingSetRow, TrainingSetRow.id == ModelVersionRow.training_set_id)
            .outerjoin(latest_card, latest_card.c.model_version_id == ModelVersionRow.id)
            .outerjoin(
                card,
                and_(
                    card.model_version_id == ModelVersionRow.id,
                    card.revision == latest_card.c.revision,
                ),
            )
            .where(*where)
            .order_by(*order)
            .offset(offset)
            .limit(limit)
        ).all()
        aliases: dict[int, list[str]] = {}
        if rows:
            for version_id, alias in session.execute(
                select(ModelAliasRow.model_version_id, ModelAliasRow.alias)
                .where(ModelAliasRow.model_version_id.in_([r[1].id for r in rows]))
                .order_by(ModelAliasRow.alias)
            ):
                aliases.setdefault(version_id, []).append(alias)
        return [
            VersionSummary(
                model=name,
                version=row.version,
                created_at=row.created_at,
                created_by=row.created_by,
                description=row.description,
                model_type=row.model_type,
                metrics=dict(row.metrics or {}),
                tags=dict(row.tags or {}),
                params=dict(row.params or {}),
                input_features=tuple(row.input_features.get("names", [])),
                training_set=training_set,
                aliases=tuple(aliases.get(row.id, ())),
                card_status=status,
                card_revision=revision,
                artifact_sha256=row.artifact_sha256,
                artifact_size=row.artifact_size,
                deleted_at=row.deleted_at,
            )
            for name, row, training_set, status, revision in rows
        ]

    def _alias_moves(
        self, session: Session, project_id: Any, model: str | None, limit: int
    ) -> list[tuple[str, AliasChange]]:
        before, after = aliased(ModelVersionRow), aliased(ModelVersionRow)
        query = (
            select(ModelRow.name, ModelAliasHistoryRow, before.version, after.version)
            .join(ModelRow, ModelRow.id == ModelAliasHistoryRow.model_id)
            .outerjoin(before, before.id == ModelAliasHistoryRow.from_version_id)
            .outerjoin(after, after.id == ModelAliasHistoryRow.to_version_id)
            .where(ModelRow.project_id == project_id)
            .order_by(ModelAliasHistoryRow.changed_at.desc(), ModelAliasHistoryRow.id.desc())
            .limit(limit)
        )
        if model is not None:
            query = query.where(ModelRow.name == model)
        return [
            (
                name,
                AliasChange(
                    alias=row.alias,
                    from_version=old,
                    to_version=new,
                    changed_by=row.changed_by,
                    changed_at=row.changed_at,
                    reason=row.reason,
                ),
            )
            for name, row, old, new in session.execute(query).all()
        ]

    def _revisions(
        self, where: Sequence[ColumnElement[bool]], *, latest_only: bool
    ) -> list[DeploymentRevision]:
        query = (
            select(DeploymentRevisionRow, ModelRow.name, EnvironmentRow.name)
            .join(ModelRow, ModelRow.id == DeploymentRevisionRow.model_id)
            .join(EnvironmentRow, EnvironmentRow.id == DeploymentRevisionRow.environment_id)
            .where(*where)
        )
        if latest_only:
            latest = (
                select(
                    DeploymentRevisionRow.environment_id,
                    DeploymentRevisionRow.model_id,
                    func.max(DeploymentRevisionRow.revision).label("revision"),
                )
                .group_by(DeploymentRevisionRow.environment_id, DeploymentRevisionRow.model_id)
                .subquery()
            )
            query = query.join(
                latest,
                and_(
                    latest.c.environment_id == DeploymentRevisionRow.environment_id,
                    latest.c.model_id == DeploymentRevisionRow.model_id,
                    latest.c.revision == DeploymentRevisionRow.revision,
                ),
            )
        with self._db.read() as session:
            rows = session.execute(
                query.order_by(ModelRow.name, EnvironmentRow.name, DeploymentRevisionRow.revision)
            ).all()
            targets: dict[int, list[Target]] = {}
            if rows:
                for revision_id, target, version in session.execute(
                    select(DeploymentTargetRow.revision_id, DeploymentTargetRow, ModelVersionRow)
                    .join(
                        ModelVersionRow, ModelVersionRow.id == DeploymentTargetRow.model_version_id
                    )
                    .where(DeploymentTargetRow.revision_id.in_([r[0].id for r in rows]))
                    .order_by(DeploymentTargetRow.id)
                ).all():
                    targets.setdefault(revision_id, []).append(
                        Target(version.version, target.role, target.share, target.arm)
                    )
        return [
            DeploymentRevision(
                model=model,
                environment=environment,
                revision=row.revision,
                action=row.action,
                created_by=row.created_by,
                created_at=row.created_at,
                reason=row.reason,
                targets=tuple(targets.get(row.id, ())),
                mode=row.mode,
                policy=row.policy,
                evidence=row.evidence,
            )
            for row, model, environment in rows
        ]


def _project_id(project: str) -> Any:
    """The project's id as a scalar subquery, so no query is spent looking it up."""
    return select(ProjectRow.id).where(ProjectRow.name == project).scalar_subquery()


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return result


def _order(keys: Mapping[str, Any], sort: str, default: str) -> Any:
    """``sort`` (a key, ``-`` for descending) as an ORDER BY item; unknown keys fall back."""
    key = sort.lstrip("-")
    if key not in keys:
        sort, key = default, default.lstrip("-")
    column = keys[key]
    return column.desc() if sort.startswith("-") else column.asc()
