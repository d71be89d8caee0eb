"""Running per-arm sums of the predictions log, per hour: experiments read these, not rows.

An experiment report needs, per version, role and arm, a handful of sums over every
prediction since the arms began (counts, errors, latency, outcomes and each metric's
count, sum and sum of squares). Summing millions of log rows on every read is slow in
SQLite (about a million rows a second here), so the log keeps them as it goes: each
append adds its rows' contributions to their (model, environment, version, role, arm,
hour) row of ``arm_rollup``, and each recorded outcome adds the difference it makes (an
outcome recorded again first takes its predecessor's part away), in the same transaction
as the rows themselves. A report then sums whole hours from here and reads only the
partial hours at its window's edges from the log (by an index on time).

This module holds the arithmetic and the SQL text; :mod:`store.serving.prediction_log`
runs it. The per-row metric values mirror the log's SQL (:data:`METRIC_SQL`) exactly, and
the tests compare the two on generated logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "COLUMNS",
    "FAILED",
    "KEYS",
    "METRIC_SQL",
    "REBUILD_SQL",
    "UPSERT_SQL",
    "LoggedRow",
    "contribution",
    "count_if",
    "hour_bounds",
    "metric_value",
    "rollup_sql",
]

# Per-row metrics as SQL over the log's columns (``p``): the outcome itself, or how right
# the prediction was.
METRIC_SQL = {
    "outcome": "p.outcome_value",
    "accuracy": "CASE WHEN p.outcome IS NULL OR p.label IS NULL THEN NULL "
    "WHEN p.label = p.outcome THEN 1.0 ELSE 0.0 END",
    "absolute_error": "abs(p.predicted - p.outcome_value)",
    "squared_error": "(p.predicted - p.outcome_value) * (p.predicted - p.outcome_value)",
}
KEYS = ("model", "environment", "version", "role", "arm", "hour")
_BASE = (
    "predictions",
    "errors",
    "missing",
    "latency_n",
    "latency_sum",
    "latency_sq",
    "outcomes",
)
_PARTS = ("n", "sum", "sq", "unreadable")
COLUMNS = (*_BASE, *(f"{m}_{part}" for m in METRIC_SQL for part in _PARTS))


def rollup_sql(real: str, key_text: str, postgresql: bool) -> str:
    """The running sums' table, with the database's 8-byte float type (``REAL`` on SQLite,
    ``DOUBLE PRECISION`` on PostgreSQL) and text type for keys (byte-ordered)."""
    keys = ", ".join(f"{k} {'INTEGER' if k == 'version' else key_text} NOT NULL" for k in KEYS)
    sums = ", ".join(f"{c} {real} NOT NULL DEFAULT 0" for c in COLUMNS)
    suffix = "" if postgresql else " WITHOUT ROWID"
    return (
        f"CREATE TABLE IF NOT EXISTS arm_rollup ({keys}, {sums}, "
        f"PRIMARY KEY ({', '.join(KEYS)})){suffix}"
    )


# Adds a change to its hour's row; the columns are qualified because PostgreSQL sees both
# the row and `excluded` in the SET clause.
UPSERT_SQL = (
    f"INSERT INTO arm_rollup ({', '.join((*KEYS, *COLUMNS))}) "
    f"VALUES ({', '.join('?' for _ in (*KEYS, *COLUMNS))}) "
    f"ON CONFLICT ({', '.join(KEYS)}) DO UPDATE SET "
    + ", ".join(f"{c} = arm_rollup.{c} + excluded.{c}" for c in COLUMNS)
)


# A row the model failed on (it has no prediction).
FAILED = "p.error != ''"


def count_if(condition: str) -> str:
    """How many rows meet ``condition``, in SQL both databases run (PostgreSQL cannot sum a
    boolean)."""
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _metric_sums(name: str, value: str) -> str:
    return (
        f"count({value}), coalesce(sum({value}), 0), coalesce(sum(({value}) * ({value})), 0), "
        f"{count_if(f'p.outcome IS NOT NULL AND ({value}) IS NULL')}"
    )


# Every hour of the log summed at once: how a log written before the rollup gets one.
REBUILD_SQL = (
    f"INSERT INTO arm_rollup ({', '.join((*KEYS, *COLUMNS))}) "
    "SELECT p.model, p.environment, p.version, p.role, p.arm, substr(p.predicted_at, 1, 13), "
    f"count(*), {count_if(FAILED)}, {count_if('p.missing > 0')}, {count_if(f'NOT {FAILED}')}, "
    "coalesce(sum(CASE WHEN p.error = '' THEN p.latency_ms END), 0), "
    "coalesce(sum(CASE WHEN p.error = '' THEN p.latency_ms * p.latency_ms END), 0), "
    "count(p.outcome), "
    + ", ".join(_metric_sums(m, v) for m, v in METRIC_SQL.items())
    + " FROM predictions AS p GROUP BY 1, 2, 3, 4, 5, 6"
)


@dataclass(frozen=True, slots=True)
class LoggedRow:
    """What of a log row its sums depend on, besides its outcome."""

    model: str
    environment: str
    version: int
    role: str
    arm: str
    predicted_at: str
    error: str
    missing: int
    latency_ms: float
    label: str | None
    predicted: float | None

    @property
    def key(self) -> tuple[Any, ...]:
        return (
            self.model,
            self.environment,
            self.version,
            self.role,
            self.arm,
            self.predicted_at[:13],
        )


def metric_value(
    name: str, row: LoggedRow, outcome: str | None, outcome_value: float | None
) -> float | None:
    """One row's value of a metric, as :data:`METRIC_SQL` computes it."""
    if name == "outcome":
        return outcome_value
    if name == "accuracy":
        if outcome is None or row.label is None:
            return None
        return 1.0 if row.label == outcome else 0.0
    if row.predicted is None or outcome_value is None:
        return None
    difference = row.predicted - outcome_value
    return abs(difference) if name == "absolute_error" else difference * difference


