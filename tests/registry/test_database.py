"""Connections: URLs, an unreachable server, pool settings for servers, SQLite's WAL."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from registry import Registry, RegistryError, RegistryUnavailableError
from registry.database import Database, normalize_url, use_wal


def test_an_unreachable_registry_names_its_url_without_the_password() -> None:
    # Port 1 on localhost: nothing listens there, so the connection is refused at once.
    with pytest.raises(RegistryUnavailableError) as caught:
        Registry("postgresql://ana:s3cret@127.0.0.1:1/registry")
    message = str(caught.value)
    assert "postgresql+psycopg://ana:***@127.0.0.1:1/registry" in message
    assert "s3cret" not in message
    assert "check that the server is running" in message
    assert isinstance(caught.value, ConnectionError)
    assert isinstance(caught.value, RegistryError)


def test_bare_postgresql_urls_mean_psycopg_and_other_urls_are_kept() -> None:
    assert normalize_url("postgres://h/db") == "postgresql+psycopg://h/db"
    assert normalize_url("postgresql+psycopg2://h/db") == "postgresql+psycopg2://h/db"
    assert normalize_url("sqlite:///r.db") == "sqlite:///r.db"


def test_server_engines_pre_ping_and_time_out(registry_url: str) -> None:
    db = Database(registry_url, engine_options={"echo": False})
    try:
        if db.is_postgresql:
            assert db.engine.pool._pre_ping  # type: ignore[attr-defined]
            assert db.engine.pool.timeout() == 30  # type: ignore[attr-defined]
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "1min"
        with Registry(registry_url) as registry:
            assert repr(registry).startswith("Registry(")
    finally:
        db.dispose()


@contextmanager
def _writer_holding_the_lock(path: Path, seconds: float) -> Iterator[None]:
    """A rollback-journal database whose write lock another connection holds for a while.

    This is what several processes opening a new registry together can meet: switching to
    WAL then fails at once with "database is locked" (SQLite skips the busy handler where
    waiting could deadlock), whatever the busy timeout.
    """
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    timer = threading.Timer(seconds, lambda: writer.execute("COMMIT"))
    timer.start()
    try:
        yield
    finally:
        timer.join()
        writer.close()


def test_switching_to_wal_waits_for_a_writer_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with _writer_holding_the_lock(path, 0.3):
        plain = sqlite3.connect(path, timeout=60, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            plain.execute("PRAGMA journal_mode = WAL")  # what the busy timeout alone does
        use_wal(plain)
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        plain.close()


def test_switching_to_wal_gives_up_after_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with _writer_holding_the_lock(path, 0.5):
        conn = sqlite3.connect(path, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            use_wal(conn, timeout_seconds=0.05)
        conn.close()


def test_a_registry_opened_while_another_process_writes_waits_for_it(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with _writer_holding_the_lock(path, 0.3):
        db = Database(f"sqlite:///{path}")
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        db.dispose()
