r"""The Redis online backend: one key per entity per view, newest wins on the server.

``online_store: {type: redis, connection_string: "localhost:6379,db=1"}``, with Feast's
keys: ``connection_string`` (``host:port`` then ``name=value`` options such as ``db``,
``password``, ``username``, ``ssl``; or a ``redis://`` URL), ``redis_type`` (``redis`` or
``redis_sentinel``, whose ``connection_string`` lists the sentinels and
``sentinel_master`` names the master) and ``key_ttl_seconds`` (entity keys expire that
long after their last write). ``key_prefix`` (default ``silage:``) keeps several stores
apart on one server.

Layout. Each entity of each view is one string key::

    <prefix><project>:<view>:<layout hash, 12 hex>:<entity key>

whose value is a 40-digit header (the event time, then the created time, each offset to be
non-negative and zero-padded to 20 digits, so they compare exactly) followed by the row's
features as a JSON array in the view's order (bytes as base64, timestamps as integer
microseconds, UTC; maps, structs and nested arrays as JSON values, :mod:`store.online.values`).
Feast keeps one hash per entity shared by every view, so one view's
expiry or rewrite touches the others; here a view's keys are its own, and a changed layout
writes new keys (the hash is in the name) while the old ones are removed. The entity key is
the integer or string itself, or a JSON array of the values for composite keys. The hash
``<prefix>tables`` records each project's views and layouts; the key
``<prefix><project>:<view>:<hash>`` marks a view that has received rows.

Writes. A batch is encoded in Arrow, with no Python per row: keys, headers and the
features' JSON texts (:func:`store.online.values.json_text_column`) are joined into the
arguments of the command, already in Redis's protocol, and sent as they lie in Arrow's
buffers. A Lua script merges each chunk of 5,000 rows: one ``MGET`` reads the stored rows,
and a row replaces the stored one only if its header is greater (later event time, or the
same and a later created time; a missing created time is oldest); one ``MSET`` writes the
winners (with ``key_ttl_seconds``, a ``SET ... PX`` per winner). Redis runs a script alone,
so two writers cannot interleave between the comparison and the write. A write of more
than one chunk sends its calls inside ``MULTI`` ... ``EXEC``: Redis queues them and runs
them all at ``EXEC``, one after another with no other client's command between, so readers
see a whole write or none of it, and a writer killed before ``EXEC`` leaves nothing (its
connection closes and Redis drops the queue). Nothing is staged in Redis's keys. The
price: while ``EXEC`` runs (a few microseconds per row) other clients wait, and
the queued calls are held in Redis's memory until then, so loads of many millions of rows
are best split into several windows. A command refused with "BUSY" (some other client's
long script) is retried for up to ``busy_timeout_seconds`` (default 60); a queued call
refused makes Redis discard the transaction (nothing written) and the write fails.

Reads. One ``MGET`` per view answers every entity, in order, on a connection each thread
keeps between reads.

Example:
    >>> parse_connection_string("redis.internal:6380,db=1,password=secret,ssl=true")
    ([('redis.internal', 6380)], {'db': 1, 'password': 'secret', 'ssl': True})
    >>> shown_connection_string("redis.internal:6380,db=1,password=secret")
    'redis.internal:6380,db=1,password=***'
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from store.epoch import from_micros
from store.errors import OnlineStoreError
from store.online.layout import OnlineTableChange, StoredTable, TableLayout, plan_table_changes
from store.online.values import from_json_ready, json_text_column
from store.types import Array, Bytes, DType, Float32, Float64, UnixTimestamp, is_nested

if TYPE_CHECKING:
    import pyarrow as pa
    import redis

    from store.online.backend import StoredRow
    from store.settings import Settings

__all__ = ["RedisBackend", "parse_connection_string", "shown_connection_string"]

T = TypeVar("T")

# Event and created times are shifted by 2**63 so that every int64 is a non-negative number
# of at most 20 digits; a missing created time is 0, below any present one.
_OFFSET = 2**63
_HEADER = 40
_SCAN_COUNT = 1_000

# Options of the connection string, by Feast's names (redis-py's keyword arguments), and
# how each value is read from its text.
_OPTIONS: dict[str, Callable[[str], Any]] = {
    "db": int,
    "password": str,
    "username": str,
    "ssl": lambda v: v.lower() == "true",
    "ssl_cert_reqs": str,
    "ssl_ca_certs": str,
    "ssl_certfile": str,
    "ssl_keyfile": str,
    "socket_timeout": float,
    "socket_connect_timeout": float,
    "client_name": str,
    "health_check_interval": int,
}
_TYPES = ("redis", "redis_sentinel")
_SECRET = re.compile(r"(password=|://[^:/@]*:)[^,@]*")

# The merge, one script per chunk of a write: KEYS[1] is the view's marker, KEYS[2..] the
# entities' keys, each once; ARGV[1] the expiry in milliseconds (0: none), ARGV[i] the row
# for KEYS[i] (i >= 2). A row replaces the stored one only if its header is greater. Headers
# compare as four 10-digit numbers: exact in Lua's doubles, whatever the server's locale.
# Keys are read with one MGET and written with one MSET per 2,000 rows (Lua's unpack takes
# at most about 8,000 values).
_MERGE = """
local ttl = tonumber(ARGV[1])
local sub, unpack, min = string.sub, unpack, math.min
local function newer(a, b)
  for i = 1, 31, 10 do
    local x, y = tonumber(sub(a, i, i + 9)), tonumber(sub(b, i, i + 9))
    if x ~= y then return x > y end
  end
  return false
