"""The JSON encoding online backends share for nested values, against generated types and
values: whatever Arrow holds comes back as the same Python value (maps and structs as dicts,
in order), nulls and empty containers included."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from store.online.values import decode_text, encode_column
from store.types import (
    Array,
    Bool,
    Bytes,
    DType,
    Float32,
    Float64,
    Int32,
    Int64,
    Json,
    MapType,
    PrimitiveType,
    String,
    Struct,
    UnixTimestamp,
    parse_dtype,
    to_arrow,
)

_SCALARS: dict[PrimitiveType, st.SearchStrategy[Any]] = {
    Int32: st.integers(-(2**31), 2**31 - 1),
    Int64: st.integers(-(2**63), 2**63 - 1),
    Float32: st.floats(width=32, allow_nan=False),  # NaN != NaN; infinities are kept
    Float64: st.floats(allow_nan=False),
    String: st.text(),
    Bool: st.booleans(),
    Bytes: st.binary(max_size=8),
    UnixTimestamp: st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ).map(lambda moment: moment.replace(fold=0)),  # fold means nothing in UTC
    Json: st.recursive(
        st.none() | st.integers() | st.text(max_size=4),
        lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=4,
    ).map(lambda document: json.dumps(document, indent=1)),
}
_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True)

dtypes: st.SearchStrategy[DType] = st.recursive(
    st.sampled_from(list(_SCALARS)),
    lambda inner: (
        inner.map(Array)
        | inner.map(MapType)
        | st.dictionaries(_NAMES, inner, min_size=1, max_size=3).map(Struct)
    ),
    max_leaves=6,
)


def values(dtype: DType) -> st.SearchStrategy[Any]:
    """Non-null values of ``dtype`` as the online store serves them."""
    if isinstance(dtype, PrimitiveType):
        return _SCALARS[dtype]
    if isinstance(dtype, Array):
        return st.lists(st.none() | values(dtype.element), max_size=3)
    if isinstance(dtype, MapType):
        return st.dictionaries(st.text(max_size=4), st.none() | values(dtype.value), max_size=3)
    assert isinstance(dtype, Struct)
    names = [n for n, _ in dtype.fields]
    fields = st.fixed_dictionaries({n: st.none() | values(t) for n, t in dtype.fields})
    return fields.map(lambda drawn: {n: drawn[n] for n in names})  # served in declared order


@st.composite
def typed_columns(draw: st.DrawFn) -> tuple[DType, list[Any]]:
    dtype = draw(dtypes)
    return dtype, draw(st.lists(st.none() | values(dtype), max_size=4))


@settings(max_examples=300, deadline=None)
@given(typed_columns())
def test_every_value_comes_back_as_it_went_in(case: tuple[DType, list[Any]]) -> None:
    dtype, column = case
    assert parse_dtype(dtype.spec) == dtype
    texts = encode_column(dtype)(pa.array(column, to_arrow(dtype)))
    decode = decode_text(dtype)
    back = [None if text is None else decode(text) for text in texts]
    assert back == column
    # Same types, orders (a map's entries, a struct's fields) and signs of zero.
    assert repr(back) == repr(column)
