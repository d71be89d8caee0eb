"""The registry's relational schema (SQLAlchemy 2.0 ORM).

These tables are a documented interface: users may query them with any SQL client.
Surrogate integer keys; natural keys under named UNIQUE constraints; every constraint
named by the naming convention so SQLite batch migrations keep them; timestamps are
timezone-aware UTC everywhere.

Feature catalog:

- ``projects``: one row per ``project`` of a ``feature_store.yaml``.
- ``entities``, ``data_sources``, ``feature_services``: the current spec of each object
  (canonical JSON) and its sha256.
- ``feature_views`` and ``feature_view_versions``: a view keeps every version it had; a
  new version is written only when the spec's hash changes. Deleting a view from the
  repository sets ``deleted_at`` and keeps its versions, which trained models refer to.
- ``feature_view_features``: the features of each version, one row each, for queries
  such as "which views serve feature x".
- ``materialization_intervals``: time windows loaded into the online store per view.

Training sets and models:

- ``training_sets``: saved training data (its key in the artifact store, or a repository
  path before revision 0011; sha256, size, rows, schema, statistics, the manifest its
  fingerprint hashes); ``training_set_features`` ties each of its features
  to the exact ``feature_view_versions`` row it was read from.
- ``models`` and ``model_versions``: versions numbered by the model's ``next_version``
  counter; each version records its artifact (path, sha256, size, format), parameters,
  metrics, tags, input features and its training set.
- ``model_aliases`` and ``model_alias_history``: named pointers to versions, and every move.

Model cards and deployments:

- ``model_cards``: numbered revisions of a version's card (JSON sections), draft or approved.
- ``environments``: deployment targets such as production; one may require approved cards.
- ``deployment_revisions`` and ``deployment_targets``: each deploy, promote or rollback of a
  model in an environment adds a revision; its targets are versions with a role (primary,
  canary, shadow, ab) and a traffic share. The newest revision is live.

Monitoring:

- ``validation_runs`` and ``validation_results``: every check of a feature view's data
  against its expectations (on materialization, push, training-set build or demand): the
  view version, the window, the row count, the policy and whether it passed, and per
  expectation the value observed; a run made for a training set links to it.
- ``feature_statistics``: statistics of a feature per time window (of a view's source, a
  training set or the predictions log), one row per subject, feature and window, so that
  they form time series.
- ``reference_profiles``: a drift reference (a training set, a window of a source or of the
  predictions log) profiled once per feature: quantiles, bins and counts, frequencies.
- ``drift_results``: per model, environment, reference, feature and window, the drift tests'
  statistics, effects, p-values (raw and adjusted across the run) and the verdict.
- ``alert_rules``: rules added through the API (rules declared in a repository are read from
  it); ``alert_events``: each rule that fired, with the window, the value and the condition.

Teams (revision 0008):

- ``registry_changes``: one row whose ``changes`` counts committed write transactions;
  serving processes poll it to refresh their cached definitions (see ``registry.changes``).
- ``artifact_blobs``: artifacts and other files kept in the registry database itself
  (``artifact_store: {uri: registry}``), with their sha256 and size.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AlertEventRow",
    "AlertRuleRow",
    "ArtifactBlobRow",
    "Base",
    "CatalogObjectColumns",
    "DataSourceRow",
    "DeploymentRevisionRow",
    "DeploymentTargetRow",
    "DriftResultRow",
    "EntityRow",
    "EnvironmentRow",
    "FeatureServiceRow",
    "FeatureStatisticsRow",
    "FeatureViewFeatureRow",
    "FeatureViewRow",
    "FeatureViewVersionRow",
    "MaterializationIntervalRow",
    "ModelAliasHistoryRow",
    "ModelAliasRow",
    "ModelCardRow",
    "ModelRow",
    "ModelVersionRow",
    "ProjectRow",
    "ReferenceProfileRow",
    "RegistryChangesRow",
    "TrainingSetFeatureRow",
    "TrainingSetRow",
    "UTCDateTime",
    "ValidationResultRow",
    "ValidationRunRow",
    "utc_now",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no time zone type, so values are normalized to UTC and stored naive;
    naive input is refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the registry; pass UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        float: Float,
    }


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class CatalogObjectColumns:
    """Columns shared by entities, data sources and feature services."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]]
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class EntityRow(CatalogObjectColumns, Base):
    __tablename__ = "entities"
    __table_args__ = (UniqueConstraint("project_id", "name"),)


