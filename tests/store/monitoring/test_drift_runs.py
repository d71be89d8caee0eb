"""Drift runs end to end: a model's served features and predictions, window by window,
against its training set (profiled once, kept in the registry), a source window or a log
window; what is recorded; the CLI."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

from registry import RegistryNotFoundError, Target
from store import DriftReference, FeatureStore, RequestError, StoreError
from store.cli import main
from store.serving.prediction_log import LoggedPrediction
from tests.backends import OFFLINE_ENGINES, configure_offline

DAY = timedelta(days=1)
T0 = datetime(2026, 3, 1, tzinfo=UTC)
DEFINITIONS = """
from datetime import timedelta
from store import AllowedValues, Entity, FeatureView, Field, FileSource, NullShare
from store.types import Float64, String

rider = Entity(name="rider", join_keys=["rider_id"])
profile = FeatureView(
    name="rider_profile",
    entities=[rider],
    ttl=timedelta(days=30),
    schema=[Field(name="spend", dtype=Float64), Field(name="score", dtype=Float64),
            Field(name="tier", dtype=String)],
    source=FileSource(path="data/riders.parquet", timestamp_field="ts"),
    expectations=[NullShare("spend"), AllowedValues("tier", ["gold", "silver", "bronze"])],
)
"""
REFS = ["rider_profile:spend", "rider_profile:score", "rider_profile:tier"]


def riders(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rider_id": np.arange(n),
            "spend": rng.normal(50 + 10 * shift, 10, n),
            "score": rng.normal(0, 1, n),
            "tier": rng.choice(["gold", "silver", "bronze"], p=[0.2, 0.3, 0.5], size=n),
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    return deployed_store(tmp_path)


def deployed_store(tmp_path: Path, engine: str = "duckdb") -> FeatureStore:
    """The riders repository on ``engine``: a model trained on a saved training set and
    deployed in production."""
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text("project: drifting\n")
    configure_offline(repo, engine)
    (repo / "definitions.py").write_text(DEFINITIONS)
    rng = np.random.default_rng(7)
    frame = riders(rng, 2000).assign(ts=T0 - DAY)
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), repo / "data" / "riders.parquet"
    )
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    entity = pd.DataFrame({"rider_id": np.arange(2000), "event_timestamp": [T0] * 2000})
    entity["label"] = (frame["spend"] > 50).astype(int)
    saved = fs.get_historical_features(entity, REFS).save("riders_v1")
    data = saved.to_df()
    model = LogisticRegression().fit(data[["spend", "score"]], data["label"])
    fs.model_registry.register_model("upsell", model, training_set=saved.record)
    fs.model_registry.deployments.deploy("upsell", "production", [Target(1)])
    return fs


def log_window(fs: FeatureStore, day: int, rows: int, shift: float, seed: int) -> None:
    """Log ``rows`` predictions served during day ``day`` (the log as predict writes it)."""
    model = fs.model_registry.load_model("upsell", version=1)
    served = riders(np.random.default_rng(seed), rows, shift)
    probability = model.predict_proba(served[["spend", "score"]])[:, 1]
    records = []
    for i, row in served.iterrows():
        at = T0 + day * DAY + timedelta(seconds=30 * int(i))
        records.append(
            LoggedPrediction(
                request_id=uuid.uuid4().hex,
                predicted_at=at.isoformat(),
                environment="production",
                model="upsell",
                version=1,
                role="primary",
                entity=json.dumps({"rider_id": int(row["rider_id"])}),
                features=json.dumps(
                    {"spend": row["spend"], "score": row["score"], "tier": row["tier"]}
                ),
                prediction=json.dumps(
                    {"prediction": int(probability[i] > 0.5), "probability": probability[i]}
                ),
                latency_ms=1.0,
                prediction_id=uuid.uuid4().hex,
            )
        )
    fs._prediction_log.append(records)


def test_a_shift_is_found_from_the_day_it_began_and_not_before(store: FeatureStore) -> None:
    log_window(store, 0, 800, shift=0.0, seed=1)
    log_window(store, 1, 800, shift=0.0, seed=2)
    log_window(store, 2, 800, shift=0.5, seed=3)  # spend moves half a standard deviation
    log_window(store, 3, 800, shift=0.5, seed=4)
    report = store.drift("upsell", window="1d")
    assert [w.start for w in report.windows] == [T0 + d * DAY for d in range(4)]
    verdicts = {(w.start, r.feature): r.verdict for w in report.windows for r in w.results}
    assert [verdicts[(T0 + d * DAY, "spend")] for d in range(4)] == [
        "no_drift",
        "no_drift",
        "drift",
        "drift",
    ]
    assert {verdicts[(T0 + d * DAY, f)] for d in range(4) for f in ("score", "tier")} == {
        "no_drift"
    }
    # the predictions follow spend: they drift too, against the model's outputs on its set
    assert verdicts[(T0 + 3 * DAY, "probability")] == "drift"
    assert verdicts[(T0, "probability")] == "no_drift"
    drifting = {feature: since for feature, since, _ in report.drifted()}
    assert drifting["spend"] == T0 + 2 * DAY
    assert "score" not in drifting
    text = report.render()
    assert "upsell v1 in production against training_set:riders_v1" in text
    assert "spend since 2026-03-03 00:00" in text
    recorded = store.registry.monitoring.drift_results(store.project, "upsell")
    assert len(recorded) == 4 * len(report.windows[0].results)
    spend = [r for r in recorded if r.feature == "spend"]
    assert [r.verdict for r in spend] == ["no_drift", "no_drift", "drift", "drift"]
    assert spend[2].tests["wasserstein"]["effect"] == pytest.approx(0.5, abs=0.15)
    assert (spend[2].n_reference, spend[2].n_current) == (2000, 800)


def test_the_reference_is_profiled_once_and_runs_are_idempotent(store: FeatureStore) -> None:
    log_window(store, 0, 300, shift=0.0, seed=1)
    store.drift("upsell")
    monitoring = store.registry.monitoring
    stored = monitoring.profiles(store.project, "training_set:riders_v1")
    assert set(stored) == {"spend", "score", "tier", "__rows__"}
    assert stored["spend"]["count"] == 2000
    outputs = monitoring.profiles(store.project, "training_set:riders_v1:upsell:v1")
    assert set(outputs) == {"prediction", "probability"}
    store.drift("upsell")
    assert monitoring.profiles(store.project, "training_set:riders_v1") == stored
    assert len(monitoring.drift_results(store.project, "upsell")) == 6  # replaced, not added


def test_other_references_and_small_windows(store: FeatureStore) -> None:
    log_window(store, 0, 500, shift=0.0, seed=1)
    log_window(store, 1, 500, shift=1.0, seed=2)
    log_window(store, 2, 50, shift=1.0, seed=3)  # too few to decide
    first_day = DriftReference.predictions("upsell", T0, T0 + DAY, environment="production")
    report = store.drift("upsell", reference=first_day, features=["spend"])
    verdicts = [next(r.verdict for r in w.results if r.feature == "spend") for w in report.windows]
    assert verdicts == ["no_drift", "drift", "too_small"]
    assert {r.feature for r in report.windows[0].results} == {"spend", "prediction", "probability"}
    source = DriftReference.feature_view("rider_profile", T0 - 2 * DAY, T0)
    again = store.drift("upsell", reference=source, start_date=T0, end_date=T0 + DAY)
    assert [w.start for w in again.windows] == [T0]
    assert all(
        r.verdict == "no_drift" for r in again.windows[0].results if r.feature in ("spend", "tier")
    )
    assert again.notes == ("the reference has no prediction, probability: not compared",)


def _outcome(report: Any) -> list[tuple[Any, ...]]:
    return [
        (
            w.start,
            r.feature,
            r.verdict,
            r.n_reference,
            r.n_current,
            r.p_value,
            *((t.test, t.statistic) for t in r.tests),
        )
        for w in report.windows
        for r in w.results
    ]


@pytest.mark.parametrize("engine", [p for p in OFFLINE_ENGINES if p.id != "duckdb"])
def test_drift_runs_on_another_engine_as_on_duckdb(tmp_path: Path, engine: str) -> None:
    """The engine reads the references (the saved training set, a window of the view's
    source): the same windows against the same references give the same statistics."""
    outcomes = []
    for name in ("duckdb", engine):
        fs = deployed_store(tmp_path / name, name)
        log_window(fs, 0, 400, shift=0.0, seed=1)
        log_window(fs, 1, 400, shift=1.0, seed=2)
        source = DriftReference.feature_view("rider_profile", T0 - 2 * DAY, T0)
        by_training = fs.drift("upsell", features=["spend", "tier"])
        by_source = fs.drift("upsell", reference=source, features=["spend", "tier"], start_date=T0)
        outcomes.append((_outcome(by_training), _outcome(by_source)))
        fs.close()
    assert outcomes[0][0]
    assert outcomes[0][1]
    for ours, theirs in zip(outcomes[0], outcomes[1], strict=True):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert a[:5] == b[:5]
            assert a[5] == pytest.approx(b[5], rel=1e-9)
            assert [t for t, _ in a[6:]] == [t for t, _ in b[6:]]
            assert [v for _, v in a[6:]] == pytest.approx([v for _, v in b[6:]], rel=1e-9)
    verdicts = {(r[0], r[1]): r[2] for r in outcomes[1][1]}
    assert verdicts[(T0, "spend")] == "no_drift"
    assert verdicts[(T0 + DAY, "spend")] == "drift"


def test_bad_requests(store: FeatureStore) -> None:
    with pytest.raises(RequestError, match="holds no prediction of 'upsell' in 'production'"):
        store.drift("upsell")
    log_window(store, 0, 200, shift=0.0, seed=1)
    with pytest.raises(RequestError, match="was served no feature 'speed'"):
        store.drift("upsell", features=["speed"])
    with pytest.raises(RegistryNotFoundError):
        store.drift("upsell", "staging")


def test_a_reference_training_set_that_is_gone(store: FeatureStore) -> None:
    log_window(store, 0, 300, shift=0.0, seed=1)
    with pytest.raises(RegistryNotFoundError, match="no training set named 'nope'"):
        store.drift("upsell", reference=DriftReference.training_set("nope"))
    saved = store.get_training_set("riders_v1")
    assert saved.record.storage_key is not None
    data = store.repo_path / "data" / "artifacts" / saved.record.storage_key
    kept = data.read_bytes()
    data.unlink()
    saved.check().unlink()  # the checkout's cached copy too
    with pytest.raises(StoreError, match=r"riders_v1.*is missing .*; restore the file"):
        store.drift("upsell")
    # nothing was recorded by the failed run
    assert store.registry.monitoring.drift_results(store.project, "upsell") == []
    data.write_bytes(kept)
    store.drift("upsell")
    # once profiled, the reference no longer needs its file
    data.unlink()
    saved.check().unlink()
    assert store.drift("upsell").windows[0].results


def test_monitor_drift_from_the_cli(
    store: FeatureStore, capsys: pytest.CaptureFixture[str]
) -> None:
    log_window(store, 0, 400, shift=0.0, seed=1)
    log_window(store, 1, 400, shift=1.0, seed=2)
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", str(store.repo_path), "monitor", "drift", "upsell", "--window", "1d"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "DRIFT     spend" in out
    assert "drifting now: " in out
    assert "spend since 2026-03-02 00:00" in out
