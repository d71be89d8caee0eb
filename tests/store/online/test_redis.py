"""What only the Redis backend promises: Feast's settings, its key layout and expiry, one
round trip per view, and errors that never show a password.

Everything every backend promises is in the conformance suite, which Redis runs too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import redis

from store.errors import ConfigError, OnlineStoreError
from store.online.backends import redis as redis_backend
from store.online.backends.redis import RedisBackend, parse_connection_string
from store.online.layout import TableLayout
from store.settings import Settings
from store.types import Int64
from tests.backends import online_settings
from tests.services import delete_redis_keys, redis_server
from tests.store.online.test_backend_conformance import STATS, batch, stats_row

OTHER = TableLayout(project="p", feature_view="other", keys=STATS.keys, features=(("n", Int64),))


def settings(**values: Any) -> Settings:
    return Settings(
        section="online_store",
        type="redis",
        values=values,
        config_path=Path("/repo/feature_store.yaml"),
    )


@pytest.fixture
def redis_store(tmp_path: Path) -> Iterator[RedisBackend]:
    values = online_settings("redis", tmp_path)
    store = RedisBackend.from_settings(settings(**values, key_ttl_seconds=3600))
    store.sync_tables("p", [STATS, OTHER], drop_missing=True)
    try:
        yield store
    finally:
        store.close()
        delete_redis_keys(redis_server(), values["key_prefix"])


def test_feasts_connection_string_and_settings() -> None:
    assert parse_connection_string("localhost:6379,db=1") == ([("localhost", 6379)], {"db": 1})
    hosts, options = parse_connection_string("a:26379,b:26379,ssl=false,username=u")
    assert (hosts, options) == ([("a", 26379), ("b", 26379)], {"ssl": False, "username": "u"})
    store = RedisBackend.from_settings(
        settings(connection_string="h:1,password=pw", key_ttl_seconds=60, key_prefix="team:")
    )
    assert (store.key_ttl_seconds, store.key_prefix) == (60, "team:")
    assert "pw" not in repr(store)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"redis_type": "redis_cluster"}, "redis_type: redis_cluster is not supported"),
        ({"redis_type": "memcached"}, "'memcached' is not one of redis, redis_sentinel"),
        ({"connection_string": "h:1,dbx=2"}, "unknown option 'dbx'"),
        ({"connection_string": "h:port"}, "'h:port' is not host:port"),
        ({"connection_string": "h:1,password=hunter2,db=x"}, "option db='x' is not valid"),
        ({"key_ttl_seconds": 0}, "key_ttl_seconds: 0 must be a positive number"),
    ],
)
def test_bad_settings_name_the_key_and_hide_passwords(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        RedisBackend.from_settings(settings(**values))
    assert "hunter2" not in str(error.value)


def test_an_unreachable_server_says_where_without_the_password() -> None:
    store = RedisBackend("127.0.0.1:1,password=hunter2,socket_connect_timeout=1")
    with pytest.raises(
        OnlineStoreError,
        match=r"'127.0.0.1:1,password=\*\*\*,socket_connect_timeout=1' cannot be reached",
    ) as e:
        store.tables("p")
    assert "hunter2" not in str(e.value)


def test_one_key_per_entity_per_view_expiring_on_its_own(redis_store: RedisBackend) -> None:
    client = redis_store.client()
    redis_store.write(STATS, [batch(STATS, [stats_row(1, 1, 100)])])
    redis_store.write(OTHER, [batch(OTHER, [{"driver_id": 1, "n": 5, "__event_ts": 100}])])
    prefix = redis_store.key_prefix
    keys = sorted(k.decode() for k in client.scan_iter(match=f"{prefix}p:*"))
    assert (
        keys
        == [
            f"{prefix}p:other:{OTHER.layout_hash[:12]}",  # the markers: each view has rows
            f"{prefix}p:other:{OTHER.layout_hash[:12]}:1",
            f"{prefix}p:stats:{STATS.layout_hash[:12]}",
            f"{prefix}p:stats:{STATS.layout_hash[:12]}:1",
        ]
    )
    stats_key, other_key = keys[3], keys[1]
    assert 0 < client.pttl(stats_key) <= 3_600_000  # key_ttl_seconds
    client.pexpire(other_key, 50_000)
    # A newer row of one view renews that view's key only.
    redis_store.write(STATS, [batch(STATS, [stats_row(1, 2, 200)])])
    assert client.pttl(other_key) <= 50_000
    client.pexpire(stats_key, 40_000)
    redis_store.write(STATS, [batch(STATS, [stats_row(1, 0, 50)])])  # older: not written
    assert client.pttl(stats_key) <= 40_000
    assert redis_store.read(STATS, ["trips"], [[1]]) == [(2, 200)]


def test_many_entities_are_one_round_trip(
    redis_store: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_store.write(STATS, [batch(STATS, [stats_row(d, d, d) for d in range(1000)])])
    sent: list[bytes] = []
    original = redis.connection.Connection.send_packed_command

    def counted(self: Any, command: Any, check_health: bool = True) -> None:
        pieces = [command] if isinstance(command, bytes | str) else command
        sent.append(b"".join(p.encode() if isinstance(p, str) else bytes(p) for p in pieces))
        original(self, command, check_health)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counted)
    keys = list(range(999, -1, -1))
    assert redis_store.read(STATS, ["trips"], [keys]) == [(k, k) for k in keys]
    assert [command.split(b"\r\n")[2] for command in sent] == [b"MGET"]


def test_a_write_of_many_calls_is_one_transaction(
    redis_store: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls of the merge script beyond the first go inside MULTI: a write that fails after
    several of them were sent leaves every key as it was, one that completes changes all."""
    monkeypatch.setattr(redis_backend, "_CHUNK_ROWS", 3)
    redis_store.write(STATS, [batch(STATS, [stats_row(d, 0, 100) for d in range(10)])])

    def failing() -> Iterator[pa.RecordBatch]:
        yield batch(STATS, [stats_row(d, 1, 200) for d in range(10)])  # four calls, sent
        raise RuntimeError("the source broke midway")

    with pytest.raises(RuntimeError, match="midway"):
        redis_store.write(STATS, failing())
    assert {row[0] for row in redis_store.read(STATS, ["trips"], [list(range(10))])} == {0}
    rows = [stats_row(d % 10, d, 200 + d) for d in range(20)]  # every key twice, one batch
    assert redis_store.write(STATS, [batch(STATS, rows)]) == 20
    assert redis_store.read(STATS, ["trips"], [list(range(10))]) == [
        (d + 10, 210 + d) for d in range(10)
    ]
