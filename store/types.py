"""Feature value types.

A dtype is an immutable value naming a logical type. Each one knows how it is
spelled in a spec (``"Int64"``, ``"Array(Float32)"``), which Arrow type it
materializes as, and which Arrow types a source column may have to satisfy it.
The tables at the bottom of this module are the single place those facts live.

Besides the scalars, Feast's value types for documents and records:

- ``Json``: a JSON document, kept as its text (an Arrow string column; the text is
  stored and served as written).
- ``Map``: a map from string keys to values of one type, ``Map`` alone meaning string
  values as in Feast (``map<string, string>`` in Arrow); ``Map(Float64)`` types the values.
  Online it is served as a ``dict``.
- ``Struct({"a": Int64, "b": String})``: named, typed fields (an Arrow struct), served
  online as a ``dict`` in the declared field order; spelled ``Struct(a: Int64, b: String)``.
- ``Array(t)`` of any of them, arrays included, as Feast allows.

Example:
    >>> from store.types import Array, Float32, Map, Struct, Int64, parse_dtype
    >>> parse_dtype("Array(Float32)") == Array(Float32)
    True
    >>> Struct({"trips": Int64, "rates": Map(Float32)}).spec
    'Struct(trips: Int64, rates: Map(Float32))'
    >>> parse_dtype("Array(Struct(trips: Int64, rates: Map(Float32)))").element.fields[1]
    ('rates', Map(Float32))
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "Array",
    "Bool",
    "Bytes",
    "DType",
    "Float32",
    "Float64",
    "Int32",
    "Int64",
    "Json",
    "Map",
    "MapType",
    "PrimitiveType",
    "String",
    "Struct",
    "UnixTimestamp",
    "is_nested",
    "parse_dtype",
]


class DType:
    """Base of every Silage value type."""

    __slots__ = ()

    @property
    def spec(self) -> str:
        """The type's spelling in a spec, e.g. ``"Int64"``."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class PrimitiveType(DType):
    """A scalar type such as ``Int64``; use the module constants, not this class."""

    name: str

    @property
    def spec(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name


def _check_inner(outer: str, inner: object) -> DType:
    if not isinstance(inner, DType):
        raise TypeError(
            f"{outer}({inner!r}): {inner!r} is not a Silage type; use one of store.types "
            f"(Int64, String, Json, Map, Struct(...), Array(...), ...)"
        )
    return inner


@dataclass(frozen=True, slots=True)
class Array(DType):
    """A list of values of one type: ``Array(Float32)``, ``Array(Map)``, ``Array(Array(Int64))``."""

    element: DType

    def __post_init__(self) -> None:
        _check_inner("Array", self.element)

    @property
    def spec(self) -> str:
        return f"Array({self.element.spec})"

    def __repr__(self) -> str:
        return self.spec


@dataclass(frozen=True, slots=True)
class MapType(DType):
    """String keys to values of one type. Use the constant ``Map`` (string values, Feast's
    ``Map``) or call it with the value type: ``Map(Float64)``."""

    value: DType

    def __post_init__(self) -> None:
        _check_inner("Map", self.value)

    def __call__(self, value: DType) -> MapType:
        """``Map(Float64)``: the map type with values of ``value``."""
        return MapType(value)

    @property
    def spec(self) -> str:
        # The bare spelling is Feast's `Map`: string values.
        return "Map" if self.value == String else f"Map({self.value.spec})"

    def __repr__(self) -> str:
        return self.spec


@dataclass(frozen=True, slots=True, init=False)
class Struct(DType):
    """Named, typed fields, in order: ``Struct({"a": Int64, "b": String})`` (Feast's form), or
    pairs ``Struct([("a", Int64), ("b", String)])``. ``fields`` holds the pairs."""

    fields: tuple[tuple[str, DType], ...]

    def __init__(self, fields: Mapping[str, DType] | Iterable[tuple[str, DType]]) -> None:
        pairs = tuple(fields.items() if isinstance(fields, Mapping) else fields)
        names = [name for name, _ in pairs]
        if not pairs:
            raise TypeError("Struct({}): a struct needs at least one field")
        for name, dtype in pairs:
            if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
                raise TypeError(
                    f"Struct: field name {name!r} must be letters, digits and underscores, "
                    f"not starting with a digit"
                )
            _check_inner(f"Struct field {name!r}: Struct", dtype)
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise TypeError(f"Struct: field name(s) {', '.join(duplicated)} appear twice")
        object.__setattr__(self, "fields", pairs)

    @property
    def spec(self) -> str:
        return f"Struct({', '.join(f'{n}: {t.spec}' for n, t in self.fields)})"

    def __repr__(self) -> str:
        return self.spec


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Int32 = PrimitiveType("Int32")
Int64 = PrimitiveType("Int64")
Float32 = PrimitiveType("Float32")
Float64 = PrimitiveType("Float64")
String = PrimitiveType("String")
Bool = PrimitiveType("Bool")
Bytes = PrimitiveType("Bytes")
UnixTimestamp = PrimitiveType("UnixTimestamp")
# A JSON document, kept as text: a scalar in every store (a string column offline, text
# online), so it is primitive here; it is not parsed on the way through.
Json = PrimitiveType("Json")
Map = MapType(String)

PRIMITIVES: dict[str, PrimitiveType] = {
    t.name: t for t in (Int32, Int64, Float32, Float64, String, Bool, Bytes, UnixTimestamp, Json)
}


def is_nested(dtype: DType) -> bool:
    """Whether values of ``dtype`` hold other values beyond a flat list of scalars (maps,
    structs, arrays of those or of arrays). Online backends store those as JSON text."""
    if isinstance(dtype, Array):
        return not isinstance(dtype.element, PrimitiveType)
    return not isinstance(dtype, PrimitiveType)


def parse_dtype(spec: str) -> DType:
    """Parse a dtype spelling back into a dtype: ``Int64``, ``Json``, ``Map``,
    ``Map(Float64)``, ``Array(String)``, ``Struct(a: Int64, b: Array(String))`` (Feast's
    ``Struct({a: Int64, ...})`` is read too).

    Raises:
        ValueError: the spelling names no Silage type; the message lists the valid ones.
    """
    try:
        dtype, rest = _parse(spec, 0)
        if spec[rest:].strip():
            raise _SpellingError(rest)
    except _SpellingError as exc:
        valid = ", ".join(
            [*PRIMITIVES, "Map", "Map(<type>)", "Array(<type>)", "Struct(<name>: <type>, ...)"]
        )
        raise ValueError(
            f"unknown dtype {spec!r} (at character {exc.position}); valid dtypes are {valid}"
        ) from None
    return dtype


class _SpellingError(Exception):
    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


_WORD = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*")


def _parse(text: str, at: int) -> tuple[DType, int]:
    """One dtype starting at ``at``: the dtype and where its spelling ends."""
    word = _WORD.match(text, at)
    if word is None:
        raise _SpellingError(at)
    name, at = word.group(1), word.end()
    opens = text.startswith("(", at)
    if name in PRIMITIVES and not opens:
        return PRIMITIVES[name], at
    if name == "Map" and not opens:
        return Map, at
    if not opens or name not in ("Array", "Map", "Struct"):
        raise _SpellingError(word.start(1))
    at += 1
    if name == "Struct":
        fields, at = _parse_fields(text, at)
        try:
            return Struct(fields), _close(text, at)
        except TypeError:
            raise _SpellingError(at) from None
    inner, at = _parse(text, at)
    return (Array(inner) if name == "Array" else MapType(inner)), _close(text, at)


def _parse_fields(text: str, at: int) -> tuple[list[tuple[str, DType]], int]:
    braced = text[at:].lstrip().startswith("{")
    if braced:
        at = text.index("{", at) + 1
    fields: list[tuple[str, DType]] = []
    while True:
        word = _WORD.match(text, at)
        if word is None or not text.startswith(":", word.end()):
            raise _SpellingError(at)
        dtype, at = _parse(text, word.end() + 1)
        fields.append((word.group(1), dtype))
        at = len(text) - len(text[at:].lstrip())
        if not text.startswith(",", at):
            break
        at += 1
    if braced:
        if not text.startswith("}", at):
            raise _SpellingError(at)
        at += 1
    return fields, at


def _close(text: str, at: int) -> int:
    at = len(text) - len(text[at:].lstrip())
    if not text.startswith(")", at):
        raise _SpellingError(at)
    return len(text) - len(text[at + 1 :].lstrip())


# --- Arrow types --------------------------------------------------------------------------------

# Kinds of Arrow column a declared primitive type accepts. Widths within a kind are cast on
# read, as Feast does (its examples declare Float32 over float64 Parquet columns).
_ACCEPTED_ARROW_KINDS: dict[str, frozenset[str]] = {
    "Int32": frozenset({"int"}),
    "Int64": frozenset({"int"}),
    "Float32": frozenset({"float"}),
    "Float64": frozenset({"float"}),
    "String": frozenset({"string"}),
    "Bool": frozenset({"bool"}),
    "Bytes": frozenset({"binary"}),
    "UnixTimestamp": frozenset({"timestamp"}),
    "Json": frozenset({"string", "json"}),  # the document's text
}


def arrow_kind(arrow_type: pa.DataType) -> str:
    """Classify an Arrow type into the kinds used by ``_ACCEPTED_ARROW_KINDS``."""
    import pyarrow as pa

    checks = (
        # A Parquet column of the JSON logical type (DuckDB writes its JSON so) reads as
        # Arrow's JSON extension type: text known to be JSON.
        ("json", lambda t: getattr(t, "extension_name", None) == "arrow.json"),
        ("int", pa.types.is_integer),
        ("float", pa.types.is_floating),
        ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
        ("bool", pa.types.is_boolean),
        ("binary", lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t)),
        ("timestamp", pa.types.is_timestamp),
        ("map", pa.types.is_map),
        ("list", lambda t: pa.types.is_list(t) or pa.types.is_large_list(t)),
        ("struct", pa.types.is_struct),
        ("dictionary", pa.types.is_dictionary),
    )
    for kind, check in checks:
        if check(arrow_type):
            return kind
    return str(arrow_type)


