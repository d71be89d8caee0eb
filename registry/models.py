"""Models, their versions and aliases, for one project.

Version numbers come from a counter on the model row, incremented with
``UPDATE ... RETURNING`` inside a write transaction that holds the lock (``BEGIN
IMMEDIATE`` on SQLite, the row lock elsewhere): concurrent registrations each get the next
number, with no gaps or duplicates, which ``max(version) + 1`` cannot promise.

Example::

    models = ModelRegistry(db, project="ride_hailing", artifact_root=Path("data/artifacts"))
    v = models.register_model("trip_completion", estimator, metrics={"auc": 0.91})
    models.set_alias("trip_completion", "champion", v.version, reason="best auc")
    estimator = models.load_model("trip_completion", alias="champion")
"""

from __future__ import annotations

import getpass
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry.artifacts import FORMATS, deserialize, serialize
from registry.catalog import lock_project
from registry.database import Database
from registry.errors import RegistryError, RegistryNotFoundError
from registry.storage import FileStore
from registry.storage.local import LocalFileStore
from registry.tables import (
    ModelAliasHistoryRow,
    ModelAliasRow,
    ModelRow,
    ModelVersionRow,
    ProjectRow,
    TrainingSetRow,
    utc_now,
)
from registry.training_sets import TrainingSetRecord

