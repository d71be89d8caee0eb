"""Live model quality: the metrics a model earns on the outcomes that arrive for it.

Outcomes (the ground truth) arrive late, partially or never; each is recorded against the
id ``predict`` returned for the row (``FeatureStore.record_outcomes``, ``POST /outcomes``).
Per deployment target (version and role) per time window of prediction, the metrics that
fit the model's task, from the predictions that have an outcome:

- classifiers: ``accuracy``; with a probability of the positive class (binary models),
  ``auc`` (the Mann-Whitney statistic: the chance that a positive outranks a negative, ties
  counting half), ``log_loss`` (probabilities clipped to machine epsilon, as scikit-learn
  does) and
  ``calibration_error`` (the expected calibration error over ten equal-width probability
  bins: the mean gap between predicted probability and observed rate, weighted by rows);
- regressors: ``mae`` and ``rmse``.

Beside them: the predictions, the outcomes received and their share, and the guardrails
every window gets whatever arrives (``latency_p50_ms``, ``latency_p99_ms`` and
``missing_feature_rate``: the share of predictions made with a feature missing). Each
version's metrics are compared with the ones registered for it (``registered``).
Shadows are scored on the outcomes of the primary's predictions for the same request.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from scipy import stats

from registry import ProjectRegistry
from store.epoch import from_micros, to_micros
from store.errors import RequestError
from store.serving.prediction_log import PredictionLog, ScoredRow

__all__ = [
    "BINS",
    "QualityReport",
    "TargetQuality",
    "accuracy",
    "auc",
    "calibration_error",
    "live_quality",
    "log_loss",
    "mae",
    "rmse",
]

BINS = 10
_EPSILON = float(np.finfo(float).eps)


def accuracy(predicted: Sequence[Any], actual: Sequence[Any]) -> float:
    """The share of predictions equal to the outcome."""
    return float(np.mean([p == a for p, a in zip(predicted, actual, strict=True)]))


def auc(probability: Sequence[float], positive: Sequence[bool]) -> float | None:
    """Area under the ROC curve: the Mann-Whitney U of the positives' ranks, ties half; None
    when one class is absent."""
    p = np.asarray(probability, dtype=float)
    y = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = stats.rankdata(p)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(probability: Sequence[float], positive: Sequence[bool]) -> float:
    """The mean negative log-likelihood of the outcomes."""
    p = np.clip(np.asarray(probability, dtype=float), _EPSILON, 1 - _EPSILON)
    y = np.asarray(positive, dtype=bool)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def calibration_error(
    probability: Sequence[float], positive: Sequence[bool], bins: int = BINS
) -> float:
    """Expected calibration error: per equal-width bin of predicted probability, the gap
    between its mean probability and its share of positives, weighted by its rows."""
    p = np.asarray(probability, dtype=float)
    y = np.asarray(positive, dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    rows = np.bincount(index, minlength=bins)
    predicted = np.bincount(index, weights=p, minlength=bins)
    observed = np.bincount(index, weights=y, minlength=bins)
    used = rows > 0
    gaps = np.abs(predicted[used] - observed[used]) / rows[used]
    return float(np.sum(gaps * rows[used]) / len(p))


def mae(predicted: Sequence[float], actual: Sequence[float]) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(predicted, float) - np.asarray(actual, float))))


def rmse(predicted: Sequence[float], actual: Sequence[float]) -> float:
    """Root mean squared error."""
    return float(
        math.sqrt(np.mean((np.asarray(predicted, float) - np.asarray(actual, float)) ** 2))
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetQuality:
    """One deployment target's predictions in one window, and what they earned."""

    version: int
    role: str
    window_start: datetime
    window_end: datetime
    predictions: int
    outcomes: int
    metrics: dict[str, float | None]
    registered: dict[str, float] = field(default_factory=dict)

    @property
    def outcome_share(self) -> float:
        return self.outcomes / self.predictions if self.predictions else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityReport:
    """Live quality of one model in one environment, per target and window."""

    model: str
    environment: str
    task: str
    targets: tuple[TargetQuality, ...]

    def render(self) -> str:
        """A table for people: per window and target, counts and metrics (registered ones in
        brackets)."""
        lines = [f"{self.model} in {self.environment} ({self.task}):"]
        for t in self.targets:
            shown = ", ".join(
                f"{name} {_show(value)}"
                + (f" [{t.registered[name]:.4g}]" if name in t.registered else "")
                for name, value in t.metrics.items()
            )
            lines.append(
                f"  {t.window_start:%Y-%m-%d %H:%M} v{t.version} {t.role:8} "
                f"{t.predictions:>7,} predictions, {t.outcomes:>7,} outcomes "
                f"({t.outcome_share:.0%}): {shown}"
            )
        return "\n".join(lines) + "\n"


