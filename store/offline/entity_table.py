"""Entity tables: the rows a training set is built for, checked and normalized.

An entity table holds the join keys of every requested view, an ``event_timestamp``
column, and anything else (labels, ids), which passes through untouched. Timestamps
become UTC microseconds: timezone-aware values are converted, naive ones mean UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from store.errors import RequestError
from store.offline.compiler.query import ROW_COLUMN, TIMESTAMP_COLUMN
from store.types import DType, Int32, Int64, String, describe_arrow_type

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["EntityTable", "check_columns", "prepare_entity_table", "read_entity_parquet"]

_KEY_KINDS = {Int32.name: "int", Int64.name: "int", String.name: "string"}


@dataclass(frozen=True, slots=True)
class EntityTable:
    """A checked entity table with its row numbers, and its time range in microseconds."""

    table: pa.Table
    columns: tuple[str, ...]
    min_ts_us: int | None
    max_ts_us: int | None


def prepare_entity_table(
    table: pa.Table, keys: Mapping[str, tuple[DType, list[str]]]
) -> EntityTable:
    """Check an entity table against the keys the requested views need and normalize it.

    Args:
        table: the entity rows as Arrow.
        keys: join key name to (its type, the views that need it).

    Raises:
        RequestError: a missing or mistyped column; the message names it and the fix.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from store.types import arrow_kind

    names = table.column_names
    check_columns(names, keys)
    ts = table.column(TIMESTAMP_COLUMN)
    if pa.types.is_timestamp(ts.type) or pa.types.is_date(ts.type):
        # A cast to a UTC zone keeps the instant of aware values and reads naive ones as UTC.
        ts = ts.cast(pa.timestamp("us", tz="UTC"), safe=False)
    else:
        raise RequestError(
            f"entity table column {TIMESTAMP_COLUMN!r} is {describe_arrow_type(ts.type)}, "
            f"not a timestamp; "
            f"convert it, e.g. df['event_timestamp'] = pd.to_datetime(df['event_timestamp'], "
            f"utc=True)"
        )
    if ts.null_count:
        raise RequestError(
            f"entity table column {TIMESTAMP_COLUMN!r} has {ts.null_count} null value(s); "
            f"every row needs a time"
        )
    for key, (dtype, views) in keys.items():
        kind = arrow_kind(table.column(key).type)
        if kind == "dictionary":
            kind = arrow_kind(table.column(key).type.value_type)
        if kind != _KEY_KINDS[dtype.spec]:
            raise RequestError(
                f"entity table column {key!r} is "
                f"{describe_arrow_type(table.column(key).type)}, but feature view(s) "
                f"{', '.join(views)} key it as {dtype.spec}; convert the column"
            )
    index = names.index(TIMESTAMP_COLUMN)
    table = table.set_column(index, TIMESTAMP_COLUMN, ts)
    table = table.append_column(ROW_COLUMN, pa.array(range(table.num_rows), pa.int64()))
    bounds = pc.min_max(ts.cast(pa.int64())) if table.num_rows else None
    low = bounds["min"].as_py() if bounds is not None else None
    high = bounds["max"].as_py() if bounds is not None else None
    return EntityTable(table=table, columns=tuple(names), min_ts_us=low, max_ts_us=high)


def check_columns(names: Sequence[str], keys: Mapping[str, tuple[DType, list[str]]]) -> None:
    """The entity table has ``event_timestamp``, every join key, and no reserved name.

    Raises:
        RequestError: naming the missing column, the views that need it, and the columns there.
    """
    reserved = [n for n in names if n.startswith("__silage")]
    if reserved:
        raise RequestError(f"entity table column {reserved[0]!r} uses Silage's reserved prefix")
    if len(set(names)) != len(names):
        raise RequestError(f"entity table has duplicate column names: {list(names)}")
    if TIMESTAMP_COLUMN not in names:
        raise RequestError(
            f"entity table has no {TIMESTAMP_COLUMN!r} column (it has {', '.join(names)}); "
            f"add the time each row's features should be read as of"
        )
    for key, (_, views) in keys.items():
        if key not in names:
            raise RequestError(
                f"entity table has no column {key!r}, the join key of feature view(s) "
                f"{', '.join(views)}; add it (the table has {', '.join(names)})"
            )


def read_entity_parquet(path: Path) -> pa.Table:
    """An entity table stored as Parquet.

    Raises:
        RequestError: the file does not exist.
    """
    import pyarrow.parquet as pq

    if not path.exists():
        raise RequestError(f"entity table file {path} does not exist")
    return pq.read_table(path)