class DataSourceRow(CatalogObjectColumns, Base):
    __tablename__ = "data_sources"
    __table_args__ = (UniqueConstraint("project_id", "name"),)


class FeatureServiceRow(CatalogObjectColumns, Base):
    __tablename__ = "feature_services"
    __table_args__ = (UniqueConstraint("project_id", "name"),)


class FeatureViewRow(Base):
    __tablename__ = "feature_views"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class FeatureViewVersionRow(Base):
    __tablename__ = "feature_view_versions"
    __table_args__ = (
        UniqueConstraint("feature_view_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_view_id: Mapped[int] = mapped_column(ForeignKey("feature_views.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]]
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class FeatureViewFeatureRow(Base):
    __tablename__ = "feature_view_features"
    __table_args__ = (UniqueConstraint("feature_view_version_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_view_version_id: Mapped[int] = mapped_column(
        ForeignKey("feature_view_versions.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    dtype: Mapped[str] = mapped_column(String(100))


class MaterializationIntervalRow(Base):
    __tablename__ = "materialization_intervals"
    __table_args__ = (CheckConstraint("end_ts >= start_ts", name="window_ordered"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_view_id: Mapped[int] = mapped_column(ForeignKey("feature_views.id", ondelete="CASCADE"))
    feature_view_version_id: Mapped[int] = mapped_column(ForeignKey("feature_view_versions.id"))
    start_ts: Mapped[datetime]
    end_ts: Mapped[datetime]
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


# --- training sets and models (revision 0002) ------------------------------------------------


class TrainingSetRow(Base):
    """A saved training set: where its data is, what it holds, and how it was built.

    Since revision 0011 the data lives in the artifact store under ``storage_key``, with its
    size; sets saved before then name a file in the repository (``storage_path``, no size).
    Exactly one of the two is set.
    """

    __tablename__ = "training_sets"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        CheckConstraint("(storage_key IS NULL) <> (storage_path IS NULL)", name="one_location"),
        CheckConstraint("storage_key IS NULL OR size_bytes IS NOT NULL", name="stored_size_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    data_sha256: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int] = mapped_column(Integer)
    schema: Mapped[dict[str, Any]]
    statistics: Mapped[dict[str, Any]]
    manifest: Mapped[dict[str, Any]]
    entity_time_min: Mapped[datetime | None]
    entity_time_max: Mapped[datetime | None]
    # A key in the artifact store (revision 0011), or a repository-relative path (before).
    storage_key: Mapped[str | None] = mapped_column(String(1000))
    storage_path: Mapped[str | None] = mapped_column(String(1000))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class TrainingSetFeatureRow(Base):
    """One feature of a training set, tied to the exact feature-view version it came from."""

    __tablename__ = "training_set_features"
    __table_args__ = (UniqueConstraint("training_set_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    training_set_id: Mapped[int] = mapped_column(ForeignKey("training_sets.id", ondelete="CASCADE"))
    # Indexed (revision 0010): "which training sets, and so which models, use this view".
    feature_view_version_id: Mapped[int] = mapped_column(
        ForeignKey("feature_view_versions.id"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    feature: Mapped[str] = mapped_column(String(200))
    column_name: Mapped[str] = mapped_column(String(400))


class ModelRow(Base):
    """A registered model; ``next_version`` hands out version numbers without races."""

    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        CheckConstraint("next_version >= 1", name="next_version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(4000), default="")
    next_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class ModelVersionRow(Base):
    """One trained artifact of a model, with what it learned from."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("artifact_format IN ('skops', 'pickle')", name="artifact_format_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    # Indexed (revision 0010): the model versions trained on a training set.
    training_set_id: Mapped[int | None] = mapped_column(ForeignKey("training_sets.id"), index=True)
    artifact_path: Mapped[str] = mapped_column(String(1000))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    artifact_size: Mapped[int] = mapped_column(Integer)
    artifact_format: Mapped[str] = mapped_column(String(20))
    model_type: Mapped[str] = mapped_column(String(400))
    params: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any]]
    tags: Mapped[dict[str, Any]]
    input_features: Mapped[dict[str, Any]]
    description: Mapped[str] = mapped_column(String(4000), default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Deleted versions keep their row (deployment history and lineage refer to it) but lose
    # their artifact and disappear from listings.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class ModelAliasRow(Base):
    """A movable name (``champion``) for one version of a model."""

    __tablename__ = "model_aliases"
    __table_args__ = (UniqueConstraint("model_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(200))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class ModelAliasHistoryRow(Base):
    """Every move of an alias: who, when, from which version to which, and why."""

    __tablename__ = "model_alias_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(200))
    from_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    to_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(default=utc_now)
    reason: Mapped[str] = mapped_column(String(4000), default="")


# --- model cards and deployments (revision 0003) ---------------------------------------------


class ModelCardRow(Base):
    """A numbered revision of a model version's card, draft or approved."""

    __tablename__ = "model_cards"
    __table_args__ = (
        UniqueConstraint("model_version_id", "revision"),
        CheckConstraint("status IN ('draft', 'approved')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    revision: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    content: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class EnvironmentRow(Base):
    """Where models are deployed: ``staging``, ``production``, ..."""

    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    require_approved_card: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # The evidence a challenger needs before it may be promoted here (revision 0007).
    promotion_gate: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class DeploymentRevisionRow(Base):
    """One state of a model's deployment in an environment; the newest one is live."""

    __tablename__ = "deployment_revisions"
    __table_args__ = (
        UniqueConstraint("environment_id", "model_id", "revision"),
        CheckConstraint(
            "action IN ('deploy', 'promote', 'rollback', 'reweight')", name="action_known"
        ),
        CheckConstraint("mode IN ('fixed', 'bandit', 'interleave')", name="mode_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    reason: Mapped[str] = mapped_column(String(4000), default="")
    # How traffic is split (revision 0007): fixed shares, a bandit that reweights them, or
    # two rankers interleaved; the bandit's policy; the evidence behind the revision (a
    # bandit's reweighting, a gated promotion's experiment).
    mode: Mapped[str] = mapped_column(String(20), default="fixed")
    policy: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class DeploymentTargetRow(Base):
    """A model version serving in a deployment revision, with its role and traffic share."""

    __tablename__ = "deployment_targets"
    __table_args__ = (
        CheckConstraint("role IN ('primary', 'canary', 'shadow', 'ab')", name="role_known"),
        CheckConstraint("share >= 0 AND share <= 100", name="share_percent"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_id: Mapped[int] = mapped_column(
        ForeignKey("deployment_revisions.id", ondelete="CASCADE")
    )
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    role: Mapped[str] = mapped_column(String(20))
    share: Mapped[float]
    arm: Mapped[str] = mapped_column(String(200), default="")


# --- monitoring (revision 0004) -----------------------------------------------------------


class ValidationRunRow(Base):
    """One check of a view's data against its expectations."""

    __tablename__ = "validation_runs"
    __table_args__ = (
        CheckConstraint(
            "trigger IN ('materialize', 'push', 'training_set', 'on_demand')",
            name="trigger_known",
        ),
        CheckConstraint("policy IN ('reject', 'warn')", name="policy_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    feature_view_version_id: Mapped[int] = mapped_column(ForeignKey("feature_view_versions.id"))
    trigger: Mapped[str] = mapped_column(String(20))
    policy: Mapped[str] = mapped_column(String(10))
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    row_count: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool]
    training_set_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_sets.id", ondelete="CASCADE"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class ValidationResultRow(Base):
    """One expectation's outcome in a validation run."""

    __tablename__ = "validation_results"
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("validation_runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    spec: Mapped[dict[str, Any]]
    description: Mapped[str] = mapped_column(String(1000))
    observed: Mapped[dict[str, Any]]
    passed: Mapped[bool]


class FeatureStatisticsRow(Base):
    """Statistics of one feature of one subject in one time window."""

    __tablename__ = "feature_statistics"
    __table_args__ = (
        UniqueConstraint(
            "project_id",
            "subject_kind",
            "subject",
            "feature",
            "window_start",
            "window_end",
            name="uq_feature_statistics_window",
        ),
        CheckConstraint(
            "subject_kind IN ('feature_view', 'training_set', 'predictions')",
            name="subject_kind_known",
        ),
        CheckConstraint("window_end >= window_start", name="window_ordered"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(400))
    feature: Mapped[str] = mapped_column(String(400))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    statistics: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime] = mapped_column(default=utc_now)


# --- drift (revision 0005) ------------------------------------------------------------------


class ReferenceProfileRow(Base):
    """A drift reference's profile of one feature, computed once."""

    __tablename__ = "reference_profiles"
    __table_args__ = (
        UniqueConstraint("project_id", "reference", "feature", name="uq_reference_profiles_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(1000))
    feature: Mapped[str] = mapped_column(String(400))
    profile: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class DriftResultRow(Base):
    """One feature's drift in one window of a model's served data, against a reference."""

    __tablename__ = "drift_results"
    __table_args__ = (
        UniqueConstraint(
            "project_id",
            "model",
            "environment",
            "reference",
            "feature",
            "window_start",
            name="uq_drift_results_window",
        ),
        CheckConstraint("verdict IN ('drift', 'no_drift', 'too_small')", name="verdict_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(1000))
    feature: Mapped[str] = mapped_column(String(400))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    verdict: Mapped[str] = mapped_column(String(20))
    p_value: Mapped[float | None]
    adjusted_p_value: Mapped[float | None]
    n_reference: Mapped[int] = mapped_column(Integer)
    n_current: Mapped[int] = mapped_column(Integer)
    tests: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # The reference's and the window's values in the same bins (revision 0010).
    histogram: Mapped[dict[str, Any] | None]


# --- alerts (revision 0006) ------------------------------------------------------------------


class AlertRuleRow(Base):
    """An alert rule added through the API."""

    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class AlertEventRow(Base):
    """An alert that fired: a rule breached for its windows in a row, ending at a window."""

    __tablename__ = "alert_events"
    __table_args__ = (
        UniqueConstraint("project_id", "rule", "window_start", name="uq_alert_events_window"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(400))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    value: Mapped[float]
    condition: Mapped[str] = mapped_column(String(400))
    description: Mapped[str] = mapped_column(String(4000), default="")
    runbook: Mapped[str] = mapped_column(String(1000), default="")
    fired_at: Mapped[datetime] = mapped_column(default=utc_now)


# --- experiments and retraining (revision 0007) ----------------------------------------------


class ExperimentRow(Base):
    """An experiment declared on a model's deployment in an environment, with its plan."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class RetrainingRunRow(Base):
    """A retraining trigger that fired: why, what it did, and the version it registered."""

    __tablename__ = "retraining_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(200))
    policy: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(4000))
    details: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str] = mapped_column(String(4000), default="")
    version: Mapped[int | None] = mapped_column(Integer, default=None)
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


# --- teams: the change counter and artifacts kept in the database (revision 0008) -----------


class RegistryChangesRow(Base):
    """The change counter: one row, bumped by every write transaction (the write lock too)."""

    __tablename__ = "registry_changes"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    changes: Mapped[int] = mapped_column(BigInteger)


class ArtifactBlobRow(Base):
    """A file kept in the registry database: its key (a relative path), bytes and digest."""

    __tablename__ = "artifact_blobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(1000), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


# --- tokens for writes over HTTP (revision 0009) ---------------------------------------------


class ApiTokenRow(Base):
    """A bearer token for ``silage serve``: its name, the SHA-256 of its secret (never the
    secret itself) and what it may do."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