end
local written = 0
for first = 2, #KEYS, 2000 do
  local last = min(first + 1999, #KEYS)
  local stored = redis.call('MGET', unpack(KEYS, first, last))
  local args, n = {}, 0
  for i = first, last do
    local old = stored[i - first + 1]
    if not old or newer(ARGV[i], old) then
      args[n + 1], args[n + 2] = KEYS[i], ARGV[i]
      n = n + 2
    end
  end
  if n > 0 and ttl > 0 then
    for j = 1, n, 2 do redis.call('SET', args[j], args[j + 1], 'PX', ttl) end
  elseif n > 0 then
    redis.call('MSET', unpack(args, 1, n))
  end
  written = written + n / 2
end
if written > 0 then redis.call('SET', KEYS[1], '1') end
return written
"""
_SCRIPT = b"$%d\r\n%s\r\n" % (len(_MERGE.encode()), _MERGE.encode())
_CHUNK_ROWS = 5_000  # rows per call of the merge script


def parse_connection_string(text: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """Feast's connection string: ``host:port`` items (several for sentinels) and
    ``name=value`` options, comma-separated.

    Raises:
        ValueError: an item that is neither, an unknown option or a bad value; the message
            never shows a password.
    """
    hosts: list[tuple[str, int]] = []
    options: dict[str, Any] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, equals, value = item.partition("=")
        if equals:
            read = _OPTIONS.get(name.strip())
            if read is None:
                raise ValueError(
                    f"unknown option {name.strip()!r}; known: {', '.join(sorted(_OPTIONS))}"
                )
            try:
                options[name.strip()] = read(value.strip())
            except ValueError:
                shown = "***" if name.strip() == "password" else repr(value.strip())
                raise ValueError(f"option {name.strip()}={shown} is not valid") from None
            continue
        host, colon, port = item.rpartition(":")
        if not colon:
            host, port = item, "6379"
        if not host or not port.isdigit():
            raise ValueError(f"{item!r} is not host:port")
        hosts.append((host, int(port)))
    if not hosts:
        raise ValueError("no host:port given")
    return hosts, options


def shown_connection_string(text: str) -> str:
    """A connection string or URL as errors show it: passwords replaced by ``***``."""
    return _SECRET.sub(lambda m: m.group(1) + "***", text)


class RedisBackend:
    """A Redis server holding one key per entity per online view."""

    settings_keys: ClassVar[frozenset[str]] = frozenset(
        {
            "connection_string",
            "redis_type",
            "sentinel_master",
            "key_ttl_seconds",
            "key_prefix",
            "busy_timeout_seconds",
            "full_scan_for_deletion",  # Feast's; a view's keys are always found by its prefix
        }
    )

    def __init__(
        self,
        connection_string: str = "localhost:6379",
        *,
        redis_type: str = "redis",
        sentinel_master: str = "mymaster",
        key_ttl_seconds: int | None = None,
        key_prefix: str = "silage:",
        busy_timeout_seconds: float = 60.0,
    ) -> None:
        self.connection_string = connection_string
        self.redis_type = redis_type
        self.sentinel_master = sentinel_master
        self.key_ttl_seconds = key_ttl_seconds
        self.key_prefix = key_prefix
        self.busy_timeout_seconds = busy_timeout_seconds
        self._lock = threading.Lock()
        self._client: redis.Redis | None = None
        self._held = threading.local()
        self._read_plans: dict[tuple[int, int], tuple[Any, Any, str, Any]] = {}
        self._prefixes: dict[TableLayout, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        connection = settings.text(
            "connection_string", "localhost:6379", example='"localhost:6379,db=1"'
        )
        assert connection is not None
        kind = settings.text("redis_type", "redis")
        if kind == "redis_cluster":
            raise settings.error(
                "redis_type",
                "redis_cluster is not supported: a write is one transaction of server-side "
                "scripts over all of its keys, which a cluster cannot run across slots; use a "
                "single server (with replicas) as `redis`, or `redis_sentinel`",
            )
        if kind not in _TYPES:
            raise settings.error("redis_type", f"{kind!r} is not one of {', '.join(_TYPES)}")
        if not connection.startswith(("redis://", "rediss://", "unix://")):
            try:
                parse_connection_string(connection)
            except ValueError as exc:
                raise settings.error(
                    "connection_string",
                    f"{shown_connection_string(connection)!r}: {exc}; write it like "
                    f'"localhost:6379,db=1,password=..." or as a redis:// URL',
                ) from None
        elif kind == "redis_sentinel":
            raise settings.error(
                "connection_string", "redis_sentinel takes sentinels as host:port, not a URL"
            )
        ttl = settings.integer("key_ttl_seconds")
        if ttl is not None and ttl <= 0:
            raise settings.error("key_ttl_seconds", f"{ttl} must be a positive number of seconds")
        prefix = settings.values.get("key_prefix", "silage:")
        if not isinstance(prefix, str):
            raise settings.error("key_prefix", f"{prefix!r} must be text, e.g. 'silage:'")
        busy = settings.values.get("busy_timeout_seconds", 60)
        if isinstance(busy, bool) or not isinstance(busy, int | float) or busy < 0:
            raise settings.error("busy_timeout_seconds", f"{busy!r} must be a number of seconds")
        return cls(
            connection,
            busy_timeout_seconds=float(busy),
            redis_type=kind or "redis",
            sentinel_master=settings.text("sentinel_master", "mymaster") or "mymaster",
            key_ttl_seconds=ttl,
            key_prefix=prefix,
        )

    def __repr__(self) -> str:
        return f"RedisBackend({shown_connection_string(self.connection_string)!r})"

    # --- connections ----------------------------------------------------------------------

    def client(self) -> redis.Redis:
        """The client (a thread-safe pool of connections), made on first use."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> redis.Redis:
        import redis

        text = self.connection_string
        if text.startswith(("redis://", "rediss://", "unix://")):
            return redis.Redis.from_url(text)
        hosts, options = parse_connection_string(text)
        if self.redis_type == "redis_sentinel":
            from redis.sentinel import Sentinel

            sentinels = Sentinel(hosts, **options)  # type: ignore[no-untyped-call]
            master: redis.Redis = sentinels.master_for(self.sentinel_master)  # type: ignore[no-untyped-call]
            return master
        (host, port), *_ = hosts
        return redis.Redis(host=host, port=port, **options)

    @contextmanager
    def _talking(self) -> Iterator[redis.Redis]:
        """The client, with Redis's failures turned into errors that say what to check."""
        import redis

        try:
            yield self.client()
        except redis.AuthenticationError as exc:
            raise self._failure("was refused", exc, "check the password and username") from None
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise self._failure(
                "cannot be reached", exc, "start the server or fix online_store connection_string"
            ) from None
        except redis.ResponseError as exc:
            raise self._failure("answered with an error", exc, "see the message") from None

    def _patiently(self, command: Callable[[], T]) -> T:
        """Run ``command``, retrying while Redis answers BUSY (another writer's merge is
        running), for up to ``busy_timeout_seconds``."""
        import redis

        deadline = time.monotonic() + self.busy_timeout_seconds
        pause = 0.005
        while True:
            try:
                return command()
            except redis.ResponseError as exc:
                if not str(exc).startswith("BUSY") or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def _failure(self, what: str, exc: Exception, fix: str) -> OnlineStoreError:
        shown = shown_connection_string(self.connection_string)
        reason = shown_connection_string(str(exc))
        return OnlineStoreError(f"the Redis online store at {shown!r} {what}: {reason}; {fix}")

    def _read_plan(
        self, layout: TableLayout, features: Sequence[str]
    ) -> tuple[str, Callable[[bytes], StoredRow]]:
        """The keys' prefix and the row decoder of a read, found by the identity of its
        arguments (callers pass the same objects every time; hashing a layout costs more
        than the rest of the lookup). The cached entry keeps both alive, so their ids stay
        theirs."""
        entry = self._read_plans.get((id(layout), id(features)))
        if entry is None or entry[0] is not layout or entry[1] is not features:
            if len(self._read_plans) >= 256:
                self._read_plans.clear()
            decode = _row_decoder(layout, tuple(features))
            entry = (layout, features, self._keys_prefix(layout), decode)
            self._read_plans[(id(layout), id(features))] = entry
        return entry[2], entry[3]

    def _reader(self) -> Any:
        """This thread's connection for reads, kept between calls: checking one out of the
        pool and back for every read costs as much CPU as the read itself. It goes back to
        the pool on :meth:`close` or when the thread ends."""
        held: _HeldConnection | None = getattr(self._held, "connection", None)
        if held is None or held.pid != os.getpid():  # a forked child opens its own
            held = self._held.connection = _HeldConnection(self.client().connection_pool)
        return held.connection

    def close(self) -> None:
        """Hand this thread's read connection back and disconnect the idle connections;
        those other threads are using stay theirs (the client is shared by every thread and
        reconnects when used again)."""
        held: _HeldConnection | None = getattr(self._held, "connection", None)
        if held is not None:
            del self._held.connection
            held.release()
        with self._lock:
            if self._client is not None:
                self._client.connection_pool.disconnect(inuse_connections=False)

    # --- tables ---------------------------------------------------------------------------

    @property
    def _tables_key(self) -> str:
        return f"{self.key_prefix}tables"

    def tables(self, project: str) -> dict[str, StoredTable]:
        with self._talking() as client:
            raw: Any = self._patiently(lambda: client.hgetall(self._tables_key))
            return _tables(raw, project)

    def sync_tables(
        self,
        project: str,
        layouts: Sequence[TableLayout],
        *,
        drop_missing: bool,
        drop: Collection[str] = (),
    ) -> list[OnlineTableChange]:
        with self._talking() as client:
            changes = self._patiently(
                lambda: self._record_changes(client, project, layouts, drop_missing, drop)
            )
            # The record is committed; now the keys of every changed view go (a view that
            # comes back later starts empty even if this is interrupted: creating sweeps too).
            for change in changes:
                self._delete_matching(client, f"{self._view_prefix(project, change.feature_view)}*")
        return changes

    def _record_changes(
        self,
        client: redis.Redis,
        project: str,
        layouts: Sequence[TableLayout],
        drop_missing: bool,
        drop: Collection[str],
    ) -> list[OnlineTableChange]:
        """Plan the changes and record them in one optimistic transaction, planned again
        whenever another apply changed the record meanwhile."""
        import redis

        wanted = {layout.feature_view: layout for layout in layouts}
        with client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(self._tables_key)  # type: ignore[no-untyped-call]
                    existing = _tables(pipe.hgetall(self._tables_key), project)
                    changes = plan_table_changes(
                        existing, layouts, drop_missing=drop_missing, drop=drop
                    )
                    pipe.multi()
                    for change in changes:
                        field = f"{project}:{change.feature_view}"
                        if change.action == "drop":
                            pipe.hdel(self._tables_key, field)
                        else:
                            layout = wanted[change.feature_view]
                            record = {"table": layout.table, "layout_hash": layout.layout_hash}
                            pipe.hset(self._tables_key, field, json.dumps(record))
                    pipe.execute()
                    return changes
                except redis.WatchError:
                    continue

    def _view_prefix(self, project: str, view: str) -> str:
        return f"{self.key_prefix}{project}:{view}:"

    def _delete_matching(self, client: redis.Redis, pattern: str) -> None:
        match = _glob_escaped(pattern)
        cursor: int = 0
        while True:

            def scan(c: int = cursor) -> tuple[int, list[Any]]:
                found: tuple[int, list[Any]] = client.scan(cursor=c, match=match, count=_SCAN_COUNT)
                return found

            cursor, keys = self._patiently(scan)
            if keys:

                def unlink(k: list[Any] = keys) -> None:
                    client.unlink(*k)

                self._patiently(unlink)
            if cursor == 0:
                return

    def has_rows(self, layout: TableLayout) -> bool:
        with self._talking() as client:
            return bool(self._patiently(lambda: client.exists(self._marker(layout))))

    def _keys_prefix(self, layout: TableLayout) -> str:
        found = self._prefixes.get(layout)
        if found is None:
            view = self._view_prefix(layout.project, layout.feature_view)
            found = self._prefixes[layout] = f"{view}{layout.layout_hash[:12]}:"
        return found

    def _marker(self, layout: TableLayout) -> str:
        return self._keys_prefix(layout)[:-1]

    # --- rows -----------------------------------------------------------------------------

    def write(
        self,
        layout: TableLayout,
        batches: Iterable[pa.RecordBatch],
        on_rows: Callable[[int], None] | None = None,
    ) -> int:
        encode = _row_encoder(layout, self._keys_prefix(layout))
        marker = _bulk(self._marker(layout).encode())
        expiry = _bulk(b"%d" % ((self.key_ttl_seconds or 0) * 1000))
        written = 0
        with self._talking() as client:
            pool = client.connection_pool
            configured = pool.connection_kwargs.get("socket_timeout")  # None: no limit
            patience = None if configured is None else max(self.busy_timeout_seconds, configured, 5)
            calls = _MergeCalls(pool, self._patiently, patience)
            try:
                for batch in batches:
                    keys, rows = encode(batch)
                    for start in range(0, len(keys), _CHUNK_ROWS):
                        end = start + _CHUNK_ROWS
                        call = _merge_call(keys[start:end], rows[start:end], marker, expiry)
                        calls.send(call, min(_CHUNK_ROWS, len(keys) - start))
                    written += batch.num_rows
                    if on_rows is not None:
                        on_rows(written)
                calls.commit()
            finally:
                calls.close()
        return written

    def read(
        self, layout: TableLayout, features: Sequence[str], keys: Sequence[Sequence[Any]]
    ) -> list[StoredRow]:
        prefix, decode = self._read_plan(layout, features)
        if len(keys) == 1:
            names = [f"{prefix}{k}" for k in keys[0]]
        else:
            names = [prefix + _composite(k) for k in zip(*keys, strict=True)]
        with self._talking():
            connection = self._reader()
            packed = connection.pack_command("MGET", *names)

            def mget() -> list[bytes | None]:
                connection.send_packed_command(packed)
                found: list[bytes | None] = connection.read_response()
                return found

            values = self._patiently(mget)
        empty = (None,) * (len(features) + 1)
        return [empty if v is None else decode(v) for v in values]


def _composite(values: Sequence[Any]) -> str:
    return json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))


