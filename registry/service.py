"""The registry bound to one database: the entry point other packages use."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from registry import migrate
from registry.browse import Browse
from registry.catalog import Catalog
from registry.changes import ChangeWatcher, change_count
from registry.database import Database
from registry.models import ModelRegistry
from registry.monitoring import Monitoring
from registry.project import ProjectRegistry
from registry.storage import FileStore, open_file_store
from registry.training_sets import TrainingSets

__all__ = ["Registry"]


class Registry:
    """A registry database, its schema checked (or created, when empty) on open.

    Args:
        url: an SQLAlchemy URL; ``sqlite:///path/registry.db`` by default in a repository,
            ``postgresql+psycopg://user:password@host:5432/db`` for a team (``postgresql://``
            means the same).
        create: create the schema in an empty database (True), or only check it.
        engine_options: extra ``create_engine`` arguments, e.g. ``{"pool_size": 20}``.

    Raises:
        RegistryUnavailableError: the database server cannot be reached.
        RegistryOutdatedError: the database needs ``silage registry upgrade``.
        RegistryTooNewError: the database was migrated by a newer Silage.
    """

    def __init__(
        self, url: str, *, create: bool = True, engine_options: dict[str, Any] | None = None
    ) -> None:
        self.db = Database(url, engine_options=engine_options)
        self.url = self.db.url
        if create:
            try:
                migrate.ensure_schema(self.db)
            except BaseException:
                self.db.dispose()
                raise
        self.catalog = Catalog(self.db)
        self.training_sets = TrainingSets(self.db)
        self.monitoring = Monitoring(self.db)
        self.browse = Browse(self.db)

    def project(self, project: str, artifact_root: Path | FileStore) -> ProjectRegistry:
        """Models, cards, deployments and lineage of ``project``; artifacts in a folder or a
        store from :meth:`file_store`."""
        return ProjectRegistry(self.db, project, artifact_root)

    def models(self, project: str, artifact_root: Path | FileStore) -> ModelRegistry:
        """The models of ``project``, their artifacts kept in ``artifact_root``."""
        return ModelRegistry(self.db, project=project, artifact_root=artifact_root)

    def file_store(
        self,
        uri: str | Path,
        *,
        base: Path | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> FileStore:
        """The artifact store ``uri`` names: a folder (relative to ``base``), ``file://``,
        ``s3://bucket/prefix`` or ``registry`` (this database); see :mod:`registry.storage`."""
        return open_file_store(uri, db=self.db, base=base, storage_options=storage_options)

    def change_count(self) -> int:
        """How many write transactions the registry has committed: a number that grows with
        every apply, registration, alias move, deploy, promote, rollback, card or monitoring
        record, and only when the write commits. Compare it with an earlier reading to know
        whether cached definitions or deployments are stale; it is one indexed read."""
        return change_count(self.db)

    def watch(self, *, interval_seconds: float = 1.0) -> ChangeWatcher:
        """A :class:`ChangeWatcher` over :meth:`change_count` that polls at most once per
        ``interval_seconds``: call ``changed()`` before serving each request."""
        return ChangeWatcher(self.change_count, interval_seconds=interval_seconds)

    def close(self) -> None:
        """Release the database connections."""
        self.db.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({self.db.safe_url!r})"
