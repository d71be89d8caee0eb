"""Teams: the change counter serving processes poll, and artifacts kept in the database.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    changes = op.create_table(
        "registry_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_registry_changes_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_changes")),
    )
    # The one row exists from the start: writers only ever UPDATE it, which is their lock.
    op.bulk_insert(changes, [{"id": 1, "changes": 0}])
    op.create_table(
        "artifact_blobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifact_blobs")),
        sa.UniqueConstraint("key", name=op.f("uq_artifact_blobs_key")),
    )


def downgrade() -> None:
    op.drop_table("artifact_blobs")
    op.drop_table("registry_changes")
