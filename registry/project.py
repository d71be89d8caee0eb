"""Everything the registry holds about one project's models, behind one object.

``FeatureStore.model_registry`` returns this, bound to the repository's registry database
and artifact folder; it is also usable on its own::

    from registry import Registry
    project = Registry("sqlite:///registry.db").project("ride_hailing", Path("artifacts"))
    project.register_model("trip_completion", model, metrics={"auc": 0.9})
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from registry.cards import ModelCards
from registry.database import Database
from registry.deployments import Deployments
from registry.errors import RegistryError
from registry.experiments import Experiments, RetrainingRuns
from registry.lineage import Lineage
from registry.models import ModelRegistry, ModelVersion, aliases_of, version_value
from registry.search import order_clause, parse_filter, where_clause
from registry.storage import FileStore
from registry.tables import ModelRow, ModelVersionRow, ProjectRow, TrainingSetRow, utc_now
from registry.tokens import Tokens
from registry.training_sets import TrainingSets

__all__ = ["ProjectRegistry", "SearchPage"]


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results; pass ``next_page_token`` back for the next page."""

    versions: tuple[ModelVersion, ...]
    next_page_token: str | None


class ProjectRegistry:
    """Models, cards, deployments and lineage of one project."""

    def __init__(self, db: Database, project: str, artifact_root: Path | FileStore) -> None:
        self._db = db
        self.project = project
        self.models = ModelRegistry(db, project=project, artifact_root=artifact_root)
        self.training_sets = TrainingSets(db)
        self.deployments = Deployments(db, project=project)
        self.cards = ModelCards(db, self.models, self.training_sets)
        self.lineage = Lineage(db, self.models, self.deployments)
        self.experiments = Experiments(db, project=project)
        self.retraining = RetrainingRuns(db, project=project)
        self.tokens = Tokens(db, project=project)

    # The most used calls, without the attribute hop.
    def register_model(self, *args: Any, **kwargs: Any) -> ModelVersion:
        return self.models.register_model(*args, **kwargs)

    def load_model(self, *args: Any, **kwargs: Any) -> Any:
        return self.models.load_model(*args, **kwargs)

    def delete_version(self, model: str, version: int) -> None:
        """Delete a version's artifact and hide it, unless an alias or a live deployment uses it.

        Raises:
            RegistryError: naming the alias or deployment that uses it; nothing is changed.
        """
        found = self.models.get_version(model, version=version)
        if found.aliases:
            raise RegistryError(
                f"{model} v{version} is the target of alias(es) {', '.join(found.aliases)}; "
                f"move or delete them first"
            )
        live = [
            f"{r.environment} ({', '.join(t.role for t in r.targets if t.version == version)})"
            for r in self.deployments.list_live()
            if r.model == model and version in r.versions()
        ]
        if live:
            raise RegistryError(
                f"{model} v{version} serves in {', '.join(live)}; deploy another version first"
            )
        with self._db.write() as session:
            row = session.scalars(
                select(ModelVersionRow)
                .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .join(ProjectRow, ProjectRow.id == ModelRow.project_id)
                .where(
                    ProjectRow.name == self.project,
                    ModelRow.name == model,
                    ModelVersionRow.version == version,
                )
            ).one()
            row.deleted_at = utc_now()
        self.models.files.delete(found.artifact_path)

    def search_model_versions(
        self,
        filter_string: str = "",
        *,
        order_by: Sequence[str] = ("name", "version DESC"),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> SearchPage:
        """Versions matching a filter (see :mod:`registry.search`), sorted and paged.

        ``order_by`` items are a field (``name``, ``version``, ``created_at``,
        ``metrics.<key>``, ...) optionally followed by ``ASC`` or ``DESC``; versions missing
        a sort key come last.
        """
        tree = parse_filter(filter_string)
        try:
            start = int(page_token) if page_token else 0
        except ValueError:
            start = -1
        if start < 0:
            raise RegistryError(f"page_token {page_token!r} is not one this search returned")
        if max_results < 1:
            raise RegistryError("max_results must be at least 1")
        dialect = self._db.dialect
        with self._db.read() as session:
            rows = session.execute(
                select(ModelVersionRow, ModelRow.name, TrainingSetRow.name)
                .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .join(ProjectRow, ProjectRow.id == ModelRow.project_id)
                .outerjoin(TrainingSetRow, TrainingSetRow.id == ModelVersionRow.training_set_id)
                .where(
                    ProjectRow.name == self.project,
                    ModelVersionRow.deleted_at.is_(None),
                    where_clause(tree, dialect),
                )
                .order_by(*order_clause(order_by, dialect))
                .offset(start)
                .limit(max_results + 1)
            ).all()
            page = rows[:max_results]
            aliases = aliases_of(session, [row.id for row, _, _ in page])
            versions = tuple(
                version_value(row, model, training_set, aliases[row.id])
                for row, model, training_set in page
            )
        more = len(rows) > max_results
        return SearchPage(versions, str(start + max_results) if more else None)
