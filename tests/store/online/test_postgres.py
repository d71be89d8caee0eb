"""What only the PostgreSQL backend promises: Feast's settings, native column types, long
view names, one query per view, and errors that never show a password.

Everything every backend promises is in the conformance suite, which PostgreSQL runs too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from store.errors import ConfigError, OnlineStoreError
from store.online.backends.postgres import PostgresBackend, table_name
from store.online.layout import TableLayout
from store.settings import Settings
from store.types import Array, Float32, Int64, String, UnixTimestamp
from tests.backends import drop_online_store, online_settings
from tests.store.online.test_backend_conformance import STATS, batch, stats_row


def settings(**values: Any) -> Settings:
    return Settings(
        section="online_store",
        type="postgres",
        values=values,
        config_path=Path("/repo/feature_store.yaml"),
    )


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[PostgresBackend]:
    values = online_settings("postgres", tmp_path)
    store = PostgresBackend.from_settings(settings(**values))
    try:
        yield store
    finally:
        store.close()
        drop_online_store("postgres", values)


def test_feasts_keys() -> None:
    store = PostgresBackend.from_settings(
        settings(
            host="db",
            port=6543,
            database="features",
            db_schema="online",
            user="u",
            password="hunter2",
            sslmode="require",
        )
    )
    assert (store.host, store.port, store.database, store.db_schema) == (
        "db",
        6543,
        "features",
        "online",
    )
    assert "hunter2" not in repr(store)
    with pytest.raises(ConfigError, match="online_store port: 0 is not a port number"):
        PostgresBackend.from_settings(settings(port=0))


def test_an_unreachable_server_says_where_without_the_password() -> None:
    store = PostgresBackend(
        host="127.0.0.1", port=1, user="u", password="hunter2", options={"connect_timeout": 1}
    )
    with pytest.raises(OnlineStoreError, match=r"postgresql://u@127.0.0.1:1/postgres") as e:
        store.tables("p")
    assert "hunter2" not in str(e.value)
    assert "check online_store host, port" in str(e.value)


def test_columns_have_postgres_types_and_long_names_fit(pg_store: PostgresBackend) -> None:
    layout = TableLayout(
        project="p",
        feature_view="v" * 70,
        keys=(("driver_id", Int64), ("city", String)),
        features=(("rate", Float32), ("seen", Array(UnixTimestamp))),
    )
    pg_store.sync_tables("p", [layout], drop_missing=True)
    name = table_name(layout)
    assert len(name) == 63
    with pg_store.connection().cursor() as cur:
        cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (pg_store.db_schema, name),
        )
        assert cur.fetchall() == [
            ("driver_id", "bigint"),
            ("city", "text"),
            ("rate", "real"),
            ("seen", "ARRAY"),
            ("__event_ts", "bigint"),
            ("__created_ts", "bigint"),
        ]
    assert pg_store.tables("p")["v" * 70].table == name


def test_many_entities_are_one_query(
    pg_store: PostgresBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_store.sync_tables("p", [STATS], drop_missing=True)
    pg_store.write(STATS, [batch(STATS, [stats_row(d, d, d) for d in range(1000)])])
    queries: list[str] = []
    original = psycopg.Cursor.execute

    def counted(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        queries.append(str(query))
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    keys = list(range(999, -1, -1))
    assert pg_store.read(STATS, ["trips"], [keys]) == [(k, k) for k in keys]
    assert len(queries) == 1
    assert "unnest" in queries[0]
