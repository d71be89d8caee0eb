"""Silage's registry: the metadata system of record.

It holds the feature catalog (entities, sources, versioned feature views, services and
materialization intervals), training sets tied to feature-view versions, models with
their versions, artifacts and aliases, and monitoring records (validation runs, statistics
per window), in any SQLAlchemy database (SQLite by default), its
schema managed by Alembic. It never imports ``store``: it stores specs, not Python objects.

Example:
    >>> from registry import Registry
    >>> reg = Registry("sqlite://")
    >>> reg.catalog.objects("demo")
    []
"""

from __future__ import annotations

from registry.browse import Browse, Page
from registry.cards import SECTIONS, ModelCard, ModelCards
from registry.catalog import (
    KINDS,
    Catalog,
    CatalogChange,
    CatalogObject,
    DeclaredObject,
    Kind,
    MaterializationInterval,
)
from registry.changes import ChangeWatcher
from registry.deployments import MODES, DeploymentRevision, Deployments, Target
from registry.errors import (
    ArtifactIntegrityError,
    RegistryError,
    RegistryNotFoundError,
    RegistryOutdatedError,
    RegistrySchemaError,
    RegistryTooNewError,
    RegistryUnavailableError,
    TokenRefusedError,
)
from registry.experiments import Experiment, Experiments, RetrainingRun, RetrainingRuns
from registry.lineage import FeatureLineage, FeatureUsers, Lineage, VersionLineage
from registry.models import AliasMove, ModelRegistry, ModelVersion
from registry.monitoring import (
    AlertEvent,
    CheckRecord,
    DriftRecord,
    Monitoring,
    NewValidationRun,
    ValidationRun,
    WindowStatistics,
)
from registry.project import ProjectRegistry, SearchPage
from registry.service import Registry
from registry.tokens import SCOPES, ApiToken, Tokens
from registry.training_sets import TrainingSetFeature, TrainingSetRecord, TrainingSets

__all__ = [
    "KINDS",
    "MODES",
    "SCOPES",
    "SECTIONS",
    "AlertEvent",
    "AliasMove",
    "ApiToken",
    "ArtifactIntegrityError",
    "Browse",
    "Catalog",
    "CatalogChange",
    "CatalogObject",
    "ChangeWatcher",
    "CheckRecord",
    "DeclaredObject",
    "DeploymentRevision",
    "Deployments",
    "DriftRecord",
    "Experiment",
    "Experiments",
    "FeatureLineage",
    "FeatureUsers",
    "Kind",
    "Lineage",
    "MaterializationInterval",
    "ModelCard",
    "ModelCards",
    "ModelRegistry",
    "ModelVersion",
    "Monitoring",
    "NewValidationRun",
    "Page",
    "ProjectRegistry",
    "Registry",
    "RegistryError",
    "RegistryNotFoundError",
    "RegistryOutdatedError",
    "RegistrySchemaError",
    "RegistryTooNewError",
    "RegistryUnavailableError",
    "RetrainingRun",
    "RetrainingRuns",
    "SearchPage",
    "Target",
    "TokenRefusedError",
    "Tokens",
    "TrainingSetFeature",
    "TrainingSetRecord",
    "TrainingSets",
    "ValidationRun",
    "VersionLineage",
    "WindowStatistics",
]
