"""Value types: spellings, and which Parquet columns satisfy a declared type."""

from __future__ import annotations

import pyarrow as pa
import pytest

from store.offline.compiler.sql import sql_type
from store.types import (
    Array,
    Bool,
    Bytes,
    Float32,
    Float64,
    Int32,
    Int64,
    String,
    UnixTimestamp,
    accepts_arrow_type,
    dtype_for_arrow,
    parse_dtype,
    to_arrow,
)

ALL = [Int32, Int64, Float32, Float64, String, Bool, Bytes, UnixTimestamp, Array(Float32)]


@pytest.mark.parametrize("dtype", ALL)
def test_spelling_round_trips_and_arrow_type_is_accepted(dtype: object) -> None:
    assert parse_dtype(dtype.spec) == dtype  # type: ignore[attr-defined]
    assert accepts_arrow_type(dtype, to_arrow(dtype))  # type: ignore[arg-type]
    assert dtype_for_arrow(to_arrow(dtype)) == dtype  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dtype", "arrow_type", "ok"),
    [
        (Float32, pa.float64(), True),  # Feast's examples declare Float32 over float64
        (Int64, pa.int32(), True),
        (Int64, pa.float64(), False),
        (String, pa.large_string(), True),
        (String, pa.dictionary(pa.int32(), pa.string()), True),
        (String, pa.int64(), False),
        (UnixTimestamp, pa.timestamp("ns"), True),
        (Array(Int64), pa.list_(pa.int32()), True),
        (Array(Int64), pa.list_(pa.string()), False),
        (Bool, pa.bool_(), True),
    ],
)
def test_which_columns_satisfy_a_declared_type(
    dtype: object, arrow_type: pa.DataType, ok: bool
) -> None:
    assert accepts_arrow_type(dtype, arrow_type) is ok  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dtype", "duckdb", "spark"),
    [
        (Int32, "INT", "INT"),
        (Float32, "REAL", "FLOAT"),
        (String, "TEXT", "STRING"),
        (Bytes, "BLOB", "BINARY"),
        (UnixTimestamp, "TIMESTAMPTZ", "TIMESTAMP"),
        (Array(Float64), "DOUBLE[]", "ARRAY<DOUBLE>"),
    ],
)
def test_each_dialect_spells_the_sql_type_its_own_way(
    dtype: object, duckdb: str, spark: str
) -> None:
    assert sql_type(dtype).sql("duckdb") == duckdb  # type: ignore[arg-type]
    assert sql_type(dtype).sql("spark") == spark  # type: ignore[arg-type]


def test_arrays_of_arrays_are_refused() -> None:
    with pytest.raises(TypeError, match="arrays of arrays"):
        Array(Array(Int64))  # type: ignore[arg-type]
