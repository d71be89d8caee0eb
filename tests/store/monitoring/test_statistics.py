"""Statistics per window of a feature view, a training set and a model's predictions, kept
in the registry as time series (the computation itself is checked against pandas and SciPy
in tests/store/offline/test_statistics.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from registry import Target
from store import FeatureStore, RequestError
from store.cli import main
from tests.conftest import T0, serve_stale_values

H = timedelta(hours=1)
REFS = ["driver_hourly_stats:avg_daily_trips", "driver_hourly_stats:conv_rate"]


@pytest.fixture
def store(make_repo: Callable[..., Path]) -> FeatureStore:
    repo = make_repo("basic")
    serve_stale_values(repo)
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    return fs


def test_view_statistics_per_hour_form_a_time_series(store: FeatureStore) -> None:
    found = store.compute_statistics(
        feature_view="driver_hourly_stats", window="1h", start_date=T0 + H, end_date=T0 + 3 * H
    )
    trips = [w for w in found if w.feature == "avg_daily_trips"]
    assert [(w.window_start, w.window_end) for w in trips] == [
        (T0 + H, T0 + 2 * H),
        (T0 + 2 * H, T0 + 3 * H),
    ]
    # avg_daily_trips = 10 * driver + hour, for three drivers
    first = trips[0].statistics
    assert (first["count"], first["min"], first["max"], first["mean"]) == (3, 1.0, 21.0, 11.0)
    assert first["quantiles"]["p50"] == 11.0
    # bins fixed once for every window: ten over the range's 1 to 22
    assert first["histogram"]["edges"][:3] == pytest.approx([1.0, 3.1, 5.2])
    assert first["histogram"]["counts"] == [1, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    stored = store.registry.monitoring.statistics(
        store.project, "feature_view", "driver_hourly_stats", feature="avg_daily_trips"
    )
    assert [s.statistics for s in stored] == [w.statistics for w in trips]
    # computing the same windows again replaces them rather than adding rows
    store.compute_statistics(
        feature_view="driver_hourly_stats", window="1h", start_date=T0 + H, end_date=T0 + 3 * H
    )
    again = store.registry.monitoring.statistics(
        store.project, "feature_view", "driver_hourly_stats"
    )
    assert len(again) == 2 * 3


def test_training_set_statistics_by_entity_time(store: FeatureStore) -> None:
    entity = pd.DataFrame(
        {"driver_id": [1001, 1002, 1001], "event_timestamp": [T0 + H, T0 + H, T0 + 26 * H]}
    )
    store.get_historical_features(entity, REFS).save("two_days")
    found = store.compute_statistics(training_set="two_days", window="1d")
    by_day = [(w.window_start, w.statistics["count"]) for w in found if w.feature == "conv_rate"]
    assert by_day == [(T0, 2), (T0 + 24 * H, 1)]
    saved = store.get_training_set("two_days").record.statistics["conv_rate"]
    assert saved["kurtosis"] is None  # three rows: too few for a kurtosis


def test_model_statistics_from_the_predictions_log(store: FeatureStore) -> None:
    rows = pd.DataFrame(
        {
            "driver_id": [1001, 1002, 1003, 1001],
            "event_timestamp": [T0 + 3 * H] * 4,
            "label": [0, 1, 1, 0],
        }
    )
    saved = store.get_historical_features(rows, REFS).save("for_model")
    data = saved.to_df()
    model = LogisticRegression().fit(data[["conv_rate", "avg_daily_trips"]], data["label"])
    store.model_registry.register_model("churn", model, training_set=saved.record)
    store.model_registry.deployments.deploy("churn", "production", [Target(1)])
    store.materialize(T0, T0 + 10 * H)
    store.predict("churn", [{"driver_id": d} for d in (1001, 1002, 1003)])
    found = store.compute_statistics(model="churn", window="1d")
    features = {w.feature for w in found}
    assert features == {"conv_rate", "avg_daily_trips", "prediction", "probability"}
    trips = next(w for w in found if w.feature == "avg_daily_trips").statistics
    assert (trips["count"], trips["min"], trips["max"]) == (3, 3.0, 23.0)
    with pytest.raises(RequestError, match="holds no prediction of model 'churn' in 'staging'"):
        store.compute_statistics(model="churn", environment="staging")


def test_bad_requests_and_the_cli(store: FeatureStore, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RequestError, match="give one of feature_view=, training_set= or model="):
        store.compute_statistics()
    with pytest.raises(RequestError, match="window '1y' is not a duration"):
        store.compute_statistics(feature_view="driver_hourly_stats", window="1y")
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "--repo",
                str(store.repo_path),
                "statistics",
                "--view",
                "driver_hourly_stats",
                "--window",
                "2h",
                "--end",
                "2026-01-01T02:00:00Z",
            ]
        )
    assert exit_info.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "FEATURE",
        "WINDOW",
        "START",
        "COUNT",
        "NULLS",
        "MEAN",
        "P50",
        "MIN",
        "MAX",
        "TOP",
    ]
    assert out[1].split()[:5] == ["acc_rate", "2026-01-01", "00:00", "6", "0"]
