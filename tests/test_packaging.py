"""Packaging and architecture: names, exported API, dependency direction, CLI start-up cost."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

import registry
import store

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> dict[Path, set[str]]:
    found: dict[Path, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[path] = names
    return found


def test_registry_never_imports_store() -> None:
    offenders = {
        path.relative_to(ROOT).as_posix(): sorted(n for n in names if n.split(".")[0] == "store")
        for path, names in _imports("registry").items()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_migrations_never_import_orm_classes() -> None:
    for path in (ROOT / "migrations" / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "registry" not in text, f"{path.name} imports the ORM; write plain op.* calls"


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        # Declarations are inert values: no I/O libraries.
        ("store/definitions/entity.py", set()),
        ("store/definitions/field.py", set()),
        ("store/definitions/source.py", set()),
        ("store/definitions/feature_view.py", set()),
        ("store/definitions/feature_service.py", set()),
        ("store/repo/plan.py", set()),
        ("store/online/layout.py", set()),
    ],
)
def test_declarations_and_compilation_touch_no_database(module: str, allowed: set[str]) -> None:
    heavy = {"duckdb", "sqlite3", "sqlalchemy", "pyarrow", "pandas", "registry"}
    names = _imports("store")[ROOT / module]
    assert {n.split(".")[0] for n in names} & heavy == allowed


def test_only_the_online_store_opens_sqlite_and_only_the_cli_imports_click() -> None:
    by_module = {p.relative_to(ROOT).as_posix(): n for p, n in _imports("store").items()}
    # The online store, and the predictions log (its own file, so logging never waits on a load).
    assert sorted(p for p, n in by_module.items() if "sqlite3" in n) == [
        "store/online/backends/sqlite.py",
        "store/serving/prediction_log.py",
    ]
    assert sorted(p for p, n in by_module.items() if "click" in n) == ["store/cli.py"]
    engines = {
        p.relative_to(ROOT).as_posix()
        for p, n in _imports("registry").items()
        if "sqlalchemy" in n and "create_engine" in p.read_text()
    }
    assert engines == {"registry/database.py"}


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
        "ConfigError",
        "DefinitionError",
        "Entity",
        "FeatureService",
        "FeatureStore",
        "FeatureView",
        "FeatureViewProjection",
        "Field",
        "FileSource",
        "ObjectNotFoundError",
        "OnlineStoreError",
        "RepoError",
        "RepoImportError",
        "RepoValidationError",
        "RequestError",
        "SourceDataError",
        "StoreError",
        "types",
    ]
    assert sorted(registry.__all__) == [
        "AliasMove",
        "ArtifactIntegrityError",
        "Catalog",
        "CatalogChange",
        "CatalogObject",
        "DeclaredObject",
        "DeploymentRevision",
        "Deployments",
        "FeatureLineage",
        "FeatureUsers",
        "KINDS",
        "Kind",
        "Lineage",
        "MaterializationInterval",
        "ModelCard",
        "ModelCards",
        "ModelRegistry",
        "ModelVersion",
        "ProjectRegistry",
        "Registry",
        "RegistryError",
        "RegistryNotFoundError",
        "RegistryOutdatedError",
        "RegistrySchemaError",
        "RegistryTooNewError",
        "SECTIONS",
        "SearchPage",
        "Target",
        "TrainingSetFeature",
        "TrainingSetRecord",
        "TrainingSets",
        "VersionLineage",
    ]
    for name in store.__all__:
        assert getattr(store, name) is not None
    for name in registry.__all__:
        assert getattr(registry, name) is not None


def test_cli_start_up_imports_nothing_heavy() -> None:
    code = (
        "import sys; import store.cli; "
        "heavy = {'sqlalchemy', 'pyarrow', 'pandas', 'duckdb', 'alembic', 'numpy', 'yaml'}; "
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
