"""Retraining policies: each trigger (time, volume, drift and performance alerts), the run
end to end (fresh training set, registered version with lineage, canary or shadow), and
failures that leave nothing registered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from registry import AlertEvent, Target
from store import DefinitionError, FeatureStore, FileSource
from store.cli import main
from store.definitions.retraining import RetrainingPolicy
from store.experiments.retraining import RetrainingContext
from tests.conftest import T0, serve_stale_values

H = timedelta(hours=1)
REFS = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"]
LABELS = FileSource(
    name="churn_labels", path="data/labels.parquet", timestamp_field="event_timestamp"
)
seen: list[RetrainingContext] = []


def train(context: RetrainingContext) -> Any:
    seen.append(context)
    data = context.data
    return LogisticRegression().fit(data[list(context.features)], data[context.label])


def policy(**overrides: Any) -> RetrainingPolicy:
    settings: dict[str, Any] = {
        "name": "refresh",
        "model": "churn",
        "train": train,
        "labels": LABELS,
        "every": "1d",
    }
    return RetrainingPolicy(**(settings | overrides))


@pytest.fixture
def store(make_repo: Callable[..., Path]) -> FeatureStore:
    repo = make_repo("basic")
    serve_stale_values(repo)
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    labels = pd.DataFrame(
        {
            "driver_id": [1001, 1002, 1003] * 4,
            "event_timestamp": [T0 + (1 + i // 3) * H for i in range(12)],
            "label": [0, 1, 1] * 4,
        }
    )
    labels.to_parquet(repo / "data" / "labels.parquet")
    saved = fs.get_historical_features(labels.head(6), REFS).save("drivers")
    data = saved.to_df()
    model = LogisticRegression().fit(data[["conv_rate", "avg_daily_trips"]], data["label"])
    fs.model_registry.register_model("churn", model, training_set=saved.record)
    fs.model_registry.deployments.deploy("churn", "production", [Target(1)])
    fs.materialize(T0, T0 + 10 * H)
    seen.clear()
    return fs


def test_a_run_trains_on_a_fresh_training_set_and_ships_a_canary(store: FeatureStore) -> None:
    now = datetime.now(UTC)
    run = store.retrain(policy(lookback="52w"), now)
    assert run.status == "succeeded", run.error
    assert run.version == 2
    (context,) = seen
    assert context.previous == 1
    assert context.features == ("conv_rate", "avg_daily_trips")
    assert len(context.data) == 12  # every labelled row up to now, joined
    version = store.model_registry.models.get_version("churn", version=2)
    assert version.training_set == f"churn_retraining_{run.id}"
    assert version.tags["retraining_run"] == str(run.id)
    live = store.model_registry.deployments.live("churn", "production")
    assert [(t.version, t.role, t.share) for t in live.targets] == [
        (1, "primary", 90.0),
        (2, "canary", 10.0),
    ]
    assert live.created_by == "retraining:refresh"
    assert f"retraining run {run.id}" in live.reason
    # a shadow instead
    store.model_registry.deployments.deploy("churn", "production", [Target(1)])
    shadowed = store.retrain(policy(deploy_as="shadow"), now)
    live = store.model_registry.deployments.live("churn", "production")
    assert live.versions("shadow") == [shadowed.version]


def test_each_trigger_fires_once_per_cause(store: FeatureStore) -> None:
    retrainer = store._retrainer
    now = datetime.now(UTC)
    daily = policy()
    assert retrainer.due(daily, now) is None  # v1 was registered just now
    assert retrainer.due(daily, now + 25 * H) == ("time", retrainer.due(daily, now + 25 * H)[1])
    store.retrain(daily, now + 25 * H)
    assert retrainer.due(daily, now + 26 * H) is None  # the clock restarted at the run

    volume = policy(name="volume", every=None, new_outcomes=3)
    served = store.predict("churn", [{"driver_id": d} for d in (1001, 1002, 1003)])
    assert retrainer.due(volume, now) is None
    store.record_outcomes([r["prediction_id"] for r in served], [0, 1, 1])
    kind, reason = retrainer.due(volume, now) or ("", "")
    assert kind == "volume"
    assert "3 new outcomes" in reason

    drift = policy(name="drift", every=None, on_alerts=["conv_rate_drifts"])
    assert retrainer.due(drift, now) is None
    store.registry.monitoring.record_alerts(
        store.project,
        [
            AlertEvent(
                rule="conv_rate_drifts",
                model="churn",
                environment="production",
                metric="drift:conv_rate",
                window_start=now - H,
                window_end=now,
                value=1.0,
                condition="drift:conv_rate > 0",
            )
        ],
    )
    kind, reason = retrainer.due(drift, now) or ("", "")
    assert (kind, reason) == ("drift", "alert conv_rate_drifts fired: drift:conv_rate > 0")


def test_a_failing_training_function_registers_nothing(store: FeatureStore) -> None:
    def broken(context: RetrainingContext) -> Any:
        raise RuntimeError("out of memory")

    before = store.model_registry.deployments.live("churn", "production")
    run = store.retrain(policy(train=broken))
    assert run.status == "failed"
    assert "RuntimeError: out of memory" in run.error
    run = store.retrain(policy(train=lambda context: None))
    assert run.status == "failed"
    assert "returned NoneType, not an estimator" in run.error
    assert [v.version for v in store.model_registry.models.list_versions("churn")] == [1]
    assert store.model_registry.deployments.live("churn", "production") == before
    runs = store.model_registry.retraining.list("churn")
    assert [r.status for r in runs] == ["failed", "failed"]


def test_policies_in_the_repository_run_from_monitor_run(
    store: FeatureStore, capsys: pytest.CaptureFixture[str]
) -> None:
    (store.repo_path / "retraining.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "from store import FileSource\n"
        "from store.definitions.retraining import RetrainingPolicy\n\n"
        "def train(context):\n"
        "    data = context.data\n"
        "    return LogisticRegression().fit(data[list(context.features)], data['label'])\n\n"
        "nightly = RetrainingPolicy(name='nightly', model='churn', train=train, new_outcomes=1,\n"
        "    labels=FileSource(name='labels', path='data/labels.parquet',\n"
        "                      timestamp_field='event_timestamp'))\n",
        encoding="utf-8",
    )
    served = store.predict("churn", [{"driver_id": 1001}])
    store.record_outcomes([served[0]["prediction_id"]], [0])
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", str(store.repo_path), "monitor", "run"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "RETRAINED churn (nightly, volume: 1 new outcomes (policy: 1)): registered v2" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", str(store.repo_path), "retrain", "nightly"])
    assert exit_info.value.code == 0
    assert "registered churn v3" in capsys.readouterr().out


def test_bad_policies_are_clear_errors() -> None:
    with pytest.raises(DefinitionError, match="give at least one trigger"):
        policy(every=None)
    with pytest.raises(DefinitionError, match="every='weekly'"):
        policy(every="weekly")
    with pytest.raises(DefinitionError, match="deploy_as='blue'"):
        policy(deploy_as="blue")
    with pytest.raises(DefinitionError, match="labels must be a FileSource"):
        policy(labels="data/labels.parquet")


def test_a_shipped_challenger_holds_the_policy_and_changes_meanwhile_are_kept(
    store: FeatureStore,
) -> None:
    volume = policy(name="volume", every=None, new_outcomes=1)
    served = store.predict("churn", [{"driver_id": 1001}])
    store.record_outcomes([served[0]["prediction_id"]], [0])
    assert store._retrainer.due(volume, datetime.now(UTC)) is not None
    first = store.retrain(volume)
    assert first.status == "succeeded"
    served = store.predict("churn", [{"driver_id": 1002}] * 5)
    store.record_outcomes([r["prediction_id"] for r in served], [1] * 5)
    # v2 (this policy's canary) is under test: the policy waits for its experiment
    assert store._retrainer.due(volume, datetime.now(UTC) + 1000 * H) is None

    def promotes_meanwhile(context: RetrainingContext) -> Any:
        store.model_registry.deployments.deploy("churn", "production", [Target(2)])
        return train(context)

    second = store.retrain(policy(name="other", train=promotes_meanwhile))
    assert second.status == "succeeded", second.error
    live = store.model_registry.deployments.live("churn", "production")
    assert [(t.version, t.role) for t in live.targets] == [(2, "primary"), (3, "canary")]
