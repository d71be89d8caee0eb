"""Statistics of a table's columns per time window, run by the offline engine.

The compiler (:mod:`store.offline.compiler.statistics`) writes the queries; this module runs
them: when histogram edges are not given, a first pass reads each numeric column's min and
max over the rows concerned and fixes ten equal-width bins between them, so that every
window's histogram has the same bins. Saved training sets, feature views and the
predictions log all go through :func:`compute_statistics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from store.offline.compiler.query import SourceTable
from store.offline.compiler.statistics import (
    WindowedStatistics,
    compile_ranges,
    compile_statistics,
    equal_width_edges,
    is_numeric,
)
from store.offline.engine import OfflineEngine
from store.types import DType

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["compute_statistics"]


def compute_statistics(
    engine: OfflineEngine,
    source: SourceTable,
    columns: Sequence[tuple[str, DType]],
    *,
    time_column: str | None = None,
    window_us: int | None = None,
    start_us: int | None = None,
    end_us: int | None = None,
    edges: Mapping[str, Sequence[float]] | None = None,
    rows: pa.Table | None = None,
) -> list[WindowedStatistics]:
    """Statistics of ``columns`` of ``source`` per window (see ``compile_statistics``).

    ``rows``: Arrow data read in place of the source's files (the predictions log).
    """
    tables = {source.name: rows} if rows is not None else None
    chosen = {name: tuple(values) for name, values in (edges or {}).items()}
    missing = [name for name, dtype in columns if is_numeric(dtype) and name not in chosen]
    if missing:
        ranges = compile_ranges(
            source,
            missing,
            time_column=time_column,
            start_us=start_us,
            end_us=end_us,
            dialect=engine.dialect,
        )
        found = engine.to_arrow(ranges, tables).to_pylist()[0]
        for i, name in enumerate(missing):
            chosen[name] = equal_width_edges(found[f"c{i}_min"], found[f"c{i}_max"])
    query = compile_statistics(
        source,
        columns,
        time_column=time_column,
        window_us=window_us,
        start_us=start_us,
        end_us=end_us,
        edges=chosen,
        dialect=engine.dialect,
    )
    summary = engine.to_arrow(query.summary, tables).to_pylist()
    top = engine.to_arrow(query.top_values, tables).to_pylist() if query.top_values else []
    return query.collect(summary, top)
