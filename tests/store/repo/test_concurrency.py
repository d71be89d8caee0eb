"""Concurrent applies on one registry (SQLite and PostgreSQL): all finish, none sees
"database is locked", the catalog ends consistent."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from store import FeatureStore
from tests.registries import use_registry

pytestmark = pytest.mark.slow


def test_concurrent_applies_all_succeed_with_consistent_state(
    make_repo: Callable[..., Path], registry_url: str
) -> None:
    repo = make_repo("basic")
    use_registry(repo, registry_url)
    command = [sys.executable, "-m", "store.cli", "--repo", str(repo), "apply"]
    for _round in range(3):
        processes = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
        for code, _out, err in results:
            assert code == 0, err
            assert "locked" not in err
    creates = sum("4 created" in out for _, out, _ in results)
    assert creates in (0, 1)
    with FeatureStore(repo_path=repo) as fs:
        assert [(o.kind, o.name, o.version) for o in fs.catalog_objects()] == [
            ("entity", "driver", None),
            ("data_source", "driver_stats_source", None),
            ("feature_view", "driver_hourly_stats", 1),
            ("feature_service", "driver_activity", None),
        ]
        assert not fs.plan().has_changes


def test_concurrent_applies_of_a_fresh_registry_create_it_once(
    make_repo: Callable[..., Path], registry_url: str
) -> None:
    repo = make_repo("basic")
    use_registry(repo, registry_url)
    command = [sys.executable, "-m", "store.cli", "--repo", str(repo), "apply"]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    assert [code for code, _, _ in outputs] == [0, 0, 0, 0], [err for _, _, err in outputs]
    assert sum("4 created" in out for _, out, _ in outputs) == 1
