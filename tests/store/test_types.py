"""Value types: spellings, and which Parquet columns satisfy a declared type."""

from __future__ import annotations

import pyarrow as pa
import pytest
from sqlglot import exp

from store.offline.compiler.sql import column, render, sql_type
from store.types import (
    Array,
    Bool,
    Bytes,
    Float32,
    Float64,
    Int32,
    Int64,
    Json,
    Map,
    String,
    Struct,
    UnixTimestamp,
    accepts_arrow_type,
    describe_arrow_type,
    dtype_for_arrow,
    parse_dtype,
    to_arrow,
)

ALL = [
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    Bool,
    Bytes,
    UnixTimestamp,
    Array(Float32),
    Map,
    Map(Float64),
    Map(Array(UnixTimestamp)),
    Struct({"a": Int64, "b": String}),
    Struct({"when": UnixTimestamp, "tags": Map, "inner": Struct({"x": Bytes})}),
    Array(Map),
    Array(Struct({"km": Float32})),
    Array(Array(Int64)),
]


@pytest.mark.parametrize("dtype", ALL, ids=lambda d: d.spec)
def test_spelling_round_trips_and_arrow_type_is_accepted(dtype: object) -> None:
    assert parse_dtype(dtype.spec) == dtype  # type: ignore[attr-defined]
    assert accepts_arrow_type(dtype, to_arrow(dtype))  # type: ignore[arg-type]
    assert dtype_for_arrow(to_arrow(dtype)) == dtype  # type: ignore[arg-type]


def test_json_is_a_document_in_a_string_column() -> None:
    assert parse_dtype("Json") is Json
    assert to_arrow(Json) == pa.string()
    assert accepts_arrow_type(Json, pa.large_string())
    assert not accepts_arrow_type(Json, pa.struct([("a", pa.int64())]))
    assert parse_dtype("Array(Json)") == Array(Json)
    # A string column is a String unless declared a Json; Arrow's JSON extension type (a
    # Parquet JSON column, as DuckDB writes one) is a Json.
    assert dtype_for_arrow(pa.string()) == String
    assert accepts_arrow_type(Json, pa.json_())
    assert dtype_for_arrow(pa.json_()) == Json
    assert not accepts_arrow_type(Int64, pa.json_())


@pytest.mark.parametrize(
    ("text", "dtype"),
    [
        ("Map", Map),
        ("Map(String)", Map),  # Feast's Map: string values
        (" Map ( Float32 ) ", Map(Float32)),
        ("Struct(a: Int64, b: Array(String))", Struct({"a": Int64, "b": Array(String)})),
        ("Struct({a: Int64, b: String})", Struct({"a": Int64, "b": String})),  # Feast's str()
        ("Array(Struct(x: Map(Json)))", Array(Struct({"x": Map(Json)}))),
    ],
)
def test_spellings_of_maps_and_structs(text: str, dtype: object) -> None:
    assert parse_dtype(text) == dtype


@pytest.mark.parametrize(
    "text",
    [
        "Mapp",
        "Map()",
        "Struct()",
        "Struct(a Int64)",
        "Struct(a: Int64, a: String)",
        "Array(Int64",
        "Int64 x",
        "Struct(1a: Int64)",
    ],
)
def test_bad_spellings_are_refused_with_the_valid_ones(text: str) -> None:
    with pytest.raises(ValueError, match=r"unknown dtype .*valid dtypes are .*Map\(<type>\)"):
        parse_dtype(text)


