"""Experiments acted on: plan them, read them, promote on their evidence, reweight bandits.

The glue between the registry (deployments, declared experiments, promotion gates), the
predictions log (per-arm sums in SQL) and the pure parts of this package. The facade
(``FeatureStore.experiment``, ``plan_experiment``, ``promote``, ``reweight``) and the CLI
(``silage experiments ...``, ``silage promote --if-better``) call it.

Promotion on evidence. An environment's promotion gate
(``FeatureStore.set_promotion_gate``) names the metric, a margin and whether guardrails
must hold. ``promote(..., if_better=True)`` reads the experiment and promotes only when the
challenger's confidence sequence shows it better than the champion (margin 0), or not worse
by more than the margin (a non-inferiority margin, in the metric's units), with no
sample-ratio mismatch and, if asked, no guardrail breached. The numbers, the test and the
sample sizes are recorded on the new deployment revision and in the promoted version's
model card (quantitative analyses, ``online_experiments``). A refused promotion records
nothing and says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry import DeploymentRevision, Experiment, ProjectRegistry, RetrainingRun
from store.errors import RequestError
from store.experiments.analysis import (
    ExperimentReport,
    analyse,
    experiment_start,
    plan,
)
from store.experiments.bandit import ArmRewards, BanditPolicy, due, thompson_shares
from store.serving.prediction_log import METRICS, PredictionLog

__all__ = ["ContinualLearning", "ExperimentRunner", "PromotionGate"]


@dataclass(frozen=True, slots=True)
class ContinualLearning:
    """What one monitoring run did beyond alerts: retraining runs and bandit reweightings."""

    retraining: list[RetrainingRun]
    reweighted: list[DeploymentRevision]
    problems: list[str]


class PromotionGate:
    """What a challenger must show before it is promoted in an environment.

    ``metric``: the metric it is judged on (default: the experiment's primary metric);
    ``margin``: 0 to require better, or how much worse (in the metric's units) is still
    acceptable; ``guardrails``: whether a breached guardrail refuses the promotion.
    """

    def __init__(self, metric: str | None = None, margin: float = 0.0, guardrails: bool = True):
        if metric is not None and metric not in METRICS:
            raise RequestError(
                f"promotion gate metric {metric!r} is unknown; use one of {sorted(METRICS)}"
            )
        if not (math.isfinite(margin) and margin >= 0):
            raise RequestError(f"promotion gate margin {margin} must be 0 or more")
        self.metric = metric
        self.margin = margin
        self.guardrails = guardrails

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "margin": self.margin, "guardrails": self.guardrails}

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> PromotionGate:
        return cls(spec.get("metric"), float(spec.get("margin", 0.0)), spec.get("guardrails", True))


class ExperimentRunner:
    """Experiments of one project's models."""

    def __init__(self, registry: ProjectRegistry, log: PredictionLog) -> None:
        self._registry = registry
        self._log = log

    def plan(
        self, model: str, environment: str, name: str, *, by: str | None = None, **settings: Any
    ) -> Experiment:
        """Declare an experiment with its plan (see :func:`~store.experiments.analysis.plan`
        for the settings); its horizon is the sample size per arm."""
        live = self._registry.deployments.live(model, environment)  # raises when not deployed
        challengers = max(len(live.targets) - 1, 1)
        try:
            found = plan(**settings, comparisons=challengers)
        except TypeError as error:
            raise RequestError(
                f"cannot plan the experiment: {error}; the settings are metric, baseline, "
                f"effect, sd, alpha, power, higher_is_better and secondary"
            ) from error
        spec = {**found.to_dict(), "revision": live.revision}
        return self._registry.experiments.declare(model, environment, name, spec, by=by)

    def report(
        self,
        model: str,
        environment: str,
        *,
        metric: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> ExperimentReport:
        """Read the experiment on the model's live deployment in the environment now."""
        history = self._registry.deployments.history(model, environment)
        if not history:
            raise RequestError(f"{model} is not deployed in {environment}")
        first = experiment_start(history)
        began = first.created_at
        since = max(began, start.astimezone(UTC)) if start else began
        experiment = self._registry.experiments.current(model, environment)
        if experiment is not None and experiment.spec.get("revision", 0) < first.revision:
            experiment = None  # declared for an earlier deployment
        classifier = any(
            self._registry.models.get_version(model, version=v).classes
            for v in {t.version for t in history[-1].targets}
        )
        names = _metrics(metric, experiment, history[-1], classifier)
        sums = {
            name: self._log.arm_sums(model, name, environment=environment, start=since, end=end)
            for name in names
        }
        return analyse(
            model=model,
            environment=environment,
            history=history,
            sums=sums,
            experiment=experiment,
            classifier=classifier,
            metric=names[0],
            start=since,
        )

    def promote(
        self,
        model: str,
        environment: str,
        *,
        version: int | None = None,
        if_better: bool = False,
        by: str | None = None,
        reason: str = "",
    ) -> DeploymentRevision:
        """Promote the challenger (the canary, or ``version``); on evidence when the
        environment has a gate or ``if_better`` is set.

        Raises:
            RequestError: the evidence does not show the challenger good enough (nothing is
                recorded), or the gate's metric is one no arm has outcomes for.
        """
        deployments = self._registry.deployments
        spec = deployments.promotion_gate(environment)
        if spec is None and not if_better:
            return deployments.promote(model, environment, version=version, by=by, reason=reason)
        gate = PromotionGate.from_dict(spec or {})
        live = deployments.live(model, environment)
        challenger = _challenger(model, environment, live, version)
        report = self.report(model, environment, metric=gate.metric)
        passed, decision = _judge(report, gate, challenger)
        if not passed:
            raise RequestError(
                f"{model} v{challenger} is not promoted in {environment}: {decision}"
            )
        evidence = {
            **report.evidence(),
            "passed": True,
            "gate": gate.to_dict(),
            "challenger": challenger,
            "decision": decision,
        }
        return deployments.promote(
            model,
            environment,
            version=challenger,
            evidence=evidence,
            by=by,
            reason=reason or decision,
        )

    def reweight(
        self, model: str, environment: str, *, now: datetime | None = None, force: bool = False
    ) -> DeploymentRevision | None:
        """Recompute a bandit deployment's shares by Thompson sampling from the outcomes so
        far, when its interval has passed (or ``force``); a new revision carries the
        evidence. None when it is not due, or when the arms lack the outcomes to move."""
        deployments = self._registry.deployments
        history = deployments.history(model, environment)
        if not history or history[-1].mode != "bandit":
            raise RequestError(
                f"{model} in {environment} is not a bandit deployment; deploy A/B arms with "
                f"mode='bandit' first"
            )
        live = history[-1]
        policy = BanditPolicy.from_dict(live.policy or {})
        moment = now or datetime.now(UTC)
        if not force and not due(live.created_at, moment, policy):
            return None
        since = experiment_start(history).created_at
        sums = {
            r.arm: r
            for r in self._log.arm_sums(model, "outcome", environment=environment, start=since)
            if r.role == "ab"
        }
        arms = [t.arm for t in live.targets if t.role == "ab"]
        rewards = []
        for arm in arms:
            found = sums.get(arm)
            if found is not None and found.unreadable:
                raise RequestError(
                    f"{found.unreadable:,} outcomes of {model}'s arm {arm} are not numbers or "
                    f"booleans; a bandit's rewards must be 0/1 or numbers"
                )
            m = found.metric if found is not None else None
            if policy.reward == "binary" and m is not None and m.total != m.total_squares:
                raise RequestError(
                    f"{model}'s arm {arm} has rewards other than 0 and 1 and the bandit's "
                    f"rewards are binary; redeploy it with a continuous reward "
                    f"(--bandit-reward continuous)"
                )
            rewards.append(
                ArmRewards(
                    arm, m.n if m else 0, m.total if m else 0.0, m.total_squares if m else 0.0
                )
            )
        current = {t.arm: t.share or 0.0 for t in live.targets if t.role == "ab"}
        result = thompson_shares(rewards, current, policy, seed=live.revision)
        if not result.changed:
            return None
        return deployments.reweight(
            model, environment, result.shares, evidence=result.evidence(), reason=result.reason
        )

    def reweight_due(
        self, now: datetime | None = None
    ) -> tuple[list[DeploymentRevision], list[str]]:
        """Reweight every bandit deployment of the project whose interval has passed: the
        new revisions, and the bandits that could not be, each with why."""
        changed, problems = [], []
        for live in self._registry.deployments.list_live():
            if live.mode == "bandit":
                try:
                    found = self.reweight(live.model, live.environment, now=now)
                except Exception as error:
                    problems.append(f"bandit {live.model} in {live.environment}: {error}")
                    continue
                if found is not None:
                    changed.append(found)
        return changed, problems


def _metrics(
    metric: str | None, experiment: Experiment | None, live: DeploymentRevision, classifier: bool
) -> list[str]:
    """The metrics a report needs sums of: the primary (asked for, planned, or by default
    the outcome; for shadows alone how right they were) and the plan's secondary ones."""
    spec = experiment.spec if experiment else {}
    primary = metric or spec.get("metric")
    if primary is None:
        shadows_only = all(t.role in ("primary", "shadow") for t in live.targets)
        quality = "accuracy" if classifier else "absolute_error"
        primary = quality if shadows_only else "outcome"
    names = [primary, *(m for m in spec.get("secondary", ()) if m != primary)]
    for name in names:
        if name not in METRICS:
            raise RequestError(f"metric {name!r} is unknown; use one of {sorted(METRICS)}")
    return names


def _challenger(model: str, environment: str, live: DeploymentRevision, version: int | None) -> int:
    candidates = [t.version for t in live.targets if t.role in ("canary", "ab")]
    if version is not None:
        if version not in candidates:
            raise RequestError(
                f"{model} v{version} is not a canary or A/B arm in {environment}; promote one "
                f"of {candidates or 'none'}"
            )
        return version
    canaries = [t.version for t in live.targets if t.role == "canary"]
    if len(canaries) != 1:
        raise RequestError(
            f"{model} in {environment} has no single canary; name the version to promote"
        )
    return canaries[0]


def _judge(report: ExperimentReport, gate: PromotionGate, challenger: int) -> tuple[bool, str]:
    """Whether the report shows the challenger good enough, and the one-line reason."""
    if report.sample_ratio is not None and report.sample_ratio.mismatch:
        return False, f"the experiment is blocked: {report.reason}"
    if not report.metrics:
        return False, "the experiment has no comparison to judge"
    primary = report.metrics[0].metric
    found = [
        m
        for m in report.metrics
        if m.metric == primary and m.treatment.startswith(f"v{challenger} ")
    ]
    if not found:
        control = report.metrics[0].control
        return False, (
            f"v{challenger} is the control of this experiment ({control}), which the "
            f"challengers are compared with; promote a challenger"
            if control.startswith(f"v{challenger} ")
            else f"v{challenger} has no comparison on {primary}"
        )
    result = found[0]
    if result.comparison.treatment_mean != result.comparison.treatment_mean:  # NaN: no data
        return False, f"no arm has outcomes for {primary} yet; the gate cannot be judged"
    # The worst difference the confidence sequence allows, oriented so that more is better.
    worst = result.sequential_low if result.higher_is_better else -result.sequential_high
    outcomes = {a.name: a.outcomes for a in report.arms}
    numbers = (
        f"{primary} {result.comparison.treatment_mean:.4g} vs {result.comparison.control_mean:.4g}"
        f", sequential interval [{result.sequential_low:+.4g}, {result.sequential_high:+.4g}] "
        f"over {outcomes[result.control]:,} ({result.control}) and "
        f"{outcomes[result.treatment]:,} ({result.treatment}) outcomes"
    )
    if gate.margin == 0 and not worst > 0:
        return False, f"not shown better on {numbers}"
    if gate.margin > 0 and not worst > -gate.margin:
        return False, f"not shown within {gate.margin:g} of the champion on {numbers}"
    breached = [
        g.guardrail for g in report.guardrails if g.breached and g.treatment == result.treatment
    ]
    if gate.guardrails and breached:
        return False, f"guardrails breached: {', '.join(breached)} ({numbers})"
    shown = "better" if worst > 0 else f"not worse by more than {gate.margin:g}"
    return True, f"v{challenger} shown {shown} on {numbers}; guardrails intact"
