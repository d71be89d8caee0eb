"""Saved training sets: fingerprints, statistics, view-version links, verified reads (with
each offline engine). Sharing them between checkouts through each artifact store is
``test_shared_training_sets.py``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from registry import RegistryError
from store import FeatureStore, TrainingSetIntegrityError
from store.offline.training_set import cache_path
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
    # kept in the artifact store (a folder of the repository by default), content-addressed
    assert record.storage_key == f"basic/training_sets/drivers_v1/{record.data_sha256}.parquet"
    assert record.storage_path is None
    assert store.artifact_store.keys() == [record.storage_key]
    local = saved.check()  # the checkout's verified copy
    assert local == cache_path(store.repo_path, record.data_sha256)
    assert record.size_bytes == local.stat().st_size
    assert saved.location == str(store.repo_path / "data" / "artifacts" / record.storage_key)
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
    taken = store.get_historical_features(entities(), REFS).save("taken")
    before = store.artifact_store.keys()
    assert before == [taken.record.storage_key]
    with pytest.raises(RegistryError, match="already exists, built from other inputs"):
        store.get_historical_features(entities(2), REFS).save("taken")
    assert store.artifact_store.keys() == before
    assert store.get_training_set("taken").to_df().equals(taken.to_df())
    cache = store.repo_path / "data" / ".cache" / "training_sets"
    assert [p.name for p in cache.iterdir()] == [f"{taken.record.data_sha256}.parquet"]


def test_changed_data_is_refused_and_a_changed_copy_fetched_again(store: FeatureStore) -> None:
    saved = store.get_historical_features(entities(), REFS).save("drivers")
    expected = saved.to_df()
    copy = saved.check()
    copy.write_bytes(copy.read_bytes() + b" ")  # the local copy: not trusted, fetched again
    assert store.get_training_set("drivers").to_df().equals(expected)
    assert copy.stat().st_size == saved.record.size_bytes
    key = saved.record.storage_key
    assert key is not None
    stored = store.repo_path / "data" / "artifacts" / key
    stored.write_bytes(stored.read_bytes() + b" ")  # the stored file: refused
    copy.unlink()
    with pytest.raises(TrainingSetIntegrityError, match="changed since it was saved") as caught:
        store.get_training_set("drivers").to_df()
    assert (caught.value.name, caught.value.location) == ("drivers", str(stored))
    assert not copy.exists()


def test_a_bad_name_is_refused_before_anything_runs(store: FeatureStore) -> None:
    from store import RequestError

    with pytest.raises(RequestError, match="training set name 'my set' is not valid"):
        store.get_historical_features(entities(), REFS).save("my set")
    assert not (store.repo_path / "data" / "artifacts").exists()
    assert not (store.repo_path / "data" / ".cache").exists()