def test_struct_is_built_from_a_mapping_or_pairs_and_checked() -> None:
    assert Struct({"a": Int64}) == Struct([("a", Int64)])
    assert Struct({"a": Int64, "b": String}) != Struct({"b": String, "a": Int64})
    assert Map(Int64) == parse_dtype("Map(Int64)")
    assert Map(Int64) != Map
    with pytest.raises(TypeError, match="at least one field"):
        Struct({})
    with pytest.raises(TypeError, match="'a b'"):
        Struct({"a b": Int64})
    with pytest.raises(TypeError, match="not a Silage type"):
        Struct({"a": int})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="not a Silage type"):
        Map("Int64")  # type: ignore[arg-type]


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
        (Map(Int64), pa.map_(pa.large_string(), pa.int32()), True),
        (Map(Int64), pa.map_(pa.int64(), pa.int64()), False),  # keys are strings
        (Map, pa.map_(pa.string(), pa.float64()), False),
        (Map, pa.struct([("a", pa.string()), ("b", pa.string())]), True),  # dicts, as written
        (Map(Int64), pa.struct([("a", pa.int64()), ("b", pa.string())]), False),
        (
            Struct({"a": Int64, "b": String}),
            pa.struct([("b", pa.string()), ("a", pa.int32())]),
            True,
        ),
        (Struct({"a": Int64}), pa.struct([("a", pa.int64()), ("b", pa.string())]), False),
        (Struct({"a": Int64}), pa.struct([("a", pa.string())]), False),
        (Array(Map), pa.list_(pa.map_(pa.string(), pa.string())), True),
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
        (Json, "TEXT", "STRING"),
        (Map, "MAP(TEXT, TEXT)", "MAP<STRING, STRING>"),
        (
            Struct({"a": Int64, "b": Array(String)}),
            'STRUCT("a" BIGINT, "b" TEXT[])',
            "STRUCT<`a`: BIGINT, `b`: ARRAY<STRING>>",
        ),
    ],
)
def test_each_dialect_spells_the_sql_type_its_own_way(
    dtype: object, duckdb: str, spark: str
) -> None:
    assert sql_type(dtype).sql("duckdb") == duckdb  # type: ignore[arg-type]
    assert sql_type(dtype).sql("spark") == spark  # type: ignore[arg-type]


def test_an_engine_that_casts_no_struct_to_a_map_accepts_only_maps_for_maps() -> None:
    """Spark (``structs_as_maps=False``): a struct column serves no ``Map`` feature at any
    depth; everything else is accepted as on DuckDB."""
    record = pa.struct([("a", pa.string())])
    assert accepts_arrow_type(Map, record)
    assert not accepts_arrow_type(Map, record, structs_as_maps=False)
    assert not accepts_arrow_type(Array(Map), pa.list_(record), structs_as_maps=False)
    assert accepts_arrow_type(Struct({"a": String}), record, structs_as_maps=False)
    assert accepts_arrow_type(
        Struct({"m": Map(Int64)}),
        pa.struct([("m", pa.map_(pa.string(), pa.int32()))]),
        structs_as_maps=False,
    )


@pytest.mark.parametrize(
    ("dtype", "spark"),
    [
        (Array(Int64), "CAST(`c` AS ARRAY<BIGINT>)"),
        (Map(Float64), "CAST(`c` AS MAP<STRING, DOUBLE>)"),
        (
            Struct({"b": String, "a": Int64}),
            "IF(`c` IS NULL, NULL, STRUCT(CAST(`c`.`b` AS STRING) AS `b`, "
            "CAST(`c`.`a` AS BIGINT) AS `a`))",
        ),
        (
            Array(Struct({"km": Float32})),
            "TRANSFORM(`c`, `__silage_x0` -> IF(`__silage_x0` IS NULL, NULL, "
            "STRUCT(CAST(`__silage_x0`.`km` AS FLOAT) AS `km`)))",
        ),
        (
            Map(Array(Struct({"ok": Bool}))),
            "TRANSFORM_VALUES(`c`, (`__silage_k0`, `__silage_x0`) -> TRANSFORM(`__silage_x0`, "
            "`__silage_x1` -> IF(`__silage_x1` IS NULL, NULL, "
            "STRUCT(CAST(`__silage_x1`.`ok` AS BOOLEAN) AS `ok`))))",
        ),
    ],
)
def test_spark_casts_structs_by_field_name(dtype: object, spark: str) -> None:
    """Spark casts structs by position: compiled SQL rebuilds them field by field (at any
    depth), so a Parquet struct stored in another field order reads right; DuckDB keeps its
    cast, which matches fields by name."""
    cast = exp.cast(column("c"), sql_type(dtype))  # type: ignore[arg-type]
    assert render(cast, "spark") == spark
    assert render(cast, "duckdb") == cast.sql("duckdb")


def test_arrow_types_are_described_without_parquets_child_names() -> None:
    read_back = pa.map_(
        pa.field("key", pa.large_string(), nullable=False), pa.field("v", pa.int64())
    )
    assert describe_arrow_type(pa.list_(read_back)) == "list<map<string, int64>>"
    assert describe_arrow_type(pa.struct([("a", pa.float32())])) == "struct<a: float>"


def test_arrays_hold_any_silage_type_as_feast_allows() -> None:
    assert Array(Array(Int64)).element == Array(Int64)
    with pytest.raises(TypeError, match="not a Silage type"):
        Array(list)  # type: ignore[arg-type]
