"""Silage's feature store: declare features in Python, apply them, serve them.

Definitions have Feast's constructor signatures, so a Feast repository ports by
changing its imports::

    from store import Entity, FeatureService, FeatureView, Field, FileSource
    from store.types import Float32, Int64

Importing ``store`` is cheap: the facade (and with it SQLAlchemy, pyarrow and DuckDB)
loads on first use of ``store.FeatureStore``.

The package's folders follow the data; each one's ``__init__`` says what it may import:

- :mod:`store.definitions`: the declarations above (inert values);
- :mod:`store.repo`: ``feature_store.yaml``, loading a repository, plan and apply;
- :mod:`store.offline`: training sets: the compilers (SQL out) and the offline engines;
- :mod:`store.online`: materialization, online reads and pushes, and the online backends;
- :mod:`store.serving`: predictions through deployments, the predictions log, HTTP;
- at the top: :mod:`store.types`, :mod:`store.errors`, :mod:`store.epoch` and
  :mod:`store.settings` below everything, and the ``FeatureStore`` facade and the CLI
  (:mod:`store.cli`) above everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from store import types
from store.definitions.alerts import AlertRule
from store.definitions.entity import Entity
from store.definitions.expectations import (
    AllowedValues,
    Compare,
    Freshness,
    Matches,
    NullShare,
    QuantileRange,
    RowCount,
    UniqueKeys,
    ValueRange,
)
from store.definitions.feature_logging import FileLoggingDestination, LoggingConfig
from store.definitions.feature_service import FeatureService
from store.definitions.feature_view import FeatureView, FeatureViewProjection
from store.definitions.field import Field
from store.definitions.label_view import ConflictPolicy, LabelView
from store.definitions.on_demand import OnDemandFeatureView, on_demand_feature_view
from store.definitions.push_source import PushMode, PushSource
from store.definitions.request_source import RequestSource
from store.definitions.retraining import RetrainingPolicy
from store.definitions.source import FileSource
from store.definitions.spark_source import SparkSource
from store.errors import (
    ConfigError,
    DataValidationError,
    DefinitionError,
    ObjectNotFoundError,
    OnlineStoreError,
    RepoError,
    RepoImportError,
    RepoValidationError,
    RequestError,
    SourceDataError,
    StoreError,
    TrainingSetIntegrityError,
    TransformationError,
)

if TYPE_CHECKING:
    from store.feature_store import FeatureStore
    from store.monitoring.drift_runs import DriftReference

__all__ = [
    "AlertRule",
    "AllowedValues",
    "Compare",
    "ConfigError",
    "ConflictPolicy",
    "DataValidationError",
    "DefinitionError",
    "DriftReference",
    "Entity",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "FeatureViewProjection",
    "Field",
    "FileLoggingDestination",
    "FileSource",
    "Freshness",
    "LabelView",
    "LoggingConfig",
    "Matches",
    "NullShare",
    "ObjectNotFoundError",
    "OnDemandFeatureView",
    "OnlineStoreError",
    "PushMode",
    "PushSource",
    "QuantileRange",
    "RepoError",
    "RepoImportError",
    "RepoValidationError",
    "RequestError",
    "RequestSource",
    "RetrainingPolicy",
    "RowCount",
    "SourceDataError",
    "SparkSource",
    "StoreError",
    "TrainingSetIntegrityError",
    "TransformationError",
    "UniqueKeys",
    "ValueRange",
    "on_demand_feature_view",
    "types",
]


def __getattr__(name: str) -> Any:
    if name == "FeatureStore":
        from store.feature_store import FeatureStore

        return FeatureStore
    if name == "DriftReference":
        from store.monitoring.drift_runs import DriftReference

        return DriftReference
    raise AttributeError(f"module 'store' has no attribute {name!r}")
