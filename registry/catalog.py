"""The feature catalog: entities, data sources, feature views and services of each project.

The catalog stores specs (canonical JSON dicts) and their hashes; it does not know the
Python classes that produced them, so ``registry`` never imports ``store``. Applying a set
of declared objects is one transaction: it creates what is new, updates what changed
(a feature view gets a new version, never an overwritten one), and with
``delete_missing`` deletes what is no longer declared. A hook runs inside that
transaction, so work that must succeed together with the catalog write (creating online
tables) rolls the catalog back when it fails.

Example:
    >>> from registry import Registry
    >>> catalog = Registry("sqlite://").catalog
    >>> obj = DeclaredObject(kind="entity", name="driver", spec={}, content_hash="h")
    >>> [c.action for c in catalog.apply("demo", [obj], delete_missing=True)]
    ['create']
    >>> [c.action for c in catalog.apply("demo", [obj], delete_missing=True)]
    []
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from registry.database import Database
from registry.errors import RegistryError, RegistryNotFoundError
from registry.tables import (
    CatalogObjectColumns,
    DataSourceRow,
    EntityRow,
    FeatureServiceRow,
    FeatureViewFeatureRow,
    FeatureViewRow,
    FeatureViewVersionRow,
    MaterializationIntervalRow,
    ProjectRow,
    utc_now,
)

__all__ = [
    "KINDS",
    "Catalog",
    "CatalogChange",
    "CatalogObject",
    "DeclaredObject",
    "Kind",
    "MaterializationInterval",
]

Kind = Literal["entity", "data_source", "feature_view", "feature_service"]
KINDS: tuple[Kind, ...] = ("entity", "data_source", "feature_view", "feature_service")

_PLAIN_TABLES: dict[Kind, type[CatalogObjectColumns]] = {
    "entity": EntityRow,
    "data_source": DataSourceRow,
    "feature_service": FeatureServiceRow,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclaredObject:
    """An object as declared in a repository, ready to be applied.

    ``features`` lists ``(name, dtype)`` of a feature view's features, stored one row each
    so that SQL clients can ask which views serve a feature.
    """

    kind: Kind
    name: str
    spec: Mapping[str, Any]
    content_hash: str
    features: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogObject:
    """An object as the catalog holds it; ``version`` is set for feature views only."""

    kind: Kind
    name: str
    spec: Mapping[str, Any]
    content_hash: str
    created_at: datetime
    updated_at: datetime
    version: int | None = None
    version_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogChange:
    """One change an apply made: ``version_before``/``after`` for feature views."""

    kind: Kind
    name: str
    action: Literal["create", "update", "delete"]
    version_before: int | None = None
    version_after: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MaterializationInterval:
    """A window of event times loaded into the online store for one view version."""

    feature_view: str
    version: int
    start: datetime
    end: datetime
    rows_written: int
    created_at: datetime


@dataclass(slots=True)
class _State:
    objects: dict[tuple[Kind, str], CatalogObject] = field(default_factory=dict)


class Catalog:
    """Reads and writes the feature catalog of any project in one registry database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- reads ---------------------------------------------------------------------------

    def objects(self, project: str, kind: Kind | None = None) -> list[CatalogObject]:
        """Current objects of a project, sorted by kind then name; deleted views excluded."""
        with self._db.read() as session:
            state = _load_state(session, project)
        found = [o for o in state.objects.values() if kind is None or o.kind == kind]
        return sorted(found, key=lambda o: (KINDS.index(o.kind), o.name))

    def get(self, project: str, kind: Kind, name: str) -> CatalogObject:
        """One current object. Raises :class:`RegistryNotFoundError`."""
        for obj in self.objects(project, kind):
            if obj.name == name:
                return obj
        raise RegistryNotFoundError(kind.replace("_", " "), name)

    def feature_view_versions(self, project: str, name: str) -> list[CatalogObject]:
        """Every version a feature view has had, oldest first, deleted views included."""
        with self._db.read() as session:
            rows = session.execute(
                select(FeatureViewRow, FeatureViewVersionRow)
                .join(ProjectRow, ProjectRow.id == FeatureViewRow.project_id)
                .join(
                    FeatureViewVersionRow,
                    FeatureViewVersionRow.feature_view_id == FeatureViewRow.id,
                )
                .where(ProjectRow.name == project, FeatureViewRow.name == name)
                .order_by(FeatureViewVersionRow.version)
            ).all()
            if not rows:
                raise RegistryNotFoundError("feature view", name)
            return [_view_object(view, version) for view, version in rows]

    def materialization_intervals(self, project: str, name: str) -> list[MaterializationInterval]:
        """Recorded online loads of a view, oldest first."""
        with self._db.read() as session:
            rows = session.execute(
                select(MaterializationIntervalRow, FeatureViewVersionRow.version)
                .join(
                    FeatureViewRow, FeatureViewRow.id == MaterializationIntervalRow.feature_view_id
                )
                .join(ProjectRow, ProjectRow.id == FeatureViewRow.project_id)
                .join(
                    FeatureViewVersionRow,
                    FeatureViewVersionRow.id == MaterializationIntervalRow.feature_view_version_id,
                )
                .where(ProjectRow.name == project, FeatureViewRow.name == name)
                .order_by(MaterializationIntervalRow.id)
            ).all()
            return [
                MaterializationInterval(
                    feature_view=name,
                    version=version,
                    start=row.start_ts,
                    end=row.end_ts,
                    rows_written=row.rows_written,
                    created_at=row.created_at,
                )
                for row, version in rows
            ]

    # --- writes --------------------------------------------------------------------------

    def record_materialization(
        self, project: str, name: str, *, start: datetime, end: datetime, rows_written: int
    ) -> MaterializationInterval:
        """Record that a view's current version was loaded online for ``[start, end]``."""
        if end < start:
            raise RegistryError(f"materialization window of {name!r} ends ({end}) before it starts")
        with self._db.write() as session:
            found = session.execute(
                select(FeatureViewRow.id, FeatureViewVersionRow.id, FeatureViewVersionRow.version)
                .join(ProjectRow, ProjectRow.id == FeatureViewRow.project_id)
                .join(
                    FeatureViewVersionRow,
                    FeatureViewVersionRow.feature_view_id == FeatureViewRow.id,
                )
                .where(
                    ProjectRow.name == project,
                    FeatureViewRow.name == name,
                    FeatureViewRow.deleted_at.is_(None),
                )
                .order_by(FeatureViewVersionRow.version.desc())
                .limit(1)
            ).one_or_none()
            if found is None:
                raise RegistryNotFoundError("feature view", name)
            view_id, version_id, version = found
            row = MaterializationIntervalRow(
                feature_view_id=view_id,
                feature_view_version_id=version_id,
                start_ts=start,
                end_ts=end,
                rows_written=rows_written,
                created_at=utc_now(),
            )
            session.add(row)
            session.flush()
            return MaterializationInterval(
                feature_view=name,
                version=version,
                start=start,
                end=end,
                rows_written=rows_written,
                created_at=row.created_at,
            )

    def apply(
        self,
        project: str,
        declared: Sequence[DeclaredObject],
        *,
        delete_missing: bool,
        reset_materialization: Callable[[list[CatalogChange]], Sequence[str]] | None = None,
        before_commit: Callable[[list[CatalogChange]], None] | None = None,
    ) -> list[CatalogChange]:
        """Make the catalog hold ``declared``, all or nothing.

        Args:
            project: the project's name; created on first apply.
            declared: objects to create or update. Unchanged ones are left alone.
            delete_missing: delete current objects that ``declared`` does not name (the
                declarative apply of a whole repository); False upserts only.
            reset_materialization: given the changes, names views whose recorded
                materialization intervals no longer hold (their online table is rebuilt).
            before_commit: runs inside the transaction after the catalog writes; if it
                raises, nothing is written.

        Returns:
            The changes made, in kind then name order.
        """
        keys = [(d.kind, d.name) for d in declared]
        if len(set(keys)) != len(keys):
            raise RegistryError("apply() got two objects of the same kind and name")
        with self._db.write() as session:
            project_row = lock_project(session, project)
            state = _load_state(session, project)
            changes: list[CatalogChange] = []
            wanted: dict[tuple[Kind, str], DeclaredObject] = {(d.kind, d.name): d for d in declared}
            for key in sorted(wanted, key=lambda k: (KINDS.index(k[0]), k[1])):
                change = _upsert(session, project_row, state.objects.get(key), wanted[key])
                if change is not None:
                    changes.append(change)
            if delete_missing:
                for key, current in state.objects.items():
                    if key not in wanted:
                        changes.append(_delete(session, project_row, current))
            changes.sort(key=lambda c: (KINDS.index(c.kind), c.name))
            if reset_materialization is not None:
                names = list(reset_materialization(changes))
                if names:
                    view_ids = select(FeatureViewRow.id).where(
                        FeatureViewRow.project_id == project_row.id,
                        FeatureViewRow.name.in_(names),
                    )
                    session.execute(
                        delete(MaterializationIntervalRow).where(
                            MaterializationIntervalRow.feature_view_id.in_(view_ids)
                        )
                    )
            session.flush()
            if before_commit is not None:
                before_commit(changes)
            return changes


