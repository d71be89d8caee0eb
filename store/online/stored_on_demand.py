"""On-demand views that store their outputs (``write_to_online_store=True``).

Such a view is computed when its inputs change, not when it is read: after rows of one of
its source views are written online (a materialization or a push), the function runs over
the entities those rows belong to, reading every source view's stored values for them, and
its outputs are upserted into the view's own online table. ``get_online_features`` then
reads that table like a stored view's.

Each computed row carries the newest event time among the source rows it was computed
from, and the time it was computed as its created time. Source rows only ever get newer
(newest wins), so a later computation never stores older inputs than an earlier one, and
with equal event times the later computation (the later created time) wins.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from store.definitions.feature_view import FeatureView
from store.definitions.on_demand import OnDemandFeatureView
from store.online.backend import OnlineBackend
from store.online.layout import layout_of, stored_layout_of
from store.transformation import input_names, run_on_demand
from store.types import to_arrow

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["reading", "store_on_demand"]


def reading(views: Sequence[OnDemandFeatureView], written: str) -> list[OnDemandFeatureView]:
    """The views among ``views`` that store their outputs and read the view ``written``."""
    return [
        v
        for v in views
        if v.write_to_online_store and written in {s.view.name for s in v.feature_sources}
    ]


def store_on_demand(
    view: OnDemandFeatureView,
    keys: pa.Table,
    *,
    project: str,
    online: OnlineBackend,
    sources: Mapping[str, FeatureView],
) -> int:
    """Compute ``view`` for the entities in ``keys`` (a table of its join keys; repeats are
    fine) from the source values stored online, and write its outputs to its table.

    Entities that some source view holds no row for are skipped: there is nothing to
    compute from yet. Returns the rows written.

    Raises:
        TransformationError: the function failed or returned the wrong shape or types.
    """
    import pyarrow as pa

    key_names = view.join_keys
    unique = keys.select(key_names).group_by(key_names).aggregate([])
    count = unique.num_rows
    if not count:
        return 0
    key_columns = {k: unique.column(k).to_pylist() for k in key_names}
    inputs: dict[str, Any] = dict(key_columns)
    newest: list[int | None] = [0] * count
    stored: dict[tuple[str, str], list[Any]] = {}
    for source in view.feature_sources:
        resolved = sources[source.view.name]
        features = [f.name for f in source.features]
        rows = online.read(
            layout_of(project, resolved), features, [key_columns[k] for k in resolved.join_keys]
        )
        for i, row in enumerate(rows):
            event, current = row[-1], newest[i]
            newest[i] = None if event is None or current is None else max(current, event)
        for j, name in enumerate(features):
            stored[(resolved.name, name)] = [row[j] for row in rows]
    found = [i for i, event in enumerate(newest) if event is not None]
    if not found:
        return 0
    for view_name, feature, name in input_names(view):
        inputs[name] = [stored[(view_name, feature)][i] for i in found]
    for k in key_names:
        inputs[k] = [key_columns[k][i] for i in found]
    outputs = run_on_demand(view, inputs, len(found))
    layout = stored_layout_of(project, view, sources)
    now_us = time.time_ns() // 1000
    columns = [pa.array(inputs[k], type=to_arrow(dtype)) for k, dtype in layout.keys]
    columns += [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in outputs]
    columns.append(pa.array([newest[i] for i in found], type=pa.int64()))
    columns.append(pa.array([now_us] * len(found), type=pa.int64()))
    batch = pa.RecordBatch.from_arrays(columns, names=layout.columns)
    return online.write(layout, [batch])
