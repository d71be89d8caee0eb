"""Live model quality: the metrics against scikit-learn, and outcomes end to end (ids from
predict, late and partial outcomes, unknown ids, shadows scored on the primary's outcomes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics
from sklearn.linear_model import LinearRegression, LogisticRegression

from registry import Target
from store import FeatureStore, RequestError
from store.cli import main
from store.monitoring.quality import (
    accuracy,
    auc,
    calibration_error,
    log_loss,
    mae,
    rmse,
)
from tests.conftest import T0, serve_stale_values

H = timedelta(hours=1)
REFS = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"]

probabilities = st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(rows=probabilities)
def test_classifier_metrics_equal_scikit_learns(rows: list[tuple[float, bool]]) -> None:
    p = [r[0] for r in rows]
    y = [r[1] for r in rows]
    predicted = [v >= 0.5 for v in p]
    assert accuracy(predicted, y) == pytest.approx(metrics.accuracy_score(y, predicted))
    assert log_loss(p, y) == pytest.approx(metrics.log_loss(y, p, labels=[False, True]))
    if len(set(y)) == 2:
        assert auc(p, y) == pytest.approx(metrics.roc_auc_score(y, p))
    else:
        assert auc(p, y) is None
    # expected calibration error, the slow way
    bins: dict[int, list[tuple[float, bool]]] = {}
    for value, outcome in rows:
        bins.setdefault(min(int(value * 10), 9), []).append((value, outcome))
    expected = sum(
        len(b) * abs(np.mean([v for v, _ in b]) - np.mean([o for _, o in b])) for b in bins.values()
    ) / len(rows)
    assert calibration_error(p, y) == pytest.approx(expected)


@given(rows=st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=1))
def test_regression_metrics_equal_scikit_learns(rows: list[tuple[float, float]]) -> None:
    predicted, actual = [r[0] for r in rows], [r[1] for r in rows]
    assert mae(predicted, actual) == pytest.approx(metrics.mean_absolute_error(actual, predicted))
    assert rmse(predicted, actual) == pytest.approx(
        np.sqrt(metrics.mean_squared_error(actual, predicted)), rel=1e-6, abs=1e-9
    )


@pytest.fixture
def store(make_repo: Callable[..., Path]) -> FeatureStore:
    repo = make_repo("basic")
    serve_stale_values(repo)
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    rows = pd.DataFrame(
        {
            "driver_id": [1001, 1002, 1003, 1001, 1002, 1003],
            "event_timestamp": [T0 + H] * 3 + [T0 + 3 * H] * 3,
            "label": [0, 1, 1, 0, 1, 1],
        }
    )
    saved = fs.get_historical_features(rows, REFS).save("drivers")
    data = saved.to_df()
    for c in (0.1, 10.0):
        model = LogisticRegression(C=c).fit(data[["conv_rate", "avg_daily_trips"]], data["label"])
        fs.model_registry.register_model(
            "churn", model, training_set=saved.record, metrics={"auc": 0.9, "accuracy": 0.8}
        )
    fs.materialize(T0, T0 + 10 * H)
    return fs


def test_outcomes_score_each_target_and_window(
    store: FeatureStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store.model_registry.deployments.deploy(
        "churn", "production", [Target(1, share=50), Target(2, "canary", 50), Target(2, "shadow")]
    )
    rows = [{"driver_id": d} for d in (1001, 1002, 1003)] * 10
    served = store.predict("churn", rows)
    assert len({r["prediction_id"] for r in served}) == 30
    truth = {1001: 0, 1002: 1, 1003: 1}
    # outcomes for two thirds of the rows, one of them twice (the later wins), one unknown id
    chosen = served[:20]
    receipt = store.record_outcomes(
        [r["prediction_id"] for r in chosen] + [chosen[0]["prediction_id"], "ghost"],
        [truth[r["driver_id"]] for r in chosen] + [truth[chosen[0]["driver_id"]], 1],
        at=datetime(2026, 11, 27, 10, tzinfo=UTC),
    )
    assert (receipt.recorded, receipt.unknown) == (21, ("ghost",))
    report = store.live_quality("churn", window="1d")
    by_target = {(t.version, t.role): t for t in report.targets}
    assert set(by_target) == {(1, "primary"), (2, "canary"), (2, "shadow")}
    shadow = by_target[(2, "shadow")]
    assert (shadow.predictions, shadow.outcomes) == (30, 20)  # the primary's outcomes
    served_targets = [by_target[(1, "primary")], by_target[(2, "canary")]]
    assert sum(t.predictions for t in served_targets) == 30
    assert sum(t.outcomes for t in served_targets) == 20
    primary = by_target[(1, "primary")]
    log = store.prediction_log()
    mine = log[(log["version"] == 1) & (log["role"] == "primary")]
    scored = [
        (p["probability"], truth[e["driver_id"]] == 1, p["prediction"] == truth[e["driver_id"]])
        for pid, p, e in zip(mine["prediction_id"], mine["prediction"], mine["entity"], strict=True)
        if pid in {r["prediction_id"] for r in chosen}
    ]
    assert primary.outcomes == len(scored)
    assert primary.metrics["accuracy"] == pytest.approx(np.mean([s[2] for s in scored]))
    assert primary.metrics["log_loss"] == pytest.approx(
        metrics.log_loss([s[1] for s in scored], [s[0] for s in scored], labels=[False, True])
    )
    assert primary.registered == {"auc": 0.9, "accuracy": 0.8}
    assert primary.metrics["missing_feature_rate"] == 0.0
    assert primary.metrics["latency_p99_ms"] >= primary.metrics["latency_p50_ms"] > 0
    assert report.task == "classification"
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", str(store.repo_path), "monitor", "quality", "churn"])
    assert exit_info.value.code == 0
    assert "v1 primary" in capsys.readouterr().out


def test_regressors_and_bad_input(store: FeatureStore) -> None:
    data = store.get_training_set("drivers").to_df()
    model = LinearRegression().fit(data[["conv_rate", "avg_daily_trips"]], data["label"] * 2.5)
    store.model_registry.register_model(
        "eta", model, training_set=store.get_training_set("drivers").record
    )
    store.model_registry.deployments.deploy("eta", "production", [Target(1)])
    served = store.predict("eta", [{"driver_id": 1001}, {"driver_id": 1002}])
    store.record_outcomes([r["prediction_id"] for r in served], [0.5, 2.0])
    (target,) = store.live_quality("eta").targets
    predicted = [r["prediction"] for r in served]
    assert target.metrics["mae"] == pytest.approx(mae(predicted, [0.5, 2.0]))
    assert "accuracy" not in target.metrics
    with pytest.raises(RequestError, match="2 prediction ids, 1 values"):
        store.record_outcomes([r["prediction_id"] for r in served], [1.0])
    with pytest.raises(RequestError, match="holds no prediction of 'churn'"):
        store.live_quality("churn")
