"""The engines and backends the conformance suites run against, and how tests set them up.

Every name in ``store.offline.engines.ENGINES`` and ``store.online.backends.BACKENDS`` is
a parameter of the shared suites: a new engine or backend is tested by the suites the others
pass as soon as it has a table entry and, below, the settings its tests use (and, for a
server, how a test gets a namespace of its own and leaves nothing behind).

A test parametrized by ``engine`` or ``backend`` may mark a known gap with
``@pytest.mark.notimpl(["name"], reason=...)``: it then must fail for that backend
(strict xfail), so the mark is removed as soon as the gap closes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from store.offline.engine import OfflineEngine
from store.offline.engines import ENGINES, engine_class
from store.online.backend import OnlineBackend
from store.online.backends import BACKENDS, backend_class
from store.settings import Settings
from tests import services

# The `offline_store:` settings tests use per engine (besides `type`).
OFFLINE_SETTINGS: dict[str, dict[str, Any]] = {
    "duckdb": {"threads": 1},
    # One small local session for the whole run (Spark keeps one per process).
    "spark": {
        "spark_conf": {
            "spark.master": "local[2]",
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.driver.memory": "1g",
            # Tables tests save (SparkSource) go to the system's temporary folder, not to a
            # spark-warehouse folder in the working directory.
            "spark.sql.warehouse.dir": str(Path(tempfile.gettempdir()) / "silage-spark-warehouse"),
        }
    },
}


# Each example of a generated-data test costs a few Spark jobs (about a second each on two
# cores), so the Spark engine runs a share of the examples DuckDB runs: the same properties,
# fewer draws per CI run (hypothesis draws new ones every run).
EXAMPLE_SHARE: dict[str, float] = {"spark": 0.2}


def examples(engine: str, count: int) -> int:
    """How many hypothesis examples a generated-data test runs for ``engine``."""
    return max(5, round(count * EXAMPLE_SHARE.get(engine, 1.0)))


# How each engine's SQL reads a Parquet file as a table (for entity tables given as SQL).
_PARQUET_TABLE = {"duckdb": "'{path}'", "spark": "parquet.`{path}`"}


def parquet_table(dialect: str, path: Path) -> str:
    """A Parquet file as a table in ``dialect``'s SQL."""
    return _PARQUET_TABLE[dialect].format(path=path)


def online_settings(name: str, folder: Path) -> dict[str, Any]:
    """The `online_store:` settings (besides `type`) of a fresh, private store for one test:
    a file in the test's folder, a key prefix or a schema of its own on a server."""
    if name == "sqlite":
        return {"path": str(folder / "online_store.db")}
    if name == "redis":
        parts = urlsplit(services.redis_server())
        db = parts.path.strip("/") or "0"
        return {
            "connection_string": f"{parts.hostname}:{parts.port or 6379},db={db}",
            "key_prefix": services.unique_name() + ":",
        }
    if name == "postgres":
        url = urlsplit(services.postgres_server())
        return {
            "host": url.hostname,
            "port": url.port or 5432,
            "database": url.path.strip("/") or "postgres",
            "user": url.username or "postgres",
            **({"password": url.password} if url.password else {}),
            "db_schema": services.unique_name(),
        }
    raise AssertionError(f"tests/backends.py: say how tests configure online backend {name!r}")


def drop_online_store(name: str, settings: dict[str, Any]) -> None:
    """Remove what a test's online store left behind (files go with the test's folder)."""
    if name == "sqlite":
        return
    if name == "redis":
        services.delete_redis_keys(services.REDIS_URL, settings["key_prefix"])
        return
    if name == "postgres":
        services.drop_postgres_schema(services.POSTGRES_URL, settings["db_schema"])
        return
    raise AssertionError(f"tests/backends.py: say how tests clean up online backend {name!r}")


OFFLINE_ENGINES = [pytest.param(name, id=name) for name in ENGINES]
ONLINE_BACKENDS = [pytest.param(name, id=name) for name in BACKENDS]


def offline_engine(name: str, folder: Path) -> OfflineEngine:
    """An engine of type ``name`` with its test settings."""
    settings = Settings(
        section="offline_store",
        type=name,
        values=OFFLINE_SETTINGS.get(name, {}),
        config_path=folder / "feature_store.yaml",
    )
    return engine_class(name).from_settings(settings)


@contextmanager
def online_backend(name: str, folder: Path) -> Iterator[OnlineBackend]:
    """A fresh online backend of type ``name``, closed and cleaned up afterwards."""
    values = online_settings(name, folder)
    settings = Settings(
        section="online_store",
        type=name,
        values=values,
        config_path=folder / "feature_store.yaml",
    )
    backend = backend_class(name).from_settings(settings)
    try:
        yield backend
    finally:
        backend.close()
        drop_online_store(name, values)


class OnlineUnderTest:
    """One online backend under test: it configures repositories to use it, opens it
    directly, and removes every store it handed out when the test ends."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        self._made: list[dict[str, Any]] = []

    def configure(self, repo: Path, **extra: Any) -> None:
        """Point ``repo``'s ``feature_store.yaml`` at a fresh store of this backend
        (``extra``: more ``online_store`` keys, e.g. ``enforce_ttl=False``)."""
        values = online_settings(self.name, repo / "data")
        self._made.append(values)
        path = repo / "feature_store.yaml"
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        config["online_store"] = {"type": self.name, **values, **extra}
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    def cleanup(self) -> None:
        for values in self._made:
            drop_online_store(self.name, values)


def configure_offline(repo: Path, name: str) -> None:
    """Point ``repo``'s ``feature_store.yaml`` at the engine ``name`` with its test settings."""
    path = repo / "feature_store.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["offline_store"] = {"type": name, **OFFLINE_SETTINGS.get(name, {})}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def known_gap(
    args: tuple[Any, ...], kwargs: dict[str, Any], params: dict[str, Any]
) -> pytest.MarkDecorator | None:
    """What ``@pytest.mark.notimpl(names, reason=...)`` turns a test into, given the test's
    parameters: a strict expected failure when its ``engine`` or ``backend`` is named, so
    the mark must go once the gap closes; None otherwise."""
    names = args[0] if args else kwargs.get("names", ())
    if isinstance(names, str):
        names = [names]
    unknown = set(names) - {*ENGINES, *BACKENDS}
    if unknown:
        raise ValueError(f"notimpl names no engine or backend called {sorted(unknown)}")
    chosen = [params[p] for p in ("engine", "backend") if params.get(p) in names]
    if not chosen:
        return None
    reason = kwargs.get("reason", "not implemented")
    return pytest.mark.xfail(reason=f"{', '.join(chosen)}: {reason}", strict=True)