def _bulk(value: bytes) -> bytes:
    """One argument of a command in Redis's protocol (RESP): ``$<length>\\r\\n<bytes>\\r\\n``."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _bulk_joined(parts: list[Any]) -> pa.Array:
    """Per row, the concatenation of ``parts`` (string columns without nulls, or texts
    repeated on every row) as one argument in Redis's protocol:
    ``$<length>\\r\\n<text>\\r\\n``, in one pass over the strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fixed = sum(len(p.encode()) for p in parts if isinstance(p, str))
    length: Any = pa.scalar(fixed, pa.int64())
    for part in parts:
        if not isinstance(part, str):
            length = pc.add(length, pc.binary_length(part).cast(pa.int64()))  # in bytes
    framed: pa.Array = pc.binary_join_element_wise(
        "$", length.cast(pa.string()), "\r\n", *parts, "\r\n", ""
    )
    return framed


def _joined(texts: pa.Array) -> memoryview:
    """The texts of a string column (no nulls) one after another: a view of its data."""
    _, offsets, data = texts.buffers()
    assert offsets is not None
    assert data is not None
    ends = memoryview(offsets).cast("i")
    return memoryview(data)[ends[texts.offset] : ends[texts.offset + len(texts)]]


def _merge_call(keys: pa.Array, rows: pa.Array, marker: bytes, expiry: bytes) -> list[Any]:
    """The merge script called on a chunk of rows (their keys and rows already in
    protocol form), as pieces of one packed command: EVAL, the script, the number of keys,
    the marker and the keys, then the expiry and the rows."""
    count = len(keys)
    head = b"*%d\r\n$4\r\nEVAL\r\n%s%s%s" % (
        2 * count + 5,
        _SCRIPT,
        _bulk(b"%d" % (count + 1)),
        marker,
    )
    return [head, _joined(keys), expiry, _joined(rows)]


