"""Drift results keep the reference's and the window's values in the same bins, so a
window can be drawn beside its reference without reading the predictions log again; and
indexes for "who uses this feature view" (training-set features by view version, model
versions by training set), which the UI asks on every feature-view page.

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
    op.create_index(
        op.f("ix_training_set_features_feature_view_version_id"),
        "training_set_features",
        ["feature_view_version_id"],
    )
    op.create_index(
        op.f("ix_model_versions_training_set_id"), "model_versions", ["training_set_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_model_versions_training_set_id"), table_name="model_versions")
    op.drop_index(
        op.f("ix_training_set_features_feature_view_version_id"),
        table_name="training_set_features",
    )
    with op.batch_alter_table("drift_results") as batch:
        batch.drop_column("histogram")
