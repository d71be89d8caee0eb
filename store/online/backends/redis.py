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

Writes. Rows are first staged in private hashes (expiring after a day, so a killed writer
leaves nothing that lasts), then one Lua script merges every staged row into the live keys:
a row replaces the stored one only if its header is greater (later event time, or the same
and a later created time; a missing created time is oldest). Redis runs a script alone, so
two writers cannot interleave between the comparison and the write, and readers see a whole
write or none of it. The price: while a script merges, Redis answers everyone else "BUSY"
once it has run for five seconds (its ``busy-reply-threshold``); Silage's commands then wait
and retry, for up to ``busy_timeout_seconds`` (default 60). A merge takes a few microseconds
per row, so loads of many millions of rows are best split into several windows.

Reads. One ``MGET`` per view answers every entity, in order.

Example:
    >>> parse_connection_string("redis.internal:6380,db=1,password=secret,ssl=true")
    ([('redis.internal', 6380)], {'db': 1, 'password': 'secret', 'ssl': True})
    >>> shown_connection_string("redis.internal:6380,db=1,password=secret")
    'redis.internal:6380,db=1,password=***'
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from store.epoch import from_micros
from store.errors import OnlineStoreError
from store.online.layout import OnlineTableChange, StoredTable, TableLayout, plan_table_changes
from store.online.values import from_json_ready, json_ready_column
from store.types import Array, Bytes, DType, UnixTimestamp, is_nested

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
_STAGING_TTL_SECONDS = 86_400
_STAGING_ROWS = 10_000  # rows per staging hash: the merge reads one hash at a time
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

# The merge: KEYS are staging hashes (entity key -> row); ARGV the live key prefix, the
# expiry in milliseconds (0: none) and the view's marker key. Headers compare as four
# 10-digit numbers: exact in Lua's doubles, whatever the server's locale.
_MERGE = """
local prefix, ttl, marker = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local sub = string.sub
local function newer(a, b)
  for i = 1, 31, 10 do
    local x, y = tonumber(sub(a, i, i + 9)), tonumber(sub(b, i, i + 9))
    if x ~= y then return x > y end
  end
  return false
end
local written = 0
for _, staging in ipairs(KEYS) do
  local entries = redis.call('HGETALL', staging)
  for i = 1, #entries, 2 do
    local key, row = prefix .. entries[i], entries[i + 1]
    if ttl > 0 then
      local old = redis.call('GET', key)
      if not old or newer(row, old) then
        redis.call('SET', key, row, 'PX', ttl)
        written = written + 1
      end
    else
      -- One command when the new row wins (the usual case); else the old one goes back,
      -- before anyone else can look (a script runs alone).
      local old = redis.call('SET', key, row, 'GET')
      if old and not newer(row, old) then
        redis.call('SET', key, old)
      else
        written = written + 1
      end
    end
  end
  redis.call('DEL', staging)
end
if written > 0 then redis.call('SET', marker, '1') end
return written
"""


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
        self._merge: Any = None
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
                "redis_cluster is not supported: a write is merged by one server-side script "
                "over all of its keys, which a cluster cannot run across slots; use a single "
                "server (with replicas) as `redis`, or `redis_sentinel`",
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
                self._merge = self._client.register_script(_MERGE)
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

    def close(self) -> None:
        """Disconnect the idle connections; those other threads are using stay theirs (the
        client is shared by every thread and reconnects when used again)."""
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
        encode = _row_encoder(layout)
        staged: list[str] = []
        written = 0
        run = uuid.uuid4().hex
        ttl_ms = (self.key_ttl_seconds or 0) * 1000
        with self._talking() as client:
            try:
                for batch in batches:
                    rows = encode(batch)
                    first = len(staged)
                    names = [
                        f"{self.key_prefix}staging:{run}:{first + i}"
                        for i in range((len(rows) + _STAGING_ROWS - 1) // _STAGING_ROWS)
                    ]

                    def stage(n: list[str] = names, r: list[tuple[str, str]] = rows) -> None:
                        self._stage(client, n, r)

                    self._patiently(stage)
                    staged += names
                    written += batch.num_rows
                    if on_rows is not None:
                        on_rows(written)
                if staged:
                    args = [self._keys_prefix(layout), ttl_ms, self._marker(layout)]
                    self._patiently(lambda: self._merge(keys=staged, args=args))
            except BaseException:
                if staged:
                    with suppress(Exception):  # they expire in a day anyway
                        self._patiently(lambda: client.unlink(*staged))
                raise
        return written

    @staticmethod
    def _stage(client: redis.Redis, names: list[str], rows: list[tuple[str, str]]) -> None:
        """Stage rows in hashes ``names``, ``_STAGING_ROWS`` each, in one round trip."""
        with client.pipeline(transaction=False) as pipe:
            for i, name in enumerate(names):
                part = rows[i * _STAGING_ROWS : (i + 1) * _STAGING_ROWS]
                pipe.hset(name, mapping=dict(part))
                pipe.expire(name, _STAGING_TTL_SECONDS)
            pipe.execute()

    def read(
        self, layout: TableLayout, features: Sequence[str], keys: Sequence[Sequence[Any]]
    ) -> list[StoredRow]:
        prefix = self._keys_prefix(layout)
        if len(keys) == 1:
            names = [f"{prefix}{k}" for k in keys[0]]
        else:
            names = [prefix + _composite(k) for k in zip(*keys, strict=True)]
        with self._talking() as client:
            values = self._patiently(lambda: client.mget(names))
        decode = _row_decoder(layout, tuple(features))
        empty = (None,) * (len(features) + 1)
        return [empty if v is None else decode(v) for v in values]  # type: ignore[arg-type]


def _composite(values: Sequence[Any]) -> str:
    return json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))


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

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _column_encoder(dtype: DType) -> Callable[[pa.Array], list[Any]]:
    """An Arrow column as JSON-ready Python values: timestamps as integer microseconds,
    bytes as base64 text (in arrays too)."""
    import pyarrow as pa

    if dtype == UnixTimestamp:
        return lambda column: column.cast(pa.int64()).to_pylist()
    if is_nested(dtype):
        return json_ready_column(dtype)
    if dtype == Bytes:
        return lambda column: [_base64(v) for v in column.to_pylist()]
    if isinstance(dtype, Array) and dtype.element == UnixTimestamp:
        as_micros = pa.list_(pa.int64())
        return lambda column: column.cast(as_micros).to_pylist()
    if isinstance(dtype, Array) and dtype.element == Bytes:
        return lambda column: [
            None if v is None else [_base64(b) for b in v] for v in column.to_pylist()
        ]
    return lambda column: column.to_pylist()


