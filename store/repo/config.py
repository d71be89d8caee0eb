"""``feature_store.yaml``: where a repository keeps its registry and stores.

The keys are Feast's, so a Feast ``feature_store.yaml`` for a local provider loads
unchanged::

    project: driver_ranking
    registry: data/registry.db          # a path (SQLite) or any SQLAlchemy URL
    # or, for a team, Feast's form: {registry_type: sql, path: postgresql://user@host/db,
    #                                cache_ttl_seconds: 60, sqlalchemy_config_kwargs: {...}}
    provider: local
    offline_store: {type: duckdb}       # optional: threads: 4, memory_limit: 2GB
    online_store: {type: sqlite, path: data/online_store.db}
    artifact_store: {path: data/artifacts, trusted_types: [numpy.dtype]}   # Silage only
    # or `uri: s3://bucket/prefix` (with `storage_options: {endpoint_url: ...}` for s3fs),
    # or `uri: registry` to keep artifacts in the registry database (see registry.storage);
    # saved training sets are kept there too
    prediction_log: {path: data/predictions.db}   # Silage only; for a team
    # `{url: postgresql://user@host/db}`, or `{url: registry}`: the registry's PostgreSQL

``offline_store.type`` picks an engine from :data:`store.offline.engines.ENGINES` and
``online_store.type`` a backend from :data:`store.online.backends.BACKENDS`; the rest of
each section is that engine's or backend's own settings, which it reads and checks itself
(``enforce_ttl`` under ``online_store`` applies to every backend). Relative paths resolve
against the repository root. Unknown keys get a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.errors import ConfigError
from store.offline.engine import OfflineEngine
from store.offline.engines import ALIASES, ENGINES, engine_class
from store.online.backend import OnlineBackend
from store.online.backends import BACKENDS, backend_class
from store.settings import Settings, warn_unknown_keys

__all__ = ["CONFIG_FILE", "RepoConfig", "load_config"]

CONFIG_FILE = "feature_store.yaml"

_TOP_KEYS = {
    "project",
    "registry",
    "provider",
    "offline_store",
    "online_store",
    "artifact_store",
    "prediction_log",
}
# Feast settings that mean nothing here but are harmless: accepted without a warning.
_FEAST_ONLY_KEYS = {"entity_key_serialization_version", "flags", "coerce_tz_aware"}
_REGISTRY_KEYS = {
    "path",
    "registry_type",
    "cache_ttl_seconds",
    "sqlalchemy_config_kwargs",
    "poll_seconds",
}
# Feast's registry types that name a database here: `sql`, and `file` (a path, SQLite).
_REGISTRY_TYPES = ("sql", "file")
# Keys of `online_store` that apply whatever the backend (read by the online reader).
_ONLINE_KEYS = {"enforce_ttl"}
_PROJECT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoConfig:
    """A loaded ``feature_store.yaml``, with every path made absolute.

    ``offline_store`` and ``online_store`` are the sections their engine and backend read;
    :meth:`offline_engine` and :meth:`online_backend` build them.
    """

    repo_path: Path
    project: str
    registry_url: str
    provider: str = "local"
    offline_store: Settings
    online_store: Settings
    online_enforce_ttl: bool = True
    artifact_path: Path
    artifact_uri: str = ""
    artifact_storage_options: Settings | None = None
    trusted_types: tuple[str, ...] = ()
    registry_cache_seconds: float = 60.0
    registry_poll_seconds: float = 1.0
    registry_engine_options: Settings | None = None
    prediction_log_url: str = ""

    @property
    def config_path(self) -> Path:
        return self.repo_path / CONFIG_FILE

    def offline_engine(self) -> OfflineEngine:
        """The engine ``offline_store.type`` names, with its settings."""
        return engine_class(self.offline_store.type).from_settings(self.offline_store)

    def online_backend(self) -> OnlineBackend:
        """A new backend of the type ``online_store.type`` names, with its settings."""
        return backend_class(self.online_store.type).from_settings(self.online_store)


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

    warn_unknown_keys(path, "", raw, _TOP_KEYS | _FEAST_ONLY_KEYS)
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
    online = raw.get("online_store")
    config = RepoConfig(
        repo_path=repo_path,
        project=project,
        registry_url=_registry_url(raw.get("registry", "data/registry.db"), repo_path, path),
        provider=provider,
        offline_store=_section("offline_store", raw.get("offline_store"), "duckdb", path),
        online_store=_section("online_store", online, "sqlite", path),
        online_enforce_ttl=_enforce_ttl(online, path),
        artifact_path=_artifact_path(raw.get("artifact_store"), repo_path, path),
        artifact_uri=_artifact_uri(raw.get("artifact_store"), repo_path, path),
        artifact_storage_options=_storage_options(raw.get("artifact_store"), path),
        trusted_types=_trusted_types(raw.get("artifact_store"), path),
        registry_cache_seconds=_cache_seconds(raw.get("registry"), path),
        registry_poll_seconds=_poll_seconds(raw.get("registry"), path),
        registry_engine_options=_engine_options(raw.get("registry"), path),
        prediction_log_url=_prediction_log_url(raw, repo_path, path),
    )
    # Each engine and backend checks its own settings now, so a bad value fails here.
    for section, known in (
        (config.offline_store, engine_class(config.offline_store.type).settings_keys),
        (config.online_store, backend_class(config.online_store.type).settings_keys),
    ):
        section.warn_unknown(known)
    config.offline_engine()
    config.online_backend()
    return config


def _section(name: str, value: Any, default: str, path: Path) -> Settings:
    """The section ``name`` (``offline_store`` or ``online_store``) with its type checked
    against the table of engines or backends."""
    offline = name == "offline_store"
    if isinstance(value, str):
        value = {"type": value}  # Feast's short form: `offline_store: file`
    if value is not None and not isinstance(value, dict):
        raise ConfigError(
            f"{name} must be a mapping, e.g. `{name}: {{type: {default}}}`", path=path
        )
    settings = dict(value or {})
    kind = settings.pop("type", default)
    kinds = sorted([*ENGINES, *ALIASES] if offline else BACKENDS)
    if kind not in kinds:
        raise ConfigError(
            f"{name} type {kind!r} is not supported; use one of {', '.join(kinds)}, "
            f"e.g. `{name}: {{type: {default}}}`",
            path=path,
        )
    if not offline:
        settings = {k: v for k, v in settings.items() if k not in _ONLINE_KEYS}
    return Settings(section=name, type=kind, values=settings, config_path=path)


def _registry_url(value: Any, repo_path: Path, path: Path) -> str:
    if isinstance(value, dict):
        warn_unknown_keys(path, "registry", value, _REGISTRY_KEYS, stacklevel=5)
        kind = value.get("registry_type", "sql")
        if kind not in _REGISTRY_TYPES:
            raise ConfigError(
                f"registry registry_type: {kind!r} is not supported; use `sql` (a path or an "
                f"SQLAlchemy URL such as postgresql://user@host/db) or leave it out",
                path=path,
            )
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
    file = file if file.is_absolute() else repo_path / file
    _refuse_foreign_registry_file(file, value, path)
    return f"sqlite:///{file.as_posix()}"


def _prediction_log_url(raw: dict[str, Any], repo_path: Path, path: Path) -> str:
    """``prediction_log: {path: ...}`` (an SQLite file, the default
    ``data/predictions.db``) or ``{url: ...}``: a PostgreSQL URL, or ``registry`` for the
    registry's own database when that is a server."""
    value = raw.get("prediction_log")
    if value is None:
        value = {}
    if not isinstance(value, dict) or (set(value) - {"path", "url"}) or len(value) > 1:
        raise ConfigError(
            f"prediction_log: {value!r} is not valid; give `{{path: data/predictions.db}}` "
            f"(SQLite), `{{url: postgresql://user@host/db}}` or `{{url: registry}}`",
            path=path,
        )
    url = value.get("url")
    if url is None:
        file = Path(str(value.get("path") or "data/predictions.db"))
        return f"sqlite:///{(file if file.is_absolute() else repo_path / file).as_posix()}"
    if url == "registry":
        url = _registry_url(raw.get("registry", "data/registry.db"), repo_path, path)
        if url.startswith("sqlite"):
            raise ConfigError(
                "prediction_log url: `registry` keeps the log in the registry's database, "
                "which is SQLite here: every prediction would wait on the registry's write "
                "lock; leave prediction_log out (its own SQLite file) or use a PostgreSQL "
                "registry",
                path=path,
            )
        return url
    if not isinstance(url, str) or not url.startswith(("postgresql", "postgres://")):
        raise ConfigError(
            f"prediction_log url: {url!r} is not supported; give a PostgreSQL URL such as "
            f"`postgresql://user@host/db`, or `path:` for an SQLite file",
            path=path,
        )
    return url


