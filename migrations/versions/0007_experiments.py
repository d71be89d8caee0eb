"""Experiments, bandit and interleaving deployments, promotion gates and retraining runs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite cannot alter a CHECK constraint in place: batch mode copies the table.
    with op.batch_alter_table("deployment_revisions") as batch:
        batch.add_column(
            sa.Column("mode", sa.String(length=20), nullable=False, server_default="fixed")
        )
        batch.add_column(sa.Column("policy", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
        batch.drop_constraint(op.f("ck_deployment_revisions_action_known"), type_="check")
        batch.create_check_constraint(
            "action_known", "action IN ('deploy', 'promote', 'rollback', 'reweight')"
        )
        batch.create_check_constraint("mode_known", "mode IN ('fixed', 'bandit', 'interleave')")
    with op.batch_alter_table("deployment_revisions") as batch:
        batch.alter_column("mode", server_default=None)
    with op.batch_alter_table("environments") as batch:
        batch.add_column(sa.Column("promotion_gate", sa.JSON(), nullable=True))
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_experiments_project_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
    )
    op.create_table(
        "retraining_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("policy", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=4000), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.String(length=4000), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')",
            name=op.f("ck_retraining_runs_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_retraining_runs_project_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retraining_runs")),
    )


def downgrade() -> None:
    op.drop_table("retraining_runs")
    op.drop_table("experiments")
    with op.batch_alter_table("environments") as batch:
        batch.drop_column("promotion_gate")
    # A bandit's reweightings cannot be told by an older schema: drop them with their
    # targets (foreign keys are off while migrating, so the targets go first).
    op.execute(
        "DELETE FROM deployment_targets WHERE revision_id IN "
        "(SELECT id FROM deployment_revisions WHERE action = 'reweight')"
    )
    op.execute("DELETE FROM deployment_revisions WHERE action = 'reweight'")
    with op.batch_alter_table("deployment_revisions") as batch:
        batch.drop_constraint(op.f("ck_deployment_revisions_mode_known"), type_="check")
        batch.drop_constraint(op.f("ck_deployment_revisions_action_known"), type_="check")
        batch.create_check_constraint("action_known", "action IN ('deploy', 'promote', 'rollback')")
        batch.drop_column("evidence")
        batch.drop_column("policy")
        batch.drop_column("mode")
