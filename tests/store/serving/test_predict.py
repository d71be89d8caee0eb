"""Predictions through deployments: routing, exact features, shadows, the log, missing values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from registry import Target
from store import FeatureStore
from store.serving.predict import PredictionError, route, routing_key
from tests.conftest import T0, serve_stale_values

H = timedelta(hours=1)
REFS = ["driver_hourly_stats:avg_daily_trips", "driver_hourly_stats:conv_rate"]


def test_routing_is_stable_and_follows_the_shares() -> None:
    targets = [Target(1, "primary", 80.0), Target(2, "canary", 20.0), Target(3, "shadow", 0.0)]
    picks = [route("m", "prod", f"key-{i}", targets).version for i in range(5000)]
    assert picks == [route("m", "prod", f"key-{i}", targets).version for i in range(5000)]
    counts = Counter(picks)
    assert set(counts) == {1, 2}  # shadows never serve
    assert 0.17 < counts[2] / 5000 < 0.23


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
        model = LogisticRegression(C=c).fit(
            data[["conv_rate", "avg_daily_trips"]], data["label"]
        )  # trained on a reordered subset of the training set's columns
        fs.model_registry.register_model("churn", model, training_set=saved.record)
    fs.materialize(T0, T0 + 10 * H)
    return fs


def test_predict_routes_fetches_the_trained_features_and_logs(store: FeatureStore) -> None:
    store.model_registry.deployments.deploy(
        "churn", "production", [Target(1, share=50), Target(2, "canary", 50), Target(2, "shadow")]
    )
    rows = [{"driver_id": d} for d in (1001, 1002, 1003)]
    results = store.predict("churn", rows)
    again = store.predict("churn", rows)
    assert [r["model_version"] for r in results] == [r["model_version"] for r in again]
    assert [r["driver_id"] for r in results] == [1001, 1002, 1003]
    assert {r["role"] for r in results} <= {"primary", "canary"}
    expected = store.model_registry.load_model("churn", version=results[0]["model_version"])
    features = pd.DataFrame({"conv_rate": [0.03], "avg_daily_trips": [3.0]})
    assert results[0]["probability"] == pytest.approx(expected.predict_proba(features)[0, 1])
    log = store.prediction_log()
    assert len(log) == 2 * (3 + 3)  # served and shadow predictions, two requests
    assert set(log["role"]) >= {"shadow"}
    first = log.iloc[0]
    assert list(first["features"]) == ["conv_rate", "avg_daily_trips"]
    assert first["request_id"] == log.iloc[1]["request_id"]
    assert first["predicted_at"].tzinfo is not None


def test_request_values_do_not_move_an_entity_between_arms(store: FeatureStore) -> None:
    """Routing hashes the join keys only: a request value (a distance, a query) that comes
    with the entity must not send the same driver to another arm from call to call."""
    store.model_registry.deployments.deploy(
        "churn", "production", [Target(1, share=50), Target(2, "canary", 50)]
    )
    arms = {
        d: {
            store.predict("churn", [{"driver_id": d, "trip_km": km}])[0]["model_version"]
            for km in (0.5, 1.5, 2.5, 4.0, 8.0, 16.0, 32.0, 64.0)
        }
        for d in (1001, 1002, 1003)
    }
    assert all(len(versions) == 1 for versions in arms.values()), arms
    # The whole row still reaches the log (skew checks recompute from request values).
    assert "trip_km" in store.prediction_log()["entity"].iloc[0]
    # Without join keys in the row, every value routes.
    assert routing_key({"trip_km": 3.0}, {"driver_id"}) == '{"trip_km": 3.0}'


def test_missing_features_are_an_error_naming_entity_and_feature(store: FeatureStore) -> None:
    store.model_registry.deployments.deploy("churn", "production", version=1)
    with pytest.raises(PredictionError, match=r"entity \{'driver_id': 9\} has no value for"):
        store.predict("churn", [{"driver_id": 9}])
    # Nothing was predicted; the failure is logged against the version (a guardrail).
    log = store.prediction_log()
    assert len(log) == 1
    assert log.iloc[0]["prediction"] == {}
    assert "has no value for feature" in log.iloc[0]["error"]


def test_predicting_for_an_undeployed_model_or_environment(store: FeatureStore) -> None:
    from registry import RegistryNotFoundError

    with pytest.raises(RegistryNotFoundError):
        store.predict("churn", [{"driver_id": 1001}], "production")
    assert datetime.now(UTC) > T0
