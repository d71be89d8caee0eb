"""The experiment report: which arm of a deployment is better, and whether to believe it.

A deployment with more than one version serving is an experiment whether or not anyone
declared it: A/B arms, a canary beside the primary, shadows scored on the primary's
outcomes, or a bandit's arms. :func:`analyse` reads it in this order:

1. **Which traffic.** The units are the predictions logged since the live arms began
   serving together (the deployment history is walked back while the same versions serve
   in the same roles; a new share for a fixed split starts a new experiment, a bandit's
   reweighting does not). Failed predictions count as traffic, and towards the error rate.
2. **Sample-ratio mismatch first.** Observed traffic per served arm is tested against the
   configured shares (chi-square, mismatch at p < 0.001, as GrowthBook does). A mismatch
   means assignment or logging is broken, so no comparison is trusted: the verdict is
   blocked and says so. Shadows take no share and bandits move theirs on purpose, so
   neither is checked.
3. **The metric per arm**, from the per-arm sums the predictions log computes in SQL
   (:meth:`~store.serving.prediction_log.PredictionLog.arm_sums`): ``outcome`` (the
   outcome itself: a conversion, a revenue), ``accuracy``, ``absolute_error`` or
   ``squared_error`` over the predictions whose outcome arrived. Shadows never change the
   outcome, so they are compared on how right they were (``accuracy`` for classifiers,
   ``absolute_error`` for regressors) unless told otherwise.
4. **Each challenger against the control** (the primary, or the first arm): the difference
   with its fixed-horizon interval and p-value (two-proportion z-test for 0/1 metrics,
   Welch's t-test otherwise), the relative lift with a delta-method interval, and the
   anytime-valid confidence sequence. P-values of several comparisons (arms and metrics
   read at once) are Holm-adjusted; the confidence sequences use alpha divided by their
   number (Bonferroni), so the chance of any false win stays at alpha.
5. **Guardrails** per arm from the log: error rate, missing-feature rate and mean latency;
   one is breached when its confidence sequence shows the challenger worse by more than a
   tolerance (1 point of a rate; the larger of 1 ms and 10% of the control's latency). A
   prediction's latency is its batch's mean, so latency is compared per batch-average.
6. **The verdict** comes from the confidence sequences only, so the report may be read at
   any time, as often as wished, without inflating false positives: ``better`` or
   ``worse`` as soon as the primary metric's sequence excludes 0; ``no difference`` once
   the planned size is reached without that; ``keep running`` before it. The
   fixed-horizon p-values are shown beside it for whoever planned to read once.

Shadows see the same requests as the primary; treating their samples as independent (as
Welch's test does) ignores that pairing and is conservative. A bandit's per-arm means are
plain means over the units each arm got; each prediction's logged propensity allows an
inverse-propensity reweighting later.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry import DeploymentRevision, Experiment
from store.errors import RequestError
from store.experiments.statistics import (
    Comparison,
    Sample,
    SampleRatio,
    compare_means,
    compare_proportions,
    confidence_sequence,
    holm,
    is_binary,
    sample_ratio_mismatch,
    sample_size,
)
from store.serving.prediction_log import METRICS, ArmSums, Moments

__all__ = [
    "HIGHER_IS_BETTER",
    "ArmResult",
    "ExperimentPlan",
    "ExperimentReport",
    "GuardrailResult",
    "MetricResult",
    "analyse",
    "experiment_start",
    "plan",
]

# Whether more is better, per metric (an ``outcome`` may say otherwise in the plan).
HIGHER_IS_BETTER = {
    "outcome": True,
    "accuracy": True,
    "absolute_error": False,
    "squared_error": False,
}
GUARDRAILS = ("error_rate", "missing_feature_rate", "latency_ms")
# How much worse a guardrail may be before it counts as breached: a difference that is
# certain but immaterial (a hundredth of a millisecond) must not block a better model.
# Rates in absolute points; latency the larger of 1 ms and 10% of the control's.
RATE_TOLERANCE = 0.01
LATENCY_TOLERANCE_MS, LATENCY_TOLERANCE_SHARE = 1.0, 0.10


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentPlan:
    """What an experiment looks for and how long it must run to find it.

    ``horizon`` is the units per arm at which the primary metric's confidence sequence,
    read as often as wished, finds ``effect`` with probability ``power``
    (:func:`~store.experiments.statistics.sample_size`); ``fixed_horizon`` the units a
    test read only once would need, for comparison.
    """

    metric: str
    effect: float
    baseline: float
    sd: float | None
    alpha: float
    power: float
    higher_is_better: bool
    horizon: int
    fixed_horizon: int
    secondary: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "effect": self.effect,
            "baseline": self.baseline,
            "sd": self.sd,
            "alpha": self.alpha,
            "power": self.power,
            "higher_is_better": self.higher_is_better,
            "horizon": self.horizon,
            "fixed_horizon": self.fixed_horizon,
            "secondary": list(self.secondary),
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> ExperimentPlan:
        return cls(
            metric=spec["metric"],
            effect=float(spec["effect"]),
            baseline=float(spec["baseline"]),
            sd=None if spec.get("sd") is None else float(spec["sd"]),
            alpha=float(spec["alpha"]),
            power=float(spec["power"]),
            higher_is_better=bool(spec["higher_is_better"]),
            horizon=int(spec["horizon"]),
            fixed_horizon=int(spec["fixed_horizon"]),
            secondary=tuple(spec.get("secondary", ())),
        )


def plan(
    *,
    metric: str = "outcome",
    baseline: float,
    effect: float,
    sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    higher_is_better: bool | None = None,
    secondary: Sequence[str] = (),
    comparisons: int = 1,
) -> ExperimentPlan:
    """Plan an experiment: the horizon (units per arm) that finds an absolute difference
    ``effect`` on ``metric`` (a rate ``baseline`` when ``sd`` is None, else a metric of
    standard deviation ``sd``) with probability ``power``, reading as often as wished.
    The report divides alpha among its comparisons (challengers times metrics), so the
    plan does too: ``comparisons`` is the number of challengers.

    Raises:
        RequestError: an unknown metric, or numbers no experiment can plan for.
    """
    for name in (metric, *secondary):
        _check_metric(name)
    family = max(comparisons, 1) * (1 + len(set(secondary) - {metric}))
    try:
        horizon = sample_size(
            baseline=baseline, effect=effect, alpha=alpha / family, power=power, sd=sd
        )
        fixed = sample_size(
            baseline=baseline,
            effect=effect,
            alpha=alpha / family,
            power=power,
            sd=sd,
            sequential=False,
        )
    except ValueError as error:
        raise RequestError(f"cannot plan the experiment: {error}") from error
    return ExperimentPlan(
        metric=metric,
        effect=effect,
        baseline=baseline,
        sd=sd,
        alpha=alpha,
        power=power,
        higher_is_better=HIGHER_IS_BETTER[metric] if higher_is_better is None else higher_is_better,
        horizon=horizon,
        fixed_horizon=fixed,
        secondary=tuple(secondary),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ArmResult:
    """One served arm (or shadow): its configured share, traffic and guardrails."""

    name: str
    version: int
    role: str
    arm: str
    share: float | None
    predictions: int
    outcomes: int
    error_rate: float
    missing_feature_rate: float
    latency_ms: float
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricResult:
    """A challenger against the control on one metric."""

    metric: str
    control: str
    treatment: str
    comparison: Comparison
    adjusted_p_value: float
    sequential_low: float
    sequential_high: float
    finding: str  # "better", "worse" or "undecided" (from the confidence sequence)
    higher_is_better: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardrailResult:
    """A challenger's guardrail against the control's."""

    guardrail: str
    control: str
    treatment: str
    control_value: float
    treatment_value: float
    breached: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentReport:
    """An experiment read now: traffic, sample-ratio check, comparisons, guardrails and the
    verdict: ``better`` (with the ``winner``), ``worse``, ``breached`` (better, but a
    guardrail broken), ``no difference``, ``keep running`` or ``blocked``."""

    model: str
    environment: str
    kind: str
    start: datetime
    revision: int
    experiment: str | None
    plan: ExperimentPlan | None
    arms: tuple[ArmResult, ...]
    sample_ratio: SampleRatio | None
    metrics: tuple[MetricResult, ...]
    guardrails: tuple[GuardrailResult, ...]
    verdict: str
    winner: str | None
    reason: str

    def primary(self, treatment: str | None = None) -> MetricResult | None:
        """The primary metric's comparison (of ``treatment``, or of the winner or the first
        challenger)."""
        metric = self.metrics[0].metric if self.metrics else None
        chosen = [m for m in self.metrics if m.metric == metric]
        wanted = treatment or self.winner
        for m in chosen:
            if m.treatment == wanted:
                return m
        return chosen[0] if chosen else None

    def evidence(self) -> dict[str, Any]:
        """The numbers behind the verdict, as JSON, for a deployment revision or a card."""
        return {
            "experiment": self.experiment,
            "kind": self.kind,
            "since": self.start.isoformat(),
            "revision": self.revision,
            "verdict": self.verdict,
            "winner": self.winner,
            "reason": self.reason,
            "plan": self.plan.to_dict() if self.plan else None,
            "arms": [
                {
                    "name": a.name,
                    "version": a.version,
                    "role": a.role,
                    "share": a.share,
                    "predictions": a.predictions,
                    "outcomes": a.outcomes,
                    **a.metrics,
                    "error_rate": a.error_rate,
                    "missing_feature_rate": a.missing_feature_rate,
                    "latency_ms": a.latency_ms,
                }
                for a in self.arms
            ],
            "sample_ratio": None
            if self.sample_ratio is None
            else {
                "statistic": self.sample_ratio.statistic,
                "p_value": self.sample_ratio.p_value,
                "mismatch": self.sample_ratio.mismatch,
            },
            "comparisons": [
                {
                    "metric": m.metric,
                    "control": m.control,
                    "treatment": m.treatment,
                    "test": m.comparison.test,
                    "difference": _finite(m.comparison.difference),
                    "interval": [_finite(m.comparison.low), _finite(m.comparison.high)],
                    "p_value": _finite(m.comparison.p_value),
                    "adjusted_p_value": _finite(m.adjusted_p_value),
                    "lift": m.comparison.lift,
                    "lift_interval": [m.comparison.lift_low, m.comparison.lift_high],
                    "sequential_interval": [
                        _finite(m.sequential_low),
                        _finite(m.sequential_high),
                    ],
                    "finding": m.finding,
                }
                for m in self.metrics
            ],
            "guardrails": [
                {
                    "guardrail": g.guardrail,
                    "treatment": g.treatment,
                    "control_value": g.control_value,
                    "treatment_value": g.treatment_value,
                    "breached": g.breached,
                }
                for g in self.guardrails
            ],
        }

    def render(self) -> str:
        """The report for people, as plain text."""
        lines = [
            f"Experiment on {self.model} in {self.environment} ({self.kind}, revision "
            f"{self.revision}, since {self.start:%Y-%m-%d %H:%M} UTC)"
            + (f": {self.experiment}" if self.experiment else ""),
            f"Verdict: {self.verdict.upper()}: {self.reason}",
        ]
        if self.plan:
            p = self.plan
            lines.append(
                f"Plan: {p.metric} ({'higher' if p.higher_is_better else 'lower'} is better), "
                f"effect {p.effect:g} on {p.baseline:g}, alpha {p.alpha:g}, power {p.power:g}: "
                f"{p.horizon:,} per arm read at will ({p.fixed_horizon:,} if read once)"
            )
        if self.sample_ratio is not None:
            s = self.sample_ratio
            lines.append(
                f"Sample ratio: chi-square {s.statistic:.2f}, p = {s.p_value:.3g}"
                + (" MISMATCH" if s.mismatch else " (ok)")
            )
        lines.append("Arms:")
        for a in self.arms:
            share = "shadow" if a.share is None else f"{a.share:g}%"
            shown = ", ".join(f"{k} {v:.4g}" for k, v in a.metrics.items())
            lines.append(
                f"  {a.name:<16} {share:>7} {a.predictions:>10,} predictions "
                f"{a.outcomes:>10,} outcomes  {shown}  errors {a.error_rate:.2%}, "
                f"missing {a.missing_feature_rate:.2%}, latency {a.latency_ms:.2f} ms"
            )
        if self.metrics:
            lines.append("Comparisons (fixed-horizon interval and p read once; sequential always):")
        for m in self.metrics:
            c = m.comparison
            lift = (
                ""
                if c.lift is None or c.lift_low is None or c.lift_high is None
                else f", lift {c.lift:+.2%} [{c.lift_low:+.2%}, {c.lift_high:+.2%}]"
            )
            lines.append(
                f"  {m.metric}: {m.treatment} vs {m.control}: {c.difference:+.4g} "
                f"[{c.low:+.4g}, {c.high:+.4g}], p = {c.p_value:.3g} "
                f"(Holm {m.adjusted_p_value:.3g}, {c.test}){lift}; "
                f"sequential [{m.sequential_low:+.4g}, {m.sequential_high:+.4g}]: {m.finding}"
            )
        breached = [g for g in self.guardrails if g.breached]
        lines.append(
            "Guardrails: "
            + (
                "; ".join(
                    f"{g.guardrail} of {g.treatment} {g.treatment_value:.4g} vs "
                    f"{g.control_value:.4g} BREACHED"
                    for g in breached
                )
                if breached
                else "all intact"
            )
        )
        return "\n".join(lines) + "\n"


def experiment_start(history: Sequence[DeploymentRevision]) -> DeploymentRevision:
    """The revision since which the live arms have served together: walk back while the
    same versions serve in the same roles and arms (and, for a fixed split, with the same
    shares; a bandit moves its shares without starting over)."""
    live = history[-1]
    start = live
    for earlier in reversed(history[:-1]):
        if _arms(earlier) != _arms(live) or earlier.mode != live.mode:
            break
        if live.mode != "bandit" and _shares(earlier) != _shares(live):
            break
        start = earlier
    return start


def analyse(
    *,
    model: str,
    environment: str,
    history: Sequence[DeploymentRevision],
    sums: dict[str, list[ArmSums]],
    experiment: Experiment | None,
    classifier: bool,
    metric: str | None = None,
    start: datetime | None = None,
) -> ExperimentReport:
    """Read an experiment from the deployment history and the per-arm sums of each metric
    (``sums[metric]``, from :meth:`PredictionLog.arm_sums` over the experiment's window).

    Raises:
        RequestError: fewer than two arms, or outcomes the metric cannot read as numbers.
    """
    live = history[-1]
    served = [t for t in live.targets if t.role != "shadow"]
    shadows = [t for t in live.targets if t.role == "shadow"]
    if len(live.targets) < 2:
        raise RequestError(
            f"{model} in {environment} serves one version only (v{live.targets[0].version}); "
            f"an experiment needs a second arm: deploy a canary, A/B arms or a shadow"
        )
    if live.mode == "interleave":
        raise RequestError(
            f"{model} in {environment} interleaves two rankers; read it with "
            f"store.interleaving({model!r}) (a preference per request, not an A/B split)"
        )
    experiment_plan = ExperimentPlan.from_dict(experiment.spec) if experiment else None
    kind = _kind(live)
    quality = "accuracy" if classifier else "absolute_error"
    primary = (
        metric
        or (experiment_plan.metric if experiment_plan else None)
        or (quality if kind == "shadow" else "outcome")
    )
    _check_metric(primary)
    if kind == "shadow" and primary == "outcome":
        raise RequestError(
            f"shadows of {model} never change the outcome; compare them on how right they "
            f"were: metric='accuracy' (classifiers) or 'absolute_error' (regressors)"
        )
    secondary = experiment_plan.secondary if experiment_plan else ()
    names = list(dict.fromkeys([primary, *secondary]))
    higher = (
        experiment_plan.higher_is_better
        if experiment_plan and experiment_plan.metric == primary
        else HIGHER_IS_BETTER[primary]
    )

    targets = [*served, *shadows]
    found = {name: _by_target(sums.get(name, [])) for name in names}
    rows = found[primary]
    for name in names:
        _check_readable(model, name, found[name].values())
    control = served[0]
    if kind == "canary":
        control = next(t for t in served if t.role == "primary")
    challengers = [t for t in targets if t is not control]

    def label(t: Any) -> str:
        return f"v{t.version} {t.arm or t.role}"

    empty = ArmSums(
        version=0,
        role="",
        arm="",
        predictions=0,
        errors=0,
        missing=0,
        latency=Moments(n=0, total=0.0, total_squares=0.0),
        outcomes=0,
        unreadable=0,
        metric=Moments(n=0, total=0.0, total_squares=0.0),
    )
    of = {label(t): rows.get((t.version, t.role, t.arm), empty) for t in targets}
    arms = tuple(
        ArmResult(
            name=label(t),
            version=t.version,
            role=t.role,
            arm=t.arm,
            share=None if t.role == "shadow" else t.share,
            predictions=of[label(t)].predictions,
            outcomes=of[label(t)].outcomes,
            error_rate=_rate(of[label(t)].errors, of[label(t)].predictions),
            missing_feature_rate=_rate(of[label(t)].missing, of[label(t)].predictions),
            latency_ms=_mean(of[label(t)].latency),
            metrics={
                name: _mean(
                    found[name].get((t.version, t.role, t.arm), empty).metric,
                )
                for name in names
            },
        )
        for t in targets
    )

    ratio = None
    if kind in ("ab", "canary") and len(served) > 1:
        ratio = sample_ratio_mismatch(
            [of[label(t)].predictions for t in served], [t.share or 0.0 for t in served]
        )

    horizon = experiment_plan.horizon if experiment_plan else None
    alpha = experiment_plan.alpha if experiment_plan else 0.05
    family = len(names) * len(challengers)
    comparisons: list[tuple[str, Any, Comparison, tuple[float, float]]] = []
    for name in names:
        for t in challengers:
            c_sample = _sample(found[name].get((control.version, control.role, control.arm)))
            t_sample = _sample(found[name].get((t.version, t.role, t.arm)))
            binary = name == "accuracy" or (
                name == "outcome" and is_binary(c_sample) and is_binary(t_sample)
            )
            compare = compare_proportions if binary else compare_means
            result = compare(c_sample, t_sample, alpha=alpha, horizon=horizon)
            sequence = confidence_sequence(
                c_sample, t_sample, alpha=alpha / family, horizon=horizon
            )
            comparisons.append((name, t, result, sequence))
    adjusted = holm([_p(c.p_value) for _, _, c, _ in comparisons], alpha=alpha)
    direction = {name: higher if name == primary else HIGHER_IS_BETTER[name] for name in names}
    metric_results = tuple(
        MetricResult(
            metric=name,
            control=label(control),
            treatment=label(t),
            comparison=c,
            adjusted_p_value=p,
            sequential_low=low,
            sequential_high=high,
            finding=_finding(low, high, direction[name]),
            higher_is_better=direction[name],
        )
        for (name, t, c, (low, high)), p in zip(comparisons, adjusted, strict=True)
    )
    guardrails = tuple(_guardrails(of, label(control), [label(t) for t in challengers], alpha))

    verdict, winner, reason = _verdict(
        kind,
        ratio=ratio,
        metrics=metric_results,
        guardrails=guardrails,
        primary=primary,
        experiment_plan=experiment_plan,
        arms=arms,
        control=label(control),
    )
    return ExperimentReport(
        model=model,
        environment=environment,
        kind=kind,
        start=start or experiment_start(history).created_at,
        revision=live.revision,
        experiment=experiment.name if experiment else None,
        plan=experiment_plan,
        arms=arms,
        sample_ratio=ratio,
        metrics=metric_results,
        guardrails=guardrails,
        verdict=verdict,
        winner=winner,
        reason=reason,
    )


def _kind(live: DeploymentRevision) -> str:
    """``bandit``, ``ab``, ``canary`` or ``shadow``: how the live deployment experiments."""
    if live.mode == "bandit":
        return "bandit"
    served = [t for t in live.targets if t.role != "shadow"]
    if any(t.role == "ab" for t in served):
        return "ab"
    return "canary" if len(served) > 1 else "shadow"


def _verdict(
    kind: str,
    *,
    ratio: SampleRatio | None,
    metrics: Sequence[MetricResult],
    guardrails: Sequence[GuardrailResult],
    primary: str,
    experiment_plan: ExperimentPlan | None,
    arms: Sequence[ArmResult],
    control: str,
) -> tuple[str, str | None, str]:
    if ratio is not None and ratio.mismatch:
        observed = ", ".join(f"{a.name} {a.predictions:,}" for a in arms if a.share is not None)
        return (
            "blocked",
            None,
            f"sample ratio mismatch (p = {ratio.p_value:.2g} < 0.001): observed {observed} "
            f"against the configured shares; assignment or logging is broken, so no "
            f"comparison can be trusted: find the cause before reading the metrics",
        )
    results = [m for m in metrics if m.metric == primary]
    better = [m for m in results if m.finding == "better"]
    worse = [m for m in results if m.finding == "worse"]
    breached = {g.treatment for g in guardrails if g.breached}
    intact = [m for m in better if m.treatment not in breached]
    if better and not intact:
        best = better[0]
        names = ", ".join(
            g.guardrail for g in guardrails if g.treatment == best.treatment and g.breached
        )
        return (
            "breached",
            None,
            f"{best.treatment} is better on {primary} but breaks its guardrails ({names})",
        )
    if intact:
        best = max(
            intact,
            key=lambda m: (
                abs(m.comparison.difference) if math.isfinite(m.comparison.difference) else 0.0
            ),
        )
        return (
            "better",
            best.treatment,
            f"{best.treatment} beats {control} on {primary} "
            f"({best.comparison.difference:+.4g}, sequential interval "
            f"[{best.sequential_low:+.4g}, {best.sequential_high:+.4g}] excludes 0)",
        )
    if worse and len(worse) == len(results):
        return (
            "worse",
            None,
            f"every challenger is worse than {control} on {primary}",
        )
    units = min((a.outcomes for a in arms), default=0)
    if experiment_plan and units >= experiment_plan.horizon:
        return (
            "no difference",
            None,
            f"the planned {experiment_plan.horizon:,} outcomes per arm are in and no "
            f"challenger differs from {control} on {primary} by the planned effect "
            f"{experiment_plan.effect:g}",
        )
    progress = (
        f"{units:,} of {experiment_plan.horizon:,} planned outcomes per arm"
        if experiment_plan
        else f"{units:,} outcomes in the smallest arm (no plan declared: `silage experiments "
        f"plan` sets a horizon)"
    )
    if worse:
        return ("keep running", None, f"{progress}; {worse[0].treatment} looks worse so far")
    return ("keep running", None, f"{progress}; no confidence sequence excludes 0 yet")


def _guardrails(
    of: dict[str, ArmSums], control: str, challengers: Sequence[str], alpha: float
) -> list[GuardrailResult]:
    found = []
    family = max(len(challengers) * len(GUARDRAILS), 1)
    c = of[control]
    for name in challengers:
        t = of[name]
        pairs = {
            "error_rate": (_binary(c.errors, c.predictions), _binary(t.errors, t.predictions)),
            "missing_feature_rate": (
                _binary(c.missing, c.predictions),
                _binary(t.missing, t.predictions),
            ),
            "latency_ms": (_sample(c, latency=True), _sample(t, latency=True)),
        }
        for guardrail, (control_sample, treatment_sample) in pairs.items():
            low, _ = confidence_sequence(control_sample, treatment_sample, alpha=alpha / family)
            tolerance = (
                max(LATENCY_TOLERANCE_MS, LATENCY_TOLERANCE_SHARE * _value(control_sample))
                if guardrail == "latency_ms"
                else RATE_TOLERANCE
            )
            found.append(
                GuardrailResult(
                    guardrail=guardrail,
                    control=control,
                    treatment=name,
                    control_value=_value(control_sample),
                    treatment_value=_value(treatment_sample),
                    # the challenger is higher by more than the tolerance
                    breached=math.isfinite(low) and low > tolerance,
                )
            )
    return found


def _arms(revision: DeploymentRevision) -> set[tuple[int, str, str]]:
    return {(t.version, t.role, t.arm) for t in revision.targets}


def _shares(revision: DeploymentRevision) -> dict[tuple[int, str, str], float | None]:
    return {(t.version, t.role, t.arm): t.share for t in revision.targets}


def _by_target(rows: Sequence[ArmSums]) -> dict[tuple[int, str, str], ArmSums]:
    return {(r.version, r.role, r.arm): r for r in rows}


def _check_metric(name: str) -> None:
    if name not in METRICS:
        raise RequestError(
            f"metric {name!r} is unknown; an experiment compares one of {sorted(METRICS)}"
        )


def _check_readable(model: str, metric: str, rows: Any) -> None:
    unreadable = sum(r.unreadable for r in rows)
    if unreadable:
        raise RequestError(
            f"metric {metric!r} cannot read {unreadable:,} outcomes of {model} as numbers: "
            f"the outcome (or, for an error metric, the prediction) is not a number or a "
            f"boolean. Record outcomes as 0/1, true/false or numbers, or compare on "
            f"metric='accuracy'"
        )


def _sample(rows: ArmSums | None, *, latency: bool = False) -> Sample:
    if rows is None:
        return Sample(0, 0.0, 0.0)
    m = rows.latency if latency else rows.metric
    return Sample(m.n, m.total, m.total_squares) if m.n else Sample(0, 0.0, 0.0)


def _binary(count: int, n: int) -> Sample:
    return Sample(n, float(count), float(count))


def _mean(m: Moments) -> float:
    return m.total / m.n if m.n else math.nan


def _rate(count: int, n: int) -> float:
    return count / n if n else 0.0


def _value(sample: Sample) -> float:
    return sample.mean if sample.n else math.nan


def _p(p: float) -> float:
    return p if math.isfinite(p) else 1.0


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _finding(low: float, high: float, higher_is_better: bool) -> str:
    if math.isfinite(low) and low > 0:
        return "better" if higher_is_better else "worse"
    if math.isfinite(high) and high < 0:
        return "worse" if higher_is_better else "better"
    return "undecided"
