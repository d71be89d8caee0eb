"""Connections to the registry database: the one module that creates SQLAlchemy engines.

Every write transaction starts by bumping the change counter (one row of
``registry_changes``, see :mod:`registry.changes`). Besides telling serving processes that
something changed, that first statement is the registry's write lock:

- On SQLite the pysqlite driver is put in autocommit mode so that SQLAlchemy's ``BEGIN`` is
  ours to emit, and write transactions use ``BEGIN IMMEDIATE``, which takes the database's
  write lock up front. A deferred transaction that reads first and writes later can fail
  with "database is locked" when another writer got there in between; an immediate one
  waits (up to the busy timeout) instead.
- On PostgreSQL ``UPDATE registry_changes ... RETURNING`` takes the counter row's lock, held
  until commit, so writers queue one behind another exactly as on SQLite; under READ
  COMMITTED each later statement of the transaction sees everything committed before the
  lock was granted, so read-then-write code (alias moves, deployments, monitoring records)
  cannot lose an update. Readers are never blocked. ``lock_timeout`` bounds the wait like
  SQLite's busy timeout.

Engines for servers get a pool with pre-ping (a connection the server dropped is replaced,
not handed out), a connect timeout, and a recycle age; a server that cannot be reached
raises :class:`RegistryUnavailableError` naming the URL without its password.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from registry.errors import RegistryUnavailableError

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "CONNECT_TIMEOUT_SECONDS",
    "SERVER_POOL",
    "Database",
    "normalize_url",
    "safe_url",
    "use_wal",
]

BUSY_TIMEOUT_SECONDS = 60.0
_sleep = time.sleep  # the pause between WAL switch attempts (a test stands in for it)
CONNECT_TIMEOUT_SECONDS = 10
_IMMEDIATE = "silage_immediate"
# Bare PostgreSQL URLs would pick psycopg2, which Silage does not install: its extra brings
# psycopg (version 3), so the bare forms mean that driver.
_BARE_POSTGRES = ("postgresql://", "postgres://")


def normalize_url(url: str) -> str:
    """The SQLAlchemy URL Silage connects with: ``postgresql://`` and ``postgres://`` mean
    ``postgresql+psycopg://``; anything else is used as given.

    >>> normalize_url("postgresql://ana@db.internal/registry")
    'postgresql+psycopg://ana@db.internal/registry'
    """
    for bare in _BARE_POSTGRES:
        if url.startswith(bare):
            return "postgresql+psycopg://" + url.removeprefix(bare)
    return url


def safe_url(url: str) -> str:
    """The URL with its password masked, fit for messages and logs.

    >>> safe_url("postgresql+psycopg://ana:s3cret@db.internal/registry")
    'postgresql+psycopg://ana:***@db.internal/registry'
    """
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by whoever parses it; never echo it
        return "<registry URL that cannot be parsed>"


class Database:
    """An engine plus read and write sessions for one registry URL.

    Args:
        url: an SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://user@host/db``).
        engine_options: extra keyword arguments for ``create_engine`` (Feast's
            ``sqlalchemy_config_kwargs``), e.g. ``{"pool_size": 20}``.
    """

    def __init__(self, url: str, *, engine_options: dict[str, Any] | None = None) -> None:
        self.url = normalize_url(url)
        self.safe_url = safe_url(self.url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self.is_sqlite = self.dialect == "sqlite"
        self.is_postgresql = self.dialect == "postgresql"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine = _create_engine(self.url, self.safe_url, self.dialect, engine_options or {})
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; it never writes."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction holds the registry's write lock from its start and has
        counted itself in the change counter; commits on success, rolls back everything
        (the count included) on any exception."""
        with self.engine.connect().execution_options(**{_IMMEDIATE: True}) as conn:  # noqa: SIM117
            with Session(bind=conn, expire_on_commit=False) as session, session.begin():
                session.execute(_BUMP)
                yield session

    def dispose(self) -> None:
        self.engine.dispose()


# How Silage pools connections to a database server (the registry's, and the predictions
# log's on PostgreSQL): a dropped connection is replaced before it is handed out
# (pre-ping), none is kept past half an hour, and waiting for one gives up after 30 s.
SERVER_POOL: dict[str, Any] = {
    "pool_pre_ping": True,
    "pool_size": 5,
    "max_overflow": 10,
    "pool_timeout": 30,
    "pool_recycle": 1800,
}

# The write lock and the change counter in one statement (see the module docstring).
_BUMP = text("UPDATE registry_changes SET changes = changes + 1 WHERE id = 1")


def _create_engine(url: str, shown: str, dialect: str, options: dict[str, Any]) -> Engine:
    if dialect == "sqlite":
        engine = _sqlite_engine(url, options)
    else:
        connect_args: dict[str, Any] = {}
        if dialect == "postgresql":
            connect_args = {
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                # Wait for the write lock as long as SQLite waits for its busy timeout.
                "options": f"-c lock_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}",
                "application_name": "silage-registry",
            }
        settings: dict[str, Any] = {**SERVER_POOL, "connect_args": connect_args}
        settings.update(options)
        engine = create_engine(url, **settings)

    @event.listens_for(engine, "handle_error")
    def _unreachable(context: ExceptionContext) -> BaseException | None:
        # Connecting failed (not a statement): say so with the URL, never its password.
        if context.connection is None and isinstance(
            context.sqlalchemy_exception, OperationalError
        ):
            cause = str(context.original_exception).strip().splitlines()
            return RegistryUnavailableError(shown, cause[0] if cause else "")
        return None

    return engine


def _sqlite_engine(url: str, options: dict[str, Any]) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        **options,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()
        use_wal(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def use_wal(conn: sqlite3.Connection, timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> None:
    """Put a SQLite database in WAL mode (readers go on while one writer commits).

    Switching a database to WAL needs its exclusive lock, and SQLite does not call the busy
    handler when waiting could deadlock: a connection that holds the read lock of the
    switch while another connection holds the write lock (``BEGIN IMMEDIATE``) gets
    "database is locked" at once, whatever the busy timeout. Several processes opening a
    new database together meet exactly that, so the switch is retried, with a growing
    pause, until ``timeout_seconds``; any other error is raised at once. A database
    already in WAL (or in memory) is only read, never switched again.
    """
    if conn.execute("PRAGMA journal_mode").fetchone()[0] in ("wal", "memory"):
        return
    deadline = time.monotonic() + timeout_seconds
    pause = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            code = getattr(error, "sqlite_errorcode", None) or 0
            if code & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            if time.monotonic() + pause > deadline:
                raise sqlite3.OperationalError(
                    f"{error} (waited {timeout_seconds:g} s to switch the database to WAL: "
                    f"another process holds its write lock)"
                ) from error
        _sleep(pause)
        pause = min(pause * 2, 0.1)
