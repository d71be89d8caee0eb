"""The home page's reads: how many objects of each kind, and what happened lately."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

from registry.browse.models import alias_moves
from registry.browse.sql import Reads, project_id_of
from registry.browse.values import (
    Activity,
)
from registry.tables import (
    AlertEventRow,
    DataSourceRow,
    DeploymentRevisionRow,
    EntityRow,
    EnvironmentRow,
    FeatureServiceRow,
    FeatureViewRow,
    ModelCardRow,
    ModelRow,
    ModelVersionRow,
    TrainingSetRow,
)

__all__ = ["ActivityReads"]


class ActivityReads(Reads):
    """Counts and the recent-activity feed."""

    def counts(self, project: str) -> dict[str, int]:
        """How many objects of each kind the project holds (deleted ones not counted)."""
        pid = project_id_of(project)
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
        pid = project_id_of(project)
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
            for move in alias_moves(session, pid, None, limit):
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
