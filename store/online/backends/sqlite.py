"""The SQLite online store: the one module that opens the online database.

Connections use WAL (readers never wait for the writer) and a busy timeout. Writes take
the lock up front with ``BEGIN IMMEDIATE``, so two writers queue instead of failing with
"database is locked". A bookkeeping table, ``__silage_tables``, records which table
serves which project's view and with which layout, so several projects can share a file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from store.online.layout import TableLayout, quote
from store.repo.plan import OnlineTableChange

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["OnlineStore"]

BUSY_TIMEOUT_MS = 60_000
_BOOKKEEPING = "__silage_tables"
_BOOKKEEPING_SQL = (
    f"CREATE TABLE IF NOT EXISTS {quote(_BOOKKEEPING)} ("
    "project TEXT NOT NULL, feature_view TEXT NOT NULL, table_name TEXT NOT NULL UNIQUE, "
    "layout_hash TEXT NOT NULL, PRIMARY KEY (project, feature_view)) WITHOUT ROWID"
)


class OnlineStore:
    """An SQLite file holding one table per online feature view.

    Writes open a connection per transaction. Reads reuse one connection per thread: a
    point lookup then costs a few microseconds of SQLite and nothing to open.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def connect(self) -> sqlite3.Connection:
        """A connection in autocommit mode (transactions are explicit), WAL, busy timeout."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """An immediate transaction: committed on success, rolled back on any exception."""
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def upsert_batches(
        self,
        layout: TableLayout,
        batches: Iterable[pa.RecordBatch],
        on_rows: Callable[[int], None] | None = None,
    ) -> int:
        """Write rows (columns in ``layout.columns`` order) with the newest-wins upsert, all
        in one transaction: a reader sees the table as before or as after, never between,
        and a load killed midway leaves it as before. Returns the number of rows written."""
        sql = layout.upsert_sql()
        written = 0
        with self.write() as conn:
            for batch in batches:
                columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                conn.executemany(sql, zip(*columns, strict=True))
                written += batch.num_rows
                if on_rows is not None:
                    on_rows(written)
        return written

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (opened once)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.connect()
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's read connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def has_rows(self, layout: TableLayout) -> bool:
        """Whether the view's table holds any row (False when it does not exist)."""
        try:
            found = self.reader().execute(f"SELECT 1 FROM {quote(layout.table)} LIMIT 1")
        except sqlite3.OperationalError:
            return False
        return found.fetchone() is not None

    def tables(self, project: str) -> dict[str, tuple[str, str]]:
        """View name to (table name, layout hash) for a project; empty if the file is new."""
        if not self.path.exists():
            return {}
        conn = self.connect()
        try:
            return _tables(conn, project)
        finally:
            conn.close()

    def plan_tables(
        self,
        project: str,
        layouts: Sequence[TableLayout],
        *,
        drop_missing: bool,
        drop: Collection[str] = (),
    ) -> list[OnlineTableChange]:
        """The table changes that :meth:`sync_tables` would make (reads only)."""
        return _changes(self.tables(project), layouts, drop_missing=drop_missing, drop=drop)

    def sync_tables(
        self,
        project: str,
        layouts: Sequence[TableLayout],
        *,
        drop_missing: bool,
        drop: Collection[str] = (),
    ) -> list[OnlineTableChange]:
        """Create or rebuild the tables of ``layouts`` and drop those of the views in
        ``drop`` (with ``drop_missing``: of every view not in ``layouts``); all in one
        transaction.

        A table whose columns change is rebuilt empty: its old rows were computed for the
        old definition, and ``silage materialize`` loads the new ones.
        """
        with self.write() as conn:
            conn.execute(_BOOKKEEPING_SQL)
            existing = _tables(conn, project)
            changes = _changes(existing, layouts, drop_missing=drop_missing, drop=drop)
            wanted = {layout.feature_view: layout for layout in layouts}
            for change in changes:
                table = quote(change.table)
                if change.action in ("rebuild", "drop"):
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                    conn.execute(
                        f"DELETE FROM {quote(_BOOKKEEPING)} WHERE project = ? AND feature_view = ?",
                        (project, change.feature_view),
                    )
                if change.action in ("create", "rebuild"):
                    layout = wanted[change.feature_view]
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                    conn.execute(layout.create_sql())
                    conn.execute(
                        f"INSERT INTO {quote(_BOOKKEEPING)} VALUES (?, ?, ?, ?)",
                        (project, layout.feature_view, layout.table, layout.layout_hash),
                    )
            return changes


def _tables(conn: sqlite3.Connection, project: str) -> dict[str, tuple[str, str]]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_BOOKKEEPING,)
    ).fetchone()
    if not exists:
        return {}
    rows = conn.execute(
        f"SELECT feature_view, table_name, layout_hash FROM {quote(_BOOKKEEPING)} "
        "WHERE project = ?",
        (project,),
    ).fetchall()
    return {view: (table, digest) for view, table, digest in rows}


def _changes(
    existing: dict[str, tuple[str, str]],
    layouts: Sequence[TableLayout],
    *,
    drop_missing: bool,
    drop: Collection[str],
) -> list[OnlineTableChange]:
    changes: list[OnlineTableChange] = []
    for layout in layouts:
        found = existing.get(layout.feature_view)
        if found is None:
            changes.append(
                OnlineTableChange(
                    feature_view=layout.feature_view, table=layout.table, action="create"
                )
            )
        elif found[1] != layout.layout_hash:
            changes.append(
                OnlineTableChange(
                    feature_view=layout.feature_view, table=layout.table, action="rebuild"
                )
            )
    wanted = {layout.feature_view for layout in layouts}
    changes.extend(
        OnlineTableChange(feature_view=view, table=table, action="drop")
        for view, (table, _) in existing.items()
        if view not in wanted and (drop_missing or view in drop)
    )
    return sorted(changes, key=lambda c: c.feature_view)
