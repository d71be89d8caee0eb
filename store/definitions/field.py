"""Fields: a named, typed column of a feature view's schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from store.definitions.spec import check_name, frozen_tags
from store.errors import DefinitionError
from store.types import DType, parse_dtype

__all__ = ["Field"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """A column of a feature view: ``Field(name="conv_rate", dtype=Float32)``."""

    name: str
    dtype: DType
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("field", self.name)
        if not isinstance(self.dtype, DType):
            raise DefinitionError(
                f"field {self.name!r}: dtype {self.dtype!r} is not a Silage type; "
                f"use one of store.types: Int32, Int64, Float32, Float64, String, Bool, "
                f"Bytes, UnixTimestamp, Json, Map, Map(<type>), Struct({{...}}) or Array(<type>)"
            )
        object.__setattr__(self, "tags", frozen_tags("field", self.name, self.tags))

    def __hash__(self) -> int:
        return hash((self.name, self.dtype, self.description, tuple(self.tags.items())))

    def to_spec(self) -> dict[str, Any]:
        """The canonical spec stored in the registry."""
        return {
            "name": self.name,
            "dtype": self.dtype.spec,
            "description": self.description,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Field:
        """Rebuild a field from its registry spec."""
        return cls(
            name=spec["name"],
            dtype=parse_dtype(spec["dtype"]),
            description=spec["description"],
            tags=spec["tags"],
        )
