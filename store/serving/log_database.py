"""Where the predictions log lives: an SQLite file on one machine, PostgreSQL for a team.

The log's SQL (:mod:`store.serving.prediction_log`, :mod:`store.serving.rollup`) is written
once, in what the two databases share: ``?`` placeholders, ``CASE`` where SQLite would sum a
comparison, ``INSERT ... ON CONFLICT ... DO UPDATE`` upserts. A :class:`LogDatabase` holds
what differs and how to connect:

============================  =====================  =====================================
                              SQLite (default)       PostgreSQL
============================  =====================  =====================================
where                         ``data/predictions.db`` ``prediction_log: {url: postgresql://...}``
order of logging              ``rowid``              a ``seq`` identity column
floating point columns        ``REAL`` (8 bytes)     ``DOUBLE PRECISION`` (``REAL`` is 4)
text keys and times           byte order             ``COLLATE "C"`` (byte order too)
write transactions            ``BEGIN IMMEDIATE``    row locks; outcomes behind an
                                                     advisory lock (see below)
creating the tables           under the write lock   under an advisory lock
============================  =====================  =====================================

Several serving processes append at once. On SQLite they queue on the file's write lock
(WAL keeps readers going). On PostgreSQL appends run side by side: their rows are new, and
the running sums they add to (``arm_rollup``) are upserted in key order, so two appends
never wait on each other in opposite orders; recording outcomes updates existing rows in
the caller's order, so those transactions take one advisory lock and run one at a time.

Connections come from an SQLAlchemy pool (pre-ping, connect timeout, recycle age for
servers); a process that forks gets a fresh pool rather than its parent's sockets. A
server that cannot be reached raises :class:`~store.errors.PredictionLogError` naming the URL
without its password.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from registry.database import (
    BUSY_TIMEOUT_SECONDS,
    CONNECT_TIMEOUT_SECONDS,
    SERVER_POOL,
    normalize_url,
    safe_url,
    use_wal,
)
from store.errors import PredictionLogError

__all__ = ["Cursor", "LogDatabase", "open_log_database"]

# pg_advisory_xact_lock keys: any two numbers no other part of Silage uses.
_SCHEMA_LOCK = 0x5E1A_6E01
_OUTCOMES_LOCK = 0x5E1A_6E02


class Cursor(Protocol):
    """The DB-API cursor the log's SQL runs on (sqlite3's or psycopg's)."""

    description: Any

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class LogDatabase:
    """One predictions log database: its dialect's SQL pieces and its connections.

    Args:
        url: an SQLAlchemy URL, ``sqlite:///path`` or ``postgresql+psycopg://user@host/db``.
    """

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        self.url = normalize_url(url)
        self.shown = safe_url(self.url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise PredictionLogError(
                f"the predictions log cannot live in {self.dialect!r} ({self.shown}); use an "
                f"SQLite path or a postgresql:// URL under `prediction_log:`"
            )
        self.is_postgresql = self.dialect == "postgresql"
        self.path = Path(parsed.database or "") if not self.is_postgresql else None
        #: The column that orders rows as they were logged (``p`` is the log).
        self.order = "p.seq" if self.is_postgresql else "p.rowid"
        #: The served prediction's id of a shadow's id (``<id>.shadow.v<n>``).
        self.parent_id = (
            "split_part(p.prediction_id, '.', 1)"
            if self.is_postgresql
            else "substr(p.prediction_id, 1, instr(p.prediction_id, '.') - 1)"
        )
        self.real = "DOUBLE PRECISION" if self.is_postgresql else "REAL"
        self.key_text = 'TEXT COLLATE "C"' if self.is_postgresql else "TEXT"
        self._pid = os.getpid()
        self._engine: Any = None

    # --- connections ---------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the log was created (a read before any write finds nothing)."""
        if self.path is not None:
            return self.path.exists()
        with self.reading() as cur:
            cur.execute("SELECT to_regclass('predictions') IS NOT NULL")
            return bool(cur.fetchone()[0])

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        """A cursor for reads (a snapshot on SQLite; read committed on PostgreSQL)."""
        with self._connection() as conn:
            cur = conn.cursor()
            try:
                yield cur
            finally:
                cur.close()
                if self.is_postgresql:
                    conn.rollback()  # end the implicit transaction; nothing was written

    @contextmanager
    def writing(self, *, serialized: bool = False) -> Iterator[Cursor]:
        """A cursor in a write transaction: committed when the block ends, rolled back on any
        exception. ``serialized`` transactions run one at a time on every database (on
        SQLite all writes do)."""
        with self._connection() as conn:
            cur = conn.cursor()
            try:
                if self.is_postgresql:
                    if serialized:
                        cur.execute(f"SELECT pg_advisory_xact_lock({_OUTCOMES_LOCK})")
                else:
                    cur.execute("BEGIN IMMEDIATE")
                yield cur
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                cur.close()

    @contextmanager
    def creating(self) -> Iterator[Cursor]:
        """A write transaction that may create or alter the log's tables: one process at a
        time, so several starting on a new database do not race."""
        with self.writing() as cur:
            if self.is_postgresql:
                cur.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            yield cur

    def sql(self, text: str) -> str:
        """The log's SQL (``?`` placeholders) in the driver's parameter style."""
        return text.replace("%", "%%").replace("?", "%s") if self.is_postgresql else text

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        engine = self._pool()
        try:
            conn = engine.raw_connection()
        except Exception as exc:
            raise self._unreachable(exc) from exc
        try:
            yield conn
        finally:
            conn.close()  # back to the pool

    def _pool(self) -> Any:
        if self._engine is not None and os.getpid() != self._pid:
            # A forked child must not share its parent's connections: new ones here, and
            # the parent's left for the parent to close.
            self._engine.dispose(close=False)
            self._engine = None
        if self._engine is None:
            self._pid = os.getpid()
            self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Any:
        from sqlalchemy import create_engine, event

        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                self.url,
                connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi: sqlite3.Connection, _record: Any) -> None:
                dbapi.isolation_level = None  # BEGIN IMMEDIATE is ours to emit
                use_wal(dbapi)

            return engine
        return create_engine(
            self.url,
            **SERVER_POOL,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "application_name": "silage-predictions",
            },
        )

    def _unreachable(self, exc: Exception) -> Exception:
        if self.path is not None:
            return exc
        cause = str(getattr(exc, "orig", exc)).strip().splitlines()
        return PredictionLogError(
            f"cannot connect to the predictions log at {self.shown}: "
            f"{cause[0] if cause else type(exc).__name__}; check that the server is running "
            f"and that `prediction_log:` in feature_store.yaml names it correctly"
        )


def open_log_database(where: str | Path) -> LogDatabase:
    """The log at ``where``: a file path (SQLite) or an SQLAlchemy URL."""
    text = str(where)
    if isinstance(where, Path) or "://" not in text:
        return LogDatabase(f"sqlite:///{Path(text).resolve()}")
    return LogDatabase(text)
