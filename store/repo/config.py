"""``feature_store.yaml``: where a repository keeps its registry and stores.

The keys are Feast's, so a Feast ``feature_store.yaml`` for a local provider loads
unchanged::

    project: driver_ranking
    registry: data/registry.db          # a path (SQLite) or any SQLAlchemy URL
    provider: local
    offline_store: {type: duckdb}       # optional: threads: 4, memory_limit: 2GB
    online_store: {type: sqlite, path: data/online_store.db}
    artifact_store: {path: data/artifacts, trusted_types: [numpy.dtype]}   # Silage only

Relative paths resolve against the repository root. Unknown keys get a warning.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.errors import ConfigError

__all__ = ["CONFIG_FILE", "RepoConfig", "load_config"]

CONFIG_FILE = "feature_store.yaml"

_TOP_KEYS = {"project", "registry", "provider", "offline_store", "online_store", "artifact_store"}
# Feast settings that mean nothing here but are harmless: accepted without a warning.
_FEAST_ONLY_KEYS = {"entity_key_serialization_version", "flags", "coerce_tz_aware"}
_REGISTRY_KEYS = {"path", "registry_type", "cache_ttl_seconds", "sqlalchemy_config_kwargs"}
_OFFLINE_TYPES = {"duckdb", "file"}  # Feast's `file` store reads Parquet, as DuckDB does here.
_PROJECT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoConfig:
    """A loaded ``feature_store.yaml``, with every path made absolute."""

    repo_path: Path
    project: str
    registry_url: str
    provider: str = "local"
    offline_store_type: str = "duckdb"
    offline_threads: int | None = None
    # DuckDB keeps freed buffers up to its limit (80% of RAM by default), so a training-set
    # job's process stays large; a modest limit costs little time and spills beyond it.
    offline_memory_limit: str | None = "1GB"
    online_store_path: Path
    artifact_path: Path
    trusted_types: tuple[str, ...] = ()
    online_enforce_ttl: bool = True
    registry_cache_seconds: float = 60.0

    @property
    def config_path(self) -> Path:
        return self.repo_path / CONFIG_FILE


def load_config(repo_path: Path) -> RepoConfig:
    """Read and validate ``feature_store.yaml`` at the root of ``repo_path``.

    Raises:
        ConfigError: the file is missing, not YAML, or has a bad value; the message says which.
    """
    import yaml

    repo_path = repo_path.resolve()
    path = repo_path / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"no {CONFIG_FILE} here; run `silage init` to create a repository, "
            f"or pass --repo with the folder that holds {CONFIG_FILE}",
            path=path,
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        # The context mark is where the broken construct starts, which is what users look for.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML{where}: {problem}", path=path) from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            "expected a mapping of keys such as `project:` and `registry:`", path=path
        )

    _warn_unknown(path, "", raw, _TOP_KEYS | _FEAST_ONLY_KEYS)
    project = raw.get("project")
    if not isinstance(project, str) or not _PROJECT.match(project):
        raise ConfigError(
            f"project: {project!r} is not valid; give a name of letters, digits and "
            f"underscores that starts with a letter, e.g. `project: driver_ranking`",
            path=path,
        )
    provider = raw.get("provider", "local")
    if provider != "local":
        raise ConfigError(f"provider: {provider!r} is not supported; use `local`", path=path)
    return RepoConfig(
        repo_path=repo_path,
        project=project,
        registry_url=_registry_url(raw.get("registry", "data/registry.db"), repo_path, path),
        provider=provider,
        offline_store_type=_offline_type(raw.get("offline_store"), path),
        offline_threads=_offline_setting(raw.get("offline_store"), "threads", int, path),
        offline_memory_limit=_offline_setting(raw.get("offline_store"), "memory_limit", str, path)
        or "1GB",
        online_store_path=_online_path(raw.get("online_store"), repo_path, path),
        online_enforce_ttl=_enforce_ttl(raw.get("online_store"), path),
        artifact_path=_artifact_path(raw.get("artifact_store"), repo_path, path),
        trusted_types=_trusted_types(raw.get("artifact_store"), path),
        registry_cache_seconds=_cache_seconds(raw.get("registry"), path),
    )


def _warn_unknown(path: Path, section: str, given: dict[str, Any], known: set[str]) -> None:
    """Warn about keys this version of Silage ignores, naming them and their section."""
    extra = sorted(set(given) - known)
    if extra:
        where = f" under {section}" if section else ""
        warnings.warn(
            f"{path}: unknown keys{where} ignored: {', '.join(extra)}", UserWarning, stacklevel=4
        )


def _registry_url(value: Any, repo_path: Path, path: Path) -> str:
    if isinstance(value, dict):
        _warn_unknown(path, "registry", value, _REGISTRY_KEYS)
        value = value.get("path")
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"registry: {value!r} is not valid; give a file path such as `data/registry.db` "
            f"or an SQLAlchemy URL such as `postgresql://host/db`",
            path=path,
        )
    if "://" in value:
        if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
            relative = value.removeprefix("sqlite:///")
            if relative and relative != ":memory:":
                return f"sqlite:///{(repo_path / relative).as_posix()}"
        return value
    file = Path(value)
    return f"sqlite:///{(file if file.is_absolute() else repo_path / file).as_posix()}"


def _offline_type(value: Any, path: Path) -> str:
    kind = (value or {}).get("type", "duckdb") if isinstance(value, dict | None) else value
    if isinstance(value, dict):
        _warn_unknown(path, "offline_store", value, {"type", "threads", "memory_limit"})
    if kind not in _OFFLINE_TYPES:
        raise ConfigError(
            f"offline_store type {kind!r} is not supported; use `offline_store: {{type: duckdb}}`",
            path=path,
        )
    return "duckdb"


def _offline_setting(value: Any, key: str, kind: type, path: Path) -> Any:
    """``threads`` or ``memory_limit`` (e.g. ``"2GB"``) under ``offline_store``, or None."""
    if not isinstance(value, dict) or value.get(key) is None:
        return None
    setting = value[key]
    if not isinstance(setting, kind) or isinstance(setting, bool):
        raise ConfigError(
            f"offline_store {key}: {setting!r} is not valid; give a "
            f"{'whole number' if kind is int else 'size such as 2GB'}",
            path=path,
        )
    return setting


def _enforce_ttl(value: Any, path: Path) -> bool:
    """``online_store: {enforce_ttl: false}`` serves values older than their view's ttl."""
    setting = value.get("enforce_ttl", True) if isinstance(value, dict) else True
    if not isinstance(setting, bool):
        raise ConfigError(f"online_store enforce_ttl: {setting!r} must be true or false", path=path)
    return setting


