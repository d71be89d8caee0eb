"""Materialization: load the newest values of online views into the online store.

This is the one module that knows both stores: the offline engine computes, per entity key,
the newest row in the window (:mod:`store.offline.compiler.latest_rows`), and its Arrow
batches stream into the online backend's newest-wins write, one transaction per view.
After a view's rows are committed its interval is recorded in the registry; a run killed
before that leaves the table as it was and no interval, and running again is always safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from registry import Registry
from store.definitions.feature_view import FeatureView
from store.epoch import from_micros, to_micros
from store.offline.compiler.latest_rows import compile_earliest_event, compile_latest_rows
from store.offline.engine import OfflineEngine
from store.offline.sources import view_scan
from store.online.backend import OnlineBackend
from store.online.layout import layout_of

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "MaterializedView",
    "ProgressCallback",
    "incremental_start",
    "materialize_views",
]

# Called with (view name, rows written so far, seconds since the view started).
ProgressCallback = Callable[[str, int, float], None]


@dataclass(frozen=True, slots=True)
class MaterializedView:
    """What one view's load did."""

    feature_view: str
    start: datetime
    end: datetime
    rows: int
    seconds: float


def incremental_start(
    view: FeatureView,
    end: datetime,
    *,
    project: str,
    registry: Registry,
    repo_root: Path,
    engine: OfflineEngine,
) -> datetime | None:
    """Where an incremental run of ``view`` starts: the end of its last recorded interval;
    for a view never materialized, ``end`` minus its ttl, or its earliest source row when it
    has no ttl. None when the source holds no row at all."""
    intervals = registry.catalog.materialization_intervals(project, view.name)
    if intervals:
        return max(i.end for i in intervals)
    if view.ttl is not None:
        return end - view.ttl
    query = compile_earliest_event(view_scan(view, repo_root), dialect=engine.dialect)
    earliest = engine.to_arrow(query).column(0)[0].as_py()
    return None if earliest is None else from_micros(int(earliest))


def materialize_views(
    views: Sequence[FeatureView],
    windows: Sequence[tuple[datetime, datetime]],
    *,
    project: str,
    registry: Registry,
    online: OnlineBackend,
    engine: OfflineEngine,
    repo_root: Path,
    on_progress: ProgressCallback | None = None,
    before_load: Callable[[FeatureView, datetime, datetime], None] | None = None,
    after_load: Callable[[FeatureView, pa.Table], None] | None = None,
) -> list[MaterializedView]:
    """Load each view's newest rows in its window ``[start, end]`` (inclusive, UTC).

    Each view is all or nothing; views are loaded one after another, so a failure in one
    leaves the views before it loaded and recorded. ``before_load`` runs before each view's
    load (the expectations check); when it raises, that view is not loaded. ``after_load``
    runs after each view's load with the join keys of the rows loaded (on-demand views
    that store their outputs are computed for them).
    """
    done: list[MaterializedView] = []
    for view, (start, end) in zip(views, windows, strict=True):
        if before_load is not None:
            before_load(view, start, end)
        started = time.perf_counter()
        query = compile_latest_rows(
            view_scan(view, repo_root),
            start_us=to_micros(start),
            end_us=to_micros(end),
            dialect=engine.dialect,
        )

        def progress(rows: int, name: str = view.name, began: float = started) -> None:
            if on_progress is not None:
                on_progress(name, rows, time.perf_counter() - began)

        progress(0)
        keys: list[pa.RecordBatch] = []
        batches = engine.to_batches(query)
        if after_load is not None:
            batches = _keeping_keys(batches, view.join_keys, keys)
        rows = online.write(layout_of(project, view), batches, progress)
        registry.catalog.record_materialization(
            project, view.name, start=start, end=end, rows_written=rows
        )
        if after_load is not None and keys:
            import pyarrow as pa

            after_load(view, pa.Table.from_batches(keys))
        done.append(MaterializedView(view.name, start, end, rows, time.perf_counter() - started))
    return done


def _keeping_keys(
    batches: Iterable[pa.RecordBatch], names: Sequence[str], kept: list[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """Pass ``batches`` through, keeping their key columns in ``kept`` (only the keys: a
    large load holds its key columns, not its features, until it is done)."""
    for batch in batches:
        kept.append(batch.select(list(names)))
        yield batch
