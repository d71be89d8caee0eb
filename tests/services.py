"""The servers some tests talk to (PostgreSQL, Redis), and a private namespace on each.

Tests that need a server ask for it through :func:`postgres_server` or :func:`redis_server`.
Where the server is not running (a contributor's laptop) the test is skipped with one line
that says how to start it; under ``CI=true`` an absent server fails the test instead, so CI
can never pass by skipping. Each test then works in a namespace of its own that it removes
afterwards: a fresh PostgreSQL database (:func:`fresh_postgres_database`) or a key prefix
on Redis (:func:`fresh_redis_prefix`).

The addresses come from ``SILAGE_TEST_POSTGRES`` (a SQLAlchemy URL of a server where the
test user may create databases; default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``)
and ``SILAGE_TEST_REDIS`` (default ``redis://127.0.0.1:6379/0``).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get(
    "SILAGE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("SILAGE_TEST_REDIS", "redis://127.0.0.1:6379/0")

HOW_TO_START = {
    "PostgreSQL": "start one with `sudo service postgresql start` (or `docker run -p 5432:5432 "
    "-e POSTGRES_HOST_AUTH_METHOD=trust postgres:15`), or point SILAGE_TEST_POSTGRES at one",
    "Redis": "start one with `redis-server --daemonize yes` (or `docker run -p 6379:6379 "
    "redis:7`), or point SILAGE_TEST_REDIS at one",
}


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def _require(name: str, url: str, default_port: int) -> str:
    if _reachable(url, default_port):
        return url
    message = f"{name} is not running at {urlsplit(url).netloc}: {HOW_TO_START[name]}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def postgres_server() -> str:
    """The URL of the test PostgreSQL server; skips (or fails under CI=true) without one."""
    return _require("PostgreSQL", POSTGRES_URL, 5432)


def redis_server() -> str:
    """The URL of the test Redis server; skips (or fails under CI=true) without one."""
    return _require("Redis", REDIS_URL, 6379)


def unique_name(prefix: str = "silage_test") -> str:
    """A name no other test (or test run) uses: safe as a database, schema or key prefix."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards; yields its URL.

    The database sorts text by an English locale's rules (ICU's ``en-US``, where ``'a' <
    'B'``), as a team's server usually does, not by code point as a ``C`` server would:
    SQL whose order depends on the collation must say so to pass here.
    """
    import sqlalchemy as sa

    server = postgres_server()
    name = unique_name()
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                    f"ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                )
            )
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_redis_prefix() -> Iterator[tuple[str, str]]:
    """A key prefix no one else uses on the test Redis; yields (url, prefix) and deletes
    every key under the prefix afterwards."""
    url = redis_server()
    prefix = unique_name() + ":"
    try:
        yield url, prefix
    finally:
        delete_redis_keys(url, prefix)


def delete_redis_keys(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (a name from :func:`unique_name`) on ``url``."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


def drop_postgres_schema(url: str, schema: str) -> None:
    """Drop ``schema`` (a name from :func:`unique_name`) and all it holds, if it exists."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


CHROMIUM = os.environ.get("SILAGE_CHROMIUM", "/usr/bin/chromium")


def chromium() -> str:
    """The path of the Chromium the browser tests drive (Debian's package); skips (or fails
    under ``CI=true``) without it or without Playwright."""
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f"Chromium at {CHROMIUM}")
    try:
        import axe_playwright_python  # noqa: F401
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright and axe-playwright-python")
    if not missing:
        return CHROMIUM
    message = f"{' and '.join(missing)} missing: run `make browser` (installs both)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)
