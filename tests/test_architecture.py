"""Architecture: which module may import which, read from every import statement in the tree.

The folders follow the data (see the README's "How it is built"). Imports run one way:
foundation modules at the bottom, then declarations, the compilers, the offline and online
stores, the repository, serving, and the facade and CLI on top; ``registry`` sits below
everything and never imports ``store``. Engines and backends are reached through their
tables, never by name, and never import each other. Imports inside functions and under
``TYPE_CHECKING`` count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FOUNDATION = ("store.types", "store.errors", "store.epoch", "store.settings")
# What each part of `store` may import from `store` (prefixes; a module may always import
# from its own part). The first prefix a module falls under applies; a module under none
# fails, so a new top-level module must be placed here deliberately.
MAY_IMPORT: list[tuple[str, tuple[str, ...]]] = [
    ("store.types", ()),
    ("store.errors", ()),
    ("store.epoch", ("store.errors",)),
    ("store.settings", ("store.errors",)),
    ("store.definitions", FOUNDATION),
    # On-demand views' functions run on Arrow and pandas, for the offline and online stores.
    ("store.transformation", (*FOUNDATION, "store.definitions")),
    # Compilers compile declarations (expectations) into SQL; nothing else.
    ("store.offline.compiler", ("store.types", "store.errors", "store.definitions")),
    # An engine sees compiled queries and its protocol, nothing of the offline store.
    (
        "store.offline.engines",
        (*FOUNDATION, "store.offline.compiler.query", "store.offline.engine"),
    ),
    ("store.offline", (*FOUNDATION, "store.definitions", "store.transformation")),
    (
        "store.online.backends",
        (*FOUNDATION, "store.online.layout", "store.online.backend", "store.online.values"),
    ),
    # The JSON encoding of nested values that every backend shares.
    ("store.online.values", FOUNDATION),
    # Online rows carry the newest-rows query's time columns.
    ("store.online.layout", (*FOUNDATION, "store.definitions", "store.offline.compiler.query")),
    # Materialization is the one place that uses both stores.
    (
        "store.online.materialize",
        (
            *FOUNDATION,
            "store.definitions",
            "store.offline.compiler",
            "store.offline.engine",
            "store.offline.sources",
            "store.online.backend",
            "store.online.layout",
        ),
    ),
    ("store.online", (*FOUNDATION, "store.definitions", "store.transformation")),
    # Feast objects converted to definitions (a Feast repository loads unchanged).
    ("store.feast", (*FOUNDATION, "store.definitions")),
    (
        "store.repo",
        (
            *FOUNDATION,
            "store.definitions",
            "store.feast",
            "store.offline.sources",
            "store.offline.engine",
            "store.offline.engines",  # the table, not an engine (checked below)
            "store.online.layout",
            "store.online.backend",
            "store.online.backends",  # the table, not a backend (checked below)
        ),
    ),
    # Monitoring reads what the stores hold and what serving logged; it writes nothing to them.
    (
        "store.monitoring",
        (
            *FOUNDATION,
            "store.definitions",
            "store.offline",  # but no engine by name (checked below)
            "store.online.layout",
            "store.online.backend",
            "store.serving.prediction_log",
            "store.serving.predict",
        ),
    ),
    # Experiments read the predictions log and monitoring's findings; they route through
    # serving's hash and act on deployments through the registry.
    (
        "store.experiments",
        (
            *FOUNDATION,
            "store.definitions",
            "store.serving.prediction_log",
            "store.serving.predict",
            "store.monitoring",
        ),
    ),
    # The server adapts the facade to HTTP and mounts the UI; nothing else in serving looks
    # up (the facade follows registry changes made by other processes).
    ("store.serving.server", (*FOUNDATION, "store.feature_store", "store.ui")),
    ("store.serving", (*FOUNDATION, "store.definitions", "store.online.read")),
    # The web UI reads the registry (its public API) through the facade that serves it;
    # never an engine, a backend or the stores' internals.
    ("store.ui", (*FOUNDATION, "store.feature_store")),
    ("store.feature_store", ("store",)),
    # Terminal output: tables, trees, numbers, JSON; it knows nothing of the store.
    ("store.console", ()),
    ("store.cli", ("store",)),
]
# store/__init__.py: the public API, re-exported; the facade loads on first use.
PUBLIC_API = (
    *FOUNDATION,
    "store.definitions",
    "store.feature_store",
    "store.monitoring.drift_runs",
)
# Third-party and standard modules that only these files may import.
ONLY_IN: dict[str, set[str]] = {
    "duckdb": {"store/offline/engines/duckdb.py"},
    # The online backend, and the predictions log's connections (its own file, so that
    # logging never waits for a materialization holding the online store's write lock).
    "sqlite3": {"store/online/backends/sqlite.py", "store/serving/log_database.py"},
    # The online backends on servers; the registry reaches PostgreSQL through SQLAlchemy.
    "redis": {"store/online/backends/redis.py"},
    "psycopg": {"store/online/backends/postgres.py"},
    "click": {"store/cli.py"},
    "fastapi": {"store/serving/server.py"},
    # The UI: its routes are a Starlette app, its pages Jinja2 templates.
    "starlette": {"store/ui/routes.py"},
    "jinja2": {"store/ui/templates.py"},
    "uvicorn": {"store/cli.py"},
    "sqlglot": {"store/offline/compiler/*", "store/offline/engines/duckdb.py"},
}
# No database driver, dataframe or registry in declarations and compilers.
HEAVY = {"duckdb", "sqlite3", "sqlalchemy", "psycopg", "redis", "pyspark", "pyarrow", "pandas"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved; ``from a import b`` counts as
    ``a.b`` when that is a module of this project, else as ``a``."""
    names: set[str] = set()
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                relative = Path(*candidate.split("."))
                is_module = (ROOT / relative).with_suffix(".py").exists() or (
                    ROOT / relative / "__init__.py"
                ).exists()
                names.add(candidate if is_module else module)
    return names