def _cache_seconds(value: Any, path: Path) -> float:
    """Feast's ``registry: {cache_ttl_seconds: N}``: how long online reads reuse definitions."""
    setting = value.get("cache_ttl_seconds", 60) if isinstance(value, dict) else 60
    if isinstance(setting, bool) or not isinstance(setting, int | float) or setting < 0:
        raise ConfigError(
            f"registry cache_ttl_seconds: {setting!r} must be a number of seconds", path=path
        )
    return float(setting)


def _artifact_path(value: Any, repo_path: Path, path: Path) -> Path:
    """``artifact_store: {path: data/artifacts}``: where model artifacts are kept."""
    if value is not None and not (isinstance(value, dict) and isinstance(value.get("path"), str)):
        raise ConfigError(
            "artifact_store must be a mapping with a path, e.g. `artifact_store: {path: "
            "data/artifacts}`",
            path=path,
        )
    file = Path(value["path"] if value else "data/artifacts")
    return file if file.is_absolute() else repo_path / file


def _trusted_types(value: Any, path: Path) -> tuple[str, ...]:
    """``artifact_store: {trusted_types: [...]}``: types skops may load beyond its defaults
    when serving predictions (the repository owner's decision, not the model's)."""
    names = value.get("trusted_types", []) if isinstance(value, dict) else []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            "artifact_store trusted_types must be a list of type names, e.g. [numpy.dtype]",
            path=path,
        )
    return tuple(names)


def _online_path(value: Any, repo_path: Path, path: Path) -> Path:
    settings = value if isinstance(value, dict) else {}
    if value is not None and not isinstance(value, dict):
        raise ConfigError(
            "online_store must be a mapping, e.g. `online_store: {type: sqlite, path: "
            "data/online_store.db}`",
            path=path,
        )
    kind = settings.get("type", "sqlite")
    if kind != "sqlite":
        raise ConfigError(
            f"online_store type {kind!r} is not supported; use `type: sqlite`", path=path
        )
    _warn_unknown(path, "online_store", settings, {"type", "path", "enforce_ttl"})
    file = Path(settings.get("path", "data/online_store.db"))
    return file if file.is_absolute() else repo_path / file