def describe_arrow_type(arrow_type: object) -> str:
    """Arrow's type name for messages, without the ``large_`` prefix pandas strings bring and
    the child names Parquet puts in containers: ``map<string, list<int64>>``."""
    import pyarrow as pa

    if not isinstance(arrow_type, pa.DataType):
        return str(arrow_type)
    kind = arrow_kind(arrow_type)
    if kind == "map":
        key, item = arrow_type.key_type, arrow_type.item_type
        return f"map<{describe_arrow_type(key)}, {describe_arrow_type(item)}>"
    if kind == "list":
        return f"list<{describe_arrow_type(arrow_type.value_type)}>"
    if kind == "struct":
        fields = ", ".join(f"{f.name}: {describe_arrow_type(f.type)}" for f in arrow_type)
        return f"struct<{fields}>"
    return str(arrow_type).replace("large_", "")


def accepts_arrow_type(
    dtype: DType, arrow_type: pa.DataType, *, structs_as_maps: bool = True
) -> bool:
    """Whether a source column of ``arrow_type`` can serve a feature declared as ``dtype``.

    Containers accept containers of the same shape whose parts are accepted: a ``Map(Int64)``
    a ``map<string, int32>`` (or, with ``structs_as_maps``, a struct of integer fields, as
    dicts are written: an engine that cannot turn a struct into a map, Spark, passes False),
    a struct a struct with the same field names (in any order: both engines match fields by
    name).
    """

    def accepts(inner: DType, inner_type: pa.DataType) -> bool:
        return accepts_arrow_type(inner, inner_type, structs_as_maps=structs_as_maps)

    kind = arrow_kind(arrow_type)
    if kind == "dictionary":
        return accepts(dtype, arrow_type.value_type)
    if isinstance(dtype, Array):
        return kind == "list" and accepts(dtype.element, arrow_type.value_type)
    if isinstance(dtype, MapType):
        if kind == "struct" and structs_as_maps:
            # Records written from Python dicts: pandas and pyarrow infer a struct, and Feast's
            # own sample data for `Map` is one. Its fields become the keys (a null field an
            # entry with a null value); DuckDB casts a struct to a map.
            fields = [arrow_type.field(i).type for i in range(arrow_type.num_fields)]
            return bool(fields) and all(accepts(dtype.value, t) for t in fields)
        return (
            kind == "map"
            and arrow_kind(arrow_type.key_type) == "string"
            and accepts(dtype.value, arrow_type.item_type)
        )
    if isinstance(dtype, Struct):
        if kind != "struct":
            return False
        found = {
            arrow_type.field(i).name: arrow_type.field(i).type for i in range(arrow_type.num_fields)
        }
        return set(found) == {n for n, _ in dtype.fields} and all(
            accepts(t, found[n]) for n, t in dtype.fields
        )
    assert isinstance(dtype, PrimitiveType)
    return kind in _ACCEPTED_ARROW_KINDS[dtype.name]