def _base64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode("ascii")


def _headers(events: pa.Array, created: pa.Array) -> list[str]:
    """The 40-digit headers of a batch, computed in Arrow: flipping an int64's sign bit and
    reading it unsigned adds 2**63 exactly; a missing created time becomes 0."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def digits(times: pa.Array) -> pa.Array:
        shifted = pc.bit_wise_xor(times, pa.scalar(-(2**63), pa.int64())).view(pa.uint64())
        return pc.utf8_lpad(shifted.cast(pa.string()), width=20, padding="0")

    made = pc.fill_null(digits(created), "0" * 20)
    headers: list[str] = pc.binary_join_element_wise(digits(events), made, "").to_pylist()
    return headers


def _row_encoder(layout: TableLayout) -> Callable[[pa.RecordBatch], list[tuple[str, str]]]:
    """A batch as (entity key, stored value) pairs; of two rows of one entity in the batch,
    only the newer is kept (a staging hash holds one value per entity)."""
    count = len(layout.keys)
    features = [_column_encoder(t) for _, t in layout.features]

    def encode(batch: pa.RecordBatch) -> list[tuple[str, str]]:
        import pyarrow as pa
        import pyarrow.compute as pc

        if count == 1:
            entity = batch.column(0).cast(pa.string()).to_pylist()
            unique = pc.count_distinct(batch.column(0)).as_py() == batch.num_rows
        else:
            columns = [batch.column(i).to_pylist() for i in range(count)]
            entity = [_composite(k) for k in zip(*columns, strict=True)]
            unique = len(set(entity)) == len(entity)
        values = [enc(batch.column(count + i)) for i, enc in enumerate(features)]
        headers = _headers(batch.column(count + len(features)), batch.column(-1))
        dump = _JSON.encode
        rows_of = zip(*values, strict=True) if values else ([] for _ in headers)
        stored = [h + dump(row) for h, row in zip(headers, rows_of, strict=True)]
        if unique:  # a materialization's batch: one row per entity already
            return list(zip(entity, stored, strict=True))
        rows: dict[str, str] = {}
        for key, value in zip(entity, stored, strict=True):
            kept = rows.get(key)
            if kept is None or value[:_HEADER] > kept[:_HEADER]:
                rows[key] = value
        return list(rows.items())

    return encode


def _value_decoder(dtype: DType) -> Callable[[Any], Any] | None:
    """How a JSON value becomes the dtype's Python value (None: as it is)."""
    if is_nested(dtype):
        return from_json_ready(dtype)
    scalar: dict[DType, Callable[[Any], Any]] = {
        UnixTimestamp: from_micros,
        Bytes: base64.b64decode,
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
