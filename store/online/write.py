"""Writing fresh rows straight into the online store (``write_to_online_store`` / ``push``).

Rows are checked against the view's schema before anything is written, converted to the
online store's batch format in Arrow (see :mod:`store.online.layout`), and written by the
backend with the same newest-wins upsert that materialization uses, in one transaction.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from store.definitions.feature_view import FeatureView
from store.errors import RequestError
from store.online.layout import TableLayout
from store.types import (
    Json,
    PrimitiveType,
    accepts_arrow_type,
    cast_arrow,
    describe_arrow_type,
    to_arrow,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["pushed_table", "rows_for_online"]


def rows_for_online(view: FeatureView, layout: TableLayout, data: Any) -> pa.RecordBatch:
    """Check pushed rows (a pandas DataFrame or an Arrow table) and shape them as the online
    store's batch: keys and features in their Arrow types, event and created times in
    microseconds.

    The rows need the view's join keys, its features and the source's timestamp field; the
    created-timestamp column is optional.

    Raises:
        RequestError: a missing column or one of the wrong type; nothing is written.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pushed_table(view, data)
    names = table.column_names
    source = view.source
    required = [*(n for n, _ in layout.keys), *(n for n, _ in layout.features)]
    missing = [c for c in [*required, source.timestamp_field] if c not in names]
    if missing:
        raise RequestError(
            f"rows pushed to {view.name!r} lack column(s) {', '.join(missing)}; they need the "
            f"join keys, every feature and {source.timestamp_field!r} (they have "
            f"{', '.join(names)})"
        )
    columns: list[pa.Array] = []
    for name, dtype in [*layout.keys, *layout.features]:
        column = table.column(name)
        if not accepts_arrow_type(dtype, column.type) and not pa.types.is_null(column.type):
            raise RequestError(
                f"rows pushed to {view.name!r}: column {name!r} is "
                f"{describe_arrow_type(column.type)}, but the view "
                f"declares {dtype.spec}; convert the column"
            )
        try:
            columns.append(cast_arrow(column, dtype))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise RequestError(
                f"rows pushed to {view.name!r}: column {name!r} cannot be read as "
                f"{dtype.spec}: {exc}"
            ) from exc
        if dtype == Json:
            _check_documents(columns[-1], name, view)
    columns.append(_micros(table.column(source.timestamp_field), source.timestamp_field, view))
    created = source.created_timestamp_column
    if created is not None and created in names:
        columns.append(_micros(table.column(created), created, view))
    else:
        columns.append(pa.nulls(table.num_rows, pa.int64()))
    if pc.any(pc.is_null(columns[len(layout.keys) + len(layout.features)])).as_py():
        raise RequestError(
            f"rows pushed to {view.name!r} have null {source.timestamp_field!r} values; "
            f"every row needs its event time"
        )
    return pa.RecordBatch.from_arrays(columns, names=layout.columns)


def pushed_table(view: FeatureView, data: Any) -> pa.Table:
    """Pushed rows as Arrow (a DataFrame is converted, without its index).

    Raises:
        RequestError: neither a DataFrame nor an Arrow table, or one Arrow cannot read.
    """
    import pandas as pd
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pd.DataFrame):
        # Maps, structs and arrays are built straight from the Python values in their declared
        # Arrow types: left to inference, dicts with different keys would become one struct
        # with every key, the missing ones null.
        declared = {f.name: f.dtype for f in view.features if f.name in data.columns}
        containers = {n: t for n, t in declared.items() if not isinstance(t, PrimitiveType)}
        try:
            table = pa.Table.from_pandas(data.drop(columns=list(containers)), preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise RequestError(f"rows pushed to {view.name!r} cannot be read: {exc}") from exc
        for name, dtype in containers.items():
            try:
                values = pa.array(data[name].tolist(), to_arrow(dtype), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise RequestError(
                    f"rows pushed to {view.name!r}: column {name!r} cannot be read as "
                    f"{dtype.spec}: {exc}"
                ) from exc
            table = table.append_column(name, values)
        return table.select([str(c) for c in data.columns])
    raise RequestError(
        f"rows pushed to {view.name!r} must be a pandas DataFrame or a pyarrow Table, "
        f"got {type(data).__name__}"
    )


def _check_documents(column: pa.Array, name: str, view: FeatureView) -> None:
    """Every value of a ``Json`` column must be a JSON document (kept as its text)."""
    for row, text in enumerate(column.to_pylist()):
        if text is None:
            continue
        try:
            json.loads(text)
        except ValueError as exc:
            raise RequestError(
                f"rows pushed to {view.name!r}: column {name!r} is declared Json but row {row} "
                f"is not a JSON document ({exc}): {text[:60]!r}"
            ) from None


def _micros(column: Any, name: str, view: FeatureView) -> pa.Array:
    """A timestamp column as int64 microseconds since the epoch, UTC (naive means UTC)."""
    import pyarrow as pa

    if not pa.types.is_timestamp(column.type):
        raise RequestError(
            f"rows pushed to {view.name!r}: column {name!r} is {column.type}, not a timestamp"
        )
    utc = column.cast(pa.timestamp("us", tz="UTC"), safe=False)
    return utc.cast(pa.int64()).combine_chunks()
