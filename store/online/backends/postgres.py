r"""The PostgreSQL online backend: a table per view, newest wins inside the upsert.

``online_store: {type: postgres, host: db.internal, port: 5432, database: features,
db_schema: online, user: silage, password: ...}``, Feast's keys (and its ``sslmode``,
``sslkey_path``, ``sslcert_path``, ``sslrootcert_path``, ``keepalives_idle``), plus
``connect_timeout`` in seconds (default 10). The schema is created on the first apply; the
table ``__silage_tables`` in it records which table serves which project's view, with
which layout.

Each view's table has its typed join keys as primary key and one column per feature in
PostgreSQL's types (arrays of scalars as arrays, timestamps as ``timestamptz``, ``Json`` as
``text``; maps, structs and nested arrays as JSON ``text``, :mod:`store.online.values`); the
event and created times are ``bigint`` microseconds since the epoch, UTC, like every
backend's.

Writes: each batch is copied (``COPY``) into a temporary table and upserted from there with
``INSERT ... ON CONFLICT ... DO UPDATE ... WHERE`` the new row is newer: a later event time,
or the same and a later created time (a missing created time is oldest). Feast's
PostgreSQL store updates whatever it is given; here an older row never replaces a newer one,
whichever writer comes last. A write is one transaction (readers see before or after, a
killed writer leaves nothing), and writers of one view queue on an advisory lock, so
two loads of the same keys in different orders cannot deadlock.

Reads: one query per view, the keys sent as arrays and unnested ``WITH ORDINALITY`` on the
outer side of a join on the primary key, so values come back in input order, repeats and
gaps included.

Example:
    >>> from store.types import Float64, Int64
    >>> layout = TableLayout(project="p", feature_view="stats",
    ...                      keys=(("driver_id", Int64),), features=(("rate", Float64),))
    >>> print(create_table_sql(layout, "online").replace(", ", ",\n"))
    CREATE TABLE "online"."p__stats" ("driver_id" bigint NOT NULL,
    "rate" double precision,
    "__event_ts" bigint NOT NULL,
    "__created_ts" bigint,
    PRIMARY KEY ("driver_id"))
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Self

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
from store.types import Array, DType, PrimitiveType, is_nested

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

    from store.online.backend import StoredRow
    from store.settings import Settings

__all__ = ["PostgresBackend", "create_table_sql", "table_name", "upsert_sql"]

_BOOKKEEPING = "__silage_tables"
_MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names
_TYPES: dict[str, str] = {
    "Int32": "integer",
    "Int64": "bigint",
    "Float32": "real",
    "Float64": "double precision",
    "String": "text",
    "Bool": "boolean",
    "Bytes": "bytea",
    "UnixTimestamp": "timestamptz",
    # The document's text as written: jsonb would reorder keys and respace it.
    "Json": "text",
}
# Feast's keys, and libpq's names for them.
_SSL_KEYS = {
    "sslmode": "sslmode",
    "sslkey_path": "sslkey",
    "sslcert_path": "sslcert",
    "sslrootcert_path": "sslrootcert",
}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _pg_type(dtype: DType) -> str:
    if is_nested(dtype):
        # text, not jsonb: jsonb refuses the Infinity and NaN floats JSON lacks.
        return "text"
    if isinstance(dtype, Array):
        return _pg_type(dtype.element) + "[]"
    assert isinstance(dtype, PrimitiveType)
    return _TYPES[dtype.name]


def table_name(layout: TableLayout) -> str:
    """The view's table: ``<project>__<view>``, or when that is longer than PostgreSQL
    allows, its start and a hash of the whole."""
    name = layout.table
    if len(name) <= _MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{name[: _MAX_IDENTIFIER - 13]}_{digest}"


def _qualified(layout: TableLayout, schema: str) -> str:
    return f"{_quote(schema)}.{_quote(table_name(layout))}"


def create_table_sql(layout: TableLayout, schema: str) -> str:
    """``CREATE TABLE`` for a view's online table."""
    columns = [f"{_quote(n)} {_pg_type(t)} NOT NULL" for n, t in layout.keys]
    columns += [f"{_quote(n)} {_pg_type(t)}" for n, t in layout.features]
    columns += [f"{_quote(EVENT_TS)} bigint NOT NULL", f"{_quote(CREATED_TS)} bigint"]
    primary = ", ".join(_quote(n) for n, _ in layout.keys)
    return (
        f"CREATE TABLE {_qualified(layout, schema)} ({', '.join(columns)}, PRIMARY KEY ({primary}))"
    )


