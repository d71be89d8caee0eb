"""Drift results keep the reference's and the window's values in the same bins, so a
window can be drawn beside its reference without reading the predictions log again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("drift_results") as batch:
        batch.add_column(sa.Column("histogram", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drift_results") as batch:
        batch.drop_column("histogram")
