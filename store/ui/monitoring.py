"""Context builders for monitoring: the project's alerts, validation runs and experiments,
and one model's drift results (per feature, every window's verdict and tests, the
reference's histogram) and online experiment results with their intervals.

Everything here is what monitoring recorded in the registry; a page never runs a check
(a GET must not write a drift run). Each drift result keeps the reference's and the
window's values counted in the same bins, so the newest window is drawn beside the
reference from the registry alone; ``silage monitor report`` draws every window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from registry import AlertEvent, DriftRecord, Experiment, ValidationRun
from store.ui.context import NotFound
from store.ui.training import FeatureStatistics, statistics

if TYPE_CHECKING:
    from store.feature_store import FeatureStore

__all__ = ["ModelMonitoringPage", "MonitoringPage"]

LIMIT = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitoringPage:
    """``/ui/monitoring``: the newest alerts and validation runs, declared experiments,
    and the models to look at."""

    title: str
    alerts: tuple[AlertEvent, ...]
    validation_runs: tuple[ValidationRun, ...]
    experiments: tuple[Experiment, ...]
    models: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureDrift:
    """One feature's drift windows (newest first), its reference histogram, and the newest
    window's values beside the reference's in the same bins (``window_svg``; empty for
    categorical features and for results recorded before drift runs kept their bins)."""

    feature: str
    latest_verdict: str
    windows: tuple[DriftRecord, ...]
    reference: FeatureStatistics | None
    window_svg: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """An online experiment's result recorded on a deployment revision."""

    environment: str
    revision: int
    at: datetime
    metric: str
    control: str
    treatment: str
    difference: float | None
    interval: tuple[float, float] | None
    sequential_interval: tuple[float, float] | None
    p_value: float | None
    finding: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelMonitoringPage:
    """``/ui/monitoring/<model>``: drift per feature, experiment results, alerts."""

    title: str
    model: str
    reference: str | None
    features: tuple[FeatureDrift, ...]
    comparisons: tuple[Comparison, ...]
    alerts: tuple[AlertEvent, ...]


def monitoring_page(store: FeatureStore) -> MonitoringPage:
    monitoring = store.registry.monitoring
    return MonitoringPage(
        title="Monitoring",
        alerts=tuple(monitoring.alerts(store.project, limit=LIMIT)),
        validation_runs=tuple(monitoring.validation_runs(store.project, limit=LIMIT)),
        experiments=tuple(store.model_registry.experiments.list()),
        models=tuple(store.registry.browse.model_names(store.project, limit=500)),
    )


def model_monitoring_page(
    store: FeatureStore, model: str, query: Mapping[str, str]
) -> ModelMonitoringPage:
    browse = store.registry.browse
    if not browse.has_model(store.project, model):
        raise NotFound("model", model, "/monitoring")
    results = store.registry.monitoring.drift_results(
        store.project, model, environment=query.get("environment") or None
    )
    by_feature: dict[str, list[DriftRecord]] = {}
    for r in results:
        by_feature.setdefault(r.feature, []).append(r)
    reference = results[-1].reference if results else None
    reference_stats: dict[str, FeatureStatistics] = {}
    if reference and reference.startswith("training_set:"):
        try:
            record = store.registry.training_sets.get(
                store.project, reference.removeprefix("training_set:")
            )
            reference_stats = {s.column: s for s in statistics(record)}
        except LookupError:
            reference_stats = {}
    features = tuple(
        FeatureDrift(
            feature=name,
            latest_verdict=windows[-1].verdict,
            windows=tuple(sorted(windows, key=lambda w: w.window_start, reverse=True)),
            reference=reference_stats.get(name),
            window_svg=_window_svg(name, windows[-1]),
        )
        for name, windows in sorted(by_feature.items())
    )
    comparisons = []
    for revision in browse.deployment_history(store.project, model):
        evidence = revision.evidence or {}
        for c in evidence.get("comparisons", []) if isinstance(evidence, Mapping) else []:
            if not isinstance(c, Mapping):
                continue
            comparisons.append(
                Comparison(
                    environment=revision.environment,
                    revision=revision.revision,
                    at=revision.created_at,
                    metric=str(c.get("metric", "")),
                    control=str(c.get("control", "")),
                    treatment=str(c.get("treatment", "")),
                    difference=_float(c.get("difference")),
                    interval=_pair(c.get("interval")),
                    sequential_interval=_pair(c.get("sequential_interval")),
                    p_value=_float(c.get("p_value")),
                    finding=str(c.get("finding", "")),
                )
            )
    alerts = tuple(
        a for a in store.registry.monitoring.alerts(store.project, limit=200) if a.model == model
    )
    return ModelMonitoringPage(
        title=f"Monitoring {model}",
        model=model,
        reference=reference,
        features=features,
        comparisons=tuple(reversed(comparisons)),
        alerts=alerts[:LIMIT],
    )


def _window_svg(feature: str, window: DriftRecord) -> str:
    """The window's share of values per bin beside the reference's (shares, so a small
    window and a large reference compare by shape)."""
    from store.ui import svg

    bins = window.histogram or {}
    reference = [float(c) for c in bins.get("reference", [])]
    current = [float(c) for c in bins.get("current", [])]
    if not reference or len(reference) != len(current) or not sum(reference) or not sum(current):
        return ""
    return svg.paired_histogram(
        [c / sum(reference) for c in reference],
        [c / sum(current) for c in current],
        f"{feature} in the window from {window.window_start:%Y-%m-%d %H:%M} UTC",
    )


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _pair(value: Any) -> tuple[float, float] | None:
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(_float(v) is not None for v in value)
    ):
        return (float(value[0]), float(value[1]))
    return None
