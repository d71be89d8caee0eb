"""Monitoring records: validation runs, statistics per window, drift references and results.

The registry stores what ``store`` measured (it never reads feature data itself): each check
of a view's data with the view version, the window and, per expectation, the value
observed; per subject (a view's source, a training set, a model's predictions), feature
and window, the statistics computed there, so that they read back as time series; each
drift reference's profile per feature, computed once; and per model, environment,
reference, feature and window, the drift found.

Example:
    >>> from datetime import UTC, datetime
    >>> from registry import Registry
    >>> monitoring = Registry("sqlite://").monitoring
    >>> day = datetime(2026, 1, 1, tzinfo=UTC)
    >>> monitoring.record_statistics("demo", "feature_view", "stats",
    ...     [WindowStatistics("rate", day, day, {"count": 3})])
    >>> [s.statistics["count"] for s in monitoring.statistics("demo", "feature_view", "stats")]
    [3]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from registry.catalog import lock_project
from registry.database import Database
from registry.errors import RegistryError, RegistryNotFoundError
from registry.tables import (
    AlertEventRow,
    AlertRuleRow,
    DriftResultRow,
    FeatureStatisticsRow,
    FeatureViewRow,
    FeatureViewVersionRow,
    ProjectRow,
    ReferenceProfileRow,
    TrainingSetRow,
    ValidationResultRow,
    ValidationRunRow,
    utc_now,
)

__all__ = [
    "AlertEvent",
    "CheckRecord",
    "DriftRecord",
    "Monitoring",
    "NewValidationRun",
    "SubjectKind",
    "Trigger",
    "ValidationRun",
    "WindowStatistics",
]

Trigger = Literal["materialize", "push", "training_set", "on_demand"]
SubjectKind = Literal["feature_view", "training_set", "predictions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRecord:
    """One expectation's outcome: its spec, a line for people, what was observed."""

    kind: str
    spec: Mapping[str, Any]
    description: str
    observed: Mapping[str, Any]
    passed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationRun:
    """One check of a feature view version's data against its expectations."""

    id: int
    feature_view: str
    version: int
    trigger: str
    policy: str
    window_start: datetime | None
    window_end: datetime | None
    row_count: int
    passed: bool
    training_set: str | None
    created_at: datetime
    checks: tuple[CheckRecord, ...]

    @property
    def failures(self) -> list[CheckRecord]:
        return [c for c in self.checks if not c.passed]


