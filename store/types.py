"""Feature value types.

A dtype is an immutable value naming a logical type. Each one knows how it is
spelled in a spec (``"Int64"``, ``"Array(Float32)"``), which Arrow type it
materializes as, and which Arrow types a source column may have to satisfy it.
The tables at the bottom of this module are the single place those facts live.

Example:
    >>> from store.types import Array, Float32, parse_dtype
    >>> parse_dtype("Array(Float32)") == Array(Float32)
    True
"""

from __future__ import annotations

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
    "PrimitiveType",
    "String",
    "UnixTimestamp",
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


@dataclass(frozen=True, slots=True)
class Array(DType):
    """A list of values of one primitive type: ``Array(Float32)``."""

    element: PrimitiveType

    def __post_init__(self) -> None:
        if not isinstance(self.element, PrimitiveType):
            raise TypeError(
                f"Array({self.element!r}): the element type must be a primitive type such as "
                f"Int64 or String; arrays of arrays are not supported"
            )

    @property
    def spec(self) -> str:
        return f"Array({self.element.spec})"

    def __repr__(self) -> str:
        return self.spec


Int32 = PrimitiveType("Int32")
Int64 = PrimitiveType("Int64")
Float32 = PrimitiveType("Float32")
Float64 = PrimitiveType("Float64")
String = PrimitiveType("String")
Bool = PrimitiveType("Bool")
Bytes = PrimitiveType("Bytes")
UnixTimestamp = PrimitiveType("UnixTimestamp")

PRIMITIVES: dict[str, PrimitiveType] = {
    t.name: t for t in (Int32, Int64, Float32, Float64, String, Bool, Bytes, UnixTimestamp)
}


def parse_dtype(spec: str) -> DType:
    """Parse a dtype spelling back into a dtype.

    Raises:
        ValueError: the spelling names no Silage type; the message lists the valid ones.
    """
    text = spec.strip()
    if text in PRIMITIVES:
        return PRIMITIVES[text]
    if text.startswith("Array(") and text.endswith(")"):
        inner = parse_dtype(text[len("Array(") : -1])
        if isinstance(inner, PrimitiveType):
            return Array(inner)
    valid = ", ".join([*PRIMITIVES, "Array(<primitive>)"])
    raise ValueError(f"unknown dtype {spec!r}; valid dtypes are {valid}")


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
}


def arrow_kind(arrow_type: pa.DataType) -> str:
    """Classify an Arrow type into the kinds used by ``_ACCEPTED_ARROW_KINDS``."""
    import pyarrow as pa

    checks = (
        ("int", pa.types.is_integer),
        ("float", pa.types.is_floating),
        ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
        ("bool", pa.types.is_boolean),
        ("binary", lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t)),
        ("timestamp", pa.types.is_timestamp),
        ("list", lambda t: pa.types.is_list(t) or pa.types.is_large_list(t)),
        ("dictionary", pa.types.is_dictionary),
    )
    for kind, check in checks:
        if check(arrow_type):
            return kind
    return str(arrow_type)


def describe_arrow_type(arrow_type: object) -> str:
    """Arrow's type name for messages, without the ``large_`` prefix pandas strings bring."""
    return str(arrow_type).removeprefix("large_")


def accepts_arrow_type(dtype: DType, arrow_type: pa.DataType) -> bool:
    """Whether a source column of ``arrow_type`` can serve a feature declared as ``dtype``."""
    kind = arrow_kind(arrow_type)
    if kind == "dictionary":
        return accepts_arrow_type(dtype, arrow_type.value_type)
    if isinstance(dtype, Array):
        return kind == "list" and accepts_arrow_type(dtype.element, arrow_type.value_type)
    assert isinstance(dtype, PrimitiveType)
    return kind in _ACCEPTED_ARROW_KINDS[dtype.name]


def dtype_for_arrow(arrow_type: pa.DataType) -> DType | None:
    """The natural Silage dtype of an Arrow type, or None when there is none."""
    kind = arrow_kind(arrow_type)
    if kind == "dictionary":
        return dtype_for_arrow(arrow_type.value_type)
    if kind == "list":
        inner = dtype_for_arrow(arrow_type.value_type)
        return Array(inner) if isinstance(inner, PrimitiveType) else None
    if kind == "int":
        return Int64 if arrow_type.bit_width > 32 else Int32
    if kind == "float":
        return Float64 if arrow_type.bit_width > 32 else Float32
    natural = {"string": String, "bool": Bool, "binary": Bytes, "timestamp": UnixTimestamp}
    return natural.get(kind)


def to_arrow(dtype: DType) -> pa.DataType:
    """The Arrow type Silage returns for a dtype."""
    import pyarrow as pa

    if isinstance(dtype, Array):
        return pa.list_(to_arrow(dtype.element))
    table = {
        "Int32": pa.int32(),
        "Int64": pa.int64(),
        "Float32": pa.float32(),
        "Float64": pa.float64(),
        "String": pa.string(),
        "Bool": pa.bool_(),
        "Bytes": pa.binary(),
        "UnixTimestamp": pa.timestamp("us", tz="UTC"),
    }
    assert isinstance(dtype, PrimitiveType)
    return table[dtype.name]
