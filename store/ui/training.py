"""Context builders for training sets: the list, one set (per-feature statistics with an
inline histogram and the null share), and two sets compared feature by feature.

Statistics are those recorded when the set was saved: numeric features carry a histogram
(``edges`` and ``counts``), categorical ones their ``top_values``; both are drawn as bars.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry import TrainingSetRecord
from registry.browse import TrainingSetSummary
from store.ui import svg
from store.ui.context import NotFound, Paging, page_args

if TYPE_CHECKING:
    from store.feature_store import FeatureStore, TrainingSet

__all__ = ["FeatureStatistics", "TrainingSetPage", "TrainingSetsCompared", "TrainingSetsPage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureStatistics:
    """One column's statistics: ``null_share`` of ``count`` rows, the numbers people look
    at first, the bars (``bins`` labels and ``counts``) and their SVG."""

    column: str
    feature_view: str | None
    view_version: int | None
    dtype: str
    count: int | None
    null_share: float | None
    mean: float | None
    minimum: Any
    maximum: Any
    bins: tuple[str, ...]
    counts: tuple[float, ...]
    histogram_svg: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingSetsPage:
    """``/ui/training-sets``: a page of training sets (filter ``q``; sort ``name``,
    ``created``, ``rows``)."""

    title: str
    training_sets: tuple[TrainingSetSummary, ...]
    paging: Paging


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingSetPage:
    """``/ui/training-sets/<name>``: the record, where its data is (``location``: in the
    artifact store, or a repository file for sets saved before registry revision 0011), its
    features' statistics, and the model versions trained on it (model, version, deleted)."""

    title: str
    record: TrainingSetRecord
    location: str
    statistics: tuple[FeatureStatistics, ...]
    trained: tuple[tuple[str, int, bool], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingSetsCompared:
    """``/ui/training-sets/compare?a=&b=``: both records and, per column in either, both
    sides' statistics (None where a set lacks the column)."""

    title: str
    a: TrainingSetRecord | None
    b: TrainingSetRecord | None
    names: tuple[str, ...]
    columns: tuple[tuple[str, FeatureStatistics | None, FeatureStatistics | None], ...]


def training_sets_page(store: FeatureStore, query: Mapping[str, str]) -> TrainingSetsPage:
    offset, limit, sort, text = page_args(query, "-created")
    page = store.registry.browse.training_sets(
        store.project, contains=text, sort=sort, offset=offset, limit=limit
    )
    return TrainingSetsPage(
        title="Training sets",
        training_sets=page.rows,
        paging=Paging(offset=offset, limit=limit, total=page.total, sort=sort, filter=text),
    )


def training_set_page(store: FeatureStore, name: str) -> TrainingSetPage:
    saved = _get(store, name)
    record = saved.record
    return TrainingSetPage(
        title=f"Training set {name}",
        record=record,
        location=saved.location,
        statistics=statistics(record),
        trained=tuple(store.registry.browse.trained_on(store.project, name)),
    )


def compare_page(store: FeatureStore, query: Mapping[str, str]) -> TrainingSetsCompared:
    names = store.registry.browse.training_sets(store.project, limit=500).rows
    a_name, b_name = query.get("a", ""), query.get("b", "")
    if not a_name and not b_name and len(names) >= 2:
        a_name, b_name = names[1].name, names[0].name
    a = _get(store, a_name).record if a_name else None
    b = _get(store, b_name).record if b_name else None
    left = {s.column: s for s in statistics(a)} if a else {}
    right = {s.column: s for s in statistics(b)} if b else {}
    columns = list(left) + [c for c in right if c not in left]
    return TrainingSetsCompared(
        title="Compare training sets",
        a=a,
        b=b,
        names=tuple(t.name for t in names),
        columns=tuple((c, left.get(c), right.get(c)) for c in columns),
    )


def statistics(record: TrainingSetRecord) -> tuple[FeatureStatistics, ...]:
    """Each feature column's statistics, in the set's feature order."""
    sources = {f.column: f for f in record.features}
    out = []
    for column, stats in record.statistics.items():
        if not isinstance(stats, Mapping):
            continue
        count = _number(stats.get("count"))
        nulls = _number(stats.get("nulls"))
        total = (count or 0) + (nulls or 0)
        bins: list[str] = []
        counts: list[float] = []
        histogram = stats.get("histogram")
        if isinstance(histogram, Mapping):
            edges = [float(e) for e in histogram.get("edges", [])]
            counts = [float(c) for c in histogram.get("counts", [])]
            bins = [f"{lo:.4g} to {hi:.4g}" for lo, hi in itertools.pairwise(edges)]
        elif isinstance(stats.get("top_values"), list):
            for item in stats["top_values"]:
                bins.append(str(item.get("value")))
                counts.append(float(item.get("count") or 0))
        source = sources.get(column)
        out.append(
            FeatureStatistics(
                column=column,
                feature_view=source.feature_view if source else None,
                view_version=source.version if source else None,
                dtype=str(record.schema.get(column, "")),
                count=int(count) if count is not None else None,
                null_share=(nulls or 0) / total if total else None,
                mean=_number(stats.get("mean")),
                minimum=stats.get("min"),
                maximum=stats.get("max"),
                bins=tuple(bins),
                counts=tuple(counts),
                histogram_svg=svg.histogram(counts, column) if counts else "",
            )
        )
    return tuple(out)


def _get(store: FeatureStore, name: str) -> TrainingSet:
    try:
        return store.get_training_set(name)
    except LookupError:
        raise NotFound("training set", name, "/training-sets") from None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
