"""The registry databases every registry test runs on: SQLite and PostgreSQL.

One fixture (``registry_url`` in ``tests/conftest.py``) is parametrized over
:data:`REGISTRY_DATABASES`; each test gets a new, empty database of that kind and the
PostgreSQL one is dropped afterwards (see ``tests/services.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services import fresh_postgres_database

REGISTRY_DATABASES = ("sqlite", "postgresql")


@contextmanager
def new_registry_url(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty registry database of ``kind``, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'registry.db'}"
    elif kind == "postgresql":
        with fresh_postgres_database() as url:
            yield url
    else:
        raise ValueError(f"unknown registry database {kind!r}; use one of {REGISTRY_DATABASES}")


def use_registry(repo: Path, url: str, **settings: object) -> None:
    """Point the repository's ``feature_store.yaml`` at ``url`` in Feast's mapping form."""
    import yaml

    path = repo / "feature_store.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["registry"] = {"registry_type": "sql", "path": url, **settings}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