def live_quality(
    model: str,
    *,
    models: ProjectRegistry,
    log: PredictionLog,
    environment: str,
    window: timedelta,
    start: datetime | None,
    end: datetime | None,
) -> QualityReport:
    """Per version, role and window, the model's metrics on the outcomes received.

    Raises:
        RequestError: nothing was logged for the model in that time.
    """
    rows = log.scored(model, environment=environment, start=start, end=end)
    if not rows:
        raise RequestError(
            f"the predictions log holds no prediction of {model!r} in {environment!r} in that time"
        )
    width = window // timedelta(microseconds=1)
    groups: dict[tuple[int, int, str], list[ScoredRow]] = {}
    for row in rows:
        moment = to_micros(row.predicted_at)
        groups.setdefault((moment - moment % width, row.version, row.role), []).append(row)
    versions = {v: models.models.get_version(model, version=v) for v in {r.version for r in rows}}
    task = "classification" if any(v.classes for v in versions.values()) else "regression"
    targets = []
    for (low, version, role), group in sorted(groups.items()):
        found = versions[version]
        metrics = _guardrails(group) | _metrics(group, list(found.classes))
        targets.append(
            TargetQuality(
                version=version,
                role=role,
                window_start=from_micros(low),
                window_end=from_micros(low + width),
                predictions=len(group),
                outcomes=sum(r.has_outcome for r in group),
                metrics=metrics,
                registered={k: v for k, v in found.metrics.items() if k in metrics},
            )
        )
    return QualityReport(model=model, environment=environment, task=task, targets=tuple(targets))


def _metrics(rows: Sequence[ScoredRow], classes: Sequence[Any]) -> dict[str, float | None]:
    scored = [r for r in rows if r.has_outcome]
    predicted: list[Any] = [r.prediction.get("prediction") for r in scored]
    actual = [r.outcome for r in scored]
    if not classes:
        if not scored:
            return {"mae": None, "rmse": None}
        return {"mae": mae(predicted, actual), "rmse": rmse(predicted, actual)}
    found: dict[str, float | None] = {"accuracy": accuracy(predicted, actual) if scored else None}
    with_probability = [r for r in scored if "probability" in r.prediction]
    if len(classes) == 2:
        p = [float(r.prediction["probability"]) for r in with_probability]
        positive = [_same(r.outcome, classes[1]) for r in with_probability]
        found |= {
            "auc": auc(p, positive) if p else None,
            "log_loss": log_loss(p, positive) if p else None,
            "calibration_error": calibration_error(p, positive) if p else None,
        }
    return found


def _guardrails(rows: Sequence[ScoredRow]) -> dict[str, float | None]:
    latency = np.asarray([r.latency_ms for r in rows], dtype=float)
    return {
        "latency_p50_ms": float(np.percentile(latency, 50)),
        "latency_p99_ms": float(np.percentile(latency, 99)),
        "missing_feature_rate": float(np.mean([r.missing_features > 0 for r in rows])),
    }


def _same(outcome: Any, label: Any) -> bool:
    """An outcome equals a class label, whether it arrived as a number, a bool or text."""
    if outcome == label:
        return True
    return str(outcome).lower() == str(label).lower()


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
