"""Saved training sets shared between checkouts: two repository folders (two hosts) with one
registry (SQLite or PostgreSQL) and one artifact store (a shared folder, the registry
database, or an S3 bucket on a moto server). One suite, parametrized over all of them."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.orm import Session

from registry import RegistryError
from store import FeatureStore, TrainingSetIntegrityError
from store.offline.training_set import cache_path
from tests.object_storage import fresh_bucket, storage_options
from tests.registries import use_registry
from tests.store.offline.test_training_set import REFS, entities
from tests.store.test_cli import run

ARTIFACT_STORES = ["folder", "registry", "s3"]


@dataclass
class Team:
    """Two checkouts of the basic repository sharing a registry and an artifact store.

    ``first`` has the source data and saves; ``second`` is a different folder holding only
    ``feature_store.yaml`` and the definitions (nothing under ``data/``)."""

    first: FeatureStore
    second: FeatureStore
    store_kind: str

    def reopen_second(self) -> FeatureStore:
        """A new process on the second host: nothing cached in memory."""
        self.second.close()
        self.second = FeatureStore(repo_path=self.second.repo_path)
        return self.second


@pytest.fixture(params=ARTIFACT_STORES)
def team(
    request: pytest.FixtureRequest,
    make_repo: Callable[..., Path],
    registry_url: str,
    tmp_path: Path,
) -> Iterator[Team]:
    kind: str = request.param
    first = make_repo("basic")
    use_registry(first, registry_url)
    with _artifact_store(request, kind, tmp_path) as setting:
        path = first / "feature_store.yaml"
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        config["artifact_store"] = setting
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        second = tmp_path / "elsewhere"
        second.mkdir()
        for name in ("feature_store.yaml", "definitions.py"):
            shutil.copy(first / name, second / name)
        a, b = FeatureStore(repo_path=first), FeatureStore(repo_path=second)
        a.apply()
        team = Team(a, b, kind)
        try:
            yield team
        finally:
            team.first.close()
            team.second.close()


@contextmanager
def _artifact_store(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """The ``artifact_store:`` mapping of a kind (S3: a fresh bucket, removed afterwards)."""
    if kind == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        with fresh_bucket(endpoint) as uri:
            yield {"uri": uri, "storage_options": storage_options(endpoint)}
    elif kind == "folder":  # a shared mount, outside both checkouts
        yield {"uri": (tmp_path / "shared").as_uri()}
    else:
        yield {"uri": "registry"}


def _local_parquet(repo: Path) -> list[Path]:
    return sorted(p for p in repo.rglob("*.parquet") if p.name != "driver_stats.parquet")


def test_a_set_saved_in_one_checkout_is_listed_and_read_in_another(
    team: Team, capsys: pytest.CaptureFixture[str]
) -> None:
    job = team.first.get_historical_features(entities(), REFS)
    expected = job.to_arrow()
    saved = job.save("drivers_v1")
    record = saved.record
    assert record.storage_key == f"basic/training_sets/drivers_v1/{record.data_sha256}.parquet"
    assert team.first.artifact_store.keys() == [record.storage_key]
    # the first checkout keeps only its verified cache, nothing under data/training_sets
    assert _local_parquet(team.first.repo_path) == [
        cache_path(team.first.repo_path, record.data_sha256)
    ]
    assert not (team.second.repo_path / "data").exists()

    second = team.second
    (listed,) = second.list_training_sets()
    assert (listed.name, listed.fingerprint, listed.record.size_bytes) == (
        "drivers_v1",
        saved.fingerprint,
        record.size_bytes,
    )
    assert listed.location == saved.location
    back = second.get_training_set("drivers_v1").to_arrow()
    assert back.to_pylist() == expected.to_pylist()  # row for row, as the job computed them
    assert back.schema.equals(expected.schema)
    pd.testing.assert_frame_equal(second.get_training_set("drivers_v1").to_df(), saved.to_df())
    local = cache_path(second.repo_path, record.data_sha256)
    assert _local_parquet(second.repo_path) == [local]
    assert local.stat().st_size == record.size_bytes
    code, out, _ = run(
        capsys, "--repo", str(second.repo_path), "training-sets", "show", "drivers_v1"
    )
    assert (code, f"stored at {saved.location}" in out) == (0, True)
    # DuckDB reads the verified local copy by path: statistics in the checkout with no data
    found = second.compute_statistics(training_set="drivers_v1", window="1d")
    counts = {w.feature: w.statistics["count"] for w in found}
    assert counts == {"avg_daily_trips": 3, "conv_rate": 3}


def test_a_repeated_read_uses_the_verified_copy(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = team.first.get_historical_features(entities(), REFS).save("drivers_v1")
    second = team.second
    first_read = second.get_training_set("drivers_v1").to_df()

    def unreachable(*_: object) -> bytes:
        raise AssertionError("the artifact store was read again")

    monkeypatch.setattr(type(second.artifact_store), "get", unreachable)
    assert second.get_training_set("drivers_v1").to_df().equals(first_read)
    monkeypatch.undo()
    # a copy that no longer matches its digest is not used: fetched again and replaced
    local = cache_path(second.repo_path, saved.record.data_sha256)
    local.write_bytes(b"PAR1 not the saved bytes")
    assert team.reopen_second().get_training_set("drivers_v1").to_df().equals(first_read)
    assert local.stat().st_size == saved.record.size_bytes


def test_an_identical_save_returns_the_existing_set(team: Team) -> None:
    first = team.first.get_historical_features(entities(), REFS).save("drivers_v1")
    again = team.first.get_historical_features(entities(), REFS).save("drivers_v1")
    assert again.record == first.record
    assert team.first.artifact_store.keys() == [first.record.storage_key]
    with pytest.raises(RegistryError, match="already exists, built from other inputs"):
        team.first.get_historical_features(entities(2), REFS).save("drivers_v1")
    assert team.first.artifact_store.keys() == [first.record.storage_key]
    assert [t.name for t in team.second.list_training_sets()] == ["drivers_v1"]


def test_a_save_racing_an_identical_one_returns_it_and_writes_nothing(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = team.first.get_historical_features(entities(), REFS).save("drivers_v1")
    files = team.first.artifact_store
    puts: list[str] = []
    monkeypatch.setattr(type(files), "put", lambda _, key, *__: puts.append(key))
    # as if the other checkout recorded it after this one looked and found the name free
    monkeypatch.setattr(type(team.first.registry.training_sets), "find_same", lambda *_: None)
    again = team.first.get_historical_features(entities(), REFS).save("drivers_v1")
    assert again.record == first.record
    assert puts == []  # decided under the write lock, before any file is written
    assert _local_parquet(team.first.repo_path) == [
        cache_path(team.first.repo_path, first.record.data_sha256)
    ]


def _tamper(team: Team, key: str, data: bytes | None) -> None:
    """Change (or, with None, delete) a stored file behind the registry's back."""
    files = team.first.artifact_store
    if team.store_kind == "registry":
        with team.first.registry.db.engine.begin() as conn:
            if data is None:
                conn.execute(text("DELETE FROM artifact_blobs WHERE key = :k"), {"k": key})
            else:
                conn.execute(
                    text("UPDATE artifact_blobs SET data = :d WHERE key = :k"),
                    {"d": data, "k": key},
                )
    elif data is None:
        files.delete(key)
    else:
        files.put(key, data)  # a folder rewritten, an object PUT again


