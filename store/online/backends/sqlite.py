r"""The SQLite online backend: the one module that opens the online database.

``online_store: {type: sqlite, path: data/online_store.db}``. One file holds every table;
a bookkeeping table, ``__silage_tables``, records which table serves which project's view
and with which layout, so several projects can share a file.

Each view's table is ``WITHOUT ROWID`` with the typed join keys as its primary key, so a
lookup is one B-tree search. Features are stored in SQLite's types (arrays as JSON text,
timestamps and the event and created times as integer microseconds since the epoch, UTC;
maps, structs and nested arrays as JSON text in :mod:`store.online.values`' encoding).

Connections use WAL (readers never wait for the writer) and a busy timeout. Writes take
the lock up front with ``BEGIN IMMEDIATE``, so two writers queue instead of failing with
"database is locked". Reads reuse one connection per thread.

Example:
    >>> from store.types import Float64, Int64
    >>> layout = TableLayout(project="p", feature_view="stats",
    ...                      keys=(("driver_id", Int64),), features=(("rate", Float64),))
    >>> print(create_table_sql(layout).replace(", ", ",\n"))
    CREATE TABLE "p__stats" ("driver_id" INTEGER NOT NULL,
    "rate" REAL,
    "__event_ts" INTEGER NOT NULL,
    "__created_ts" INTEGER,
    PRIMARY KEY ("driver_id")) WITHOUT ROWID
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from registry.database import use_wal
from store.epoch import from_micros
from store.errors import OnlineStoreError
from store.online.layout import (
    CREATED_TS,
    EVENT_TS,
    OnlineTableChange,
    StoredTable,
    TableLayout,
    plan_table_changes,
)
from store.online.values import decode_text, encode_column
from store.types import (
    Array,
    Bool,
    Bytes,
    DType,
    Int64,
    PrimitiveType,
    UnixTimestamp,
    is_nested,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from store.online.backend import StoredRow
    from store.settings import Settings

__all__ = ["SQLiteBackend", "create_table_sql", "upsert_sql"]

BUSY_TIMEOUT_MS = 60_000
_BOOKKEEPING = "__silage_tables"
_BOOKKEEPING_SQL = (
    f'CREATE TABLE IF NOT EXISTS "{_BOOKKEEPING}" ('
    "project TEXT NOT NULL, feature_view TEXT NOT NULL, table_name TEXT NOT NULL UNIQUE, "
    "layout_hash TEXT NOT NULL, PRIMARY KEY (project, feature_view)) WITHOUT ROWID"
)
# SQLite storage classes. Timestamps are integer microseconds since the epoch, UTC; arrays
# are JSON text.
_TYPES: dict[str, str] = {
    "Int32": "INTEGER",
    "Int64": "INTEGER",
    "Float32": "REAL",
    "Float64": "REAL",
    "String": "TEXT",
    "Bool": "INTEGER",
    "Bytes": "BLOB",
    "UnixTimestamp": "INTEGER",
    "Json": "TEXT",
}
# Reads map the file into memory: a lookup then touches pages without copying them into
# SQLite's page cache (a third less time per 1,000-key read here). Only what is read is
# resident. `mmap_size: 0` turns it off, for filesystems where mapping is unwise (NFS).
_MMAP_SIZE = 1 << 30


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sqlite_type(dtype: DType) -> str:
    if not isinstance(dtype, PrimitiveType):
        return "TEXT"  # arrays, maps and structs: JSON
    assert isinstance(dtype, PrimitiveType)
    return _TYPES[dtype.name]


def create_table_sql(layout: TableLayout) -> str:
    """``CREATE TABLE`` for a view's online table."""
    columns = [f"{_quote(n)} {_sqlite_type(t)} NOT NULL" for n, t in layout.keys]
    columns += [f"{_quote(n)} {_sqlite_type(t)}" for n, t in layout.features]
    columns += [f"{_quote(EVENT_TS)} INTEGER NOT NULL", f"{_quote(CREATED_TS)} INTEGER"]
    primary = ", ".join(_quote(n) for n, _ in layout.keys)
    return (
        f"CREATE TABLE {_quote(layout.table)} ({', '.join(columns)}, "
        f"PRIMARY KEY ({primary})) WITHOUT ROWID"
    )


