"""Context builders for models: the model list, a model, a version, a comparison.

Listings come from :class:`registry.Browse` (paged and sorted in SQL, a fixed number of
queries per page); a single version's lineage and cards from the project's registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry import SECTIONS, DeploymentRevision, Page
from registry.browse import AliasChange, ModelSummary, VersionSummary
from store.ui import svg
from store.ui.context import NotFound, Paging, page_args
from store.ui.diff import Change, diff

if TYPE_CHECKING:
    from store.feature_store import FeatureStore

__all__ = ["ModelPage", "ModelsPage", "VersionPage", "VersionsCompared"]

METRIC_COLUMNS = 6  # metric columns shown in a versions table; the JSON twin has them all


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelsPage:
    """``/ui/models``: a page of models (filter ``q``, sort ``name``, ``versions``,
    ``updated``; ``-`` descending)."""

    title: str
    models: tuple[ModelSummary, ...]
    paging: Paging


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelPage:
    """``/ui/models/<name>``: a page of versions with metric columns, the metrics over all
    versions (chart), the alias timeline and where the model is live."""

    title: str
    model: str
    versions: tuple[VersionSummary, ...]
    paging: Paging
    metric_keys: tuple[str, ...]
    metric_series: Mapping[str, tuple[tuple[int, float], ...]]
    alias_history: tuple[AliasChange, ...]
    live: tuple[DeploymentRevision, ...]
    chart_svg: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionDeployment:
    """Where a version served: environment, revision, role, share, and whether live."""

    environment: str
    revision: int
    role: str
    share: float | None
    live: bool
    at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Predictions:
    environment: str
    predictions: int
    outcomes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionPage:
    """``/ui/models/<name>/versions/<n>``: the version, its training set and inputs, its
    card's status, where it served and how many predictions it made."""

    title: str
    version: VersionSummary
    features: tuple[tuple[str, int, str, bool], ...]  # view, view version, feature, deleted
    sources: tuple[str, ...]
    deployments: tuple[VersionDeployment, ...]
    predictions: tuple[Predictions, ...]
    missing_card_sections: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionsCompared:
    """``/ui/models/<name>/compare?v=1&v=2``: versions side by side (metrics, params, tags,
    training set), and the differences between the first two."""

    title: str
    model: str
    versions: tuple[VersionSummary, ...]
    metric_keys: tuple[str, ...]
    param_keys: tuple[str, ...]
    tag_keys: tuple[str, ...]
    changes: tuple[Change, ...]


def models_page(store: FeatureStore, query: Mapping[str, str]) -> ModelsPage:
    offset, limit, sort, text = page_args(query, "name")
    page = store.registry.browse.models(
        store.project, contains=text, sort=sort, offset=offset, limit=limit
    )
    return ModelsPage(title="Models", models=page.rows, paging=_paging(page, sort, text))


def model_page(store: FeatureStore, name: str, query: Mapping[str, str]) -> ModelPage:
    browse = store.registry.browse
    offset, limit, sort, text = page_args(query, "-version")
    page = browse.versions(store.project, name, sort=sort, offset=offset, limit=limit)
    series_rows = browse.metric_series(store.project, name)
    if page.total == 0 and not browse.has_model(store.project, name):
        raise NotFound("model", name, "/models")
    series: dict[str, list[tuple[int, float]]] = {}
    for number, metrics in series_rows:
        for key, value in metrics.items():
            if isinstance(value, int | float):
                series.setdefault(str(key), []).append((number, float(value)))
    keys = tuple(sorted(series))
    frozen = {k: tuple(v) for k, v in series.items()}
    return ModelPage(
        title=f"Model {name}",
        model=name,
        versions=page.rows,
        paging=_paging(page, sort, text),
        metric_keys=keys,
        metric_series=frozen,
        alias_history=tuple(browse.alias_history(store.project, name)),
        live=tuple(browse.live_deployments(store.project, name)),
        chart_svg=svg.line_chart(frozen, f"metrics of {name} over its versions") if frozen else "",
    )


def version_page(store: FeatureStore, name: str, number: int) -> VersionPage:
    browse = store.registry.browse
    found = browse.version(store.project, name, number)
    if found is None:
        raise NotFound("model version", f"{name} v{number}", "/models")
    project = store.model_registry
    deleted_views = browse.deleted_views(store.project)
    features: tuple[tuple[str, int, str, bool], ...] = ()
    sources: tuple[str, ...] = ()
    if found.deleted_at is None:
        lineage = project.lineage.of_version(name, number)
        features = tuple(
            (f.feature_view, f.view_version, f.feature, f.feature_view in deleted_views)
            for f in lineage.features
        )
        sources = tuple(lineage.sources)
    history = browse.deployment_history(store.project, name)
    latest = {(r.environment): r.revision for r in history}
    deployments = tuple(
        VersionDeployment(
            environment=r.environment,
            revision=r.revision,
            role=t.role,
            share=t.share,
            live=latest[r.environment] == r.revision,
            at=f"{r.created_at:%Y-%m-%d %H:%M} UTC",
        )
        for r in history
        for t in r.targets
        if t.version == number
    )
    predictions = []
    for environment in sorted(latest):
        counts = store.prediction_counts(name, environment).get(number)
        if counts is not None:
            predictions.append(
                Predictions(environment=environment, predictions=counts[0], outcomes=counts[1])
            )
    # The registry fills model details always, metrics and training data when known;
    # people's sections come from the card's latest revision.
    revisions = browse.card_revisions(store.project, name, number)
    filled = {"model_details"}
    if found.metrics:
        filled.add("metrics")
    if found.training_set:
        filled.add("training_data")
    if revisions:
        filled |= {k for k, v in revisions[-1].content.items() if v}
    missing = tuple(title for key, title in SECTIONS.items() if key not in filled)
    return VersionPage(
        title=f"{name} v{number}",
        version=found,
        features=features,
        sources=sources,
        deployments=deployments,
        predictions=tuple(predictions),
        missing_card_sections=missing,
    )


def compare_page(store: FeatureStore, name: str, numbers: list[str]) -> VersionsCompared:
    wanted = sorted({int(n) for n in numbers if n.isdigit()})[:10]
    if not wanted:
        latest = store.registry.browse.versions(store.project, name, limit=2).rows
        wanted = sorted(v.version for v in latest)
    found = store.registry.browse.versions_by_number(store.project, name, wanted)
    if not found:
        raise NotFound("model", name, "/models")
    changes: list[Change] = []
    if len(found) >= 2:
        changes = diff(_facts(found[0]), _facts(found[1]))
    return VersionsCompared(
        title=f"{name}: " + " vs ".join(f"v{v.version}" for v in found),
        model=name,
        versions=tuple(found),
        metric_keys=_keys(v.metrics for v in found),
        param_keys=_keys(v.params for v in found),
        tag_keys=_keys(v.tags for v in found),
        changes=tuple(changes),
    )


def _facts(version: VersionSummary) -> dict[str, Any]:
    return {
        "metrics": dict(version.metrics),
        "params": dict(version.params),
        "tags": dict(version.tags),
        "training_set": version.training_set,
        "input_features": list(version.input_features),
        "model_type": version.model_type,
    }


def _keys(mappings: Any) -> tuple[str, ...]:
    return tuple(sorted({str(k) for m in mappings for k in m}))


def _paging(page: Page[Any], sort: str, text: str) -> Paging:
    return Paging(offset=page.offset, limit=page.limit, total=page.total, sort=sort, filter=text)