def files(package: str) -> list[Path]:
    """The package's modules; ``silage init``'s templates are user code, not ours."""
    return sorted(p for p in (ROOT / package).rglob("*.py") if "templates" not in p.parts)


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def rule_for(module: str) -> tuple[str, tuple[str, ...]]:
    if module == "store":
        return module, PUBLIC_API
    for prefix, allowed in MAY_IMPORT:
        if under(module, prefix):
            return prefix, allowed
    raise AssertionError(f"{module} is in no part of MAY_IMPORT; place it there")


def test_registry_never_imports_store() -> None:
    offenders = {
        path.relative_to(ROOT).as_posix(): sorted(n for n in imports_of(path) if under(n, "store"))
        for path in files("registry")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("path", files("store"), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_store_imports_run_one_way(path: Path) -> None:
    module = module_name(path)
    part, allowed = rule_for(module)
    wrong = sorted(
        name
        for name in imports_of(path)
        if under(name, "store")
        and not (under(name, part) and part != "store")
        and not any(under(name, prefix) for prefix in allowed)
    )
    assert wrong == [], f"{module} (in {part}) may import only {part} and {allowed}"


def test_engines_and_backends_are_reached_through_their_tables_only() -> None:
    for kind in ("store.offline.engines", "store.online.backends"):
        folder = ROOT / Path(*kind.split("."))
        members = {f"{kind}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"}
        for path in files("store"):
            module = module_name(path)
            named = sorted(imports_of(path) & members)
            if under(module, kind):
                # An engine or backend never imports another one.
                assert named in ([], [module]), f"{module} imports {named}"
            else:
                assert named == [], f"{module} imports {named}; use the table in {kind}"


@pytest.mark.parametrize("library", sorted(ONLY_IN))
def test_drivers_and_frameworks_enter_through_one_module_each(library: str) -> None:
    users = {
        path.relative_to(ROOT).as_posix()
        for path in files("store")
        if any(under(name, library) for name in imports_of(path))
    }
    allowed = ONLY_IN[library]
    outside = {
        u
        for u in users
        if u not in allowed and not any(a.endswith("/*") and u.startswith(a[:-1]) for a in allowed)
    }
    assert outside == set(), f"{library} may be imported only by {sorted(allowed)}"
    # and the named modules are the ones that do: a list of importers, not of permissions
    assert {a for a in allowed if not a.endswith("/*")} <= users


@pytest.mark.parametrize(
    "package",
    ["store/definitions", "store/offline/compiler", "store/online/layout.py", "store/repo/plan.py"],
)
def test_declarations_and_compilers_touch_no_database(package: str) -> None:
    target = ROOT / package
    paths = [target] if target.is_file() else sorted(target.rglob("*.py"))
    for path in paths:
        found = {n.split(".")[0] for n in imports_of(path)} & (HEAVY | {"registry"})
        assert found == set(), f"{path.relative_to(ROOT)} imports {sorted(found)}"


def test_declarations_import_no_sql_builder() -> None:
    for path in files("store/definitions"):
        assert "sqlglot" not in {n.split(".")[0] for n in imports_of(path)}


def test_migrations_never_import_orm_classes() -> None:
    for path in (ROOT / "migrations" / "versions").glob("*.py"):
        found = {name.split(".")[0] for name in imports_of(path)}
        assert "registry" not in found, f"{path.name} imports the ORM; write plain op.* calls"


def test_only_the_registry_database_module_creates_engines() -> None:
    creators = {
        path.relative_to(ROOT).as_posix()
        for path in files("registry")
        if "sqlalchemy" in {n.split(".")[0] for n in imports_of(path)}
        and "create_engine" in path.read_text(encoding="utf-8")
    }
    assert creators == {"registry/database.py"}


def test_every_folder_says_what_lives_there_and_what_it_may_import() -> None:
    for init in files("store"):
        if init.name != "__init__.py":
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc, f"{init.relative_to(ROOT)} has no docstring"
        if init.parent == ROOT / "store":
            continue  # the public API; its docstring shows how users import it
        assert "May import" in doc, f"{init.relative_to(ROOT)}: say what it may import"