def upsert_sql(layout: TableLayout) -> str:
    """Insert a row, or replace the stored one only if the new row is newer: a later event
    time, or the same event time and a later created time (a missing one counts as oldest).
    """
    table = _quote(layout.table)
    columns = layout.columns
    names = ", ".join(_quote(c) for c in columns)
    marks = ", ".join("?" for _ in columns)
    keys = ", ".join(_quote(n) for n, _ in layout.keys)
    updates = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in columns[len(layout.keys) :])
    event, created = _quote(EVENT_TS), _quote(CREATED_TS)
    oldest = -(2**63)
    newer = (
        f"excluded.{event} > {table}.{event} OR (excluded.{event} = {table}.{event} AND "
        f"coalesce(excluded.{created}, {oldest}) > coalesce({table}.{created}, {oldest}))"
    )
    return (
        f"INSERT INTO {table} ({names}) VALUES ({marks}) "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates} WHERE {newer}"
    )


def _encoder(dtype: DType) -> Callable[[pa.Array], list[Any]]:
    """How an Arrow column becomes the Python values SQLite stores: timestamps as integer
    microseconds, arrays as JSON text (timestamps in them as microseconds, bytes as base64)."""
    import pyarrow as pa

    if dtype == UnixTimestamp:
        return lambda column: column.cast(pa.int64()).to_pylist()
    if is_nested(dtype):
        return encode_column(dtype)
    if not isinstance(dtype, Array):
        return lambda column: column.to_pylist()
    if dtype.element == UnixTimestamp:
        as_micros = pa.list_(pa.int64())
        return lambda column: _json_lists(column.cast(as_micros).to_pylist())
    if dtype.element == Bytes:
        return lambda column: _json_lists(
            [None if v is None else [_base64(b) for b in v] for v in column.to_pylist()]
        )
    return lambda column: _json_lists(column.to_pylist())


def _json_lists(values: list[Any]) -> list[str | None]:
    return [None if v is None else json.dumps(v) for v in values]


def _base64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode("ascii")


def _decoder(dtype: DType) -> Callable[[Any], Any] | None:
    """How a stored SQLite value becomes a Python value (None: as it is)."""
    if is_nested(dtype):
        return decode_text(dtype)
    if isinstance(dtype, Array):
        decoders: dict[DType, Callable[[Any], Any]] = {
            UnixTimestamp: from_micros,
            Bytes: base64.b64decode,
        }
        element = decoders.get(dtype.element)
        if element is None:
            return json.loads
        return lambda text: [None if v is None else element(v) for v in json.loads(text)]
    return {Bool: bool, UnixTimestamp: from_micros}.get(dtype)  # type: ignore[call-overload, no-any-return]