class _HeldConnection:
    """A connection out of the pool, held by one thread for its reads."""

    __slots__ = ("connection", "pid", "pool")

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.connection: Any = pool.get_connection()
        self.pid = os.getpid()

    def release(self) -> None:
        if self.connection is not None and self.pid == os.getpid():
            self.pool.release(self.connection)
        self.connection = None

    def __del__(self) -> None:  # the thread ended (its locals go)
        with suppress(Exception):
            self.release()


class _MergeCalls:
    """One write's merge calls. The first is held back: if it stays the only one it is sent
    alone (a script runs alone). With a second, all go inside MULTI ... EXEC on a connection
    of the write's own, which Redis runs as one: no other client's command comes between
    them, and a writer that dies before EXEC closes its connection, so Redis drops what it
    queued.

    Its waits are bounded by ``patience`` seconds (None: unbounded), not by the client's
    socket timeout (redis-py's default is 5 s): another writer's EXEC may keep Redis from
    reading for longer, and this write's own EXEC takes a few microseconds per row.
    """

    def __init__(
        self, pool: Any, patiently: Callable[[Callable[[], Any]], Any], patience: float | None
    ) -> None:
        self._pool = pool
        self._patiently = patiently
        self._patience = patience
        self._held: list[Any] | None = None
        self._connection: Any = None
        self._queued = 0
        self._rows = 0

    def send(self, call: list[Any], rows: int) -> None:
        self._rows += rows
        if self._connection is None:
            if self._held is None:
                self._held = call
                return
            options = {**self._pool.connection_kwargs, "socket_timeout": self._patience}
            self._connection = connection = self._pool.connection_class(**options)
            self._patiently(lambda: _begin(connection))
            connection.send_packed_command(self._held)
            self._held, self._queued = None, 1
        self._connection.send_packed_command(call)
        self._queued += 1

    def commit(self) -> None:
        if self._connection is not None:
            self._connection.send_packed_command([b"*1\r\n$4\r\nEXEC\r\n"])
            for _ in range(self._queued):
                self._connection.read_response()  # QUEUED, or an error raised here
            # A call Redis refused (out of memory, busy) makes it discard them all
            # (EXECABORT): nothing is written.
            wait = None if self._patience is None else max(self._patience, self._rows * 1e-4)
            for answer in self._connection.read_response(timeout=wait):
                if isinstance(answer, Exception):
                    raise answer
        elif self._held is not None:
            held = self._held
            self._patiently(lambda: self._call_alone(held))

    def _call_alone(self, call: list[Any]) -> None:
        connection = self._pool.get_connection()
        try:
            connection.send_packed_command(call)
            connection.read_response(timeout=self._patience)
        finally:
            self._pool.release(connection)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.disconnect()  # unless EXEC ran, Redis drops the queued calls
            self._connection = None


