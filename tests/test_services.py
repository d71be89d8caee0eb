"""The server helpers: an absent server skips a test, except under CI=true where it fails."""

from __future__ import annotations

import pytest

from tests import services

ABSENT = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there


def test_absent_server_skips_with_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "REDIS_URL", ABSENT)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server --daemonize yes"):
        services.redis_server()


def test_absent_server_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "REDIS_URL", ABSENT)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(
        pytest.fail.Exception, match=r"CI=true: Redis is not running at 127\.0\.0\.1:9"
    ):
        services.redis_server()


def test_fresh_postgres_database_is_private_and_dropped() -> None:
    import sqlalchemy as sa

    with services.fresh_postgres_database() as url:
        name = sa.make_url(url).database
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == name
        engine.dispose()
    admin = sa.create_engine(services.POSTGRES_URL)
    with admin.connect() as conn:
        left = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        assert left.first() is None
    admin.dispose()


def test_fresh_redis_prefix_leaves_no_keys() -> None:
    import redis

    with services.fresh_redis_prefix() as (url, prefix):
        client = redis.Redis.from_url(url)
        client.set(prefix + "a", 1)
    assert client.exists(prefix + "a") == 0
    client.close()
