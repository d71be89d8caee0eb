"""The registry bound to one database: the entry point other packages use."""

from __future__ import annotations

from pathlib import Path

from registry import migrate
from registry.browse import Browse
from registry.catalog import Catalog
from registry.database import Database
from registry.models import ModelRegistry
from registry.monitoring import Monitoring
from registry.project import ProjectRegistry
from registry.training_sets import TrainingSets

__all__ = ["Registry"]


class Registry:
    """A registry database, its schema checked (or created, when empty) on open.

    Args:
        url: an SQLAlchemy URL; ``sqlite:///path/registry.db`` by default in a repository.
        create: create the schema in an empty database (True), or only check it.

    Raises:
        RegistryOutdatedError: the database needs ``silage registry upgrade``.
        RegistryTooNewError: the database was migrated by a newer Silage.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.db = Database(url)
        if create:
            migrate.ensure_schema(self.db)
        self.catalog = Catalog(self.db)
        self.training_sets = TrainingSets(self.db)
        self.monitoring = Monitoring(self.db)
        self.browse = Browse(self.db)

    def project(self, project: str, artifact_root: Path) -> ProjectRegistry:
        """Models, cards, deployments and lineage of ``project``."""
        return ProjectRegistry(self.db, project, artifact_root)

    def models(self, project: str, artifact_root: Path) -> ModelRegistry:
        """The models of ``project``, their artifacts kept under ``artifact_root``."""
        return ModelRegistry(self.db, project=project, artifact_root=artifact_root)

    def close(self) -> None:
        """Release the database connections."""
        self.db.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({self.url!r})"