def dtype_for_arrow(arrow_type: pa.DataType) -> DType | None:
    """The natural Silage dtype of an Arrow type, or None when there is none (a string column
    is ``String``; ``Json`` is the JSON extension type's, or a string column's by declaration)."""
    kind = arrow_kind(arrow_type)
    if kind == "dictionary":
        return dtype_for_arrow(arrow_type.value_type)
    if kind == "list":
        inner = dtype_for_arrow(arrow_type.value_type)
        return None if inner is None else Array(inner)
    if kind == "map":
        value = dtype_for_arrow(arrow_type.item_type)
        keyed = arrow_kind(arrow_type.key_type) == "string"
        return MapType(value) if keyed and value is not None else None
    if kind == "struct":
        fields = [(f.name, dtype_for_arrow(f.type)) for f in arrow_type]
        typed = [(n, t) for n, t in fields if t is not None]
        if (
            len(typed) != len(fields)
            or not typed
            or not all(_FIELD_NAME.fullmatch(n) for n, _ in typed)
        ):
            return None
        return Struct(typed)
    if kind == "int":
        return Int64 if arrow_type.bit_width > 32 else Int32
    if kind == "float":
        return Float64 if arrow_type.bit_width > 32 else Float32
    natural = {
        "string": String,
        "json": Json,
        "bool": Bool,
        "binary": Bytes,
        "timestamp": UnixTimestamp,
    }
    return natural.get(kind)


