"""Packaging: import names, the exported API, the wheel, CLI start-up cost.

The dependency rules between modules are in ``test_architecture.py``."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import registry
import store

ROOT = Path(__file__).resolve().parents[1]


def test_no_other_distribution_provides_our_import_names() -> None:
    providers = packages_distributions()
    for name in ("store", "registry"):
        assert set(providers.get(name, [])) <= {"silage"}, (
            f"another installed distribution also provides {name!r}: {providers[name]}"
        )
    assert Path(store.__file__).resolve().parent == ROOT / "store"
    assert Path(registry.__file__).resolve().parent == ROOT / "registry"


def test_public_api_is_pinned() -> None:
    assert sorted(store.__all__) == [
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
    assert sorted(registry.__all__) == [
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
        "KINDS",
        "Kind",
        "Lineage",
        "MODES",
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
        "SCOPES",
        "SECTIONS",
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
    for name in store.__all__:
        assert getattr(store, name) is not None
    for name in registry.__all__:
        assert getattr(registry, name) is not None


def test_cli_start_up_imports_nothing_heavy() -> None:
    code = (
        "import sys; import store.cli; "
        "heavy = {'sqlalchemy', 'pyarrow', 'pandas', 'duckdb', 'alembic', 'numpy', 'yaml', "
        "'redis', 'psycopg'}; "
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_wheel_ships_packages_and_migrations(tmp_path: Path) -> None:
    """The wheel lists its packages explicitly and carries the Alembic scripts."""
    import zipfile

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("silage-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("silage-")}
    assert tops == {"store", "registry"}
    assert "registry/_migrations/env.py" in names
    assert "registry/_migrations/versions/0001_feature_catalog.py" in names
    assert "store/repo/templates/example.py" in names
    # the web UI's templates and stylesheet
    assert "store/ui/templates/base.html" in names
    assert "store/ui/static/ui.css" in names