@dataclass(frozen=True, slots=True)
class WindowStatistics:
    """A feature's statistics in ``[window_start, window_end]``."""

    feature: str
    window_start: datetime
    window_end: datetime
    statistics: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftRecord:
    """One feature's drift in one window of a model's served data, against a reference."""

    model: str
    environment: str
    reference: str
    feature: str
    window_start: datetime
    window_end: datetime
    verdict: str
    p_value: float | None
    adjusted_p_value: float | None
    n_reference: int
    n_current: int
    tests: Mapping[str, Any]
    histogram: Mapping[str, Any] | None = None
    """For a numeric feature: ``edges`` (the inner bin edges), ``reference`` and ``current``
    (counts per bin, one more than the edges)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEvent:
    """An alert that fired: its rule, the window its run of breaches ended in, the value."""

    rule: str
    model: str
    environment: str
    metric: str
    window_start: datetime
    window_end: datetime
    value: float
    condition: str
    description: str = ""
    runbook: str = ""
    fired_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The event as a webhook receives it."""
        return {
            "rule": self.rule,
            "model": self.model,
            "environment": self.environment,
            "metric": self.metric,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "value": self.value,
            "condition": self.condition,
            "description": self.description,
            "runbook": self.runbook,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class NewValidationRun:
    """What :meth:`Monitoring.record_validation` writes (also written with a training set)."""

    feature_view: str
    version: int
    trigger: Trigger
    policy: str
    window_start: datetime | None
    window_end: datetime | None
    row_count: int
    checks: Sequence[CheckRecord]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


class Monitoring:
    """Reads and writes the monitoring records of any project in one registry database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record_validation(self, project: str, run: NewValidationRun) -> ValidationRun:
        """Record a validation run and its outcomes, in one transaction.

        Raises:
            RegistryNotFoundError: the feature view version does not exist.
        """
        with self._db.write() as session:
            project_row = lock_project(session, project)
            row = insert_validation(session, project_row, run, training_set_id=None)
            return _run(session, row)

    def validation_runs(
        self,
        project: str,
        *,
        feature_view: str | None = None,
        training_set: str | None = None,
        limit: int = 100,
    ) -> list[ValidationRun]:
        """The newest runs first, of one view, of one training set, or of the project."""
        with self._db.read() as session:
            # Views, versions and training sets joined in, every run's checks in one more
            # query: two queries however many runs (a page lists fifty).
            query = (
                select(
                    ValidationRunRow,
                    FeatureViewRow.name,
                    FeatureViewVersionRow.version,
                    TrainingSetRow.name,
                )
                .join(ProjectRow, ProjectRow.id == ValidationRunRow.project_id)
                .join(
                    FeatureViewVersionRow,
                    FeatureViewVersionRow.id == ValidationRunRow.feature_view_version_id,
                )
                .join(FeatureViewRow, FeatureViewRow.id == FeatureViewVersionRow.feature_view_id)
                .outerjoin(TrainingSetRow, TrainingSetRow.id == ValidationRunRow.training_set_id)
                .where(ProjectRow.name == project)
            )
            if feature_view is not None:
                query = query.where(FeatureViewRow.name == feature_view)
            if training_set is not None:
                query = query.where(TrainingSetRow.name == training_set)
            rows = session.execute(query.order_by(ValidationRunRow.id.desc()).limit(limit)).all()
            checks: dict[int, list[ValidationResultRow]] = {}
            if rows:
                for result in session.scalars(
                    select(ValidationResultRow)
                    .where(ValidationResultRow.run_id.in_([r[0].id for r in rows]))
                    .order_by(ValidationResultRow.run_id, ValidationResultRow.position)
                ):
                    checks.setdefault(result.run_id, []).append(result)
            return [
                _run_record(row, view, version, training, checks.get(row.id, []))
                for row, view, version, training in rows
            ]

    def record_statistics(
        self,
        project: str,
        subject_kind: SubjectKind,
        subject: str,
        windows: Sequence[WindowStatistics],
    ) -> None:
        """Store statistics per feature and window; a window computed again replaces the old
        record, so recomputing is idempotent. All windows in one transaction."""
        with self._db.write() as session:
            project_row = lock_project(session, project)
            for window in windows:
                if window.window_end < window.window_start:
                    raise RegistryError(
                        f"statistics of {subject}:{window.feature}: the window ends "
                        f"{window.window_end} before it starts {window.window_start}"
                    )
                session.execute(
                    delete(FeatureStatisticsRow).where(
                        FeatureStatisticsRow.project_id == project_row.id,
                        FeatureStatisticsRow.subject_kind == subject_kind,
                        FeatureStatisticsRow.subject == subject,
                        FeatureStatisticsRow.feature == window.feature,
                        FeatureStatisticsRow.window_start == window.window_start,
                        FeatureStatisticsRow.window_end == window.window_end,
                    )
                )
                session.add(
                    FeatureStatisticsRow(
                        project_id=project_row.id,
                        subject_kind=subject_kind,
                        subject=subject,
                        feature=window.feature,
                        window_start=window.window_start,
                        window_end=window.window_end,
                        statistics=dict(window.statistics),
                        computed_at=utc_now(),
                    )
                )
                session.flush()

    def statistics(
        self,
        project: str,
        subject_kind: SubjectKind,
        subject: str,
        *,
        feature: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[WindowStatistics]:
        """Stored statistics, by feature then window start; ``start``/``end`` keep the
        windows that overlap ``[start, end]``."""
        with self._db.read() as session:
            query = (
                select(FeatureStatisticsRow)
                .join(ProjectRow, ProjectRow.id == FeatureStatisticsRow.project_id)
                .where(
                    ProjectRow.name == project,
                    FeatureStatisticsRow.subject_kind == subject_kind,
                    FeatureStatisticsRow.subject == subject,
                )
            )
            if feature is not None:
                query = query.where(FeatureStatisticsRow.feature == feature)
            if start is not None:
                query = query.where(FeatureStatisticsRow.window_end >= start)
            if end is not None:
                query = query.where(FeatureStatisticsRow.window_start <= end)
            rows = session.scalars(
                query.order_by(FeatureStatisticsRow.feature, FeatureStatisticsRow.window_start)
            ).all()
            return [
                WindowStatistics(r.feature, r.window_start, r.window_end, r.statistics)
                for r in rows
            ]

    def save_profiles(
        self, project: str, reference: str, profiles: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """Store a reference's profile per feature (replacing any earlier one), in one
        transaction."""
        with self._db.write() as session:
            project_row = lock_project(session, project)
            session.execute(
                delete(ReferenceProfileRow).where(
                    ReferenceProfileRow.project_id == project_row.id,
                    ReferenceProfileRow.reference == reference,
                    ReferenceProfileRow.feature.in_(list(profiles)),
                )
            )
            session.add_all(
                ReferenceProfileRow(
                    project_id=project_row.id,
                    reference=reference,
                    feature=feature,
                    profile=dict(profile),
                    created_at=utc_now(),
                )
                for feature, profile in profiles.items()
            )

    def profiles(self, project: str, reference: str) -> dict[str, dict[str, Any]]:
        """A reference's stored profiles by feature (empty when never profiled)."""
        with self._db.read() as session:
            rows = session.scalars(
                select(ReferenceProfileRow)
                .join(ProjectRow, ProjectRow.id == ReferenceProfileRow.project_id)
                .where(ProjectRow.name == project, ReferenceProfileRow.reference == reference)
            ).all()
            return {row.feature: dict(row.profile) for row in rows}

    def record_drift(self, project: str, results: Sequence[DriftRecord]) -> None:
        """Store drift results; a window computed again replaces its earlier result, so a
        scheduled run is idempotent. All in one transaction."""
        with self._db.write() as session:
            project_row = lock_project(session, project)
            for result in results:
                session.execute(
                    delete(DriftResultRow).where(
                        DriftResultRow.project_id == project_row.id,
                        DriftResultRow.model == result.model,
                        DriftResultRow.environment == result.environment,
                        DriftResultRow.reference == result.reference,
                        DriftResultRow.feature == result.feature,
                        DriftResultRow.window_start == result.window_start,
                    )
                )
                session.add(
                    DriftResultRow(
                        project_id=project_row.id,
                        model=result.model,
                        environment=result.environment,
                        reference=result.reference,
                        feature=result.feature,
                        window_start=result.window_start,
                        window_end=result.window_end,
                        verdict=result.verdict,
                        p_value=result.p_value,
                        adjusted_p_value=result.adjusted_p_value,
                        n_reference=result.n_reference,
                        n_current=result.n_current,
                        tests=dict(result.tests),
                        histogram=None if result.histogram is None else dict(result.histogram),
                        created_at=utc_now(),
                    )
                )
                session.flush()

    def drift_results(
        self,
        project: str,
        model: str,
        *,
        environment: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[DriftRecord]:
        """Stored drift results of a model, by window then feature."""
        with self._db.read() as session:
            query = (
                select(DriftResultRow)
                .join(ProjectRow, ProjectRow.id == DriftResultRow.project_id)
                .where(ProjectRow.name == project, DriftResultRow.model == model)
            )
            if environment is not None:
                query = query.where(DriftResultRow.environment == environment)
            if start is not None:
                query = query.where(DriftResultRow.window_end > start)
            if end is not None:
                query = query.where(DriftResultRow.window_start < end)
            rows = session.scalars(
                query.order_by(DriftResultRow.window_start, DriftResultRow.feature)
            ).all()
            return [
                DriftRecord(
                    model=r.model,
                    environment=r.environment,
                    reference=r.reference,
                    feature=r.feature,
                    window_start=r.window_start,
                    window_end=r.window_end,
                    verdict=r.verdict,
                    p_value=r.p_value,
                    adjusted_p_value=r.adjusted_p_value,
                    n_reference=r.n_reference,
                    n_current=r.n_current,
                    tests=r.tests,
                    histogram=r.histogram,
                )
                for r in rows
            ]

    def save_alert_rule(self, project: str, name: str, spec: Mapping[str, Any]) -> None:
        """Add or replace an alert rule of the project."""
        with self._db.write() as session:
            project_row = lock_project(session, project)
            session.execute(
                delete(AlertRuleRow).where(
                    AlertRuleRow.project_id == project_row.id, AlertRuleRow.name == name
                )
            )
            session.add(AlertRuleRow(project_id=project_row.id, name=name, spec=dict(spec)))

    def delete_alert_rule(self, project: str, name: str) -> None:
        """Remove an alert rule added through the API.

        Raises:
            RegistryNotFoundError: no such rule.
        """
        with self._db.write() as session:
            project_row = lock_project(session, project)
            gone = session.execute(
                delete(AlertRuleRow).where(
                    AlertRuleRow.project_id == project_row.id, AlertRuleRow.name == name
                )
            )
            if not gone.rowcount:  # type: ignore[attr-defined]
                raise RegistryNotFoundError("alert rule", name)

    def alert_rules(self, project: str) -> dict[str, dict[str, Any]]:
        """The rules added through the API, by name."""
        with self._db.read() as session:
            rows = session.scalars(
                select(AlertRuleRow)
                .join(ProjectRow, ProjectRow.id == AlertRuleRow.project_id)
                .where(ProjectRow.name == project)
                .order_by(AlertRuleRow.name)
            ).all()
            return {row.name: dict(row.spec) for row in rows}

    def record_alerts(self, project: str, events: Sequence[AlertEvent]) -> list[AlertEvent]:
        """Record alerts that fired; an alert already recorded for its rule and window is
        left as it was. Returns the ones that are new, in one transaction."""
        new: list[AlertEvent] = []
        with self._db.write() as session:
            project_row = lock_project(session, project)
            for event in events:
                exists = session.scalars(
                    select(AlertEventRow.id).where(
                        AlertEventRow.project_id == project_row.id,
                        AlertEventRow.rule == event.rule,
                        AlertEventRow.window_start == event.window_start,
                    )
                ).first()
                if exists is not None:
                    continue
                fired = utc_now()
                session.add(
                    AlertEventRow(
                        project_id=project_row.id,
                        rule=event.rule,
                        model=event.model,
                        environment=event.environment,
                        metric=event.metric,
                        window_start=event.window_start,
                        window_end=event.window_end,
                        value=event.value,
                        condition=event.condition,
                        description=event.description,
                        runbook=event.runbook,
                        fired_at=fired,
                    )
                )
                session.flush()
                new.append(replace(event, fired_at=fired))
        return new

    def alerts(
        self, project: str, *, rule: str | None = None, limit: int = 100
    ) -> list[AlertEvent]:
        """Recorded alerts, newest window first."""
        with self._db.read() as session:
            query = (
                select(AlertEventRow)
                .join(ProjectRow, ProjectRow.id == AlertEventRow.project_id)
                .where(ProjectRow.name == project)
            )
            if rule is not None:
                query = query.where(AlertEventRow.rule == rule)
            rows = session.scalars(
                query.order_by(AlertEventRow.window_start.desc(), AlertEventRow.rule).limit(limit)
            ).all()
            return [
                AlertEvent(
                    rule=r.rule,
                    model=r.model,
                    environment=r.environment,
                    metric=r.metric,
                    window_start=r.window_start,
                    window_end=r.window_end,
                    value=r.value,
                    condition=r.condition,
                    description=r.description,
                    runbook=r.runbook,
                    fired_at=r.fired_at,
                )
                for r in rows
            ]


def insert_validation(
    session: Session, project: ProjectRow, run: NewValidationRun, *, training_set_id: int | None
) -> ValidationRunRow:
    """Write a validation run inside an open write transaction."""
    version = session.scalars(
        select(FeatureViewVersionRow)
        .join(FeatureViewRow, FeatureViewRow.id == FeatureViewVersionRow.feature_view_id)
        .where(
            FeatureViewRow.project_id == project.id,
            FeatureViewRow.name == run.feature_view,
            FeatureViewVersionRow.version == run.version,
        )
    ).one_or_none()
    if version is None:
        raise RegistryNotFoundError("feature view version", f"{run.feature_view} v{run.version}")
    row = ValidationRunRow(
        project_id=project.id,
        feature_view_version_id=version.id,
        trigger=run.trigger,
        policy=run.policy,
        window_start=run.window_start,
        window_end=run.window_end,
        row_count=run.row_count,
        passed=run.passed,
        training_set_id=training_set_id,
        created_at=utc_now(),
    )
    session.add(row)
    session.flush()
    for position, check in enumerate(run.checks):
        session.add(
            ValidationResultRow(
                run_id=row.id,
                position=position,
                kind=check.kind,
                spec=dict(check.spec),
                description=check.description,
                observed=dict(check.observed),
                passed=check.passed,
            )
        )
    session.flush()
    return row


def _run(session: Session, row: ValidationRunRow) -> ValidationRun:
    version = session.get(FeatureViewVersionRow, row.feature_view_version_id)
    assert version is not None
    view = session.get(FeatureViewRow, version.feature_view_id)
    assert view is not None
    training_set = session.get(TrainingSetRow, row.training_set_id) if row.training_set_id else None
    results = session.scalars(
        select(ValidationResultRow)
        .where(ValidationResultRow.run_id == row.id)
        .order_by(ValidationResultRow.position)
    ).all()
    return _run_record(
        row, view.name, version.version, training_set.name if training_set else None, results
    )


def _run_record(
    row: ValidationRunRow,
    view: str,
    version: int,
    training_set: str | None,
    results: Sequence[ValidationResultRow],
) -> ValidationRun:
    return ValidationRun(
        id=row.id,
        feature_view=view,
        version=version,
        trigger=row.trigger,
        policy=row.policy,
        window_start=row.window_start,
        window_end=row.window_end,
        row_count=row.row_count,
        passed=row.passed,
        training_set=training_set,
        created_at=row.created_at,
        checks=tuple(
            CheckRecord(
                kind=r.kind,
                spec=r.spec,
                description=r.description,
                observed=r.observed,
                passed=r.passed,
            )
            for r in results
        ),
    )
