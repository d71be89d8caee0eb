"""What only the Redis backend promises: Feast's settings, its key layout and expiry, one
round trip per view, and errors that never show a password.

Everything every backend promises is in the conformance suite, which Redis runs too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.errors import ConfigError, OnlineStoreError
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
    client = redis_store.client()
    calls: list[str] = []
    original = client.execute_command

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(str(args[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", counted)
    keys = list(range(999, -1, -1))
    assert redis_store.read(STATS, ["trips"], [keys]) == [(k, k) for k in keys]
    assert calls == ["MGET"]