def to_arrow(dtype: DType) -> pa.DataType:
    """The Arrow type Silage returns for a dtype."""
    import pyarrow as pa

    if isinstance(dtype, Array):
        return pa.list_(to_arrow(dtype.element))
    if isinstance(dtype, MapType):
        return pa.map_(pa.string(), to_arrow(dtype.value))
    if isinstance(dtype, Struct):
        return pa.struct([pa.field(n, to_arrow(t)) for n, t in dtype.fields])
    table = {
        "Int32": pa.int32(),
        "Int64": pa.int64(),
        "Float32": pa.float32(),
        "Float64": pa.float64(),
        "String": pa.string(),
        "Bool": pa.bool_(),
        "Bytes": pa.binary(),
        "UnixTimestamp": pa.timestamp("us", tz="UTC"),
        "Json": pa.string(),
    }
    assert isinstance(dtype, PrimitiveType)
    return table[dtype.name]


def cast_arrow(values: pa.Array | pa.ChunkedArray, dtype: DType) -> pa.Array:
    """``values`` (accepted by :func:`accepts_arrow_type`) in the dtype's Arrow type.

    Timestamps may lose sub-microsecond digits; any other lossy cast is an error. Arrow casts
    no struct to a map, so a container column that does not cast is rebuilt from its Python
    values (a struct's fields become the map's entries, in order).

    Raises:
        pyarrow.ArrowInvalid, pyarrow.ArrowNotImplementedError, pyarrow.ArrowTypeError: the
            values do not fit; callers say where they came from.
    """
    import pyarrow as pa

    target = to_arrow(dtype)
    safe = not pa.types.is_timestamp(values.type)
    try:
        cast = values.cast(target, safe=safe)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if isinstance(dtype, PrimitiveType):
            raise
        return pa.array(values.to_pylist(), target)
    return cast.combine_chunks() if isinstance(cast, pa.ChunkedArray) else cast
