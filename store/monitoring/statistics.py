"""Statistics per time window of a feature view, a training set, or a model's predictions.

All three go through the one computation training sets already use
(:func:`store.offline.statistics.compute_statistics`), run by the offline engine: the
view's Parquet source, the training set's Parquet file, or the predictions log, read into
Arrow and handed to the engine in place of a file. Windows are fixed-width and aligned to
the epoch in UTC; each window's statistics per feature become a
:class:`registry.WindowStatistics`, which the registry keeps as time series.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from registry import TrainingSetRecord, WindowStatistics
from store.definitions.feature_view import FeatureView
from store.epoch import from_micros, to_micros
from store.errors import RequestError
from store.offline.compiler.query import SourceTable
from store.offline.compiler.statistics import WindowedStatistics
from store.offline.engine import OfflineEngine
from store.offline.sources import view_scan
from store.offline.statistics import compute_statistics
from store.serving.prediction_log import PredictionLog
from store.types import DType, Float64, String, dtype_for_arrow

__all__ = ["model_statistics", "training_set_statistics", "view_statistics"]

_MICROS = timedelta(microseconds=1)


def view_statistics(
    view: FeatureView,
    *,
    engine: OfflineEngine,
    repo_root: Path,
    window: timedelta,
    start: datetime | None,
    end: datetime | None,
    features: Sequence[str] | None = None,
) -> list[WindowStatistics]:
    """Per window and feature, the statistics of the view's source rows with an event time
    in ``[start, end)``."""
    scan = view_scan(view, repo_root)
    chosen = [f for f in view.features if features is None or f.name in features]
    _known(features, [f.name for f in view.features], f"feature view {view.name!r}")
    # Statistics read the source's own columns; they are reported under the view's names.
    columns = [(scan.source_column(f.name), f.dtype) for f in chosen]
    windows = compute_statistics(
        engine,
        scan.source_table,
        columns,
        time_column=scan.source_column(view.source.timestamp_field),
        window_us=window // _MICROS,
        start_us=None if start is None else to_micros(start),
        end_us=None if end is None else to_micros(end),
    )
    names = {scan.source_column(f.name): f.name for f in chosen}
    return _flatten(windows, names)


def training_set_statistics(
    record: TrainingSetRecord,
    path: Path,
    *,
    engine: OfflineEngine,
    window: timedelta,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[WindowStatistics]:
    """Per window of the entity rows' time and feature, the statistics of a saved training
    set's feature columns."""
    columns = [(f.column, _dtype(record.schema.get(f.column, ""))) for f in record.features]
    windows = compute_statistics(
        engine,
        SourceTable("__silage_training_set", (str(path),)),
        columns,
        time_column=str(record.manifest["point_in_time"]["timestamp_column"]),
        window_us=window // _MICROS,
        start_us=None if start is None else to_micros(start),
        end_us=None if end is None else to_micros(end),
    )
    return _flatten(windows, {c: c for c, _ in columns})


def model_statistics(
    log: PredictionLog,
    model: str,
    *,
    engine: OfflineEngine,
    window: timedelta,
    start: datetime | None,
    end: datetime | None,
    environment: str | None = None,
) -> list[WindowStatistics]:
    """Per window of prediction time, the statistics of the features a model was served and
    of its predictions, from the predictions log.

    Raises:
        RequestError: nothing was logged for the model in that time.
    """
    rows = log.features_table(model, environment=environment, start=start, end=end)
    if rows.num_rows == 0:
        raise RequestError(
            f"the predictions log holds no prediction of model {model!r}"
            f"{'' if environment is None else f' in {environment!r}'} in that time; "
            f"serve some with FeatureStore.predict or `silage serve`"
        )
    skip = {"predicted_at", "version", "role"}
    columns = [
        (name, _dtype(str(rows.schema.field(name).type)))
        for name in rows.column_names
        if name not in skip
    ]
    windows = compute_statistics(
        engine,
        SourceTable("__silage_predictions", ()),
        columns,
        time_column="predicted_at",
        window_us=window // _MICROS,
        rows=rows,
    )
    return _flatten(windows, {c: c for c, _ in columns})


def _dtype(arrow_type: str) -> DType:
    """Numeric columns get moments and histograms, others top values."""
    import pyarrow as pa

    known = {
        "int64": pa.int64(),
        "int32": pa.int32(),
        "double": pa.float64(),
        "float": pa.float32(),
        "bool": pa.bool_(),
    }
    found = dtype_for_arrow(known[arrow_type]) if arrow_type in known else None
    if found is None:
        return String
    return Float64 if found.spec in ("Int32", "Int64", "Float32", "Float64") else String


def _flatten(windows: list[WindowedStatistics], names: dict[str, str]) -> list[WindowStatistics]:
    out = []
    for window in windows:
        if window.start_us is None or window.end_us is None:
            raise RequestError("statistics per window need a window; give window=...")
        start, end = from_micros(window.start_us), from_micros(window.end_us)
        for column, stats in window.columns.items():
            out.append(WindowStatistics(names[column], start, end, stats))
    return out


def _known(asked: Sequence[str] | None, names: list[str], where: str) -> None:
    unknown = [n for n in asked or () if n not in names]
    if unknown:
        raise RequestError(
            f"{where} has no feature {unknown[0]!r}; its features are {', '.join(names)}"
        )
