"""Connections: URLs, an unreachable server, pool settings for servers."""

from __future__ import annotations

import pytest

from registry import Registry, RegistryError, RegistryUnavailableError
from registry.database import Database, normalize_url


def test_an_unreachable_registry_names_its_url_without_the_password() -> None:
    # Port 1 on localhost: nothing listens there, so the connection is refused at once.
    with pytest.raises(RegistryUnavailableError) as caught:
        Registry("postgresql://ana:s3cret@127.0.0.1:1/registry")
    message = str(caught.value)
    assert "postgresql+psycopg://ana:***@127.0.0.1:1/registry" in message
    assert "s3cret" not in message
    assert "check that the server is running" in message
    assert isinstance(caught.value, ConnectionError)
    assert isinstance(caught.value, RegistryError)


def test_bare_postgresql_urls_mean_psycopg_and_other_urls_are_kept() -> None:
    assert normalize_url("postgres://h/db") == "postgresql+psycopg://h/db"
    assert normalize_url("postgresql+psycopg2://h/db") == "postgresql+psycopg2://h/db"
    assert normalize_url("sqlite:///r.db") == "sqlite:///r.db"


def test_server_engines_pre_ping_and_time_out(registry_url: str) -> None:
    db = Database(registry_url, engine_options={"echo": False})
    try:
        if db.is_postgresql:
            assert db.engine.pool._pre_ping  # type: ignore[attr-defined]
            assert db.engine.pool.timeout() == 30  # type: ignore[attr-defined]
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "1min"
        with Registry(registry_url) as registry:
            assert repr(registry).startswith("Registry(")
    finally:
        db.dispose()