def test_a_tampered_or_missing_file_is_refused_with_what_to_do(team: Team) -> None:
    saved = team.first.get_historical_features(entities(), REFS).save("drivers_v1")
    key = saved.record.storage_key
    assert key is not None
    good = saved.check().read_bytes()
    changed = bytearray(good)
    changed[len(good) // 2] ^= 0xFF  # same size, one byte flipped
    _tamper(team, key, bytes(changed))
    reader = team.second.get_training_set("drivers_v1")
    with pytest.raises(TrainingSetIntegrityError) as caught:
        reader.to_df()
    message = str(caught.value)
    assert "training set 'drivers_v1'" in message
    assert saved.location in message
    assert "changed since it was saved" in message
    assert "restore the file from a backup of the artifact store" in message
    assert (caught.value.name, caught.value.location) == ("drivers_v1", saved.location)
    # nothing unverified reached the second checkout's cache
    assert not (team.second.repo_path / "data").exists()
    _tamper(team, key, None)
    with pytest.raises(TrainingSetIntegrityError, match=r"drivers_v1.*is missing"):
        reader.check()
    team.first.artifact_store.put(key, good)  # restored from a backup
    assert reader.to_df().equals(saved.to_df())


def test_a_failure_between_the_file_and_the_row_leaves_neither(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = team.first.artifact_store
    seen: list[list[str]] = []

    def fail(session: Session, *_: object) -> None:
        # Called once the row is flushed: the file is written already (on `registry`,
        # inside this very transaction, so only the session can see it).
        if files.transactional:
            seen.append(list(session.scalars(text("SELECT key FROM artifact_blobs"))))
        else:
            seen.append(files.keys())
        raise RuntimeError("the registry went away")

    monkeypatch.setattr("registry.training_sets._link_features", fail)
    with pytest.raises(RuntimeError, match="went away"):
        team.first.get_historical_features(entities(), REFS).save("drivers_v1")
    monkeypatch.undo()
    (written,) = seen
    assert [k.rsplit("/", 1)[0] for k in written] == ["basic/training_sets/drivers_v1"]
    assert files.keys() == []
    assert team.second.list_training_sets() == []
    with team.first.registry.db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM training_sets")).scalar() == 0
    # and no half-written or stray local file either
    assert _local_parquet(team.first.repo_path) == []
    # the same save then goes through
    saved = team.first.get_historical_features(entities(), REFS).save("drivers_v1")
    assert files.keys() == [saved.record.storage_key]


def test_a_set_saved_before_revision_0011_is_read_from_the_repository(
    make_repo: Callable[..., Path],
) -> None:
    """A row with no key and no size (an upgraded registry) names a file of the repository."""
    fs = FeatureStore(repo_path=make_repo("basic"))
    fs.apply()
    saved = fs.get_historical_features(entities(), REFS).save("old")
    legacy = fs.repo_path / "data" / "training_sets" / "old.parquet"
    legacy.parent.mkdir(parents=True)
    shutil.copy(saved.check(), legacy)
    fs.artifact_store.delete(saved.record.storage_key or "")
    shutil.rmtree(fs.repo_path / "data" / ".cache")
    with fs.registry.db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE training_sets SET storage_key = NULL, size_bytes = NULL, "
                "storage_path = 'data/training_sets/old.parquet'"
            )
        )
    old = fs.get_training_set("old")
    assert (old.record.storage_key, old.record.size_bytes) == (None, None)
    assert old.location == str(legacy)
    assert old.check() == legacy
    assert old.to_df()["avg_daily_trips"].tolist() == [1, 12, 23]
    assert not (fs.repo_path / "data" / ".cache").exists()  # read in place, not copied
    legacy.write_bytes(legacy.read_bytes() + b" ")
    with pytest.raises(TrainingSetIntegrityError, match=f"old.*{legacy}.*changed since"):
        old.to_df()
    legacy.unlink()
    with pytest.raises(TrainingSetIntegrityError, match="is missing"):
        old.to_df()
    fs.close()


def test_the_location_columns_are_checked_by_the_database(make_repo: Callable[..., Path]) -> None:
    """Exactly one of key and path; a key always comes with a size."""
    from sqlalchemy.exc import IntegrityError

    fs = FeatureStore(repo_path=make_repo("basic"))
    fs.apply()
    fs.get_historical_features(entities(), REFS).save("s")
    for change in (
        "storage_path = 'data/x.parquet'",  # both
        "storage_key = NULL",  # neither
        "size_bytes = NULL",  # a key without a size
    ):
        with pytest.raises(IntegrityError), fs.registry.db.engine.begin() as conn:
            conn.execute(text(f"UPDATE training_sets SET {change}"))
    assert fs.get_training_set("s").to_df()["label"].tolist() == [1, 0, 1]
    fs.close()
