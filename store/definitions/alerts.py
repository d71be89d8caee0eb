"""Alert rules: when a monitored metric of a deployed model calls for people.

A rule has the anatomy of an alert policy: the metric, the condition (an operator and a
threshold), the window the metric is computed over, how many windows in a row must breach
before it fires, what it means and what to do (a runbook link). Rules are declared in the
feature repository (module-level values, like views) or added through
``FeatureStore.add_alert_rule``; ``silage monitor run`` evaluates them.

Metrics, per window of a model's predictions in an environment:

======================  ====================================================================
``accuracy``, ``auc``,  live quality of the target named by ``role`` (default: the primary)
``log_loss``,           on the outcomes received (see ``store.monitoring.quality``)
``calibration_error``,
``mae``, ``rmse``
``outcome_share``       the share of its predictions with an outcome
``latency_p99_ms``,     guardrails from the predictions log
``latency_p50_ms``,
``missing_feature_rate``
``drifted_features``    how many features (and predictions) drifted from the reference
``drift:<feature>``     1 when that feature drifted in the window, else 0
======================  ====================================================================

Example:
    >>> rule = AlertRule(name="auc_low", model="churn", metric="auc", op="<", threshold=0.75,
    ...                  window="1d", for_windows=2, runbook="https://wiki/churn-auc")
    >>> rule.describe()
    'churn auc < 0.75 over 1d windows, 2 in a row'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from store.definitions.spec import check_name
from store.errors import DefinitionError

__all__ = ["METRICS", "OPERATORS", "AlertRule"]

OPERATORS = ("<", "<=", ">", ">=")
METRICS = (
    "accuracy",
    "auc",
    "log_loss",
    "calibration_error",
    "mae",
    "rmse",
    "outcome_share",
    "latency_p50_ms",
    "latency_p99_ms",
    "missing_feature_rate",
    "drifted_features",
)
_WINDOW = re.compile(r"^[1-9][0-9]*[mhdw]$")


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRule:
    """A condition on a model's monitored metric that raises an alert.

    Args:
        name: unique among the project's rules.
        model: the deployed model it watches; ``environment`` where (default production).
        metric: one of :data:`METRICS`, or ``drift:<feature>``.
        op, threshold: the breach is ``metric op threshold``.
        window: the windows the metric is computed over: ``"1h"``, ``"1d"`` (whole numbers
            of minutes, hours, days or weeks).
        for_windows: how many windows in a row must breach before the alert fires.
        role: the deployment target whose quality metrics count (primary, canary, ab,
            shadow).
        description, runbook: what it means, and where the fix is written down.
    """

    name: str
    model: str
    metric: str
    op: str
    threshold: float
    window: str = "1d"
    for_windows: int = 1
    environment: str = "production"
    role: str = "primary"
    description: str = ""
    runbook: str = ""

    def __post_init__(self) -> None:
        check_name("alert rule", self.name)
        where = f"alert rule {self.name!r}"
        if self.metric not in METRICS and not (
            self.metric.startswith("drift:") and len(self.metric) > len("drift:")
        ):
            raise DefinitionError(
                f"{where}: metric {self.metric!r} is not monitored; use one of "
                f"{', '.join(METRICS)} or drift:<feature>"
            )
        if self.op not in OPERATORS:
            raise DefinitionError(f"{where}: op {self.op!r}; use one of {', '.join(OPERATORS)}")
        threshold = self.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise DefinitionError(f"{where}: threshold {threshold!r} must be a number")
        object.__setattr__(self, "threshold", float(threshold))
        if not isinstance(self.window, str) or not _WINDOW.match(self.window):
            raise DefinitionError(
                f"{where}: window {self.window!r}; write a whole number and a unit: 15m, 1h, "
                f"1d or 1w"
            )
        if isinstance(self.for_windows, bool) or not isinstance(self.for_windows, int):
            raise DefinitionError(f"{where}: for_windows must be a whole number of windows")
        if self.for_windows < 1:
            raise DefinitionError(f"{where}: for_windows={self.for_windows}; use 1 or more")
        if self.role not in ("primary", "canary", "ab", "shadow"):
            raise DefinitionError(f"{where}: role {self.role!r}; use primary, canary, ab or shadow")

    @property
    def window_length(self) -> timedelta:
        units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
        return timedelta(seconds=int(self.window[:-1]) * units[self.window[-1]])

    def breached(self, value: float | None) -> bool:
        """Whether a window's value breaches the condition (no value: no breach)."""
        if value is None:
            return False
        return {
            "<": value < self.threshold,
            "<=": value <= self.threshold,
            ">": value > self.threshold,
            ">=": value >= self.threshold,
        }[self.op]

    def describe(self) -> str:
        """``churn auc < 0.75 over 1d windows, 2 in a row``."""
        times = "" if self.for_windows == 1 else f", {self.for_windows} in a row"
        return (
            f"{self.model} {self.metric} {self.op} {self.threshold:g} over {self.window} "
            f"windows{times}"
        )

    def to_spec(self) -> dict[str, Any]:
        """The canonical spec stored in the registry."""
        return {
            "name": self.name,
            "model": self.model,
            "metric": self.metric,
            "op": self.op,
            "threshold": self.threshold,
            "window": self.window,
            "for_windows": self.for_windows,
            "environment": self.environment,
            "role": self.role,
            "description": self.description,
            "runbook": self.runbook,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> AlertRule:
        """Rebuild a rule from its registry spec."""
        return cls(**dict(spec))
