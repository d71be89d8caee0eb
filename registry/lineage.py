"""Lineage: from a model version down to feature-view versions and sources, and back.

Every answer comes from foreign keys: model version -> training set -> training-set
features -> feature-view versions (whose specs hold the source), and deployment revisions ->
targets -> model versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from registry.database import Database
from registry.deployments import DeploymentRevision, Deployments
from registry.models import ModelRegistry
from registry.tables import (
    FeatureViewRow,
    FeatureViewVersionRow,
    ModelRow,
    ModelVersionRow,
    ProjectRow,
    TrainingSetFeatureRow,
    TrainingSetRow,
)

__all__ = ["FeatureLineage", "FeatureUsers", "Lineage", "VersionLineage"]


@dataclass(frozen=True, slots=True)
class FeatureLineage:
    """One input of a model version: the feature, its view version and its source."""

    feature_view: str
    view_version: int
    feature: str
    column: str
    source: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class VersionLineage:
    """What a model version learned from."""

    model: str
    version: int
    training_set: str | None
    features: tuple[FeatureLineage, ...]

    @property
    def feature_views(self) -> list[tuple[str, int]]:
        return sorted({(f.feature_view, f.view_version) for f in self.features})

    @property
    def sources(self) -> list[str]:
        return sorted({str(f.source.get("path") or f.source.get("name")) for f in self.features})


@dataclass(frozen=True, slots=True)
class FeatureUsers:
    """Who uses a view (or one of its features): model versions and live deployments."""

    model_versions: tuple[tuple[str, int], ...]
    live_deployments: tuple[tuple[str, str, int, str], ...]  # model, environment, version, role


class Lineage:
    """Lineage queries over one project."""

    def __init__(self, db: Database, models: ModelRegistry, deployments: Deployments) -> None:
        self._db = db
        self._models = models
        self._deployments = deployments

    def of_version(self, model: str, version: int) -> VersionLineage:
        """A model version to its training set, feature-view versions and sources."""
        found = self._models.get_version(model, version=version)
        if found.training_set is None:
            return VersionLineage(model, version, None, ())
        with self._db.read() as session:
            rows = session.execute(
                select(
                    FeatureViewRow.name,
                    FeatureViewVersionRow.version,
                    FeatureViewVersionRow.spec,
                    TrainingSetFeatureRow.feature,
                    TrainingSetFeatureRow.column_name,
                )
                .join(TrainingSetRow, TrainingSetRow.id == TrainingSetFeatureRow.training_set_id)
                .join(
                    FeatureViewVersionRow,
                    FeatureViewVersionRow.id == TrainingSetFeatureRow.feature_view_version_id,
                )
                .join(FeatureViewRow, FeatureViewRow.id == FeatureViewVersionRow.feature_view_id)
                .join(ProjectRow, ProjectRow.id == TrainingSetRow.project_id)
                .where(
                    ProjectRow.name == self._models.project,
                    TrainingSetRow.name == found.training_set,
                )
                .order_by(TrainingSetFeatureRow.position)
            ).all()
        features = tuple(
            FeatureLineage(view, view_version, feature, column, _source_of(spec))
            for view, view_version, spec, feature, column in rows
        )
        return VersionLineage(model, version, found.training_set, features)

    def users_of(self, feature_view: str, feature: str | None = None) -> FeatureUsers:
        """Model versions trained on a view (or one feature of it), and where they are live."""
        # From the view outwards: its versions, the training sets that read them, the model
        # versions trained on those sets (each step an indexed lookup), rather than joining
        # every model version to every training-set feature and keeping the view's.
        view_versions = (
            select(FeatureViewVersionRow.id)
            .join(FeatureViewRow, FeatureViewRow.id == FeatureViewVersionRow.feature_view_id)
            .join(ProjectRow, ProjectRow.id == FeatureViewRow.project_id)
            .where(ProjectRow.name == self._models.project, FeatureViewRow.name == feature_view)
        )
        sets = select(TrainingSetFeatureRow.training_set_id).where(
            TrainingSetFeatureRow.feature_view_version_id.in_(view_versions)
        )
        if feature is not None:
            sets = sets.where(TrainingSetFeatureRow.feature == feature)
        query = (
            select(ModelRow.name, ModelVersionRow.version)
            .join(ModelVersionRow, ModelVersionRow.model_id == ModelRow.id)
            .join(ProjectRow, ProjectRow.id == ModelRow.project_id)
            .where(
                ProjectRow.name == self._models.project,
                ModelVersionRow.training_set_id.in_(sets),
            )
            .order_by(ModelRow.name, ModelVersionRow.version)
        )
        with self._db.read() as session:
            versions = tuple((str(m), int(v)) for m, v in session.execute(query).all())
        users = set(versions)
        live = tuple(
            (r.model, r.environment, t.version, t.role)
            for r in self._deployments.list_live()
            for t in r.targets
            if (r.model, t.version) in users
        )
        return FeatureUsers(versions, live)

    def served_at(
        self, model: str, environment: str, when: datetime
    ) -> tuple[DeploymentRevision, list[VersionLineage]]:
        """The deployment revision live at ``when``, and what each of its versions trained on."""
        revision = self._deployments.served_at(model, environment, when)
        return revision, [self.of_version(model, v) for v in revision.versions()]


def _source_of(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """A view spec's source; an on-demand view's is what it computes from (the views and
    request sources its function reads)."""
    if spec.get("type") != "on_demand":
        found: Mapping[str, Any] = spec.get("source", {})
        return found
    inputs = [
        s["view"]["name"] if s.get("type") == "feature_view" else f"request {s.get('name')}"
        for s in spec.get("sources", [])
    ]
    return {"type": "on_demand", "name": f"on demand from {', '.join(inputs)}"}