_SQLITE_HEADER = b"SQLite format 3\x00"


def _refuse_foreign_registry_file(file: Path, value: str, path: Path) -> None:
    """A registry path holding something other than SQLite is most often Feast's own
    registry (a protobuf file `feast apply` writes at the same default path)."""
    if not file.is_file() or file.stat().st_size == 0:
        return
    with file.open("rb") as handle:
        header = handle.read(len(_SQLITE_HEADER))
    if header != _SQLITE_HEADER:
        raise ConfigError(
            f"registry: {value} is not a SQLite database (Feast's own registry, written by "
            f"`feast apply`, lives at this path by default); give Silage a file of its own, "
            f"e.g. `registry: data/silage_registry.db`, or delete the file if Feast no "
            f"longer needs it",
            path=path,
        )


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


def _poll_seconds(value: Any, path: Path) -> float:
    """``registry: {poll_seconds: N}``: how often online reads check the registry's change
    counter, so an apply elsewhere is seen within N seconds whatever the cache ttl."""
    setting = value.get("poll_seconds", 1) if isinstance(value, dict) else 1
    if isinstance(setting, bool) or not isinstance(setting, int | float) or setting < 0:
        raise ConfigError(
            f"registry poll_seconds: {setting!r} must be a number of seconds", path=path
        )
    return float(setting)