def lock_project(session: Session, name: str) -> ProjectRow:
    # Database.write() already serializes writers (BEGIN IMMEDIATE on SQLite, the change
    # counter's row lock on PostgreSQL); FOR UPDATE keeps the project row safe for a caller
    # whose session did not come from it.
    row = session.scalars(
        select(ProjectRow).where(ProjectRow.name == name).with_for_update()
    ).one_or_none()
    if row is None:
        row = ProjectRow(name=name)
        session.add(row)
        session.flush()
    return row


def _load_state(session: Session, project: str) -> _State:
    state = _State()
    for kind, table in _PLAIN_TABLES.items():
        rows: Iterable[CatalogObjectColumns] = session.scalars(
            select(table)
            .join(ProjectRow, ProjectRow.id == table.project_id)
            .where(ProjectRow.name == project)
        )
        for row in rows:
            state.objects[(kind, row.name)] = CatalogObject(
                kind=kind,
                name=row.name,
                spec=row.spec,
                content_hash=row.content_hash,
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
    latest = (
        select(
            FeatureViewVersionRow.feature_view_id,
            func.max(FeatureViewVersionRow.version).label("version"),
        )
        .group_by(FeatureViewVersionRow.feature_view_id)
        .subquery()
    )
    views = session.execute(
        select(FeatureViewRow, FeatureViewVersionRow)
        .join(ProjectRow, ProjectRow.id == FeatureViewRow.project_id)
        .join(latest, latest.c.feature_view_id == FeatureViewRow.id)
        .join(
            FeatureViewVersionRow,
            (FeatureViewVersionRow.feature_view_id == FeatureViewRow.id)
            & (FeatureViewVersionRow.version == latest.c.version),
        )
        .where(ProjectRow.name == project, FeatureViewRow.deleted_at.is_(None))
    )
    for view, version in views:
        state.objects[("feature_view", view.name)] = _view_object(view, version)
    return state


def _view_object(view: FeatureViewRow, version: FeatureViewVersionRow) -> CatalogObject:
    return CatalogObject(
        kind="feature_view",
        name=view.name,
        spec=version.spec,
        content_hash=version.content_hash,
        created_at=view.created_at,
        updated_at=view.updated_at,
        version=version.version,
        version_id=version.id,
    )


def _upsert(
    session: Session, project: ProjectRow, current: CatalogObject | None, wanted: DeclaredObject
) -> CatalogChange | None:
    if current is not None and current.content_hash == wanted.content_hash:
        return None
    if wanted.kind == "feature_view":
        return _upsert_view(session, project, current, wanted)
    table = _PLAIN_TABLES[wanted.kind]
    now = utc_now()
    if current is None:
        row = table()
        row.project_id, row.name, row.created_at = project.id, wanted.name, now
        row.spec, row.content_hash, row.updated_at = dict(wanted.spec), wanted.content_hash, now
        session.add(row)
        return CatalogChange(kind=wanted.kind, name=wanted.name, action="create")
    row = session.scalars(
        select(table).where(table.project_id == project.id, table.name == wanted.name)
    ).one()
    row.spec, row.content_hash, row.updated_at = dict(wanted.spec), wanted.content_hash, now
    return CatalogChange(kind=wanted.kind, name=wanted.name, action="update")


def _upsert_view(
    session: Session, project: ProjectRow, current: CatalogObject | None, wanted: DeclaredObject
) -> CatalogChange:
    now = utc_now()
    view = session.scalars(
        select(FeatureViewRow).where(
            FeatureViewRow.project_id == project.id, FeatureViewRow.name == wanted.name
        )
    ).one_or_none()
    if view is None:
        view = FeatureViewRow(project_id=project.id, name=wanted.name, created_at=now)
        session.add(view)
        session.flush()
    previous = session.scalars(
        select(FeatureViewVersionRow)
        .where(FeatureViewVersionRow.feature_view_id == view.id)
        .order_by(FeatureViewVersionRow.version.desc())
        .limit(1)
    ).one_or_none()
    view.updated_at = now
    view.deleted_at = None
    # A view deleted and declared again unchanged gets its last version back, not a new one.
    if previous is None or previous.content_hash != wanted.content_hash:
        number = 1 if previous is None else previous.version + 1
        version = FeatureViewVersionRow(
            feature_view_id=view.id,
            version=number,
            spec=dict(wanted.spec),
            content_hash=wanted.content_hash,
            created_at=now,
        )
        session.add(version)
        session.flush()
        session.add_all(
            FeatureViewFeatureRow(
                feature_view_version_id=version.id, position=i, name=name, dtype=dtype
            )
            for i, (name, dtype) in enumerate(wanted.features)
        )
    else:
        number = previous.version
    return CatalogChange(
        kind="feature_view",
        name=wanted.name,
        action="create" if current is None else "update",
        version_before=current.version if current is not None else None,
        version_after=number,
    )


def _delete(session: Session, project: ProjectRow, current: CatalogObject) -> CatalogChange:
    if current.kind == "feature_view":
        view = session.scalars(
            select(FeatureViewRow).where(
                FeatureViewRow.project_id == project.id, FeatureViewRow.name == current.name
            )
        ).one()
        # Versions stay: trained models and training sets refer to them.
        view.deleted_at = utc_now()
        session.execute(
            delete(MaterializationIntervalRow).where(
                MaterializationIntervalRow.feature_view_id == view.id
            )
        )
    else:
        table = _PLAIN_TABLES[current.kind]
        session.execute(
            delete(table).where(table.project_id == project.id, table.name == current.name)
        )
    return CatalogChange(
        kind=current.kind, name=current.name, action="delete", version_before=current.version
    )
