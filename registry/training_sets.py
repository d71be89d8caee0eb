"""Training sets in the registry: what was saved, where its data is, from which
feature-view versions.

``store`` builds a training set and hands its Parquet bytes here; the registry writes them
to the artifact store (a :class:`~registry.storage.FileStore`) and records the set in one
step: the file first, then the row, so there is never a row without its file, and a file
whose row could not be written is removed again (on the ``registry`` database store the
file is part of the row's transaction). The row keeps the file's key, sha256 and size, its
fingerprint, schema, statistics, time range, and one row per feature tying it to the exact
feature-view version it was read from. Reading the data back is ``store``'s business.

The key is ``<project>/training_sets/<name>/<sha256>.parquet``: content-addressed, so a
key never holds two different files (two registries sharing a bucket cannot replace each
other's bytes) and a checkout's local cache can be named by the same digest.
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
from registry.storage import FileStore, digest_of
from registry.tables import (
    FeatureViewRow,
    FeatureViewVersionRow,
    ProjectRow,
    TrainingSetFeatureRow,
    TrainingSetRow,
    utc_now,
)

__all__ = ["TrainingSetFeature", "TrainingSetRecord", "TrainingSets", "training_set_key"]


@dataclass(frozen=True, slots=True)
class TrainingSetFeature:
    """A column of a training set and the view version it came from."""

    feature_view: str
    version: int
    feature: str
    column: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingSetRecord:
    """A saved training set as the registry holds it.

    ``storage_key`` is where its data is in the artifact store, with ``size_bytes`` and
    ``data_sha256`` to check it by. A set saved before registry revision 0011 has neither
    key nor size but a ``storage_path`` relative to the repository that saved it.
    """

    id: int
    name: str
    fingerprint: str
    data_sha256: str
    size_bytes: int | None
    row_count: int
    schema: Mapping[str, Any]
    statistics: Mapping[str, Any]
    manifest: Mapping[str, Any]
    entity_time_min: datetime | None
    entity_time_max: datetime | None
    storage_key: str | None
    storage_path: str | None
    created_at: datetime
    features: tuple[TrainingSetFeature, ...]

    @property
    def feature_refs(self) -> list[str]:
        return [f"{f.feature_view}:{f.feature}" for f in self.features]


def training_set_key(project: str, name: str, sha256: str) -> str:
    """The artifact-store key of a training set's data (see the module docstring)."""
    return f"{project}/training_sets/{name}/{sha256}.parquet"


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
        data: bytes,
        files: FileStore,
        row_count: int,
        schema: Mapping[str, Any],
        statistics: Mapping[str, Any],
        manifest: Mapping[str, Any],
        entity_time_min: datetime | None,
        entity_time_max: datetime | None,
        features: Sequence[TrainingSetFeature],
        validations: Sequence[NewValidationRun] = (),
    ) -> TrainingSetRecord:
        """Store a training set's data in ``files`` and record it, with the validation runs
        of its views' data, all or nothing. The same name with the same fingerprint returns
        the existing record (and writes nothing); with another fingerprint it is refused.

        Args:
            data: the Parquet file's bytes; their sha256 and size are recorded.
            files: the artifact store (:meth:`registry.Registry.file_store`).

        Raises:
            RegistryError: the name is taken by different data, or the store cannot be
                written; nothing is recorded and no file is left behind.
            RegistryNotFoundError: a feature-view version does not exist.
        """
        digest, size = digest_of(data)
        key = training_set_key(project, name, digest)
        written = False
        try:
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
                # The file before the row, under the project's write lock (no other writer
                # can record this name meanwhile). A folder or bucket makes the file
                # visible whole or not at all; the database store writes into this very
                # transaction, so a rollback takes the file with it.
                files.put(key, data, session)
                written = True
                row = TrainingSetRow(
                    project_id=project_row.id,
                    name=name,
                    fingerprint=fingerprint,
                    data_sha256=digest,
                    size_bytes=size,
                    storage_key=key,
                    storage_path=None,
                    row_count=row_count,
                    schema=dict(schema),
                    statistics=dict(statistics),
                    manifest=dict(manifest),
                    entity_time_min=entity_time_min,
                    entity_time_max=entity_time_max,
                    created_at=utc_now(),
                )
                session.add(row)
                session.flush()
                _link_features(session, project_row.id, row.id, features)
                for validation in validations:
                    insert_validation(session, project_row, validation, training_set_id=row.id)
                session.flush()
                return _record(session, row)
        except BaseException as exc:
            # Nothing was committed (the commit itself may be what failed): a file written
            # to a folder or bucket would be an orphan no row points at; remove it.
            if written and not files.transactional:
                try:
                    files.delete(key)
                except Exception as cleanup:  # the store may be what failed
                    exc.add_note(
                        f"the training set's file {files.location(key)} could not be removed "
                        f"({cleanup}); delete it by hand"
                    )
            raise

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
        size_bytes=row.size_bytes,
        row_count=row.row_count,
        schema=row.schema,
        statistics=row.statistics,
        manifest=row.manifest,
        entity_time_min=row.entity_time_min,
        entity_time_max=row.entity_time_max,
        storage_key=row.storage_key,
        storage_path=row.storage_path,
        created_at=row.created_at,
        features=tuple(TrainingSetFeature(*f) for f in features),
    )


def _link_features(
    session: Session, project_id: int, training_set_id: int, features: Sequence[TrainingSetFeature]
) -> None:
    """One row per feature, tied by foreign key to the exact feature-view version."""
    for position, feature in enumerate(features):
        version_id = session.scalars(
            select(FeatureViewVersionRow.id)
            .join(FeatureViewRow, FeatureViewRow.id == FeatureViewVersionRow.feature_view_id)
            .where(
                FeatureViewRow.project_id == project_id,
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
                training_set_id=training_set_id,
                feature_view_version_id=version_id,
                position=position,
                feature=feature.feature,
                column_name=feature.column,
            )
        )


def _taken(name: str, fingerprint: str) -> RegistryError:
    return RegistryError(
        f"a training set named {name!r} already exists, built from other inputs (fingerprint "
        f"{fingerprint[:12]}); choose another name"
    )
