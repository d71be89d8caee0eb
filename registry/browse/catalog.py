"""Reads of the feature catalog and training sets, and the name search over every kind."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from registry.browse.sql import Reads, name_contains, project_id_of, sort_order
from registry.browse.values import (
    CatalogFeature,
    Page,
    SearchHit,
    TrainingSetSummary,
)
from registry.tables import (
    DataSourceRow,
    EntityRow,
    FeatureServiceRow,
    FeatureViewFeatureRow,
    FeatureViewRow,
    FeatureViewVersionRow,
    ModelRow,
    ModelVersionRow,
    TrainingSetFeatureRow,
    TrainingSetRow,
)

__all__ = ["CatalogReads"]


class CatalogReads(Reads):
    """The flat feature catalogue, training sets and the search box."""

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
                FeatureViewRow.project_id == project_id_of(project),
                FeatureViewRow.deleted_at.is_(None),
            )
        )
        if contains:
            base = base.where(
                or_(
                    name_contains(FeatureViewFeatureRow.name, contains),
                    name_contains(FeatureViewRow.name, contains),
                )
            )
        keys: dict[str, Any] = {
            "name": FeatureViewFeatureRow.name,
            "view": FeatureViewRow.name,
            "dtype": FeatureViewFeatureRow.dtype,
        }
        order = sort_order(keys, sort, "view")
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
        where: list[ColumnElement[bool]] = [TrainingSetRow.project_id == project_id_of(project)]
        if contains:
            where.append(name_contains(TrainingSetRow.name, contains))
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
        order = sort_order(keys, sort, "-created")
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
                    ModelRow.project_id == project_id_of(project),
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
                        FeatureViewRow.project_id == project_id_of(project),
                        FeatureViewRow.deleted_at.is_not(None),
                    )
                )
            )

    def search(self, project: str, text: str, *, limit: int = 20) -> list[SearchHit]:
        """Objects of every kind whose name contains ``text`` (case-insensitive), at most
        ``limit`` per kind; one query per kind."""
        if not text.strip():
            return []
        pid = project_id_of(project)
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
                    .where(*where, name_contains(table.name, text))
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
