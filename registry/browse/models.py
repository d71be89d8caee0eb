"""Reads of models, their versions, aliases and cards, a page at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session, aliased

from registry.browse.sql import Reads, name_contains, project_id_of, sort_order
from registry.browse.values import (
    AliasChange,
    CardRevision,
    ModelSummary,
    Page,
    VersionSummary,
)
from registry.models import aliases_of
from registry.tables import (
    ModelAliasHistoryRow,
    ModelAliasRow,
    ModelCardRow,
    ModelRow,
    ModelVersionRow,
    TrainingSetRow,
)

__all__ = ["ModelReads"]


class ModelReads(Reads):
    """Paged model and version listings with what belongs to each row, batched."""

    def models(
        self,
        project: str,
        *,
        contains: str = "",
        sort: str = "name",
        offset: int = 0,
        limit: int = 50,
    ) -> Page[ModelSummary]:
        """A page of models, by name (``contains`` filters), version count or last update."""
        live = (
            select(
                ModelVersionRow.model_id,
                func.count().label("versions"),
                func.max(ModelVersionRow.version).label("latest"),
            )
            .where(ModelVersionRow.deleted_at.is_(None))
            .group_by(ModelVersionRow.model_id)
            .subquery()
        )
        where = [ModelRow.project_id == project_id_of(project)]
        if contains:
            where.append(name_contains(ModelRow.name, contains))
        keys: dict[str, Any] = {
            "name": ModelRow.name,
            "versions": func.coalesce(live.c.versions, 0),
            "updated": ModelRow.updated_at,
        }
        order = sort_order(keys, sort, "name")
        with self._db.read() as session:
            total = session.scalar(select(func.count()).select_from(ModelRow).where(*where)) or 0
            rows = session.execute(
                select(ModelRow, live.c.versions, live.c.latest)
                .outerjoin(live, live.c.model_id == ModelRow.id)
                .where(*where)
                .order_by(order, ModelRow.name)
                .offset(offset)
                .limit(limit)
            ).all()
            aliases: dict[int, list[tuple[str, int]]] = {}
            if rows:
                for model_id, alias, version in session.execute(
                    select(ModelAliasRow.model_id, ModelAliasRow.alias, ModelVersionRow.version)
                    .join(ModelVersionRow, ModelVersionRow.id == ModelAliasRow.model_version_id)
                    .where(ModelAliasRow.model_id.in_([r[0].id for r in rows]))
                    .order_by(ModelAliasRow.alias)
                ):
                    aliases.setdefault(model_id, []).append((alias, version))
        summaries = tuple(
            ModelSummary(
                name=model.name,
                description=model.description,
                versions=int(count or 0),
                latest_version=latest,
                updated_at=model.updated_at,
                aliases=tuple(aliases.get(model.id, ())),
            )
            for model, count, latest in rows
        )
        return Page(summaries, int(total), offset, limit)

    def has_model(self, project: str, name: str) -> bool:
        """Whether the project has a model of this name (with or without versions)."""
        with self._db.read() as session:
            found = session.scalar(
                select(ModelRow.id).where(
                    ModelRow.project_id == project_id_of(project), ModelRow.name == name
                )
            )
        return found is not None

    def model_names(self, project: str, *, limit: int = 500) -> list[str]:
        """The first ``limit`` model names of the project, by name (one indexed query; for
        pages that only link to models)."""
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(ModelRow.name)
                    .where(ModelRow.project_id == project_id_of(project))
                    .order_by(ModelRow.name)
                    .limit(limit)
                )
            )

    def versions(
        self,
        project: str,
        model: str,
        *,
        sort: str = "-version",
        offset: int = 0,
        limit: int = 50,
    ) -> Page[VersionSummary]:
        """A page of a model's versions; ``sort`` is ``version``, ``created`` or
        ``metric:<key>``, with ``-`` for descending."""
        descending = sort.startswith("-")
        key = sort.lstrip("-")
        where = [
            ModelRow.project_id == project_id_of(project),
            ModelRow.name == model,
            ModelVersionRow.deleted_at.is_(None),
        ]
        if key.startswith("metric:"):
            value = ModelVersionRow.metrics[key.removeprefix("metric:")].as_float()
            # Versions without the metric last, whichever the direction.
            order: list[Any] = [value.is_(None), value.desc() if descending else value.asc()]
        else:
            column = ModelVersionRow.created_at if key == "created" else ModelVersionRow.version
            order = [column.desc() if descending else column.asc()]
        with self._db.read() as session:
            total = session.scalar(
                select(func.count())
                .select_from(ModelVersionRow)
                .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .where(*where)
            )
            rows = self._versions(session, where, [*order, ModelVersionRow.version], offset, limit)
        return Page(tuple(rows), int(total or 0), offset, limit)

    def version(self, project: str, model: str, version: int) -> VersionSummary | None:
        """One version, deleted or not; None when it never existed."""
        where = [
            ModelRow.project_id == project_id_of(project),
            ModelRow.name == model,
            ModelVersionRow.version == version,
        ]
        with self._db.read() as session:
            rows = self._versions(session, where, [ModelVersionRow.version], 0, 1)
        return rows[0] if rows else None

    def versions_by_number(
        self, project: str, model: str, numbers: Sequence[int]
    ) -> list[VersionSummary]:
        """The named versions (deleted ones included), in version order."""
        where = [
            ModelRow.project_id == project_id_of(project),
            ModelRow.name == model,
            ModelVersionRow.version.in_(list(numbers)),
        ]
        with self._db.read() as session:
            return self._versions(session, where, [ModelVersionRow.version], 0, len(numbers))

    def metric_series(self, project: str, model: str) -> list[tuple[int, Mapping[str, Any]]]:
        """Every live version's number and metrics, oldest first: a chart's points."""
        with self._db.read() as session:
            rows = session.execute(
                select(ModelVersionRow.version, ModelVersionRow.metrics)
                .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .where(
                    ModelRow.project_id == project_id_of(project),
                    ModelRow.name == model,
                    ModelVersionRow.deleted_at.is_(None),
                )
                .order_by(ModelVersionRow.version)
            ).all()
        return [(int(v), dict(m or {})) for v, m in rows]

    def alias_history(self, project: str, model: str, *, limit: int = 200) -> list[AliasChange]:
        """A model's alias moves, newest first."""
        with self._db.read() as session:
            moves = alias_moves(session, project_id_of(project), model, limit)
        return [change for _, change in moves]

    def card_revisions(self, project: str, model: str, version: int) -> list[CardRevision]:
        """Every revision of a version's card, oldest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(ModelCardRow)
                .join(ModelVersionRow, ModelVersionRow.id == ModelCardRow.model_version_id)
                .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
                .where(
                    ModelRow.project_id == project_id_of(project),
                    ModelRow.name == model,
                    ModelVersionRow.version == version,
                )
                .order_by(ModelCardRow.revision)
            ).all()
        return [
            CardRevision(
                revision=r.revision,
                status=r.status,
                content=dict(r.content),
                created_by=r.created_by,
                created_at=r.created_at,
            )
            for r in rows
        ]

    def _versions(
        self,
        session: Session,
        where: Sequence[ColumnElement[bool]],
        order: Sequence[Any],
        offset: int,
        limit: int,
    ) -> list[VersionSummary]:
        latest_card = (
            select(
                ModelCardRow.model_version_id,
                func.max(ModelCardRow.revision).label("revision"),
            )
            .group_by(ModelCardRow.model_version_id)
            .subquery()
        )
        card = aliased(ModelCardRow)
        rows = session.execute(
            select(ModelRow.name, ModelVersionRow, TrainingSetRow.name, card.status, card.revision)
            .join(ModelRow, ModelRow.id == ModelVersionRow.model_id)
            .outerjoin(TrainingSetRow, TrainingSetRow.id == ModelVersionRow.training_set_id)
            .outerjoin(latest_card, latest_card.c.model_version_id == ModelVersionRow.id)
            .outerjoin(
                card,
                and_(
                    card.model_version_id == ModelVersionRow.id,
                    card.revision == latest_card.c.revision,
                ),
            )
            .where(*where)
            .order_by(*order)
            .offset(offset)
            .limit(limit)
        ).all()
        aliases = aliases_of(session, [r[1].id for r in rows]) if rows else {}
        return [
            VersionSummary(
                model=name,
                version=row.version,
                created_at=row.created_at,
                created_by=row.created_by,
                description=row.description,
                model_type=row.model_type,
                metrics=dict(row.metrics or {}),
                tags=dict(row.tags or {}),
                params=dict(row.params or {}),
                input_features=tuple(row.input_features.get("names", [])),
                training_set=training_set,
                aliases=aliases.get(row.id, ()),
                card_status=status,
                card_revision=revision,
                artifact_sha256=row.artifact_sha256,
                artifact_size=row.artifact_size,
                deleted_at=row.deleted_at,
            )
            for name, row, training_set, status, revision in rows
        ]


def alias_moves(
    session: Session, project_id: Any, model: str | None, limit: int
) -> list[tuple[str, AliasChange]]:
    before, after = aliased(ModelVersionRow), aliased(ModelVersionRow)
    query = (
        select(ModelRow.name, ModelAliasHistoryRow, before.version, after.version)
        .join(ModelRow, ModelRow.id == ModelAliasHistoryRow.model_id)
        .outerjoin(before, before.id == ModelAliasHistoryRow.from_version_id)
        .outerjoin(after, after.id == ModelAliasHistoryRow.to_version_id)
        .where(ModelRow.project_id == project_id)
        .order_by(ModelAliasHistoryRow.changed_at.desc(), ModelAliasHistoryRow.id.desc())
        .limit(limit)
    )
    if model is not None:
        query = query.where(ModelRow.name == model)
    return [
        (
            name,
            AliasChange(
                alias=row.alias,
                from_version=old,
                to_version=new,
                changed_by=row.changed_by,
                changed_at=row.changed_at,
                reason=row.reason,
            ),
        )
        for name, row, old, new in session.execute(query).all()
    ]
