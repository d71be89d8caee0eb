"""Nested feature values as JSON, the one encoding every online backend shares.

Maps, structs and arrays of anything but scalars (``is_nested`` in :mod:`store.types`) are
kept by the online backends as JSON text (SQLite and PostgreSQL) or as JSON values inside a
stored row (Redis, whose rows hold every feature this way: :func:`json_text_column`
computes the texts of a column in Arrow). This module is the single definition of that
encoding, so a value written by one backend reads back the same from any other:

- a map is a JSON object in the map's order, a struct an object in the struct's field
  order, an array a JSON array; null stays null at every depth;
- timestamps are integer microseconds since the epoch, UTC; bytes are base64 text;
- a ``Json`` value is its document's text, a JSON string (never re-parsed, so it comes
  back character for character); floats keep ``Infinity`` and ``NaN`` (Python's JSON
  spelling), which is why PostgreSQL holds this as ``text``, not ``jsonb``.

Values come in as Arrow gives them (``to_pylist()``: a map is a list of key, value pairs)
and go out as Python values: a map or a struct as a ``dict``, timestamps as aware UTC
datetimes, bytes as ``bytes``.

Example:
    >>> import pyarrow as pa
    >>> from store.types import Map, Struct, Int64, UnixTimestamp, to_arrow
    >>> dtype = Struct({"seen": Map(UnixTimestamp), "n": Int64})
    >>> column = pa.array([{"seen": [("a", 0)], "n": None}, None], to_arrow(dtype))
    >>> texts = encode_column(dtype)(column)
    >>> texts
    ['{"seen":{"a":0},"n":null}', None]
    >>> decode_text(dtype)(texts[0])
    {'seen': {'a': datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)}, 'n': None}
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from store.epoch import from_micros, to_micros
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
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "decode_text",
    "encode_column",
    "from_json_ready",
    "json_ready",
    "json_ready_column",
    "json_text_column",
]

Convert = Callable[[Any], Any]

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_ready(dtype: DType) -> Convert | None:
    """How one non-null value of ``dtype`` (as Arrow's ``to_pylist`` gives it) becomes a
    JSON-ready Python value; None when it already is one."""
    if dtype == UnixTimestamp:
        return _micros
    if dtype == Bytes:
        return _base64
    if isinstance(dtype, PrimitiveType):
        return None
    if isinstance(dtype, Array):
        element = json_ready(dtype.element)
        if element is None:
            return None
        return lambda values: [None if v is None else element(v) for v in values]
    if isinstance(dtype, MapType):
        value = json_ready(dtype.value)
        return lambda pairs: {k: _maybe(value, v) for k, v in _pairs(pairs)}
    assert isinstance(dtype, Struct)
    fields = [(name, json_ready(t)) for name, t in dtype.fields]
    return lambda record: {name: _maybe(conv, record.get(name)) for name, conv in fields}


def from_json_ready(dtype: DType) -> Convert | None:
    """How one non-null JSON value (as ``json.loads`` gives it) becomes the dtype's Python
    value; None when it already is one."""
    if dtype == UnixTimestamp:
        return from_micros
    if dtype == Bytes:
        return base64.b64decode
    if isinstance(dtype, PrimitiveType):
        return None
    if isinstance(dtype, Array):
        element = from_json_ready(dtype.element)
        if element is None:
            return None
        return lambda values: [None if v is None else element(v) for v in values]
    if isinstance(dtype, MapType):
        value = from_json_ready(dtype.value)
        if value is None:
            return None  # a JSON object already is the dict, in its order
        return lambda found: {k: _maybe(value, v) for k, v in found.items()}
    assert isinstance(dtype, Struct)
    fields = [(name, from_json_ready(t)) for name, t in dtype.fields]
    # In the declared order, each declared field present (a null one as None).
    return lambda found: {name: _maybe(conv, found.get(name)) for name, conv in fields}


def json_ready_column(dtype: DType) -> Callable[[pa.Array], list[Any]]:
    """An Arrow column of ``dtype`` as JSON-ready Python values (None for nulls)."""
    convert = json_ready(dtype)
    if convert is None:
        return lambda column: column.to_pylist()
    return lambda column: [None if v is None else convert(v) for v in column.to_pylist()]


def encode_column(dtype: DType) -> Callable[[pa.Array], list[str | None]]:
    """An Arrow column of ``dtype`` as JSON texts (None for nulls)."""
    values = json_ready_column(dtype)
    dump = _JSON.encode
    return lambda column: [None if v is None else dump(v) for v in values(column)]


def json_text_column(dtype: DType) -> Callable[[pa.Array], pa.Array]:
    r"""An Arrow column of ``dtype`` as an Arrow string column of JSON texts, ``null`` for
    nulls: the texts :func:`encode_column` writes, computed in Arrow for the scalar types
    that need no Python (one value at a time through Python for the others).

    Numbers are spelled as Arrow spells them, the shortest text that reads back exactly,
    except that a float with no fraction has no ``.0`` (``1``), so readers of float columns
    convert what they read with ``float``. Infinities, NaN and ``-0.0`` are spelled as
    Python's JSON spells them.

    Example:
        >>> import pyarrow as pa
        >>> from store.types import Float64, String
        >>> json_text_column(Float64)(pa.array([0.1, None, -0.0, float("inf")])).to_pylist()
        ['0.1', 'null', '-0.0', 'Infinity']
        >>> json_text_column(String)(pa.array(['a "b"', "ünï", None])).to_pylist()
        ['"a \\"b\\""', '"ünï"', 'null']
    """
    vectorized = _VECTORIZED.get(dtype)
    if vectorized is not None:
        return vectorized
    encode = encode_column(dtype)

    def through_python(column: pa.Array) -> pa.Array:
        import pyarrow as pa
        import pyarrow.compute as pc

        return pc.fill_null(pa.array(encode(column), pa.string()), "null")

    return through_python


def _numbers(column: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.int64())  # microseconds since the epoch, UTC
    return pc.fill_null(column.cast(pa.string()), "null")


def _floats(column: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    doubles = column.cast(pa.float64())  # a Float32 reads back as the double Arrow gives
    texts = doubles.cast(pa.string())
    unusual = pc.or_(pc.invert(pc.is_finite(doubles)), pc.equal(doubles, 0.0))
    if pc.any(unusual).as_py():  # Arrow writes inf, -inf, nan and -0
        texts = pc.replace_substring_regex(texts, "^(-?)inf$", "\\1Infinity")
        texts = pc.replace_substring_regex(texts, "^-?nan$", "NaN")
        texts = pc.replace_substring_regex(texts, "^-0$", "-0.0")
    return pc.fill_null(texts, "null")


def _strings(column: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.type != pa.string():
        column = column.cast(pa.string())
    texts = pc.binary_join_element_wise('"', column, '"', "")
    # What JSON escapes: quotes, backslashes and control characters (rare: through Python).
    escape = pc.fill_null(pc.match_substring_regex(column, r'[\x00-\x1f"\\]'), False)
    if pc.any(escape).as_py():
        escaped = [_JSON.encode(v) for v in pc.filter(column, escape).to_pylist()]
        texts = pc.replace_with_mask(texts, escape, pa.array(escaped, pa.string()))
    return pc.fill_null(texts, "null")


def _booleans(column: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.fill_null(column.cast(pa.string()), "null")  # true, false


_VECTORIZED: dict[DType, Callable[[pa.Array], pa.Array]] = {
    Int32: _numbers,
    Int64: _numbers,
    UnixTimestamp: _numbers,
    Float32: _floats,
    Float64: _floats,
    String: _strings,
    Json: _strings,  # a document is kept as its text: a JSON string
    Bool: _booleans,
}


def decode_text(dtype: DType) -> Convert:
    """A JSON text written by :func:`encode_column` as the dtype's Python value."""
    convert = from_json_ready(dtype)
    loads = json.loads
    if convert is None:
        return loads
    return lambda text: convert(loads(text))


def _maybe(convert: Convert | None, value: Any) -> Any:
    return value if convert is None or value is None else convert(value)


def _pairs(value: Any) -> Any:
    """A map's entries: Arrow gives a list of (key, value) pairs; a dict is taken too."""
    return value.items() if isinstance(value, Mapping) else value


def _micros(value: datetime) -> int:
    # Arrow gives naive datetimes for a timestamp without a zone: they mean UTC.
    return to_micros(value if value.tzinfo is not None else value.replace(tzinfo=UTC))


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")
