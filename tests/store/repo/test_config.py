"""feature_store.yaml: Feast's keys, relative paths, warnings and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from store.errors import ConfigError
from store.repo.config import load_config


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "feature_store.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_feast_config_loads_unchanged_and_paths_resolve_against_the_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = write(
        tmp_path,
        "project: driver_ranking\n"
        "registry: data/registry.db\n"
        "provider: local\n"
        "online_store:\n  type: sqlite\n  path: data/online_store.db\n"
        "offline_store:\n  type: file\n"
        "entity_key_serialization_version: 3\n",
    )
    monkeypatch.chdir("/")
    config = load_config(repo)
    assert config.project == "driver_ranking"
    assert config.registry_url == f"sqlite:///{(repo / 'data' / 'registry.db').as_posix()}"
    assert config.online_backend().path == repo / "data" / "online_store.db"  # type: ignore[attr-defined]
    assert (config.offline_store.type, config.online_store.type) == ("file", "sqlite")
    assert type(config.offline_engine()).__name__ == "DuckDBEngine"  # Feast's file store


def test_registry_may_be_a_url_or_feast_style_mapping(tmp_path: Path) -> None:
    write(tmp_path, "project: p\nregistry: postgresql://db.local/feast\n")
    assert load_config(tmp_path).registry_url == "postgresql://db.local/feast"
    write(tmp_path, "project: p\nregistry:\n  registry_type: sql\n  path: sqlite:///reg.db\n")
    assert load_config(tmp_path).registry_url == f"sqlite:///{(tmp_path / 'reg.db').as_posix()}"
    write(
        tmp_path,
        "project: p\nregistry:\n  registry_type: sql\n  path: postgresql+psycopg://db/r\n"
        "  cache_ttl_seconds: 600\n  poll_seconds: 2\n"
        "  sqlalchemy_config_kwargs: {pool_size: 20}\n",
    )
    config = load_config(tmp_path)
    assert (config.registry_url, config.registry_cache_seconds) == (
        "postgresql+psycopg://db/r",
        600,
    )
    assert config.registry_poll_seconds == 2
    assert config.registry_engine_options is not None
    assert dict(config.registry_engine_options.values) == {"pool_size": 20}


def test_unknown_keys_warn_by_name(tmp_path: Path) -> None:
    write(tmp_path, "project: p\nfeature_server: {enabled: true}\n")
    with pytest.warns(UserWarning, match="unknown keys ignored: feature_server"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("project: p\nregistry: [unclosed\n", "not valid YAML at line"),
        ("- a\n- b\n", "expected a mapping"),
        ("registry: r.db\n", "project: None is not valid"),
        ("project: 9lives\n", "project: '9lives' is not valid"),
        ("project: p\nprovider: gcp\n", "provider: 'gcp' is not supported"),
        ("project: p\nonline_store: {type: dynamodb}\n", "online_store type 'dynamodb'"),
        ("project: p\noffline_store: {type: bigquery}\n", "offline_store type 'bigquery'"),
        ("project: p\nregistry: 12\n", "registry: 12 is not valid"),
        ("project: p\nregistry: {registry_type: snowflake.registry, path: r}\n", "`sql`"),
        ("project: p\nregistry: {path: r.db, poll_seconds: soon}\n", "poll_seconds: 'soon'"),
        ("project: p\nregistry: {path: r.db, sqlalchemy_config_kwargs: 3}\n", "a mapping"),
        ("project: p\nartifact_store: {uri: 'ftp://h/a'}\n", "uri: 'ftp://h/a' is not supported"),
        ("project: p\nartifact_store: {uri: a, storage_options: 1}\n", "storage_options must"),
    ],
)
def test_malformed_config_names_the_file_and_fix(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(tmp_path)
    assert str(tmp_path / "feature_store.yaml") in str(info.value)


def test_missing_config_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="silage init"):
        load_config(tmp_path)


def test_offline_store_settings_default_and_override(tmp_path: Path) -> None:
    write(tmp_path, "project: p\n")
    engine: Any = load_config(tmp_path).offline_engine()
    assert (engine.memory_limit, engine.threads) == ("1GB", None)
    write(tmp_path, "project: p\noffline_store: {type: duckdb, memory_limit: 8GB, threads: 2}\n")
    engine = load_config(tmp_path).offline_engine()
    assert (engine.memory_limit, engine.threads) == ("8GB", 2)
    write(tmp_path, "project: p\noffline_store: {type: duckdb, threads: many}\n")
    with pytest.raises(ConfigError, match="offline_store threads: 'many' is not valid"):
        load_config(tmp_path)
    write(tmp_path, "project: p\noffline_store: {type: duckdb, memory_limit: 2}\n")
    with pytest.raises(ConfigError, match=r"memory_limit: 2 is not valid; .* such as 2GB"):
        load_config(tmp_path)


def test_a_section_may_be_just_its_type_as_in_feast(tmp_path: Path) -> None:
    write(tmp_path, "project: p\noffline_store: file\nonline_store: sqlite\n")
    config = load_config(tmp_path)
    assert (config.offline_store.type, config.online_store.type) == ("file", "sqlite")
    assert config.online_backend().path == tmp_path / "data" / "online_store.db"  # type: ignore[attr-defined]


def test_each_backend_warns_about_keys_it_does_not_read(tmp_path: Path) -> None:
    write(tmp_path, "project: p\noffline_store: {type: duckdb, thread: 2}\n")
    with pytest.warns(UserWarning, match="unknown keys under offline_store ignored: thread"):
        load_config(tmp_path)
    write(
        tmp_path,
        "project: p\nonline_store: {type: sqlite, path: x.db, enforce_ttl: false, host: h}\n",
    )
    with pytest.warns(UserWarning, match="unknown keys under online_store ignored: host$"):
        config = load_config(tmp_path)
    assert config.online_enforce_ttl is False
    write(tmp_path, "project: p\nonline_store: {type: sqlite, path: 7}\n")
    with pytest.raises(ConfigError, match="online_store path: 7 is not valid"):
        load_config(tmp_path)


def test_feasts_own_registry_file_at_the_registry_path_is_refused_with_the_fix(
    tmp_path: Path,
) -> None:
    """`feast apply` writes a protobuf registry at Feast's default path, which is Silage's
    default too: a clear error, not SQLite's "file is not a database"."""
    repo = write(tmp_path, "project: p\nregistry: data/registry.db\n")
    (repo / "data").mkdir()
    (repo / "data" / "registry.db").write_bytes(b"\n\x0cdriver_app\x12\x04\x08\x01")
    with pytest.raises(ConfigError, match=r"registry: data/registry.db is not a SQLite database"):
        load_config(repo)
    import sqlite3

    (repo / "data" / "registry.db").unlink()
    sqlite3.connect(repo / "data" / "registry.db").execute("create table t (x)").connection.close()
    assert load_config(repo).registry_url.endswith("data/registry.db")
