"""Experiments declared on deployments, and the retraining runs triggers started.

The registry keeps what the store decided and why; it never computes an experiment's
numbers itself. An experiment is a model's deployment in an environment put to a test with
a plan: the primary metric, the effect worth detecting, the error rates, and the sample
size per arm that plan needs (its horizon). The newest declaration for a model and
environment is the current one. A retraining run is one firing of a retraining trigger:
why it fired, whether the training function succeeded, and the version it registered.

Example:
    >>> from registry import Registry
    >>> from pathlib import Path
    >>> experiments = Registry("sqlite://").project("demo", Path("artifacts")).experiments
    >>> experiments.declare("churn", "production", "v2-vs-v1", {"metric": "outcome"}).name
    'v2-vs-v1'
    >>> experiments.current("churn", "production").spec
    {'metric': 'outcome'}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from registry.catalog import lock_project
from registry.database import Database
from registry.errors import RegistryError, RegistryNotFoundError
from registry.models import whoami
from registry.tables import ExperimentRow, ProjectRow, RetrainingRunRow, utc_now

__all__ = ["Experiment", "Experiments", "RetrainingRun", "RetrainingRuns"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Experiment:
    """A declared experiment: where, its plan (``spec``), who declared it and when."""

    model: str
    environment: str
    name: str
    spec: dict[str, Any]
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrainingRun:
    """One firing of a retraining trigger and what came of it."""

    id: int
    model: str
    policy: str
    kind: str
    reason: str
    details: dict[str, Any]
    status: str
    error: str
    version: int | None
    started_at: datetime
    finished_at: datetime | None


class Experiments:
    """The experiments of one project."""

    def __init__(self, db: Database, *, project: str) -> None:
        self._db = db
        self.project = project

    def declare(
        self,
        model: str,
        environment: str,
        name: str,
        spec: dict[str, Any],
        *,
        by: str | None = None,
    ) -> Experiment:
        """Record an experiment on ``model`` in ``environment``; it becomes the current one."""
        if not name:
            raise RegistryError("an experiment needs a name")
        with self._db.write() as session:
            project = lock_project(session, self.project)
            row = ExperimentRow(
                project_id=project.id,
                model=model,
                environment=environment,
                name=name,
                spec=spec,
                created_by=by or whoami(),
                created_at=utc_now(),
            )
            session.add(row)
            session.flush()
            return _experiment(row)

    def current(self, model: str, environment: str) -> Experiment | None:
        """The newest experiment declared on the model in the environment, if any."""
        found = self.list(model, environment)
        return found[-1] if found else None

    def list(self, model: str | None = None, environment: str | None = None) -> list[Experiment]:
        """Declared experiments, oldest first."""
        query = (
            select(ExperimentRow)
            .join(ProjectRow, ProjectRow.id == ExperimentRow.project_id)
            .where(ProjectRow.name == self.project)
            .order_by(ExperimentRow.id)
        )
        if model is not None:
            query = query.where(ExperimentRow.model == model)
        if environment is not None:
            query = query.where(ExperimentRow.environment == environment)
        with self._db.read() as session:
            return [_experiment(row) for row in session.scalars(query)]


class RetrainingRuns:
    """The retraining runs of one project: started, then succeeded or failed."""

    def __init__(self, db: Database, *, project: str) -> None:
        self._db = db
        self.project = project

    def start(  # noqa: PLR0917 (a run's facts, in the order they are told)
        self,
        model: str,
        policy: str,
        kind: str,
        reason: str,
        details: dict[str, Any],
        at: datetime | None = None,
    ) -> RetrainingRun:
        """Record that a trigger fired at ``at`` (default now) and its training is under
        way."""
        with self._db.write() as session:
            project = lock_project(session, self.project)
            row = RetrainingRunRow(
                project_id=project.id,
                model=model,
                policy=policy,
                kind=kind,
                reason=reason,
                details=details,
                status="running",
                error="",
                started_at=at or utc_now(),
            )
            session.add(row)
            session.flush()
            return _run(row)

    def finish(
        self,
        run_id: int,
        *,
        version: int | None = None,
        error: str = "",
        details: dict[str, Any] | None = None,
    ) -> RetrainingRun:
        """Close a run: succeeded with the ``version`` it registered, or failed with ``error``."""
        if (version is None) == (not error):
            raise RegistryError("finish a retraining run with either version=N or error='...'")
        with self._db.write() as session:
            lock_project(session, self.project)
            row = session.get(RetrainingRunRow, run_id)
            if row is None:
                raise RegistryNotFoundError("retraining run", str(run_id))
            row.status = "failed" if error else "succeeded"
            row.error = error[:4000]
            row.version = version
            row.finished_at = utc_now()
            if details:
                row.details = {**row.details, **details}
            session.flush()
            return _run(row)

    def list(self, model: str | None = None, policy: str | None = None) -> list[RetrainingRun]:
        """Runs, oldest first."""
        query = (
            select(RetrainingRunRow)
            .join(ProjectRow, ProjectRow.id == RetrainingRunRow.project_id)
            .where(ProjectRow.name == self.project)
            .order_by(RetrainingRunRow.id)
        )
        if model is not None:
            query = query.where(RetrainingRunRow.model == model)
        if policy is not None:
            query = query.where(RetrainingRunRow.policy == policy)
        with self._db.read() as session:
            return [_run(row) for row in session.scalars(query)]


def _experiment(row: ExperimentRow) -> Experiment:
    return Experiment(
        model=row.model,
        environment=row.environment,
        name=row.name,
        spec=dict(row.spec),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _run(row: RetrainingRunRow) -> RetrainingRun:
    return RetrainingRun(
        id=row.id,
        model=row.model,
        policy=row.policy,
        kind=row.kind,
        reason=row.reason,
        details=dict(row.details),
        status=row.status,
        error=row.error,
        version=row.version,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )
