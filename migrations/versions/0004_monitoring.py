"""Validation runs and results of feature views, and feature statistics per time window.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "validation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("feature_view_version_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("policy", sa.String(length=10), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("training_set_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "policy IN ('reject', 'warn')", name=op.f("ck_validation_runs_policy_known")
        ),
        sa.CheckConstraint(
            "trigger IN ('materialize', 'push', 'training_set', 'on_demand')",
            name=op.f("ck_validation_runs_trigger_known"),
        ),
        sa.ForeignKeyConstraint(
            ["feature_view_version_id"],
            ["feature_view_versions.id"],
            name=op.f("fk_validation_runs_feature_view_version_id"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_validation_runs_project_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["training_set_id"],
            ["training_sets.id"],
            name=op.f("fk_validation_runs_training_set_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_runs")),
    )
    op.create_table(
        "validation_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("observed", sa.JSON(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["validation_runs.id"],
            name=op.f("fk_validation_results_run_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_results")),
        sa.UniqueConstraint(
            "run_id", "position", name=op.f("uq_validation_results_run_id_position")
        ),
    )
    op.create_table(
        "feature_statistics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("feature", sa.String(length=400), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("statistics", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "subject_kind IN ('feature_view', 'training_set', 'predictions')",
            name=op.f("ck_feature_statistics_subject_kind_known"),
        ),
        sa.CheckConstraint(
            "window_end >= window_start", name=op.f("ck_feature_statistics_window_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_feature_statistics_project_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_statistics")),
        sa.UniqueConstraint(
            "project_id",
            "subject_kind",
            "subject",
            "feature",
            "window_start",
            "window_end",
            name="uq_feature_statistics_window",
        ),
    )


def downgrade() -> None:
    op.drop_table("feature_statistics")
    op.drop_table("validation_results")
    op.drop_table("validation_runs")
