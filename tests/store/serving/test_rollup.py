"""The predictions log's running per-arm sums against the obviously-correct reference: one
GROUP BY over the rows, on generated logs with failures, missing features, shadows,
outcomes of every kind, outcomes recorded again, and windows that cut hours anywhere."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.serving.prediction_log import (
    METRICS,
    ArmSums,
    LoggedPrediction,
    PredictionLog,
    canonical,
)

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)
VALUES = st.sampled_from([True, False, 0, 1, 2.5, "1", "gold", None])
ROW = st.tuples(
    st.sampled_from([(1, "primary", ""), (2, "canary", ""), (3, "ab", "a"), (4, "ab", "b")]),
    st.integers(0, 5 * 3600),  # seconds after T0: six hours
    st.booleans(),  # failed
    st.integers(0, 2),  # missing features
    st.floats(0.1, 50),  # latency
    VALUES,  # prediction
    st.booleans(),  # with a shadow
)
BOUND = st.one_of(st.none(), st.integers(-600, 6 * 3600).map(lambda s: T0 + timedelta(seconds=s)))


def logged(rows: list[Any]) -> list[LoggedPrediction]:
    found = []
    for i, ((version, role, arm), at, failed, missing, latency, value, shadow) in enumerate(rows):
        label, number = canonical(value)
        common = {
            "request_id": "r",
            "predicted_at": (T0 + timedelta(seconds=at)).isoformat(),
            "environment": "production",
            "model": "m",
            "entity": "{}",
            "features": "{}",
            "prediction": "{}",
            "latency_ms": latency,
            "missing": missing,
        }
        found.append(
            LoggedPrediction(
                **common,
                version=version,
                role=role,
                prediction_id=f"p{i}",
                arm=arm,
                error="boom" if failed else "",
                label=None if failed else label,
                predicted=None if failed else number,
            )
        )
        if shadow and not failed:
            found.append(
                LoggedPrediction(
                    **common,
                    version=9,
                    role="shadow",
                    prediction_id=f"p{i}.shadow.v9",
                    label=canonical(1)[0],
                    predicted=1.0,
                )
            )
    return found


def same(a: list[ArmSums], b: list[ArmSums]) -> None:
    key = sorted
    assert [(s.version, s.role, s.arm) for s in key(a, key=lambda s: (s.version, s.role))] == [
        (s.version, s.role, s.arm) for s in key(b, key=lambda s: (s.version, s.role))
    ]
    for x, y in zip(
        sorted(a, key=lambda s: (s.version, s.role)),
        sorted(b, key=lambda s: (s.version, s.role)),
        strict=True,
    ):
        assert (x.predictions, x.errors, x.missing, x.outcomes, x.unreadable) == (
            y.predictions,
            y.errors,
            y.missing,
            y.outcomes,
            y.unreadable,
        )
        assert (x.latency.n, x.metric.n) == (y.latency.n, y.metric.n)
        for p, q in (
            (x.latency.total, y.latency.total),
            (x.latency.total_squares, y.latency.total_squares),
            (x.metric.total, y.metric.total),
            (x.metric.total_squares, y.metric.total_squares),
        ):
            assert p == pytest.approx(q, rel=1e-9, abs=1e-6)


def emptied(log: PredictionLog) -> PredictionLog:
    """The log with every row deleted (its tables stay): one log per hypothesis example."""
    if log.db.exists():
        with log.db.writing() as cur:
            for table in ("predictions", "outcomes", "arm_rollup"):
                cur.execute(f"DELETE FROM {table}")
    return log


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(ROW, min_size=1, max_size=40),
    outcomes=st.lists(st.tuples(st.integers(0, 39), VALUES.filter(lambda v: v is not None))),
    start=BOUND,
    end=BOUND,
)
def test_running_sums_equal_a_group_by_over_the_rows(
    prediction_log: PredictionLog,
    rows: list[Any],
    outcomes: list[tuple[int, Any]],
    start: Any,
    end: Any,
) -> None:
    """On SQLite and PostgreSQL (one log, emptied for each example)."""
    log = emptied(prediction_log)
    records = logged(rows)
    half = len(records) // 2
    log.append(records[:half])
    log.append(records[half:])
    chosen = [(f"p{i}", v, T0) for i, v in outcomes if i < len(rows)]
    for first in (chosen[: len(chosen) // 2], chosen[len(chosen) // 2 :]):
        if first:
            log.record_outcomes(first)
    for metric in METRICS:
        fast = log.arm_sums("m", metric, environment="production", start=start, end=end)
        slow = log.raw_arm_sums("m", metric, environment="production", start=start, end=end)
        same(fast, slow)


def test_a_log_without_running_sums_gets_them_from_its_rows(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "predictions.db")
    rows = [((3, "ab", "a"), 60 * i, False, i % 2, 1.0 + i, i % 3, i % 4 == 0) for i in range(30)]
    log.append(logged(rows))
    log.record_outcomes([(f"p{i}", i % 2 == 0, T0) for i in range(0, 30, 3)])
    expected = log.raw_arm_sums("m", "accuracy", environment="production")
    with sqlite3.connect(tmp_path / "predictions.db") as conn:
        conn.execute("DROP TABLE arm_rollup")
    reopened = PredictionLog(tmp_path / "predictions.db")  # as a process started after it
    same(reopened.arm_sums("m", "accuracy", environment="production"), expected)