class SQLiteBackend:
    """An SQLite file holding one table per online feature view.

    Writes open a connection per transaction. Reads reuse one connection per thread: a
    point lookup then costs a few microseconds of SQLite and nothing to open.
    """

    settings_keys: ClassVar[frozenset[str]] = frozenset({"path", "mmap_size"})

    def __init__(self, path: Path, *, mmap_size: int = _MMAP_SIZE) -> None:
        self.path = path
        self.mmap_size = mmap_size
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        mmap_size = settings.integer("mmap_size", _MMAP_SIZE)
        assert mmap_size is not None
        if mmap_size < 0:
            raise settings.error("mmap_size", f"{mmap_size} is negative; give bytes, or 0 for none")
        return cls(settings.path("path", "data/online_store.db"), mmap_size=mmap_size)

    def __repr__(self) -> str:
        return f"SQLiteBackend({str(self.path)!r})"

    # --- connections ----------------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        """A connection in autocommit mode (transactions are explicit), WAL, busy timeout."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        use_wal(conn, BUSY_TIMEOUT_MS / 1000)
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
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

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection (opened once)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.connect()
            conn.execute("PRAGMA query_only = ON")
            conn.execute(f"PRAGMA mmap_size = {int(self.mmap_size)}")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- tables ---------------------------------------------------------------------------

    def tables(self, project: str) -> dict[str, StoredTable]:
        if not self.path.exists():
            return {}
        conn = self.connect()
        try:
            return _tables(conn, project)
        finally:
            conn.close()

    def sync_tables(
        self,
        project: str,
        layouts: Sequence[TableLayout],
        *,
        drop_missing: bool,
        drop: Collection[str] = (),
    ) -> list[OnlineTableChange]:
        # A table whose columns change is rebuilt empty: its old rows were computed for the
        # old definition, and `silage materialize` loads the new ones.
        with self.transaction() as conn:
            conn.execute(_BOOKKEEPING_SQL)
            existing = _tables(conn, project)
            changes = plan_table_changes(existing, layouts, drop_missing=drop_missing, drop=drop)
            wanted = {layout.feature_view: layout for layout in layouts}
            for change in changes:
                conn.execute(f"DROP TABLE IF EXISTS {_quote(change.table)}")
                conn.execute(
                    f"DELETE FROM {_quote(_BOOKKEEPING)} WHERE project = ? AND feature_view = ?",
                    (project, change.feature_view),
                )
                if change.action in ("create", "rebuild"):
                    layout = wanted[change.feature_view]
                    conn.execute(create_table_sql(layout))
                    conn.execute(
                        f"INSERT INTO {_quote(_BOOKKEEPING)} VALUES (?, ?, ?, ?)",
                        (project, layout.feature_view, layout.table, layout.layout_hash),
                    )
            return changes

    def has_rows(self, layout: TableLayout) -> bool:
        try:
            found = self._reader().execute(f"SELECT 1 FROM {_quote(layout.table)} LIMIT 1")
        except sqlite3.OperationalError:
            return False
        return found.fetchone() is not None

    # --- rows -----------------------------------------------------------------------------

    def write(
        self,
        layout: TableLayout,
        batches: Iterable[pa.RecordBatch],
        on_rows: Callable[[int], None] | None = None,
    ) -> int:
        sql = upsert_sql(layout)
        encoders = [_encoder(t) for _, t in (*layout.keys, *layout.features)]
        encoders += [_encoder(Int64), _encoder(Int64)]  # the event and created times
        written = 0
        with self.transaction() as conn:
            for batch in batches:
                columns = [encode(batch.column(i)) for i, encode in enumerate(encoders)]
                conn.executemany(sql, zip(*columns, strict=True))
                written += batch.num_rows
                if on_rows is not None:
                    on_rows(written)
        return written

    def read(
        self, layout: TableLayout, features: Sequence[str], keys: Sequence[Sequence[Any]]
    ) -> list[StoredRow]:
        count = len(keys[0])
        one, many = _lookup_sql(layout, tuple(features))
        conn = self._reader()
        if count == 1:
            row = conn.execute(one, [column[0] for column in keys]).fetchone()
            rows: list[StoredRow] = [row if row is not None else (None,) * (len(features) + 1)]
        else:
            # The keys travel as one JSON array parameter (of key lists when composite).
            payload = keys[0] if len(keys) == 1 else [list(k) for k in zip(*keys, strict=True)]
            rows = conn.execute(many, (json.dumps(payload),)).fetchall()
            if len(rows) != count:
                raise OnlineStoreError(
                    f"{layout.table}: {count} keys were looked up but {len(rows)} rows came "
                    f"back, so the table lacks its primary key and was not made by Silage; "
                    f"drop it, run `silage apply`, then `silage materialize`"
                )
        dtypes = dict(layout.features)
        decoders = [(i, d) for i, f in enumerate(features) if (d := _decoder(dtypes[f]))]
        if decoders:
            rows = [_decoded(row, decoders) for row in rows]
        return rows


@lru_cache(maxsize=256)
def _lookup_sql(layout: TableLayout, features: tuple[str, ...]) -> tuple[str, str]:
    """The lookups of ``features`` and the event time: of one key given as parameters, and of
    many keys given as one JSON array. Each array element (``json_each``) is the outer side
    of a LEFT JOIN on the table's primary key, so there is one row per element, duplicates
    included, NULLs where nothing is stored; ``ORDER BY j.key`` (the element's index) puts
    them in input order, which SQLite does not promise otherwise (it costs a small sort)."""
    table = _quote(layout.table)
    wanted = ", ".join(f"t.{_quote(c)}" for c in (*features, EVENT_TS))
    where = " AND ".join(f"t.{_quote(n)} = ?" for n, _ in layout.keys)
    if len(layout.keys) == 1:
        on = f"t.{_quote(layout.keys[0][0])} = j.value"
    else:
        on = " AND ".join(
            f"t.{_quote(n)} = json_extract(j.value, '$[{i}]')"
            for i, (n, _) in enumerate(layout.keys)
        )
    return (
        f"SELECT {wanted} FROM {table} AS t WHERE {where}",
        f"SELECT {wanted} FROM json_each(?) AS j LEFT JOIN {table} AS t ON {on} ORDER BY j.key",
    )


def _decoded(row: StoredRow, decoders: list[tuple[int, Callable[[Any], Any]]]) -> StoredRow:
    values = list(row)
    for i, decode in decoders:
        if values[i] is not None:
            values[i] = decode(values[i])
    return tuple(values)


def _tables(conn: sqlite3.Connection, project: str) -> dict[str, StoredTable]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_BOOKKEEPING,)
    ).fetchone()
    if not exists:
        return {}
    rows = conn.execute(
        f"SELECT feature_view, table_name, layout_hash FROM {_quote(_BOOKKEEPING)} "
        "WHERE project = ?",
        (project,),
    ).fetchall()
    return {view: StoredTable(table, digest) for view, table, digest in rows}