def upsert_sql(layout: TableLayout, schema: str, staged: str) -> str:
    """Move the rows of the table ``staged`` into the view's table: of several rows of one
    key the newest, and it replaces the stored one only if newer (later event time, or the
    same and a later created time; a missing created time is oldest)."""
    table = _qualified(layout, schema)
    names = ", ".join(_quote(c) for c in layout.columns)
    keys = ", ".join(_quote(n) for n, _ in layout.keys)
    values = layout.columns[len(layout.keys) :]
    updates = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in values)
    event, created = _quote(EVENT_TS), _quote(CREATED_TS)
    oldest = -(2**63)
    return (
        f"INSERT INTO {table} AS t ({names}) "
        f"SELECT DISTINCT ON ({keys}) {names} FROM {staged} "
        f"ORDER BY {keys}, {event} DESC, {created} DESC NULLS LAST "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates} "
        f"WHERE (excluded.{event}, coalesce(excluded.{created}, {oldest})) "
        f"> (t.{event}, coalesce(t.{created}, {oldest}))"
    )


@lru_cache(maxsize=256)
def _lookup_sql(layout: TableLayout, schema: str, features: tuple[str, ...]) -> tuple[str, str]:
    """The lookups of ``features`` and the event time: of one key, and of many keys given
    as one array per key column (unnested with their positions, for input order)."""
    table = _qualified(layout, schema)
    wanted = ", ".join(f"t.{_quote(c)}" for c in (*features, EVENT_TS))
    where = " AND ".join(f"t.{_quote(n)} = %s" for n, _ in layout.keys)
    arrays = ", ".join(f"%s::{_pg_type(t)}[]" for _, t in layout.keys)
    aliases = ", ".join(f"k{i}" for i in range(len(layout.keys)))
    on = " AND ".join(f"t.{_quote(n)} = k.k{i}" for i, (n, _) in enumerate(layout.keys))
    return (
        f"SELECT {wanted} FROM {table} AS t WHERE {where}",
        f"SELECT {wanted} FROM unnest({arrays}) WITH ORDINALITY AS k({aliases}, i) "
        f"LEFT JOIN {table} AS t ON {on} ORDER BY k.i",
    )