def _engine_options(value: Any, path: Path) -> Settings | None:
    """Feast's ``registry: {sqlalchemy_config_kwargs: {...}}``: ``create_engine`` arguments."""
    options = value.get("sqlalchemy_config_kwargs") if isinstance(value, dict) else None
    if options is None:
        return None
    if not isinstance(options, dict):
        raise ConfigError(
            "registry sqlalchemy_config_kwargs must be a mapping, e.g. {pool_size: 20}", path=path
        )
    return Settings(section="registry", type="sql", values=options, config_path=path)


def _artifact_path(value: Any, repo_path: Path, path: Path) -> Path:
    """``artifact_store: {path: data/artifacts}``: where model artifacts and saved training
    sets are kept."""
    if value is not None and not (
        isinstance(value, dict)
        and (isinstance(value.get("path"), str) or isinstance(value.get("uri"), str))
    ):
        raise ConfigError(
            "artifact_store must be a mapping with a path or a uri, e.g. `artifact_store: "
            "{path: data/artifacts}` or `{uri: s3://bucket/prefix}`",
            path=path,
        )
    file = Path(value.get("path", "data/artifacts") if value else "data/artifacts")
    return file if file.is_absolute() else repo_path / file


def _artifact_uri(value: Any, repo_path: Path, path: Path) -> str:
    """``artifact_store: {uri: ...}``: a folder, ``file://``, ``s3://bucket/prefix`` or
    ``registry``; the ``path`` (a local folder) when there is no uri."""
    uri: str | None = value.get("uri") if isinstance(value, dict) else None
    if uri is None:
        return _artifact_path(value, repo_path, path).as_posix()
    scheme = uri.partition("://")[0] if "://" in uri else ""
    if scheme not in ("", "file", "s3", "s3a") and uri != "registry":
        raise ConfigError(
            f"artifact_store uri: {uri!r} is not supported; use a folder, file:///path, "
            f"s3://bucket/prefix or `registry`",
            path=path,
        )
    if not scheme and uri != "registry" and not Path(uri).is_absolute():
        return (repo_path / uri).as_posix()
    return str(uri)


def _storage_options(value: Any, path: Path) -> Settings | None:
    """``artifact_store: {storage_options: {...}}``: the object store library's options."""
    options = value.get("storage_options") if isinstance(value, dict) else None
    if options is None:
        return None
    if not isinstance(options, dict):
        raise ConfigError(
            "artifact_store storage_options must be a mapping, e.g. {endpoint_url: "
            "http://minio:9000}",
            path=path,
        )
    return Settings(section="artifact_store", type="files", values=options, config_path=path)


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
