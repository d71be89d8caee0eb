"""Training-serving skew: every planted mismatch is found, and a consistent setup reports none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from registry import Target
from store import FeatureStore, RequestError
from store.cli import main

H = timedelta(hours=1)
DEFINITIONS = """
from datetime import timedelta
from store import Entity, FeatureView, Field, FileSource
from store.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(
    name="stats",
    entities=[driver],
    ttl=timedelta(days=1),
    schema=[Field(name="rate", dtype=Float64), Field(name="trips", dtype=Int64)],
    source=FileSource(path="data/stats.parquet", timestamp_field="ts",
                      created_timestamp_column="created"),
)
"""
REFS = ["stats:rate", "stats:trips"]


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    """Drivers 1-20 with hourly rows over the last six hours, a model trained on them,
    deployed, and the online store loaded: what is served equals what a join sees."""
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(
        "project: skewed\nartifact_store: {path: data/artifacts, trusted_types: [numpy.dtype]}\n"
    )
    (repo / "definitions.py").write_text(DEFINITIONS)
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        {
            "driver_id": d,
            "ts": now - h * H,
            "created": now - h * H,
            "rate": d / 100 + h / 1000,
            "trips": d * 10 + h,
        }
        for d in range(1, 21)
        for h in range(1, 7)
    ]
    pq.write_table(pa.Table.from_pylist(rows), repo / "data" / "stats.parquet")
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    entity = pd.DataFrame({"driver_id": range(1, 21), "event_timestamp": [now - H / 2] * 20})
    saved = fs.get_historical_features(entity, REFS).save("drivers")
    data = saved.to_df()
    # An imputer first: a driver missing online is scored, and its missing features logged.
    model = make_pipeline(SimpleImputer(), LogisticRegression())
    model.fit(data[["rate", "trips"]], [d % 2 for d in range(1, 21)])
    fs.model_registry.register_model("ranker", model, training_set=saved.record)
    fs.model_registry.deployments.deploy("ranker", "production", [Target(1)])
    fs.materialize(now - 7 * H, now)
    return fs


def test_a_consistent_setup_reports_no_skew(store: FeatureStore) -> None:
    store.predict("ranker", [{"driver_id": d} for d in range(1, 21)])
    report = store.skew("ranker")
    assert report.consistent
    assert report.predictions == 20
    assert [(f.feature, f.compared, f.mismatches) for f in report.features] == [
        ("rate", 20, 0),
        ("trips", 20, 0),
    ]


def test_every_planted_mismatch_is_found(
    store: FeatureStore, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    # 1. a push the offline store never saw: driver 3 is served a value the sources lack
    store.push(
        "stats",
        pd.DataFrame({"driver_id": [3], "ts": [now], "rate": [0.99], "trips": [999]}),
    )
    # 2. a driver never loaded online but present in the sources: driver 21
    rows = pq.read_table(store.repo_path / "data" / "stats.parquet").to_pylist()
    rows.append({**rows[0], "driver_id": 21, "ts": now - H, "created": now - H})
    pq.write_table(pa.Table.from_pylist(rows), store.repo_path / "data" / "stats.parquet")
    # 3. the sources rewritten after loading: driver 5's newest rate changed offline only
    for row in rows:
        if row["driver_id"] == 5 and row["ts"] == max(r["ts"] for r in rows if r["driver_id"] == 5):
            row["rate"] += 0.5
    pq.write_table(pa.Table.from_pylist(rows), store.repo_path / "data" / "stats.parquet")
    store.predict("ranker", [{"driver_id": d} for d in range(1, 22)], missing="model")
    report = store.skew("ranker")
    rate = {f.feature: f for f in report.features}["rate"]
    trips = {f.feature: f for f in report.features}["trips"]
    assert (rate.compared, rate.missing_offline, rate.missing_online, rate.different) == (
        21,
        0,
        1,
        2,
    )
    assert (trips.missing_online, trips.different) == (1, 1)
    planted = {(e["kind"], e["entity"]["driver_id"]) for e in rate.examples}
    assert planted == {("different", 3), ("missing_online", 21), ("different", 5)}
    assert rate.max_difference == pytest.approx(0.99 - 0.031)  # the push; the rewrite: 0.5
    assert rate.mean_difference == pytest.approx((0.959 + 0.5) / 2)
    assert not report.consistent
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", str(store.repo_path), "monitor", "skew", "ranker"])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "rate" in out
    assert "SKEW found" in out


def test_a_push_of_a_new_entity_is_missing_offline(store: FeatureStore) -> None:
    now = datetime.now(UTC)
    store.push("stats", pd.DataFrame({"driver_id": [77], "ts": [now], "rate": [0.5], "trips": [5]}))
    store.predict("ranker", [{"driver_id": 77}])
    report = store.skew("ranker")
    assert [(f.feature, f.missing_offline) for f in report.features] == [("rate", 1), ("trips", 1)]


def test_nothing_logged(store: FeatureStore) -> None:
    with pytest.raises(RequestError, match="holds no prediction of 'ranker'"):
        store.skew("ranker")