class PostgresBackend:
    """A PostgreSQL schema holding one table per online feature view.

    Each thread (and process) keeps one connection, in autocommit mode; a write is an
    explicit transaction on it.
    """

    settings_keys: ClassVar[frozenset[str]] = frozenset(
        {
            "host",
            "port",
            "database",
            "db_schema",
            "user",
            "password",
            "keepalives_idle",
            "connect_timeout",
            *_SSL_KEYS,
        }
    )

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 5432,
        database: str = "postgres",
        db_schema: str = "public",
        user: str = "postgres",
        password: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.host, self.port, self.database = host, port, database
        self.db_schema, self.user = db_schema, user
        self._password = password
        self._options = dict(options or {})
        self._local = threading.local()
        # Every connection opened, by thread, so close() can also release those of threads
        # that have ended (a connection is never shared between threads).
        self._opened: list[tuple[int, threading.Thread, psycopg.Connection[Any]]] = []
        self._opened_lock = threading.Lock()
        # A store dropped without close() (a script's FeatureStore) closes them on collection.
        weakref.finalize(self, _close_all, self._opened)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        port = settings.integer("port", 5432)
        assert port is not None
        if not 0 < port < 65536:
            raise settings.error("port", f"{port} is not a port number")
        options: dict[str, Any] = {"connect_timeout": settings.integer("connect_timeout", 10)}
        for key, libpq in _SSL_KEYS.items():
            value = settings.text(key)
            if value is not None:
                options[libpq] = value
        idle = settings.integer("keepalives_idle")
        if idle is not None:
            options["keepalives_idle"] = idle
        password = settings.values.get("password")
        if password is not None and not isinstance(password, str | int):
            raise settings.error("password", "must be text")
        return cls(
            host=settings.text("host", "localhost") or "localhost",
            port=port,
            database=settings.text("database", "postgres") or "postgres",
            db_schema=settings.text("db_schema", "public") or "public",
            user=settings.text("user", "postgres") or "postgres",
            password=None if password is None else str(password),
            options=options,
        )

    def __repr__(self) -> str:
        return f"PostgresBackend({self._where()!r})"

    def _where(self) -> str:
        """Where the store is, as errors show it (never the password)."""
        return (
            f"postgresql://{self.user}@{self.host}:{self.port}/{self.database} "
            f"(schema {self.db_schema})"
        )

    # --- connections ----------------------------------------------------------------------

    def connection(self) -> psycopg.Connection[Any]:
        """This thread's connection (opened once per process), autocommit, UTC."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid() and not conn.closed:
            return conn
        import psycopg

        with self._failures():
            conn = psycopg.connect(
                host=self.host,
                port=self.port,
                dbname=self.database,
                user=self.user,
                password=self._password,
                autocommit=True,
                options="-c timezone=UTC",
                application_name="silage-online",
                **self._options,
            )
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._opened_lock:
            self._opened.append((os.getpid(), threading.current_thread(), conn))
        return conn

    @contextmanager
    def _failures(self) -> Iterator[None]:
        """PostgreSQL's failures as errors that say where and what to check, no password."""
        import psycopg

        try:
            yield
        except psycopg.OperationalError as exc:
            self.close()
            raise OnlineStoreError(
                f"the PostgreSQL online store at {self._where()} cannot be used: "
                f"{self._scrubbed(exc)}; check online_store host, port, database, user and "
                f"password in feature_store.yaml, and that the server is running"
            ) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise OnlineStoreError(
                f"the PostgreSQL online store at {self._where()}: {self._scrubbed(exc)}; "
                f"grant the user rights on schema {self.db_schema!r}"
            ) from None

    def _scrubbed(self, exc: Exception) -> str:
        text = str(exc).strip()
        if self._password:
            text = text.replace(self._password, "***")
        return text

    def close(self) -> None:
        """Close this thread's connection, and those of threads that have ended."""
        me = threading.current_thread()
        with self._opened_lock:
            keep = []
            for pid, thread, conn in self._opened:
                if pid != os.getpid():
                    continue  # a parent's connection, after a fork: not ours to close
                if thread is me or not thread.is_alive():
                    conn.close()
                else:
                    keep.append((pid, thread, conn))
            self._opened = keep
        self._local.conn = None

    # --- tables ---------------------------------------------------------------------------

    def _bookkeeping(self) -> str:
        return f"{_quote(self.db_schema)}.{_quote(_BOOKKEEPING)}"

    def tables(self, project: str) -> dict[str, StoredTable]:
        conn = self.connection()
        with self._failures(), conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", (self._bookkeeping(),))
            (exists,) = cur.fetchone() or (None,)
            if exists is None:
                return {}
            return _tables(cur, self._bookkeeping(), project)

    def sync_tables(
        self,
        project: str,
        layouts: Sequence[TableLayout],
        *,
        drop_missing: bool,
        drop: Collection[str] = (),
    ) -> list[OnlineTableChange]:
        # A table whose columns change is rebuilt empty, like SQLite's (its rows were
        # computed for the old definition). PostgreSQL's DDL is transactional, so the whole
        # sync commits or not at all; concurrent applies queue on an advisory lock.
        conn = self.connection()
        with self._failures(), conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_id(self.db_schema),))
            # Created only when missing: a user without CREATE on the database may still use
            # an existing schema (CREATE SCHEMA IF NOT EXISTS checks that right first).
            cur.execute("SELECT to_regnamespace(%s)", (_quote(self.db_schema),))
            if (cur.fetchone() or (None,))[0] is None:
                cur.execute(f"CREATE SCHEMA {_quote(self.db_schema)}")
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self._bookkeeping()} (project text NOT NULL, "
                "feature_view text NOT NULL, table_name text NOT NULL UNIQUE, "
                "layout_hash text NOT NULL, PRIMARY KEY (project, feature_view))"
            )
            existing = _tables(cur, self._bookkeeping(), project)
            changes = plan_table_changes(existing, layouts, drop_missing=drop_missing, drop=drop)
            wanted = {layout.feature_view: layout for layout in layouts}
            for change in changes:
                stored = existing.get(change.feature_view)
                if stored is not None:
                    cur.execute(
                        f"DROP TABLE IF EXISTS {_quote(self.db_schema)}.{_quote(stored.table)}"
                    )
                cur.execute(
                    f"DELETE FROM {self._bookkeeping()} WHERE project = %s AND feature_view = %s",
                    (project, change.feature_view),
                )
                if change.action in ("create", "rebuild"):
                    layout = wanted[change.feature_view]
                    qualified = _qualified(layout, self.db_schema)
                    cur.execute(f"DROP TABLE IF EXISTS {qualified}")  # left by someone else
                    cur.execute(create_table_sql(layout, self.db_schema))
                    cur.execute(
                        f"INSERT INTO {self._bookkeeping()} VALUES (%s, %s, %s, %s)",
                        (project, layout.feature_view, table_name(layout), layout.layout_hash),
                    )
            return changes

    def has_rows(self, layout: TableLayout) -> bool:
        import psycopg

        conn = self.connection()
        with self._failures(), conn.cursor() as cur:
            try:
                cur.execute(f"SELECT 1 FROM {_qualified(layout, self.db_schema)} LIMIT 1")
            except psycopg.errors.UndefinedTable:
                return False
            return cur.fetchone() is not None

    # --- rows -----------------------------------------------------------------------------

    def write(
        self,
        layout: TableLayout,
        batches: Iterable[pa.RecordBatch],
        on_rows: Callable[[int], None] | None = None,
    ) -> int:
        staged = _quote("_silage_staged")
        names = ", ".join(_quote(c) for c in layout.columns)
        upsert = upsert_sql(layout, self.db_schema, staged)
        written = 0
        nested = {
            i: encode_column(t)
            for i, (_, t) in enumerate((*layout.keys, *layout.features))
            if is_nested(t)
        }
        conn = self.connection()
        with self._failures(), conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_id(table_name(layout)),))
            cur.execute(
                f"CREATE TEMPORARY TABLE {staged} "
                f"(LIKE {_qualified(layout, self.db_schema)}) ON COMMIT DROP"
            )
            for batch in batches:
                columns = [
                    nested[i](batch.column(i)) if i in nested else batch.column(i).to_pylist()
                    for i in range(batch.num_columns)
                ]
                with cur.copy(f"COPY {staged} ({names}) FROM STDIN") as copy:
                    for row in zip(*columns, strict=True):
                        copy.write_row(row)
                cur.execute(upsert)
                cur.execute(f"TRUNCATE {staged}")
                written += batch.num_rows
                if on_rows is not None:
                    on_rows(written)
        return written

    def read(
        self, layout: TableLayout, features: Sequence[str], keys: Sequence[Sequence[Any]]
    ) -> list[StoredRow]:
        one, many = _lookup_sql(layout, self.db_schema, tuple(features))
        conn = self.connection()
        with self._failures(), conn.cursor(binary=True) as cur:
            if len(keys[0]) == 1:
                cur.execute(one, [column[0] for column in keys])
                row = cur.fetchone()
                rows = [row if row is not None else (None,) * (len(features) + 1)]
            else:
                cur.execute(many, [list(column) for column in keys])
                rows = cur.fetchall()
        dtypes = dict(layout.features)
        decoders = [
            (i, decode_text(dtypes[f])) for i, f in enumerate(features) if is_nested(dtypes[f])
        ]
        if not decoders:
            return rows
        decoded: list[StoredRow] = []
        for row in rows:
            values = list(row)
            for i, decode in decoders:
                if values[i] is not None:
                    values[i] = decode(values[i])
            decoded.append(tuple(values))
        return decoded


def _close_all(opened: list[tuple[int, threading.Thread, psycopg.Connection[Any]]]) -> None:
    for pid, _, conn in opened:
        if pid == os.getpid():
            conn.close()


def _lock_id(name: str) -> int:
    """A stable 64-bit advisory lock number for a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _tables(cur: psycopg.Cursor[Any], bookkeeping: str, project: str) -> dict[str, StoredTable]:
    cur.execute(
        f"SELECT feature_view, table_name, layout_hash FROM {bookkeeping} WHERE project = %s",
        (project,),
    )
    return {view: StoredTable(table, digest) for view, table, digest in cur.fetchall()}
