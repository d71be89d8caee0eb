"""Saved training sets: fingerprints, statistics, view-version links, verified reads (with
each offline engine)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from registry import RegistryError
from store import FeatureStore, StoreError
from tests.conftest import T0

H = timedelta(hours=1)
REFS = ["driver_hourly_stats:avg_daily_trips", "driver_hourly_stats:conv_rate"]


def entities(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": [1001, 1002, 1003][:n],
            "event_timestamp": [T0 + H, T0 + 2 * H, T0 + 3 * H][:n],
            "label": [1, 0, 1][:n],
        }
    )


def test_save_records_everything_and_reads_back_verified(store: FeatureStore) -> None:
    job = store.get_historical_features(entities(), REFS)
    saved = job.save("drivers_v1")
    record = saved.record
    assert saved.path == store.repo_path / "data" / "training_sets" / "drivers_v1.parquet"
    assert (record.row_count, record.entity_time_min, record.entity_time_max) == (
        3,
        T0 + H,
        T0 + 3 * H,
    )
    assert record.schema["avg_daily_trips"] == "int64"
    stats = record.statistics["avg_daily_trips"]
    assert (stats["count"], stats["nulls"], stats["min"], stats["max"]) == (3, 0, 1.0, 23.0)
    assert stats["quantiles"]["p50"] == 12.0
    assert [(f.feature_view, f.version, f.feature) for f in record.features] == [
        ("driver_hourly_stats", 1, "avg_daily_trips"),
        ("driver_hourly_stats", 1, "conv_rate"),
    ]
    back = store.get_training_set("drivers_v1").to_df()
    assert back["avg_daily_trips"].tolist() == [1, 12, 23]
    assert back["label"].tolist() == [1, 0, 1]
    # the link is a foreign key to the exact feature-view version row
    with store.registry.db.engine.connect() as conn:
        linked = (
            conn.execute(
                text(
                    "SELECT v.version FROM training_set_features f "
                    "JOIN feature_view_versions v ON v.id = f.feature_view_version_id"
                )
            )
            .scalars()
            .all()
        )
    assert linked == [1, 1]


def test_fingerprint_follows_the_inputs(
    store: FeatureStore, make_repo: Callable[..., Path]
) -> None:
    first = store.get_historical_features(entities(), REFS).save("a")
    same = store.get_historical_features(entities(), REFS).save("a")
    assert same.fingerprint == first.fingerprint
    other_rows = store.get_historical_features(entities(2), REFS).save("b")
    assert other_rows.fingerprint != first.fingerprint
    full_names = store.get_historical_features(entities(), REFS, full_feature_names=True)
    assert full_names.save("c").fingerprint != first.fingerprint
    make_repo("basic_v2", into=store.repo_path)  # the view changes: a new version
    store.apply()
    changed = store.get_historical_features(
        entities(), ["driver_hourly_stats:avg_daily_trips", "driver_hourly_stats:conv_rate"]
    )
    saved = changed.save("d")
    assert saved.fingerprint != first.fingerprint
    assert {f.version for f in saved.record.features} == {2}


def test_a_taken_name_is_refused_before_anything_is_written(store: FeatureStore) -> None:
    store.get_historical_features(entities(), REFS).save("taken")
    before = (store.repo_path / "data" / "training_sets" / "taken.parquet").read_bytes()
    with pytest.raises(RegistryError, match="already exists, built from other inputs"):
        store.get_historical_features(entities(2), REFS).save("taken")
    assert (store.repo_path / "data" / "training_sets" / "taken.parquet").read_bytes() == before
    assert [p.name for p in (store.repo_path / "data" / "training_sets").iterdir()] == [
        "taken.parquet"
    ]


def test_a_changed_data_file_is_refused(store: FeatureStore) -> None:
    saved = store.get_historical_features(entities(), REFS).save("drivers")
    saved.path.write_bytes(saved.path.read_bytes() + b" ")
    with pytest.raises(StoreError, match="changed since it was saved"):
        store.get_training_set("drivers").to_df()


def test_a_bad_name_is_refused_before_anything_runs(store: FeatureStore) -> None:
    from store import RequestError

    with pytest.raises(RequestError, match="training set name 'my set' is not valid"):
        store.get_historical_features(entities(), REFS).save("my set")
    assert not (store.repo_path / "data" / "training_sets").exists()
