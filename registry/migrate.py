"""Schema migrations of the registry database, through Alembic.

A new (empty) database is brought to the head revision the first time it is opened.
An existing one at an older revision is left alone and refused with
:class:`RegistryOutdatedError` until the user runs ``silage registry upgrade``; the
upgrade never happens behind a user's back, since it may rewrite tables.

On SQLite, foreign keys are switched off while migrating (batch mode rebuilds tables,
which would otherwise cascade) and checked with ``PRAGMA foreign_key_check`` before the
migration commits; DDL is transactional there, so a failed migration leaves nothing.

Several processes may open a new registry at once (serving replicas starting together).
Migrations are serialized: on SQLite by ``BEGIN IMMEDIATE``, on PostgreSQL by a
transaction-level advisory lock taken before Alembic reads ``alembic_version``; whoever
waited re-reads the revision under the lock and finds the work done. PostgreSQL's DDL is
transactional too, so there as well a failed migration leaves nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError

from registry.database import Database
from registry.errors import RegistryError, RegistryOutdatedError, RegistryTooNewError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD_REVISION",
    "current_revision",
    "downgrade",
    "ensure_schema",
    "head_revision",
    "migrations_dir",
    "scripts_head",
    "upgrade",
]


# The newest revision, so that opening an up-to-date registry needs no Alembic import (it
# costs a few hundred milliseconds); a test checks it against the scripts' head.
HEAD_REVISION = "0011"

# Key of the advisory lock around migrations on PostgreSQL (any constant: advisory locks
# belong to the database they are taken in).
MIGRATION_LOCK_KEY = 0x5_11A6_E000


def migrations_dir() -> Path:
    """Where the Alembic scripts are: inside the wheel, or at the top of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_migrations", here.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RegistryError(f"Silage's migration scripts are missing next to {here}; reinstall silage")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at Silage's scripts, bound to ``connection`` if given."""
    from alembic.config import Config

    # Alembic's default output stream is whatever sys.stdout was when alembic.config was first
    # imported; a later caller (a test capturing output, a CLI) may have closed that one.
    config = Config(stdout=sys.stdout)
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this Silage knows."""
    return HEAD_REVISION


@cache
def scripts_head() -> str:
    """The head revision as the migration scripts define it (tests pin HEAD_REVISION to it)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, ``None`` for a database Alembic never touched."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def ensure_schema(db: Database) -> None:
    """Create the schema in an empty database; refuse a database at another revision."""
    if _is_at(db, head_revision()):
        return
    with db.engine.connect() as conn:
        revision = current_revision(conn)
    if revision == head_revision():
        return
    if revision is None:
        with _migrating(db) as conn:
            # Re-read under the write lock: another process may have created it meanwhile.
            revision = current_revision(conn)
            if revision is None:
                tables = set(inspect(conn).get_table_names())
                if tables:
                    raise RegistryError(
                        f"{db.safe_url} already has tables ({', '.join(sorted(tables)[:5])}) "
                        f"but is not a Silage registry; point `registry:` in feature_store.yaml "
                        f"at a new file or an empty database"
                    )
                from alembic import command

                command.upgrade(alembic_config(conn), "head")
                return
    if revision == head_revision():
        return
    assert revision is not None
    if revision in _known_revisions():
        raise RegistryOutdatedError(db.safe_url, revision, head_revision())
    raise RegistryTooNewError(db.safe_url, revision)


def _is_at(db: Database, revision: str) -> bool:
    """A plain read of ``alembic_version``: the fast path of every open."""
    try:
        with db.engine.connect() as conn:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        return False  # no such table yet
    return found == [revision]


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate the database up to ``revision``; returns (before, after)."""
    with _migrating(db) as conn:
        before = current_revision(conn)
        if before is not None and before not in _known_revisions():
            raise RegistryTooNewError(db.safe_url, before)
        from alembic import command

        command.upgrade(alembic_config(conn), revision)
        return before, current_revision(conn)


def downgrade(db: Database, revision: str) -> tuple[str | None, str | None]:
    """Migrate the database down to ``revision`` (``"base"`` empties it).

    Returns:
        The revisions before and after.
    """
    with _migrating(db) as conn:
        before = current_revision(conn)
        from alembic import command

        command.downgrade(alembic_config(conn), revision)
        return before, current_revision(conn)


@contextmanager
def _migrating(db: Database) -> Iterator[Connection]:
    with db.engine.connect() as conn:
        # PRAGMA foreign_keys is ignored inside a transaction, so it goes straight to the driver.
        raw = conn.connection.dbapi_connection
        if db.is_sqlite:
            assert raw is not None
            raw.execute("PRAGMA foreign_keys = OFF")
        try:
            locked = conn.execution_options(silage_immediate=True)
            with locked.begin():
                if db.is_postgresql:
                    locked.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                yield locked
                if db.is_sqlite:
                    broken = locked.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RegistryError(
                            f"migration left rows with dangling foreign keys: {broken[:5]}; "
                            f"nothing was changed"
                        )
        finally:
            if db.is_sqlite:
                assert raw is not None
                raw.execute("PRAGMA foreign_keys = ON")
