"""Connections: URLs, an unreachable server, pool settings for servers, SQLite's WAL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
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


class _Writer:
    """A rollback-journal database whose write lock another connection holds until
    :meth:`commit`.

    This is what several processes opening a new registry together can meet: switching to
    WAL then fails at once with "database is locked" (SQLite skips the busy handler where
    waiting could deadlock), whatever the busy timeout.
    """

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("CREATE TABLE t (x INTEGER)")
        self.connection.execute("BEGIN IMMEDIATE")
        self.connection.execute("INSERT INTO t VALUES (1)")
        self.waits = 0

    def commit_on_first_wait(self, seconds: float) -> None:
        """Stands in for the pause in registry.database.use_wal: the first pause after a
        refused switch is when the other process commits."""
        self.waits += 1
        if self.waits == 1:
            self.connection.execute("COMMIT")


@pytest.fixture
def writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Writer]:
    import registry.database

    held = _Writer(tmp_path / "r.db")
    monkeypatch.setattr(registry.database, "_sleep", held.commit_on_first_wait)
    yield held
    held.connection.close()


def test_switching_to_wal_waits_for_a_writer_instead_of_failing(
    tmp_path: Path, writer: _Writer
) -> None:
    plain = sqlite3.connect(tmp_path / "r.db", timeout=60, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        plain.execute("PRAGMA journal_mode = WAL")  # what the busy timeout alone does
    use_wal(plain)
    assert writer.waits == 1  # refused once, then switched after the writer committed
    assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    plain.close()


def test_switching_to_wal_gives_up_after_its_timeout(tmp_path: Path) -> None:
    held = _Writer(tmp_path / "r.db")
    conn = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="another process holds its write lock"):
        use_wal(conn, timeout_seconds=0.05)
    conn.close()
    held.connection.close()


def test_a_registry_opened_while_another_process_writes_waits_for_it(
    tmp_path: Path, writer: _Writer
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert writer.waits == 1
    db.dispose()
