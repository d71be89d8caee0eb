"""Reads of deployments: revision histories and what is live, paged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from registry.browse.sql import Reads, name_contains, project_id_of, sort_order
from registry.browse.values import (
    Page,
)
from registry.deployments import DeploymentRevision, Target, live_revision_join
from registry.tables import (
    DeploymentRevisionRow,
    DeploymentTargetRow,
    EnvironmentRow,
    ModelRow,
    ModelVersionRow,
)

__all__ = ["DeploymentReads"]


class DeploymentReads(Reads):
    """Deployment revisions with their targets, two queries per call."""

    def deployment_history(
        self, project: str, model: str | None = None, environment: str | None = None
    ) -> list[DeploymentRevision]:
        """Deployment revisions with their targets, oldest first (two queries)."""
        where: list[ColumnElement[bool]] = [ModelRow.project_id == project_id_of(project)]
        if model is not None:
            where.append(ModelRow.name == model)
        if environment is not None:
            where.append(EnvironmentRow.name == environment)
        return self._revisions(where, latest_only=False)

    def live_deployments(self, project: str, model: str | None = None) -> list[DeploymentRevision]:
        """The newest revision of every model in every environment (two queries)."""
        where: list[ColumnElement[bool]] = [ModelRow.project_id == project_id_of(project)]
        if model is not None:
            where.append(ModelRow.name == model)
        return self._revisions(where, latest_only=True)

    def live_deployment_page(
        self,
        project: str,
        *,
        contains: str = "",
        sort: str = "model",
        offset: int = 0,
        limit: int = 50,
    ) -> Page[DeploymentRevision]:
        """A page of live deployments sorted by ``model``, ``environment`` or ``since`` (``-``
        for descending); ``contains`` filters model and environment names (three queries)."""
        where: list[ColumnElement[bool]] = [ModelRow.project_id == project_id_of(project)]
        if contains:
            where.append(
                or_(
                    name_contains(ModelRow.name, contains),
                    name_contains(EnvironmentRow.name, contains),
                )
            )
        keys: dict[str, Any] = {
            "model": ModelRow.name,
            "environment": EnvironmentRow.name,
            "since": DeploymentRevisionRow.created_at,
        }
        order = [sort_order(keys, sort, "model"), ModelRow.name, EnvironmentRow.name]
        query = self._revision_query(where, latest_only=True)
        with self._db.read() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self._revisions(where, latest_only=True, order=order, offset=offset, limit=limit)
        return Page(tuple(rows), int(total), offset, limit)

    def _revisions(
        self,
        where: Sequence[ColumnElement[bool]],
        *,
        latest_only: bool,
        order: Sequence[Any] = (),
        offset: int = 0,
        limit: int | None = None,
    ) -> list[DeploymentRevision]:
        """Revisions and their targets in two queries, by model, environment and revision
        unless ``order`` says otherwise."""
        query = self._revision_query(where, latest_only=latest_only).order_by(
            *(order or (ModelRow.name, EnvironmentRow.name, DeploymentRevisionRow.revision))
        )
        if offset or limit is not None:
            query = query.offset(offset).limit(limit)
        with self._db.read() as session:
            rows = session.execute(query).all()
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

    @staticmethod
    def _revision_query(where: Sequence[ColumnElement[bool]], *, latest_only: bool) -> Any:
        """Revision rows with their model's and environment's names; only the newest of
        each model in each environment when ``latest_only``."""
        query = (
            select(DeploymentRevisionRow, ModelRow.name, EnvironmentRow.name)
            .join(ModelRow, ModelRow.id == DeploymentRevisionRow.model_id)
            .join(EnvironmentRow, EnvironmentRow.id == DeploymentRevisionRow.environment_id)
            .where(*where)
        )
        if latest_only:
            query = query.join(*live_revision_join())
        return query