def contribution(
    row: LoggedRow,
    outcome: str | None,
    outcome_value: float | None,
    *,
    with_outcome_only: bool = False,
) -> dict[str, float]:
    """What one row adds to its hour's sums given its outcome (None: none yet); with
    ``with_outcome_only`` just the parts an outcome changes."""
    found: dict[str, float] = {}
    if not with_outcome_only:
        ok = row.error == ""
        found = {
            "predictions": 1,
            "errors": 0 if ok else 1,
            "missing": 1 if row.missing > 0 else 0,
            "latency_n": 1 if ok else 0,
            "latency_sum": row.latency_ms if ok else 0.0,
            "latency_sq": row.latency_ms * row.latency_ms if ok else 0.0,
        }
    found["outcomes"] = 0 if outcome is None else 1
    for name in METRIC_SQL:
        value = metric_value(name, row, outcome, outcome_value)
        found[f"{name}_n"] = 0 if value is None else 1
        found[f"{name}_sum"] = 0.0 if value is None else value
        found[f"{name}_sq"] = 0.0 if value is None else value * value
        found[f"{name}_unreadable"] = 1 if outcome is not None and value is None else 0
    return found


def upserts(
    changes: Iterable[tuple[tuple[Any, ...], Mapping[str, float]]],
) -> list[tuple[Any, ...]]:
    """Parameters of :data:`UPSERT_SQL`: the changes summed per hour row."""
    summed: dict[tuple[Any, ...], dict[str, float]] = {}
    for key, change in changes:
        into = summed.setdefault(key, dict.fromkeys(COLUMNS, 0.0))
        for column, amount in change.items():
            into[column] += amount
    # In key order: two transactions adding to the same rows lock them in the same order.
    return [(*key, *(values[c] for c in COLUMNS)) for key, values in sorted(summed.items())]


def negated(change: Mapping[str, float]) -> dict[str, float]:
    return {column: -amount for column, amount in change.items()}


def hour_bounds(
    start: datetime | None, end: datetime | None
) -> tuple[str | None, str | None, list[tuple[datetime | None, datetime | None]]]:
    """Split ``[start, end)`` into whole hours (first and last-exclusive hour keys, None
    for open ends) and the partial spans at its edges, which the log answers itself."""
    first = None if start is None else _ceil_hour(start)
    last = None if end is None else _floor_hour(end)
    if first is not None and last is not None and first >= last:
        return "", "", [(start, end)]  # within one hour: no whole hour at all
    edges: list[tuple[datetime | None, datetime | None]] = []
    if start is not None and first is not None and start < first:
        edges.append((start, first))
    if end is not None and last is not None and last < end:
        edges.append((last, end))
    return (
        None if first is None else first.strftime("%Y-%m-%dT%H"),
        None if last is None else last.strftime("%Y-%m-%dT%H"),
        edges,
    )


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment.astimezone(UTC) else floor + timedelta(hours=1)
