"""The change counter and the write lock, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier

from registry import ChangeWatcher, DeclaredObject, Registry, RegistryError, Target


@pytest.fixture
def reg(registry_url: str) -> Iterator[Registry]:
    with Registry(registry_url) as registry:
        yield registry


def test_every_committed_write_counts_once_and_a_failed_one_not_at_all(
    reg: Registry, tmp_path: Path
) -> None:
    start = reg.change_count()
    entity = DeclaredObject(kind="entity", name="driver", spec={}, content_hash="h")
    reg.catalog.apply("p", [entity], delete_missing=True)
    assert reg.change_count() == start + 1
    project = reg.project("p", tmp_path / "artifacts")
    project.register_model("m", DummyClassifier())
    project.register_model("m", DummyClassifier())
    assert reg.change_count() == start + 3
    project.models.set_alias("m", "champion", 1)
    project.deployments.deploy(
        "m", "production", [Target(1, "primary", 90), Target(2, "canary", 10)]
    )
    project.deployments.promote("m", "production")
    assert reg.change_count() == start + 6
    with pytest.raises(RegistryError):
        project.models.set_alias("m", "9", 1)  # refused before any write
    with pytest.raises(RuntimeError):
        reg.catalog.apply("p", [], delete_missing=True, before_commit=_fail)
    assert reg.change_count() == start + 6
    assert [o.name for o in reg.catalog.objects("p")] == ["driver"]


def _fail(_changes: object) -> None:
    raise RuntimeError("the hook failed")


def test_a_watcher_reports_each_change_once_and_polls_only_when_due(reg: Registry) -> None:
    now = [0.0]
    reads = []

    def count() -> int:
        reads.append(now[0])
        return reg.change_count()

    watcher = ChangeWatcher(count, interval_seconds=1.0, clock=lambda: now[0])
    reg.catalog.apply("p", [], delete_missing=True)
    now[0] = 0.5
    assert not watcher.changed()  # not due yet: answered from memory
    now[0] = 1.0
    assert watcher.changed()
    now[0] = 2.5
    assert not watcher.changed()
    assert reads == [0.0, 1.0, 2.5]
    assert reg.watch(interval_seconds=0).changed() is False


MOVE = """
import sys
from pathlib import Path
from registry import Registry
with Registry(sys.argv[1]) as registry:
    models = registry.models("demo", Path("unused"))
    for _ in range(int(sys.argv[3])):
        models.set_alias("m", "champion", int(sys.argv[2]), by=sys.argv[2])
"""


@pytest.mark.slow
def test_concurrent_alias_moves_lose_no_update(registry_url: str, tmp_path: Path) -> None:
    """Each move records the version it moved from: read-then-write under the write lock.

    Without the lock two movers read the same pointer, and two moves in the history claim
    the same predecessor (or both create the alias and one fails on its unique key).
    """
    writers, moves = 4, 25
    with Registry(registry_url) as registry:
        models = registry.models("demo", tmp_path)
        for _ in range(writers):
            models.register_model("m", DummyClassifier())
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MOVE, registry_url, str(version), str(moves)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for version in range(1, writers + 1)
    ]
    errors = [p.communicate(timeout=300)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * writers, errors
    with Registry(registry_url) as registry:
        models = registry.models("demo", tmp_path)
        history = models.alias_history("m", "champion")
        final = models.get_version("m", alias="champion").version
    assert len(history) == writers * moves
    chain = [(move.from_version, move.to_version) for move in history]
    assert chain[0][0] is None
    for (_, to), (source, _) in itertools.pairwise(chain):
        assert source == to, chain
    assert chain[-1][1] == final
