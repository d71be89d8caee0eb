"""Saved training sets move to the artifact store: a row records the file's key there and
its size (with the sha256 it already had), so another checkout can fetch and verify it.
Rows saved before keep their repository-relative ``storage_path`` and no size; exactly one
of key and path is set.

Downgrading keeps every row: a set kept in the artifact store gets its key as its path,
where an older Silage looks for it under the repository (and reports it missing until the
file is copied there).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("training_sets") as batch:
        batch.add_column(sa.Column("storage_key", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("size_bytes", sa.BigInteger(), nullable=True))
        batch.alter_column("storage_path", existing_type=sa.String(length=1000), nullable=True)
        batch.create_check_constraint(
            op.f("ck_training_sets_one_location"),
            "(storage_key IS NULL) <> (storage_path IS NULL)",
        )
        batch.create_check_constraint(
            op.f("ck_training_sets_stored_size_known"),
            "storage_key IS NULL OR size_bytes IS NOT NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("training_sets") as batch:
        batch.drop_constraint(op.f("ck_training_sets_stored_size_known"), type_="check")
        batch.drop_constraint(op.f("ck_training_sets_one_location"), type_="check")
    op.execute("UPDATE training_sets SET storage_path = storage_key WHERE storage_path IS NULL")
    with op.batch_alter_table("training_sets") as batch:
        batch.alter_column("storage_path", existing_type=sa.String(length=1000), nullable=False)
        batch.drop_column("size_bytes")
        batch.drop_column("storage_key")
