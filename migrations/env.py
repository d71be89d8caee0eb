"""Alembic environment for the Silage registry.

Run through ``registry.migrate`` (``silage registry upgrade``), which passes an open
connection in ``config.attributes["connection"]``; SQLite migrations use batch mode so
that ALTERs rebuild tables with every named constraint intact.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from registry.tables import Base

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `silage registry upgrade`")
    _run(connection)


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
