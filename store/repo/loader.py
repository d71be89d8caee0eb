"""Loading a feature repository: import its Python files, collect and cross-check definitions.

Every ``.py`` file under the repository is imported by its path under a private module
name, so a user's ``store.py`` cannot shadow Silage's ``store`` package and two
repositories can be loaded in one process. Skipped: hidden folders, virtualenvs,
``__pycache__``, and whatever ``.silageignore`` lists (one glob per line, relative to
the repository root, ``#`` for comments; a pattern naming a folder skips what is in it).

Definitions are the module-level values of type Entity, FileSource, PushSource,
RequestSource, FeatureView, OnDemandFeatureView and FeatureService; sources used by views
are collected too, as in Feast. On-demand views are catalogued as feature views (one
namespace for ``view:feature`` references) and request and push sources as data sources.
Objects of Feast's own classes (a file that imports from ``feast``) are converted by
:mod:`store.feast` first; ``store.feast`` is imported only when a file holds such objects.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from store.definitions.alerts import AlertRule
from store.definitions.data_source import DATA_SOURCE_TYPES, DataSource
from store.definitions.entity import Entity
from store.definitions.feature_service import FeatureService
from store.definitions.feature_view import FeatureView
from store.definitions.label_view import LabelView
from store.definitions.on_demand import OnDemandFeatureView
from store.definitions.push_source import PushSource
from store.definitions.request_source import RequestSource
from store.definitions.retraining import RetrainingPolicy
from store.definitions.source import FileSource
from store.definitions.spark_source import SparkSource
from store.definitions.spec import KIND_LABEL
from store.errors import RepoImportError, RepoValidationError

__all__ = ["IGNORE_FILE", "RepoContents", "load_repo", "repo_files"]

IGNORE_FILE = ".silageignore"
_SKIPPED_DIRS = {"__pycache__", "site-packages", "node_modules"}

Definition = (
    Entity
    | FileSource
    | PushSource
    | SparkSource
    | RequestSource
    | FeatureView
    | OnDemandFeatureView
    | FeatureService
)
DEFINITION_TYPES = (
    Entity,
    FileSource,
    PushSource,
    SparkSource,
    RequestSource,
    FeatureView,
    LabelView,
    OnDemandFeatureView,
    FeatureService,
)

_KIND_OF: dict[type, str] = {
    Entity: "entity",
    FileSource: "data_source",
    PushSource: "data_source",
    SparkSource: "data_source",
    RequestSource: "data_source",
    FeatureView: "feature_view",
    LabelView: "feature_view",
    OnDemandFeatureView: "feature_view",
    FeatureService: "feature_service",
}


@dataclass(frozen=True, slots=True)
class RepoContents:
    """The definitions of a repository and the file each was declared in."""

    entities: tuple[Entity, ...] = ()
    data_sources: tuple[DataSource, ...] = ()
    feature_views: tuple[FeatureView, ...] = ()
    feature_services: tuple[FeatureService, ...] = ()
    origins: dict[tuple[str, str], Path] = field(default_factory=dict)
    # Alert rules and retraining policies are evaluated by `silage monitor run`; they are
    # not catalog objects.
    alert_rules: tuple[AlertRule, ...] = ()
    retraining_policies: tuple[RetrainingPolicy, ...] = ()
    request_sources: tuple[RequestSource, ...] = ()
    on_demand_feature_views: tuple[OnDemandFeatureView, ...] = ()
    push_sources: tuple[PushSource, ...] = ()

    def all(self) -> Iterator[Definition]:
        """Every definition: entities, sources, views, then services."""
        yield from self.entities
        yield from self.data_sources
        yield from self.request_sources
        yield from self.push_sources
        yield from self.feature_views
        yield from self.on_demand_feature_views
        yield from self.feature_services

    def where(self, kind: str, name: str) -> str:
        """``"path/file.py: feature view 'x'"``: how errors name an object."""
        origin = self.origins.get((kind, name))
        label = f"{KIND_LABEL[kind]} {name!r}"
        return f"{origin}: {label}" if origin else label


def kind_of(obj: Definition) -> str:
    """The catalog kind of a definition: ``entity``, ``data_source``, ..."""
    return _KIND_OF[type(obj)]


def repo_files(repo_path: Path) -> list[Path]:
    """The Python files of a repository that loading imports, in a stable order."""
    repo_path = repo_path.resolve()
    patterns = _ignore_patterns(repo_path)
    found: list[Path] = []
    for folder, dirs, files in os.walk(repo_path):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIPPED_DIRS
            and not (here / d / "pyvenv.cfg").exists()
            and not _ignored((here / d).relative_to(repo_path), patterns)
        )
        for name in sorted(files):
            path = here / name
            if name.endswith(".py") and not _ignored(path.relative_to(repo_path), patterns):
                found.append(path)
    return found


def _same_policy(a: RetrainingPolicy, b: RetrainingPolicy) -> bool:
    """One policy imported into a second file is loaded twice (each file is its own
    module); the same declaration, with a training function of the same name, is the
    same policy."""
    return a.describe() == b.describe() and (a.name, a.labels, a.train.__qualname__) == (
        b.name,
        b.labels,
        b.train.__qualname__,
    )


def load_repo(repo_path: Path) -> RepoContents:
    """Import a repository's files and collect its definitions, checked against each other.

    Raises:
        RepoImportError: a file raised while imported (its path and line are in the message).
        RepoValidationError: duplicate names, a view using an undeclared entity, a service
            naming an unknown view or feature.
    """
    repo_path = repo_path.resolve()
    found: dict[tuple[str, str], tuple[Definition, Path]] = {}
    problems: list[str] = []
    rules: dict[str, tuple[AlertRule, Path]] = {}
    policies: dict[str, tuple[RetrainingPolicy, Path]] = {}
    feast_objects: list[tuple[str, Any, Path]] = []
    for path, module in _import_all(repo_path):
        for obj in _definitions_of(module):
            _collect_with_sources(found, obj, path, problems)
        # Objects of Feast's classes (a Feast repository, applied unchanged): converted below,
        # once every file is loaded, since a view may use an entity of another file.
        feast_objects += [
            (name, v, path)
            for name, v in vars(module).items()
            if type(v).__module__.partition(".")[0] == "feast"
        ]
        for rule in (v for v in vars(module).values() if isinstance(v, AlertRule)):
            earlier = rules.setdefault(rule.name, (rule, path))
            if earlier[0] != rule:
                problems.append(
                    f"alert rule {rule.name!r} is declared twice, differently, in "
                    f"{earlier[1].name} and {path.name}; rename one or delete the other"
                )
        for policy in (v for v in vars(module).values() if isinstance(v, RetrainingPolicy)):
            known = policies.setdefault(policy.name, (policy, path))
            if not _same_policy(known[0], policy):
                problems.append(
                    f"retraining policy {policy.name!r} is declared twice, in "
                    f"{known[1].name} and {path.name}; rename one or delete the other"
                )
    if feast_objects:
        from store.feast import FeastObject, convert_feast_objects

        found_feast = [FeastObject(v, p.relative_to(repo_path), n) for n, v, p in feast_objects]
        for obj, origin in convert_feast_objects(found_feast, problems):
            _collect_with_sources(found, obj, repo_path / origin.path, problems)
    if problems:
        raise RepoValidationError(problems)
    contents = RepoContents(
        entities=_of_kind(found, Entity),
        data_sources=_of_kind(found, DATA_SOURCE_TYPES),
        feature_views=_of_kind(found, FeatureView),
        feature_services=_of_kind(found, FeatureService),
        request_sources=_of_kind(found, RequestSource),
        on_demand_feature_views=_of_kind(found, OnDemandFeatureView),
        push_sources=_of_kind(found, PushSource),
        origins={key: path.relative_to(repo_path) for key, (_, path) in found.items()},
        alert_rules=tuple(rule for rule, _ in rules.values()),
        retraining_policies=tuple(policy for policy, _ in policies.values()),
    )
    validate_references(contents)
    return contents


def validate_references(contents: RepoContents) -> None:
    """Check that views use declared entities and sources and services name real features."""
    problems: list[str] = []
    entities = {e.name: e for e in contents.entities}
    sources: dict[str, DataSource | PushSource] = {s.name: s for s in contents.data_sources}
    sources.update((s.name, s) for s in contents.push_sources)
    views: dict[str, FeatureView | OnDemandFeatureView] = {
        v.name: v for v in contents.feature_views
    }
    views.update((v.name, v) for v in contents.on_demand_feature_views)
    for odfv in contents.on_demand_feature_views:
        where = contents.where("feature_view", odfv.name)
        for source in odfv.feature_sources:
            declared_view = views.get(source.view.name)
            if not isinstance(declared_view, FeatureView):
                problems.append(
                    f"{where} reads feature view {source.view.name!r}, which no repository "
                    f"file declares as a FeatureView; declare it or remove it from sources"
                )
            elif not _same_view(declared_view, source.view):
                problems.append(
                    f"{where} reads a feature view {source.view.name!r} that differs from "
                    f"the one declared in "
                    f"{contents.origins.get(('feature_view', source.view.name))}; use the "
                    f"declared object"
                )
        for request in odfv.request_sources:
            declared_request = contents.origins.get(("data_source", request.name))
            other = [r for r in contents.request_sources if r.name == request.name]
            if other and other[0] != request:
                problems.append(
                    f"{where} reads a request source {request.name!r} that differs from the "
                    f"one declared in {declared_request}; use the declared object"
                )
    for view in contents.feature_views:
        where = contents.where("feature_view", view.name)
        for entity in view.entities:
            declared = entities.get(entity.name)
            if declared is None:
                problems.append(
                    f"{where} uses entity {entity.name!r}, which no repository file declares; "
                    f"assign the Entity to a module-level variable in a repository file"
                )
            elif declared != entity:
                problems.append(
                    f"{where} uses an entity {entity.name!r} that differs from the one declared "
                    f"in {contents.origins.get(('entity', entity.name))}; use the declared object"
                )
        declared_source = sources.get(view.source.name)
        if declared_source is not None and declared_source != view.source:
            problems.append(
                f"{where} reads a data source {view.source.name!r} that differs from the one "
                f"declared in {contents.origins.get(('data_source', view.source.name))}; "
                f"use the declared object"
            )
        push = view.push_source
        declared_push = None if push is None else sources.get(push.name)
        if push is not None and declared_push is not None and declared_push != push:
            problems.append(
                f"{where} reads a push source {push.name!r} that differs from the one declared "
                f"in {contents.origins.get(('data_source', push.name))}; use the declared object"
            )
    for service in contents.feature_services:
        where = contents.where("feature_service", service.name)
        for projection in service.projections:
            target = views.get(projection.feature_view)
            if target is None:
                problems.append(
                    f"{where} names feature view {projection.feature_view!r}, which no "
                    f"repository file declares; declare it or remove it from the service"
                )
                continue
            known = [f.name for f in target.features]
            for name in projection.features:
                if name not in known:
                    problems.append(
                        f"{where} names feature {projection.feature_view}:{name}, but that view "
                        f"has only {', '.join(known)}"
                    )
    if problems:
        raise RepoValidationError(problems)


def _same_view(declared: FeatureView, read: FeatureView) -> bool:
    """Whether an on-demand view reads the declared view. Equal, or equal but for join-key
    types an apply filled in from the data: a view from the registry is resolved, while the
    copy an on-demand view embeds may not be (an upsert checks one against the other)."""
    if declared == read:
        return True
    keys = set(declared.join_keys)

    def without_keys(view: FeatureView) -> FeatureView:
        return dataclasses.replace(view, schema=[f for f in view.schema if f.name not in keys])

    return without_keys(declared) == without_keys(read)


def _collect_with_sources(
    found: dict[tuple[str, str], tuple[Definition, Path]],
    obj: Definition,
    path: Path,
    problems: list[str],
) -> None:
    """Collect a definition and the sources it carries (as Feast does)."""
    _collect(found, obj, path, problems)
    if isinstance(obj, FeatureView):
        _collect(found, obj.source, path, problems)
        if obj.push_source is not None:
            _collect(found, obj.push_source, path, problems)
    if isinstance(obj, PushSource):
        _collect(found, obj.batch_source, path, problems)
    if isinstance(obj, OnDemandFeatureView):
        for request in obj.request_sources:
            _collect(found, request, path, problems)


def _collect(
    found: dict[tuple[str, str], tuple[Definition, Path]],
    obj: Definition,
    path: Path,
    problems: list[str],
) -> None:
    key = (kind_of(obj), obj.name)
    previous = found.get(key)
    if previous is None:
        found[key] = (obj, path)
    elif previous[0] != obj:
        # Equal objects are the same declaration reached twice (one file imports another).
        problems.append(
            f"{KIND_LABEL[key[0]]} {key[1]!r} is declared twice, differently, in "
            f"{previous[1].name} and {path.name}; names must be unique per kind: rename one "
            f"or delete the other"
        )


def _of_kind(
    found: dict[tuple[str, str], tuple[Definition, Path]], cls: type[Any] | tuple[type[Any], ...]
) -> Any:
    return tuple(obj for obj, _ in found.values() if isinstance(obj, cls))


def _definitions_of(module: ModuleType) -> Iterator[Definition]:
    for value in vars(module).values():
        if isinstance(value, DEFINITION_TYPES):
            yield value


def _import_all(repo_path: Path) -> Iterator[tuple[Path, ModuleType]]:
    """Import each file under a private name. The repository root is on ``sys.path`` (last,
    so it never shadows installed packages) while loading, so files can import each other;
    modules imported that way are forgotten afterwards so another repository can load its own."""
    files = repo_files(repo_path)
    prefix = "_silage_repo_" + hashlib.sha256(str(repo_path).encode()).hexdigest()[:12]
    before = set(sys.modules)
    sys.path.append(str(repo_path))
    try:
        modules = [(path, _import_file(path, repo_path, prefix)) for path in files]
    finally:
        sys.path.remove(str(repo_path))
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None)
            if name.startswith(prefix) or (file and Path(file).resolve().is_relative_to(repo_path)):
                del sys.modules[name]
    yield from modules


def _import_file(path: Path, repo_path: Path, prefix: str) -> ModuleType:
    relative = path.relative_to(repo_path).with_suffix("")
    name = prefix + "__" + "__".join(relative.parts).replace("-", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise RepoImportError(
            f"syntax error: {exc.msg}; fix the file or add it to {IGNORE_FILE}",
            path=path,
            line=exc.lineno,
        ) from exc
    except Exception as exc:
        line = None
        for frame in traceback.extract_tb(exc.__traceback__):
            if Path(frame.filename).resolve() == path.resolve():
                line = frame.lineno
        raise RepoImportError(
            f"{type(exc).__name__} while importing: {exc}", path=path, line=line
        ) from exc
    return module


def _ignore_patterns(repo_path: Path) -> list[str]:
    file = repo_path / IGNORE_FILE
    if not file.is_file():
        return []
    lines = (line.strip() for line in file.read_text(encoding="utf-8").splitlines())
    return [line.rstrip("/") for line in lines if line and not line.startswith("#")]


def _ignored(relative: Path, patterns: list[str]) -> bool:
    text = relative.as_posix()
    return any(
        fnmatch.fnmatch(text, p) or fnmatch.fnmatch(relative.name, p) or text.startswith(p + "/")
        for p in patterns
    )