def _begin(connection: Any) -> None:
    """Open a transaction, waiting for Redis's answer: commands sent after a refused MULTI
    would run one by one."""
    connection.send_packed_command([b"*1\r\n$5\r\nMULTI\r\n"])
    connection.read_response()


def _glob_escaped(pattern: str) -> str:
    """A prefix pattern with the prefix's glob characters escaped (the final ``*`` kept)."""
    body = re.sub(r"([\\*?\[\]])", r"\\\1", pattern[:-1])
    return body + "*"


def _tables(raw: Any, project: str) -> dict[str, StoredTable]:
    found: dict[str, StoredTable] = {}
    for field, value in raw.items():
        owner, _, view = field.decode().partition(":")
        if owner == project:
            record = json.loads(value)
            found[view] = StoredTable(record["table"], record["layout_hash"])
    return found


# --- rows as text ---------------------------------------------------------------------------


def _headers(events: pa.Array, created: pa.Array) -> pa.Array:
    """The 40-digit headers of a batch, computed in Arrow: flipping an int64's sign bit and
    reading it unsigned adds 2**63 exactly; a missing created time becomes 0."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def digits(times: pa.Array) -> pa.Array:
        shifted = pc.bit_wise_xor(times, pa.scalar(-(2**63), pa.int64())).view(pa.uint64())
        return pc.utf8_lpad(shifted.cast(pa.string()), width=20, padding="0")

    made = pc.fill_null(digits(created), "0" * 20)
    headers: pa.Array = pc.binary_join_element_wise(digits(events), made, "")
    return headers


def _row_encoder(
    layout: TableLayout, prefix: str
) -> Callable[[pa.RecordBatch], tuple[pa.Array, pa.Array]]:
    """A batch as its live keys and stored values, each already an argument in Redis's
    protocol, all computed in Arrow: the header, then the features' JSON texts
    (:func:`~store.online.values.json_text_column`) joined into an array. Of several rows
    of one entity in the batch (pushes), only the newest is kept: the merge takes each key
    once per call."""
    count = len(layout.keys)
    features = [json_text_column(t) for _, t in layout.features]

    def encode(batch: pa.RecordBatch) -> tuple[pa.Array, pa.Array]:
        import pyarrow as pa
        import pyarrow.compute as pc

        if count == 1:
            entity = batch.column(0).cast(pa.string())
            distinct = pc.count_distinct(batch.column(0)).as_py()  # faster on integers
        else:
            columns = [batch.column(i).to_pylist() for i in range(count)]
            entity = pa.array([_composite(k) for k in zip(*columns, strict=True)], pa.string())
            distinct = pc.count_distinct(entity).as_py()
        headers = _headers(batch.column(-2), batch.column(-1))
        if distinct < len(entity):
            keep = _newest_per_key(entity, headers)
            batch, entity, headers = batch.take(keep), entity.take(keep), headers.take(keep)
        if entity.null_count or headers.null_count:
            raise OnlineStoreError(
                f"feature view {layout.feature_view!r}: a row without a join key or an event "
                f"time cannot be stored"
            )
        # Each row's text is joined once, already framed as a bulk string: its length in
        # bytes is the sum of its parts' (feature texts are never null: "null").
        parts: list[Any] = [headers, "["]
        for i, text in enumerate(features):
            parts += [","] if i else []
            parts.append(text(batch.column(count + i)))
        parts.append("]")
        rows = _bulk_joined(parts)
        keys = _bulk_joined([prefix, entity])
        return keys, rows

    return encode


def _newest_per_key(entity: pa.Array, headers: pa.Array) -> pa.Array:
    """The positions of each key's row with the greatest header (headers are fixed-width
    digits: they compare as text), in batch order."""
    import pyarrow as pa

    best: dict[str | None, tuple[str, int]] = {}
    for i, (key, header) in enumerate(zip(entity.to_pylist(), headers.to_pylist(), strict=True)):
        kept = best.get(key)
        if kept is None or (header is not None and header > kept[0]):
            best[key] = (header, i)
    return pa.array(sorted(i for _, i in best.values()), pa.int64())


def _value_decoder(dtype: DType) -> Callable[[Any], Any] | None:
    """How a JSON value becomes the dtype's Python value (None: as it is)."""
    if is_nested(dtype):
        return from_json_ready(dtype)
    scalar: dict[DType, Callable[[Any], Any]] = {
        UnixTimestamp: from_micros,
        Bytes: base64.b64decode,
        Float32: float,  # a whole float may be written without its .0
        Float64: float,
    }
    if isinstance(dtype, Array):
        element = scalar.get(dtype.element)
        if element is None:
            return None
        return lambda values: [None if v is None else element(v) for v in values]
    return scalar.get(dtype)


@lru_cache(maxsize=256)
def _row_decoder(layout: TableLayout, features: tuple[str, ...]) -> Callable[[bytes], StoredRow]:
    """A stored value as the requested features, then the event time."""
    position = {name: i for i, (name, _) in enumerate(layout.features)}
    dtypes = dict(layout.features)
    picks = [position[f] for f in features]
    decoders = [(i, d) for i, f in enumerate(features) if (d := _value_decoder(dtypes[f]))]
    loads = json.loads

    def decode(value: bytes) -> StoredRow:
        row = loads(value[_HEADER:])
        picked = [row[i] for i in picks]
        for i, convert in decoders:
            if picked[i] is not None:
                picked[i] = convert(picked[i])
        picked.append(int(value[:20]) - _OFFSET)
        return tuple(picked)

    return decode
