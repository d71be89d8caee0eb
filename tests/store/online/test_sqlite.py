"""What only the SQLite backend promises: its storage types and its settings.

Everything every backend promises is in the conformance suite (``test_backend_conformance``,
``test_online``, ``test_online_concurrency``), which SQLite runs like any other backend.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from store import FeatureStore
from store.errors import ConfigError
from store.online.backends.sqlite import SQLiteBackend
from store.repo.config import load_config
from tests.conftest import T0, serve_stale_values


def test_materialized_rows_are_stored_in_sqlite_types(make_repo: Callable[..., Path]) -> None:
    repo = make_repo("basic")
    serve_stale_values(repo)
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        fs.materialize(T0, T0 + timedelta(hours=1))
    with sqlite3.connect(repo / "data" / "online_store.db") as conn:
        rows = conn.execute(
            'SELECT driver_id, avg_daily_trips, typeof(conv_rate), "__event_ts" '
            'FROM "basic__driver_hourly_stats" ORDER BY driver_id'
        ).fetchall()
        (schema,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'basic__driver_hourly_stats'"
        ).fetchone()
    t1_us = int((T0 + timedelta(hours=1)).timestamp() * 1_000_000)
    assert rows == [(1001, 1, "real", t1_us), (1002, 11, "real", t1_us), (1003, 21, "real", t1_us)]
    assert schema.endswith("WITHOUT ROWID")


def test_reads_map_the_file_unless_told_not_to(make_repo: Callable[..., Path]) -> None:
    repo = make_repo("basic")
    backend = load_config(repo).online_backend()
    assert isinstance(backend, SQLiteBackend)
    assert backend.path == repo / "data" / "online_store.db"
    config = repo / "feature_store.yaml"
    config.write_text(config.read_text() + "  mmap_size: 0\n")
    unmapped = load_config(repo).online_backend()
    assert isinstance(unmapped, SQLiteBackend)
    for store, expected in ((backend, 1 << 30), (unmapped, 0)):
        assert store._reader().execute("PRAGMA mmap_size").fetchone() == (expected,)
        store.close()
    config.write_text(config.read_text().replace("mmap_size: 0", "mmap_size: -1"))
    with pytest.raises(ConfigError, match="online_store mmap_size: -1 is negative"):
        load_config(repo)
