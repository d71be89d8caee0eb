"""Feature catalog: projects, entities, sources, versioned feature views, services,
materialization intervals.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    op.create_table(
        "data_sources",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_data_sources_project_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_sources")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_data_sources_project_id_name")),
    )
    op.create_table(
        "entities",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_entities_project_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entities")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_entities_project_id_name")),
    )
    op.create_table(
        "feature_services",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_feature_services_project_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_services")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_feature_services_project_id_name")),
    )
    op.create_table(
        "feature_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_feature_views_project_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_views")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_feature_views_project_id_name")),
    )
    op.create_table(
        "feature_view_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feature_view_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_feature_view_versions_version_positive")),
        sa.ForeignKeyConstraint(
            ["feature_view_id"],
            ["feature_views.id"],
            name=op.f("fk_feature_view_versions_feature_view_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_view_versions")),
        sa.UniqueConstraint(
            "feature_view_id",
            "version",
            name=op.f("uq_feature_view_versions_feature_view_id_version"),
        ),
    )
    op.create_table(
        "feature_view_features",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feature_view_version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dtype", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_view_version_id"],
            ["feature_view_versions.id"],
            name=op.f("fk_feature_view_features_feature_view_version_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_view_features")),
        sa.UniqueConstraint(
            "feature_view_version_id",
            "name",
            name=op.f("uq_feature_view_features_feature_view_version_id_name"),
        ),
    )
    op.create_table(
        "materialization_intervals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feature_view_id", sa.Integer(), nullable=False),
        sa.Column("feature_view_version_id", sa.Integer(), nullable=False),
        sa.Column("start_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows_written", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "end_ts >= start_ts", name=op.f("ck_materialization_intervals_window_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["feature_view_id"],
            ["feature_views.id"],
            name=op.f("fk_materialization_intervals_feature_view_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["feature_view_version_id"],
            ["feature_view_versions.id"],
            name=op.f("fk_materialization_intervals_feature_view_version_id"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_materialization_intervals")),
    )


def downgrade() -> None:
    op.drop_table("materialization_intervals")
    op.drop_table("feature_view_features")
    op.drop_table("feature_view_versions")
    op.drop_table("feature_views")
    op.drop_table("feature_services")
    op.drop_table("entities")
    op.drop_table("data_sources")
    op.drop_table("projects")
