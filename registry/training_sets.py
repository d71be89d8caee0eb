"""Training sets in the registry: what was saved, from which feature-view versions.

The registry records a training set that ``store`` has written (it never reads the data
itself): its fingerprint, data hash, schema, statistics, time range, path, and one row per
feature tying it to the exact feature-view version it was read from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.catalog import lock_project
from registry.database import Database
from registry.errors import RegistryError, RegistryNotFoundError
from registry.monitoring import NewValidationRun, insert_validation
from registry.tables import (
    FeatureViewRow,
    FeatureViewVersionRow,
    ProjectRow,
    TrainingSetFeatureRow,
    TrainingSetRow,
    utc_now,
)

__all__ = ["TrainingSetFeature", "TrainingSetRecord", "TrainingSets"]


@dataclass(frozen=True, slots=True)
class TrainingSetFeature:
    """A column of a training set and the view version it came from."""

    feature_view: str
    version: int
    feature: str
    column: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingSetRecord:
    """A saved training set as the registry holds it."""

    id: int
    name: str
    fingerprint: str
    data_sha256: str
    row_count: int
    schema: Mapping[str, Any]
    statistics: Mapping[str, Any]
    manifest: Mapping[str, Any]
    entity_time_min: datetime | None
    entity_time_max: datetime | None
    storage_path: str
    created_at: datetime
    features: tuple[TrainingSetFeature, ...]

    @property
    def feature_refs(self) -> list[str]:
        return [f"{f.feature_view}:{f.feature}" for f in self.features]


class TrainingSets:
    """Records and reads the training sets of any project in one registry database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        project: str,
        *,
        name: str,
        fingerprint: str,
        data_sha256: str,
        row_count: int,
        schema: Mapping[str, Any],
        statistics: Mapping[str, Any],
        manifest: Mapping[str, Any],
        entity_time_min: datetime | None,
        entity_time_max: datetime | None,
        storage_path: str,
        features: Sequence[TrainingSetFeature],
        validations: Sequence[NewValidationRun] = (),
    ) -> TrainingSetRecord:
        """Record a saved training set, with the validation runs of its views' data, in one
        transaction. The same name with the same fingerprint returns the existing record;
        with another fingerprint it is refused.

        Raises:
            RegistryError: the name is taken by different data.
            RegistryNotFoundError: a feature-view version does not exist.
        """
        with self._db.write() as session:
            project_row = lock_project(session, project)
            existing = session.scalars(
                select(TrainingSetRow).where(
                    TrainingSetRow.project_id == project_row.id, TrainingSetRow.name == name
                )
            ).one_or_none()
            if existing is not None:
                if existing.fingerprint != fingerprint:
                    raise _taken(name, existing.fingerprint)
                return _record(session, existing)
            row = TrainingSetRow(
                project_id=project_row.id,
                name=name,
                fingerprint=fingerprint,
                data_sha256=data_sha256,
                row_count=row_count,
                schema=dict(schema),
                statistics=dict(statistics),
                manifest=dict(manifest),
                entity_time_min=entity_time_min,
                entity_time_max=entity_time_max,
                storage_path=storage_path,
                created_at=utc_now(),
            )
            session.add(row)
            session.flush()
            for position, feature in enumerate(features):
                version_id = session.scalars(
                    select(FeatureViewVersionRow.id)
                    .join(
                        FeatureViewRow, FeatureViewRow.id == FeatureViewVersionRow.feature_view_id
                    )
                    .where(
                        FeatureViewRow.project_id == project_row.id,
                        FeatureViewRow.name == feature.feature_view,
                        FeatureViewVersionRow.version == feature.version,
                    )
                ).one_or_none()
                if version_id is None:
                    raise RegistryNotFoundError(
                        "feature view version", f"{feature.feature_view} v{feature.version}"
                    )
                session.add(
                    TrainingSetFeatureRow(
                        training_set_id=row.id,
                        feature_view_version_id=version_id,
                        position=position,
                        feature=feature.feature,
                        column_name=feature.column,
                    )
                )
            for validation in validations:
                insert_validation(session, project_row, validation, training_set_id=row.id)
            session.flush()
            return _record(session, row)

    def find_same(self, project: str, name: str, fingerprint: str) -> TrainingSetRecord | None:
        """The training set ``name`` if it was built from the same inputs; None if the name is
        free.

        Raises:
            RegistryError: the name is taken by a training set built from other inputs.
        """
        try:
            existing = self.get(project, name)
        except RegistryNotFoundError:
            return None
        if existing.fingerprint != fingerprint:
            raise _taken(name, existing.fingerprint)
        return existing

    def get(self, project: str, name: str) -> TrainingSetRecord:
        """A training set by name. Raises :class:`RegistryNotFoundError`."""
        with self._db.read() as session:
            row = session.scalars(
                select(TrainingSetRow)
                .join(ProjectRow, ProjectRow.id == TrainingSetRow.project_id)
                .where(ProjectRow.name == project, TrainingSetRow.name == name)
            ).one_or_none()
            if row is None:
                raise RegistryNotFoundError("training set", name)
            return _record(session, row)

    def list(self, project: str) -> list[TrainingSetRecord]:
        """Every training set of a project, oldest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(TrainingSetRow)
                .join(ProjectRow, ProjectRow.id == TrainingSetRow.project_id)
                .where(ProjectRow.name == project)
                .order_by(TrainingSetRow.id)
            ).all()
            return [_record(session, row) for row in rows]


def _record(session: Session, row: TrainingSetRow) -> TrainingSetRecord:
    features = session.execute(
        select(
            FeatureViewRow.name,
            FeatureViewVersionRow.version,
            TrainingSetFeatureRow.feature,
            TrainingSetFeatureRow.column_name,
        )
        .join(
            FeatureViewVersionRow,
            FeatureViewVersionRow.id == TrainingSetFeatureRow.feature_view_version_id,
        )
        .join(FeatureViewRow, FeatureViewRow.id == FeatureViewVersionRow.feature_view_id)
        .where(TrainingSetFeatureRow.training_set_id == row.id)
        .order_by(TrainingSetFeatureRow.position)
    ).all()
    return TrainingSetRecord(
        id=row.id,
        name=row.name,
        fingerprint=row.fingerprint,
        data_sha256=row.data_sha256,
        row_count=row.row_count,
        schema=row.schema,
        statistics=row.statistics,
        manifest=row.manifest,
        entity_time_min=row.entity_time_min,
        entity_time_max=row.entity_time_max,
        storage_path=row.storage_path,
        created_at=row.created_at,
        features=tuple(TrainingSetFeature(*f) for f in features),
    )


def _taken(name: str, fingerprint: str) -> RegistryError:
    return RegistryError(
        f"a training set named {name!r} already exists, built from other inputs (fingerprint "
        f"{fingerprint[:12]}); choose another name"
    )
