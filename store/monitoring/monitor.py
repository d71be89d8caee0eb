"""The monitoring half of a feature repository: checks where data enters, and statistics.

``FeatureStore.monitor`` is a :class:`Monitor` bound to the repository's registry, offline
engine and predictions log. The facade calls its hooks where data enters (before a view is
materialized, before rows are pushed, before a training set is saved) and delegates its
monitoring methods (``validate``, ``compute_statistics``) to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry import (
    AlertEvent,
    NewValidationRun,
    ProjectRegistry,
    Registry,
    ValidationRun,
    WindowStatistics,
)
from store.definitions.alerts import AlertRule
from store.definitions.feature_view import FeatureView
from store.definitions.references import AnyView
from store.epoch import from_micros
from store.errors import RequestError
from store.monitoring.alerts import evaluate_rules, post_webhook
from store.monitoring.drift_runs import DriftReference, DriftReport, Sources, run_drift
from store.monitoring.quality import QualityReport, live_quality
from store.monitoring.report import build_report
from store.monitoring.skew import SkewReport, check_skew
from store.monitoring.statistics import (
    model_statistics,
    training_set_statistics,
    view_statistics,
)
from store.monitoring.validation import ValidationReport, check_rows, check_window, enforce
from store.offline.engine import OfflineEngine
from store.serving.prediction_log import PredictionLog

if TYPE_CHECKING:
    import pyarrow as pa

    from registry import TrainingSetRecord
    from store.offline.retrieval import RetrievalJob

__all__ = ["Monitor", "OutcomeReceipt"]


class Monitor:
    """Validation and statistics for one project.

    Args:
        lookup_view: the registered view of a name (raising ``ObjectNotFoundError``).
        lookup_training_set: a saved training set's record and data file, by name.
    """

    def __init__(
        self,
        *,
        project: str,
        registry: Registry,
        models: ProjectRegistry,
        engine: OfflineEngine,
        repo_root: Path,
        log: PredictionLog,
        lookup_view: Callable[[str], FeatureView],
        lookup_training_set: Callable[[str], tuple[TrainingSetRecord, Path]],
        trusted_types: Sequence[str] = (),
        lookup_any_view: Callable[[str], AnyView] | None = None,
    ) -> None:
        self.project = project
        self.registry = registry
        self.engine = engine
        self.repo_root = repo_root
        self.log = log
        self._lookup_view = lookup_view
        # Skew recomputes what models were served, on-demand features included.
        self._lookup_any_view: Callable[[str], AnyView] = lookup_any_view or lookup_view
        self._lookup_training_set = lookup_training_set
        self._models = models
        self._sources = Sources(
            project=project,
            registry=registry,
            models=models,
            engine=engine,
            repo_root=repo_root,
            log=log,
            lookup_view=lookup_view,
            lookup_training_set=lookup_training_set,
            trusted_types=trusted_types,
        )

    # --- checks where data enters --------------------------------------------------------

    def validate(
        self, feature_view: str, start: datetime | None, end: datetime | None
    ) -> ValidationReport:
        """Check a view's source rows in ``[start, end]`` and record the run; stop nothing.

        Raises:
            RequestError: the view declares no expectations.
        """
        view = self._lookup_view(feature_view)
        if not view.expectations:
            raise RequestError(
                f"feature view {feature_view!r} declares no expectations; add "
                f"expectations=[ValueRange('feature', min=0), ...] to it and run `silage apply`"
            )
        report = self._check(view, start, end, "on_demand")
        self.registry.monitoring.record_validation(self.project, report.to_record())
        return report

    def before_load(self, view: FeatureView, start: datetime, end: datetime) -> None:
        """Materialization's hook: check the window, record, stop on a rejected failure."""
        if view.expectations:
            self._record_and_enforce(self._check(view, start, end, "materialize"))

    def before_push(self, view: FeatureView, rows: pa.Table) -> None:
        """Push's hook: check the rows, record, stop on a rejected failure."""
        if view.expectations:
            report = check_rows(view, self.version_of(view), rows, engine=self.engine)
            self._record_and_enforce(report)

    def before_save(self, job: RetrievalJob) -> list[NewValidationRun]:
        """A training set's hook: check each view over the source rows the set could read
        (the entity time range, reaching back a ttl). Returns the runs to record with the
        set; a rejected failure is recorded on its own and stops the save."""
        runs = []
        low, high = job.entities.min_ts_us, job.entities.max_ts_us
        for view in job.feature_views:
            if not view.expectations:
                continue
            start = None if low is None else from_micros(low)
            if start is not None and view.ttl is not None:
                start -= view.ttl
            end = None if high is None else from_micros(high)
            report = self._check(view, start, end, "training_set")
            if not report.passed and report.policy == "reject":
                self._record_and_enforce(report)
            runs.append(report.to_record())
        return runs

    def validation_runs(self, feature_view: str | None = None) -> list[ValidationRun]:
        """Recorded validation runs, newest first (of one view, or of every view)."""
        return self.registry.monitoring.validation_runs(self.project, feature_view=feature_view)

    def version_of(self, view: FeatureView) -> int:
        """The registry's version number of this exact view.

        Raises:
            RequestError: the view is not registered as it is.
        """
        history = self.registry.catalog.feature_view_versions(self.project, view.name)
        for found in reversed(history):
            if found.content_hash == view.content_hash and found.version is not None:
                return found.version
        raise RequestError(
            f"feature view {view.name!r} differs from every version in the registry; "
            f"run `silage apply`"
        )

    def _check(
        self, view: FeatureView, start: datetime | None, end: datetime | None, trigger: Any
    ) -> ValidationReport:
        return check_window(
            view,
            self.version_of(view),
            engine=self.engine,
            repo_root=self.repo_root,
            start=start,
            end=end,
            trigger=trigger,
        )

    def _record_and_enforce(self, report: ValidationReport) -> None:
        self.registry.monitoring.record_validation(self.project, report.to_record())
        enforce(report)

    # --- statistics per window -----------------------------------------------------------

    def statistics(
        self,
        *,
        feature_view: str | None,
        training_set: str | None,
        model: str | None,
        window: timedelta,
        start: datetime | None,
        end: datetime | None,
        environment: str | None,
        features: Sequence[str] | None = None,
    ) -> list[WindowStatistics]:
        """Statistics per feature per window of one subject, recorded in the registry."""
        if sum(s is not None for s in (feature_view, training_set, model)) != 1:
            raise RequestError("give one of feature_view=, training_set= or model=")
        if feature_view is not None:
            found = view_statistics(
                self._lookup_view(feature_view),
                engine=self.engine,
                repo_root=self.repo_root,
                window=window,
                start=start,
                end=end,
                features=features,
            )
            self.registry.monitoring.record_statistics(
                self.project, "feature_view", feature_view, found
            )
        elif training_set is not None:
            record, path = self._lookup_training_set(training_set)
            found = training_set_statistics(
                record, path, engine=self.engine, window=window, start=start, end=end
            )
            self.registry.monitoring.record_statistics(
                self.project, "training_set", training_set, found
            )
        else:
            assert model is not None
            found = model_statistics(
                self.log,
                model,
                engine=self.engine,
                window=window,
                start=start,
                end=end,
                environment=environment,
            )
            self.registry.monitoring.record_statistics(self.project, "predictions", model, found)
        return found

    # --- drift ---------------------------------------------------------------------------

    def drift(
        self,
        model: str,
        *,
        environment: str,
        window: timedelta,
        start: datetime | None,
        end: datetime | None,
        reference: DriftReference | None = None,
        features: Sequence[str] | None = None,
        served: pa.Table | None = None,
    ) -> DriftReport:
        """Compare a model's served data with a reference, window by window, and record the
        results (see :mod:`store.monitoring.drift_runs`)."""
        report = run_drift(
            self._sources,
            model,
            environment=environment,
            window=window,
            start=start,
            end=end,
            reference=reference,
            features=features,
            served=served,
        )
        self.registry.monitoring.record_drift(self.project, report.to_records())
        return report

    def report(
        self,
        model: str,
        *,
        environment: str,
        window: timedelta,
        start: datetime | None,
        end: datetime | None,
    ) -> dict[str, Any]:
        """A drift run with what surrounds it, as a report's context (see
        :mod:`store.monitoring.report`): the validation runs of the views the serving
        version was trained on, the model's alerts, and the live quality."""
        served = self.log.features_table(model, environment=environment, start=start, end=end)
        found = self.drift(
            model, environment=environment, window=window, start=start, end=end, served=served
        )
        version = self._models.models.get_version(model, version=found.version)
        views: list[str] = []
        if version.training_set is not None:
            record = self._models.training_sets.get(self.project, version.training_set)
            views = sorted({f.feature_view for f in record.features})
        validations = [
            run
            for view in views
            for run in self.registry.monitoring.validation_runs(
                self.project, feature_view=view, limit=10
            )
        ]
        alerts = [e for e in self.registry.monitoring.alerts(self.project) if e.model == model]
        quality = self.quality(model, environment=environment, window=window, start=start, end=end)
        return build_report(
            found,
            served,
            window=window,
            validations=validations,
            alerts=alerts,
            quality=quality,
        )

    # --- training-serving skew -----------------------------------------------------------

    def skew(
        self,
        model: str,
        *,
        environment: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> SkewReport:
        """What ``model`` was served against a point-in-time join at each prediction's time
        (see :mod:`store.monitoring.skew`)."""
        return check_skew(
            model,
            models=self._models,
            log=self.log,
            engine=self.engine,
            repo_root=self.repo_root,
            lookup_view=self._lookup_any_view,
            environment=environment,
            start=start,
            end=end,
        )

    # --- outcomes and live quality -------------------------------------------------------

    def record_outcomes(
        self, ids: Sequence[str], values: Sequence[Any], at: datetime | Sequence[datetime]
    ) -> OutcomeReceipt:
        """Keep outcomes by prediction id, in one transaction; unknown ids are counted and
        reported, the others kept.

        Raises:
            RequestError: ids and values (or times) of different lengths.
        """
        times = list(at) if isinstance(at, Sequence) else [at] * len(ids)
        if not (len(ids) == len(values) == len(times)):
            raise RequestError(
                f"{len(ids)} prediction ids, {len(values)} values and {len(times)} times; "
                f"give one value (and time) per id"
            )
        recorded, unknown = self.log.record_outcomes(list(zip(ids, values, times, strict=True)))
        return OutcomeReceipt(recorded=recorded, unknown=tuple(unknown))

    def quality(
        self,
        model: str,
        *,
        environment: str,
        window: timedelta,
        start: datetime | None,
        end: datetime | None,
    ) -> QualityReport:
        """Live metrics per target and window (see :mod:`store.monitoring.quality`)."""
        return live_quality(
            model,
            models=self._models,
            log=self.log,
            environment=environment,
            window=window,
            start=start,
            end=end,
        )

    # --- alerts ----------------------------------------------------------------------------

    def rules(self, declared: Sequence[AlertRule] = ()) -> list[AlertRule]:
        """The rules to evaluate: those added through the API, and those ``declared`` in
        the repository (a declared rule wins over an added one of the same name)."""
        found = {
            name: AlertRule.from_spec(spec)
            for name, spec in self.registry.monitoring.alert_rules(self.project).items()
        }
        found |= {rule.name: rule for rule in declared}
        return [found[name] for name in sorted(found)]

    def run(
        self,
        rules: Sequence[AlertRule],
        *,
        now: datetime,
        lookback: int = 1,
        webhook: str | None = None,
    ) -> list[AlertEvent]:
        """Evaluate ``rules`` on the windows completed by ``now``; record, post and return
        the alerts that are new (see :mod:`store.monitoring.alerts`)."""
        events = evaluate_rules(self, rules, now=now, lookback=lookback)
        if events and webhook:
            post_webhook(webhook, self.project, events)
        return events


@dataclass(frozen=True, slots=True)
class OutcomeReceipt:
    """What :meth:`Monitor.record_outcomes` kept: how many, and the ids no prediction has."""

    recorded: int
    unknown: tuple[str, ...]