__all__ = ["AliasMove", "ModelRegistry", "ModelVersion"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelVersion:
    """One registered version of a model."""

    model: str
    version: int
    training_set: str | None
    artifact_path: str
    artifact_sha256: str
    artifact_size: int
    artifact_format: str
    model_type: str
    params: Mapping[str, Any]
    metrics: Mapping[str, Any]
    tags: Mapping[str, Any]
    input_features: tuple[str, ...]
    classes: tuple[Any, ...]
    description: str
    created_by: str
    created_at: datetime
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AliasMove:
    """One change of an alias: versions are None where the alias did not exist."""

    alias: str
    from_version: int | None
    to_version: int | None
    changed_by: str
    changed_at: datetime
    reason: str


class ModelRegistry:
    """The models of one project, with artifacts kept in ``artifact_root``: a local folder
    or any :class:`~registry.storage.FileStore` (object storage, the registry database)."""

    def __init__(self, db: Database, *, project: str, artifact_root: Path | FileStore) -> None:
        self._db = db
        self.project = project
        self.files: FileStore = (
            LocalFileStore(artifact_root) if isinstance(artifact_root, Path) else artifact_root
        )
        # The folder, when artifacts are local files (None for other stores).
        self.artifact_root = artifact_root if isinstance(artifact_root, Path) else None

    # --- register and load -------------------------------------------------------------------

    def register_model(  # noqa: PLR0917 (MLflow's and the issue's positional signature)
        self,
        name: str,
        model: Any,
        training_set: TrainingSetRecord | str | None = None,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str = "",
        *,
        serializer: str = "skops",
        created_by: str | None = None,
    ) -> ModelVersion:
        """Store a model's artifact and record a new version of it.

        For scikit-learn estimators ``params`` defaults to ``get_params()``, and the model
        type, input feature names (``feature_names_in_``) and ``classes_`` are recorded.

        Raises:
            RegistryError: a bad name, metrics that are not numbers, a model that cannot be
                serialized; nothing is written.
            RegistryNotFoundError: an unknown training set.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise RegistryError(
                f"model name {name!r} is not valid: start with a letter; use letters, digits, "
                f"'_', '-' and '.'"
            )
        if serializer not in FORMATS:
            raise RegistryError(f"serializer {serializer!r} is unknown; choose one of {FORMATS}")
        metrics = _numbers(metrics or {})
        data = serialize(model, serializer)
        info = _describe(model, params)
        who = created_by or whoami()
        with self._db.write() as session:
            project = lock_project(session, self.project)
            training_set_id = _training_set_id(session, project.id, training_set)
            model_row = session.scalars(
                select(ModelRow).where(ModelRow.project_id == project.id, ModelRow.name == name)
            ).one_or_none()
            if model_row is None:
                model_row = ModelRow(
                    project_id=project.id, name=name, description=description, next_version=1
                )
                session.add(model_row)
                session.flush()
            number = (
                session.execute(
                    update(ModelRow)
                    .where(ModelRow.id == model_row.id)
                    .values(next_version=ModelRow.next_version + 1, updated_at=utc_now())
                    .returning(ModelRow.next_version)
                ).scalar_one()
                - 1
            )
            key = f"{self.project}/{name}/v{number}.{serializer}"
            # Written before the version row, inside its transaction: the row never exists
            # without its artifact. A database store writes into this very transaction; a
            # folder or bucket gets the file removed again if the row cannot be written.
            digest, size = self.files.put(key, data, session)
            try:
                row = ModelVersionRow(
                    model_id=model_row.id,
                    version=number,
                    training_set_id=training_set_id,
                    artifact_path=key,
                    artifact_sha256=digest,
                    artifact_size=size,
                    artifact_format=serializer,
                    model_type=info["model_type"],
                    params=info["params"],
                    metrics=dict(metrics),
                    tags=_jsonable(dict(tags or {})),
                    input_features={"names": info["features"], "classes": info["classes"]},
                    description=description,
                    created_by=who,
                    created_at=utc_now(),
                )
                session.add(row)
                session.flush()
            except BaseException:
                if not self.files.transactional:
                    self.files.delete(key)
                raise
            return _version(session, model_row, row)

    def load_model(
        self,
        name: str,
        version: int | None = None,
        alias: str | None = None,
        *,
        allow_pickle: bool = False,
        trusted: Sequence[str] | None = None,
    ) -> Any:
        """The model object of a version (default: the latest), checked against its sha256.

        Raises:
            RegistryNotFoundError: unknown model, version or alias.
            ArtifactIntegrityError: the artifact is missing or changed since registration.
            RegistryError: a pickle without ``allow_pickle=True``, or untrusted skops types.
        """
        found = self.get_version(name, version=version, alias=alias)
        data = self.files.get(found.artifact_path, found.artifact_sha256, found.artifact_size)
        return deserialize(data, found.artifact_format, allow_pickle=allow_pickle, trusted=trusted)

    # --- read ----------------------------------------------------------------------------------

    def get_version(
        self, name: str, version: int | None = None, alias: str | None = None
    ) -> ModelVersion:
        """A version by number, by alias, or the latest when neither is given."""
        if version is not None and alias is not None:
            raise RegistryError("pass a version or an alias, not both")
        with self._db.read() as session:
            model = self._model(session, name)
            query = select(ModelVersionRow).where(
                ModelVersionRow.model_id == model.id, ModelVersionRow.deleted_at.is_(None)
            )
            if alias is not None:
                pointer = session.scalars(
                    select(ModelAliasRow).where(
                        ModelAliasRow.model_id == model.id, ModelAliasRow.alias == alias
                    )
                ).one_or_none()
                if pointer is None:
                    raise RegistryNotFoundError("alias", f"{name}@{alias}")
                query = query.where(ModelVersionRow.id == pointer.model_version_id)
            elif version is not None:
                query = query.where(ModelVersionRow.version == version)
            else:
                query = query.order_by(ModelVersionRow.version.desc()).limit(1)
            row = session.scalars(query).one_or_none()
            if row is None:
                raise RegistryNotFoundError("model version", f"{name} v{version}")
            return _version(session, model, row)

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of a model, oldest first."""
        with self._db.read() as session:
            model = self._model(session, name)
            rows = session.execute(
                select(ModelVersionRow, TrainingSetRow.name)
                .outerjoin(TrainingSetRow, TrainingSetRow.id == ModelVersionRow.training_set_id)
                .where(ModelVersionRow.model_id == model.id, ModelVersionRow.deleted_at.is_(None))
                .order_by(ModelVersionRow.version)
            ).all()
            aliases = aliases_of(session, [row.id for row, _ in rows])
            return [version_value(row, name, ts, aliases[row.id]) for row, ts in rows]

    def list_models(self) -> list[str]:
        """Names of the project's models."""
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(ModelRow.name)
                    .join(ProjectRow, ProjectRow.id == ModelRow.project_id)
                    .where(ProjectRow.name == self.project)
                    .order_by(ModelRow.name)
                )
            )

    # --- aliases -------------------------------------------------------------------------------

    def set_alias(
        self, name: str, alias: str, version: int, *, by: str | None = None, reason: str = ""
    ) -> AliasMove:
        """Point ``alias`` at a version (moving it if it exists) and record the move."""
        if not _NAME.match(alias) or alias.isdigit():
            raise RegistryError(f"alias {alias!r} is not valid: start with a letter")
        with self._db.write() as session:
            model = self._model(session, name)
            target = session.scalars(
                select(ModelVersionRow).where(
                    ModelVersionRow.model_id == model.id, ModelVersionRow.version == version
                )
            ).one_or_none()
            if target is None:
                raise RegistryNotFoundError("model version", f"{name} v{version}")
            pointer = _alias_row(session, model.id, alias)
            before = pointer.model_version_id if pointer is not None else None
            who, now = by or whoami(), utc_now()
            if pointer is None:
                session.add(
                    ModelAliasRow(
                        model_id=model.id,
                        alias=alias,
                        model_version_id=target.id,
                        updated_by=who,
                        updated_at=now,
                    )
                )
            else:
                pointer.model_version_id, pointer.updated_by, pointer.updated_at = (
                    target.id,
                    who,
                    now,
                )
            move = ModelAliasHistoryRow(
                model_id=model.id,
                alias=alias,
                from_version_id=before,
                to_version_id=target.id,
                changed_by=who,
                changed_at=now,
                reason=reason,
            )
            session.add(move)
            session.flush()
            return _move(session, move)

    def delete_alias(
        self, name: str, alias: str, *, by: str | None = None, reason: str = ""
    ) -> AliasMove:
        """Remove an alias, recording the removal."""
        with self._db.write() as session:
            model = self._model(session, name)
            pointer = _alias_row(session, model.id, alias)
            if pointer is None:
                raise RegistryNotFoundError("alias", f"{name}@{alias}")
            move = ModelAliasHistoryRow(
                model_id=model.id,
                alias=alias,
                from_version_id=pointer.model_version_id,
                to_version_id=None,
                changed_by=by or whoami(),
                changed_at=utc_now(),
                reason=reason,
            )
            session.delete(pointer)
            session.add(move)
            session.flush()
            return _move(session, move)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Moves of a model's aliases (or of one), oldest first."""
        with self._db.read() as session:
            model = self._model(session, name)
            query = select(ModelAliasHistoryRow).where(ModelAliasHistoryRow.model_id == model.id)
            if alias is not None:
                query = query.where(ModelAliasHistoryRow.alias == alias)
            rows = session.scalars(query.order_by(ModelAliasHistoryRow.id)).all()
            return [_move(session, row) for row in rows]

    def _model(self, session: Session, name: str) -> ModelRow:
        row = session.scalars(
            select(ModelRow)
            .join(ProjectRow, ProjectRow.id == ModelRow.project_id)
            .where(ProjectRow.name == self.project, ModelRow.name == name)
        ).one_or_none()
        if row is None:
            raise RegistryNotFoundError("model", name)
        return row


def whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _numbers(metrics: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            if isinstance(value, bool | str):
                raise TypeError
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            raise RegistryError(
                f"metric {key!r} is {value!r}, not a number; metrics must be numbers "
                f"(put other facts in tags)"
            ) from None
        if not math.isfinite(out[str(key)]):
            raise RegistryError(
                f"metric {key!r} is {value!r}; metrics must be finite numbers, since "
                f"searches, comparisons and promotion gates compare them (record a failed "
                f"evaluation as a tag)"
            )
    return out


def _jsonable(value: Any) -> Any:
    """Parameters as JSON: plain values kept, numpy scalars unwrapped, other objects as repr."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # 'nan', 'inf': JSON has no such numbers, PostgreSQL refuses them
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item") and callable(value.item):
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):
            pass
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


def _describe(model: Any, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a scikit-learn-like estimator says about itself (duck-typed)."""
    kind = type(model)
    chosen = params
    if chosen is None and callable(getattr(model, "get_params", None)):
        chosen = model.get_params(deep=False)
    features = getattr(model, "feature_names_in_", None)
    classes = getattr(model, "classes_", None)
    return {
        "model_type": f"{kind.__module__}.{kind.__qualname__}",
        "params": json.loads(json.dumps(_jsonable(dict(chosen or {})))),
        "features": [str(f) for f in features] if features is not None else [],
        "classes": _jsonable(list(classes)) if classes is not None else [],
    }


def _alias_row(session: Session, model_id: int, alias: str) -> ModelAliasRow | None:
    return session.scalars(
        select(ModelAliasRow).where(
            ModelAliasRow.model_id == model_id, ModelAliasRow.alias == alias
        )
    ).one_or_none()


def _training_set_id(
    session: Session, project_id: int, training_set: TrainingSetRecord | str | None
) -> int | None:
    if training_set is None:
        return None
    name = training_set if isinstance(training_set, str) else training_set.name
    found = session.scalars(
        select(TrainingSetRow.id).where(
            TrainingSetRow.project_id == project_id, TrainingSetRow.name == name
        )
    ).one_or_none()
    if found is None:
        raise RegistryNotFoundError("training set", name)
    return found


def _version(session: Session, model: ModelRow, row: ModelVersionRow) -> ModelVersion:
    training_set = (
        session.scalars(
            select(TrainingSetRow.name).where(TrainingSetRow.id == row.training_set_id)
        ).one()
        if row.training_set_id is not None
        else None
    )
    return version_value(row, model.name, training_set, aliases_of(session, [row.id])[row.id])


def aliases_of(session: Session, version_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The aliases of several versions in one query, each version's sorted by name."""
    found: dict[int, list[str]] = {i: [] for i in version_ids}
    ids = list(found)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(ModelAliasRow.model_version_id, ModelAliasRow.alias)
            .where(ModelAliasRow.model_version_id.in_(ids[start : start + 500]))
            .order_by(ModelAliasRow.alias)
        ).all()
        for version_id, alias in rows:
            found[version_id].append(alias)
    return {i: tuple(names) for i, names in found.items()}


def version_value(
    row: ModelVersionRow, model: str, training_set: str | None, aliases: tuple[str, ...]
) -> ModelVersion:
    """A version row as a value, given what other tables say about it."""
    return ModelVersion(
        model=model,
        version=row.version,
        training_set=training_set,
        artifact_path=row.artifact_path,
        artifact_sha256=row.artifact_sha256,
        artifact_size=row.artifact_size,
        artifact_format=row.artifact_format,
        model_type=row.model_type,
        params=row.params,
        metrics=row.metrics,
        tags=row.tags,
        input_features=tuple(row.input_features.get("names", [])),
        classes=tuple(row.input_features.get("classes", [])),
        description=row.description,
        created_by=row.created_by,
        created_at=row.created_at,
        aliases=aliases,
    )


def _move(session: Session, row: ModelAliasHistoryRow) -> AliasMove:
    def number(version_id: int | None) -> int | None:
        if version_id is None:
            return None
        return session.scalars(
            select(ModelVersionRow.version).where(ModelVersionRow.id == version_id)
        ).one()

    return AliasMove(
        alias=row.alias,
        from_version=number(row.from_version_id),
        to_version=number(row.to_version_id),
        changed_by=row.changed_by,
        changed_at=row.changed_at,
        reason=row.reason,
    )
