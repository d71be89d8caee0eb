"""Alerts: rules evaluated on the windows that completed, events recorded once, a webhook.

``silage monitor run`` (safe to run from cron) evaluates every rule on its model's windows
that have completed by now: the newest one, or the last ``lookback`` ones. It computes the
metrics the rules need (live quality and guardrails from the predictions log and its
outcomes, drift against the serving version's training set, which is recorded too), and a
rule fires in a window when that window and the ``for_windows - 1`` before it all breach
its condition. A window without the metric (no predictions, no outcomes yet) breaches
nothing.

Every alert is recorded in the registry under its rule and window; running again over the
same windows records nothing new and reports nothing new, so runs are idempotent. New
alerts are returned, and posted as one JSON document to a webhook when one is given:
``{"project": ..., "alerts": [{"rule": ..., "metric": ..., "value": ..., ...}]}``.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from registry import AlertEvent
from store.definitions.alerts import AlertRule
from store.epoch import from_micros, to_micros
from store.errors import RequestError, StoreError

if TYPE_CHECKING:
    from store.monitoring.monitor import Monitor

__all__ = ["evaluate_rules", "post_webhook"]

_QUALITY_ROLES = ("primary", "canary", "ab", "shadow")


def evaluate_rules(
    monitor: Monitor, rules: Sequence[AlertRule], *, now: datetime, lookback: int = 1
) -> list[AlertEvent]:
    """The alerts ``rules`` raise in the last ``lookback`` completed windows (not yet
    recorded ones are recorded and returned)."""
    if lookback < 1:
        raise RequestError(f"lookback={lookback}; evaluate at least 1 window")
    groups: dict[tuple[str, str, timedelta], list[AlertRule]] = {}
    for rule in rules:
        groups.setdefault((rule.model, rule.environment, rule.window_length), []).append(rule)
    events: list[AlertEvent] = []
    for (model, environment, width), members in groups.items():
        step = width // timedelta(microseconds=1)
        end_us = to_micros(now) - to_micros(now) % step
        depth = lookback + max(r.for_windows for r in members) - 1
        end = from_micros(end_us)
        start = end - depth * width
        series = _metrics(monitor, members, model, environment, width=width, start=start, end=end)
        due = [end - k * width for k in range(lookback, 0, -1)]
        for rule in members:
            values = series.get(rule.metric, {})
            for window_start in due:
                run = [window_start - k * width for k in range(rule.for_windows)]
                if all(rule.breached(values.get((w, rule.role))) for w in run):
                    value = values[(window_start, rule.role)]
                    assert value is not None
                    events.append(
                        AlertEvent(
                            rule=rule.name,
                            model=model,
                            environment=environment,
                            metric=rule.metric,
                            window_start=window_start,
                            window_end=window_start + width,
                            value=value,
                            condition=rule.describe(),
                            description=rule.description,
                            runbook=rule.runbook,
                        )
                    )
    return monitor.registry.monitoring.record_alerts(monitor.project, events)


def post_webhook(url: str, project: str, events: Sequence[AlertEvent]) -> None:
    """POST the alerts as JSON to ``url``.

    Raises:
        StoreError: the webhook did not answer with a 2xx status.
    """
    body = json.dumps({"project": project, "alerts": [e.to_json() for e in events]}).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status = answer.status
    except OSError as exc:
        raise StoreError(f"the alert webhook {url} could not be reached: {exc}") from exc
    if not 200 <= status < 300:
        raise StoreError(f"the alert webhook {url} answered {status}")


def _metrics(
    monitor: Monitor,
    rules: Sequence[AlertRule],
    model: str,
    environment: str,
    *,
    width: timedelta,
    start: datetime,
    end: datetime,
) -> dict[str, dict[tuple[datetime, str], float | None]]:
    """Per metric the rules use: its value per (window start, role)."""
    found: dict[str, dict[tuple[datetime, str], float | None]] = {}
    wanted = {r.metric for r in rules}
    if any(not m.startswith("drift") for m in wanted):
        try:
            quality = monitor.quality(
                model, environment=environment, window=width, start=start, end=end
            )
        except RequestError:  # nothing served in that time: no values
            quality = None
        for target in quality.targets if quality else ():
            key = (target.window_start, target.role)
            for name, value in target.metrics.items():
                found.setdefault(name, {})[key] = value
            found.setdefault("outcome_share", {})[key] = target.outcome_share
    if any(m.startswith("drift") for m in wanted):
        try:
            report = monitor.drift(
                model, environment=environment, window=width, start=start, end=end
            )
        except RequestError:
            report = None
        for window in report.windows if report else ():
            drifted = [r.feature for r in window.results if r.verdict == "drift"]
            for role in _QUALITY_ROLES:  # drift is of the model's traffic: every role reads it
                key = (window.start, role)
                found.setdefault("drifted_features", {})[key] = float(len(drifted))
                for result in window.results:
                    found.setdefault(f"drift:{result.feature}", {})[key] = float(
                        result.verdict == "drift"
                    )
    return found
