"""Continual learning: retraining policies evaluated, training run, the new version shipped.

:class:`Retrainer` evaluates the repository's
:class:`~store.definitions.retraining.RetrainingPolicy` values (``silage monitor run`` does,
after the alert rules, so an alert that fires in the same run counts). For a policy that
fires, in order, each step recorded:

1. a retraining run is started in the registry with the trigger's kind and reason;
2. a fresh training set is built by the point-in-time join of the policy's labelled rows up
   to now with the features, and saved (``<model>_retraining_<run>``);
3. the policy's ``train(context)`` is called with a :class:`RetrainingContext` and must
   return an estimator (something with ``predict``);
4. the estimator is registered as a new version, with the training set (lineage down to
   feature-view versions) and tags naming the run, policy and trigger;
5. it is deployed beside the live primary as a shadow or a canary, the revision's reason
   naming the run.

If any step fails the run is recorded as failed with the error, and no version stays
registered (it is deleted again when its deployment fails); the training set built for it
stays, named on the run, to debug the training function with. The deployment is written
only if the live revision is still the one it was computed from. The clock of every
trigger restarts at the last run, failed or not, so a failing training function is not
retried on every monitoring run; a new alert, new outcomes or the next period fire it
again. A policy does not fire while a version it shipped is still a canary or shadow: the
experiment on it decides first.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry import ProjectRegistry, RetrainingRun, Target
from store.definitions.retraining import RetrainingPolicy
from store.errors import RequestError
from store.serving.prediction_log import PredictionLog

__all__ = ["BuildTrainingSet", "Retrainer", "RetrainingContext"]

# (labels rows' source, label column, feature refs, start, end, name) -> saved training set
BuildTrainingSet = Callable[[RetrainingPolicy, Sequence[str], datetime | None, datetime, str], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrainingContext:
    """What a training function receives: why it runs, over which time, and the data.

    ``training_set`` is the saved :class:`~store.offline.training_set.TrainingSet`;
    ``data`` its rows as a pandas DataFrame (features and the label); ``features`` the
    feature columns to train on, in order (the live version's inputs when the training set
    has them, else all of its feature columns); ``label`` the label column; ``previous``
    the live primary's version number.
    """

    model: str
    policy: str
    kind: str
    reason: str
    start: datetime | None
    end: datetime
    training_set: Any
    data: Any
    features: tuple[str, ...]
    label: str
    previous: int


class Retrainer:
    """Evaluates retraining policies and runs the ones that fire."""

    def __init__(
        self,
        registry: ProjectRegistry,
        log: PredictionLog,
        alerts: Callable[[], Sequence[Any]],
        build: BuildTrainingSet,
    ) -> None:
        self._registry = registry
        self._log = log
        self._alerts = alerts
        self._build = build

    def due(self, policy: RetrainingPolicy, now: datetime) -> tuple[str, str] | None:
        """The trigger that fires now, as (kind, reason), or None. Every trigger counts
        from the policy's last run, or, before its first, from when the live primary was
        registered; none fires while a version this policy shipped is still under test
        (a canary or shadow beside the primary)."""
        live = self._registry.deployments.live(policy.model, policy.environment)
        models = self._registry.models
        testing = [
            t.version
            for t in live.targets
            if t.role in ("canary", "shadow")
            and models.get_version(policy.model, version=t.version).tags.get("policy")
            == policy.name
        ]
        if testing:
            return None
        runs = self._registry.retraining.list(policy.model, policy.name)
        primary = (live.versions("primary") or live.versions())[0]
        born = models.get_version(policy.model, version=primary).created_at
        since = max(runs[-1].started_at, born) if runs else born
        for name in policy.on_alerts:
            fired = [a for a in self._alerts() if a.rule == name and a.fired_at > since]
            if fired:
                kind = "drift" if fired[0].metric.startswith("drift") else "performance"
                return kind, f"alert {name} fired: {fired[0].condition}"
        if policy.new_outcomes is not None:
            count = self._log.outcomes_since(
                policy.model, environment=policy.environment, since=since
            )
            if count >= policy.new_outcomes:
                return "volume", f"{count:,} new outcomes (policy: {policy.new_outcomes:,})"
        if policy.every is not None and now - since >= RetrainingPolicy.duration(policy.every):
            return "time", f"{policy.every} since {since:%Y-%m-%d %H:%M} UTC"
        return None

    def run_due(
        self, policies: Sequence[RetrainingPolicy], now: datetime
    ) -> tuple[list[RetrainingRun], list[str]]:
        """Run every policy that fires now: the runs (succeeded or failed), and the
        policies that could not be evaluated, each with why (one does not stop the rest)."""
        runs, problems = [], []
        for policy in policies:
            try:
                fired = self.due(policy, now)
            except Exception as error:  # a model not deployed, say: report it, go on
                problems.append(f"retraining policy {policy.name!r}: {error}")
                continue
            if fired is not None:
                runs.append(self.run(policy, now, kind=fired[0], reason=fired[1]))
        return runs, problems

    def run(
        self, policy: RetrainingPolicy, now: datetime, *, kind: str = "manual", reason: str = ""
    ) -> RetrainingRun:
        """Retrain now, whatever the triggers say (``silage retrain POLICY``)."""
        live = self._registry.deployments.live(policy.model, policy.environment)
        primary = (live.versions("primary") or live.versions("ab", "canary"))[0]
        start = now - RetrainingPolicy.duration(policy.lookback) if policy.lookback else None
        run = self._registry.retraining.start(
            policy.model,
            policy.name,
            kind,
            reason or "run by hand",
            {"start": start.isoformat() if start else None, "end": now.isoformat()},
            at=now,
        )
        registered = None
        name = f"{policy.model}_retraining_{run.id}"
        try:
            features = policy.features or self._features_of(policy.model, primary)
            saved = self._build(policy, features, start, now, name)
            data = saved.to_df()
            columns = self._inputs(policy.model, primary, saved)
            context = RetrainingContext(
                model=policy.model,
                policy=policy.name,
                kind=kind,
                reason=run.reason,
                start=start,
                end=now,
                training_set=saved,
                data=data,
                features=columns,
                label=policy.label,
                previous=primary,
            )
            estimator = policy.train(context)
            if estimator is None or not callable(getattr(estimator, "predict", None)):
                raise RequestError(
                    f"retraining policy {policy.name!r}: train() returned "
                    f"{type(estimator).__name__}, not an estimator with predict(); return "
                    f"the fitted model"
                )
            registered = self._registry.register_model(
                policy.model,
                estimator,
                training_set=saved.record,
                tags={"retraining_run": str(run.id), "policy": policy.name, "trigger": kind},
                description=f"retrained by {policy.name}: {run.reason}",
            )
            self._deploy(policy, registered.version, run.id, run.reason)
        except BaseException as error:
            detail = "".join(traceback.format_exception_only(error)).strip()
            try:
                if registered is not None:
                    self._registry.delete_version(policy.model, registered.version)
            finally:
                # The training set stays (what the function was given, to debug it with).
                failed = self._registry.retraining.finish(
                    run.id, error=detail, details={"training_set": name}
                )
            if not isinstance(error, Exception):
                raise
            return failed
        return self._registry.retraining.finish(
            run.id, version=registered.version, details={"training_set": name}
        )

    def _inputs(self, model: str, version: int, saved: Any) -> tuple[str, ...]:
        """The columns the new model should take: the ones the live version was trained on
        when the fresh training set has them all, else every feature column."""
        columns = tuple(f.column for f in saved.record.features)
        previous = self._registry.models.get_version(model, version=version).input_features
        if previous and set(previous) <= set(columns):
            return tuple(previous)
        return columns

    def _features_of(self, model: str, version: int) -> list[str]:
        found = self._registry.models.get_version(model, version=version)
        if found.training_set is None:
            raise RequestError(
                f"{model} v{version} has no training set to take features from; give the "
                f"retraining policy features=[...]"
            )
        record = self._registry.training_sets.get(self._registry.project, found.training_set)
        return [f"{f.feature_view}:{f.feature}" for f in record.features]

    def _deploy(self, policy: RetrainingPolicy, version: int, run_id: int, reason: str) -> None:
        """Beside the primary live now (read again: it may have changed while training),
        conditional on it staying live until the write."""
        live = self._registry.deployments.live(policy.model, policy.environment)
        targets = live.targets
        primary = next((t for t in targets if t.role == "primary"), None)
        if primary is None:
            raise RequestError(
                f"{policy.model} in {policy.environment} has no primary to put v{version} "
                f"beside; retraining ships beside a primary"
            )
        shadows = [t for t in targets if t.role == "shadow"]
        if policy.deploy_as == "shadow":
            chosen = [Target(primary.version), *shadows, Target(version, "shadow")]
        else:
            chosen = [
                Target(primary.version, "primary", 100.0 - policy.canary_share),
                Target(version, "canary", policy.canary_share),
                *shadows,
            ]
        self._registry.deployments.deploy(
            policy.model,
            policy.environment,
            chosen,
            by=f"retraining:{policy.name}",
            reason=f"retraining run {run_id}: {reason}",
            expected_revision=live.revision,
        )
