"""Request sources: values that arrive with each request instead of from stored data.

A request source names typed fields that the caller supplies: columns of the entity table
for a training set, keys of the entity rows (or of the HTTP request's ``entities``) online.
On-demand feature views read them beside stored features, as in Feast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store.definitions.field import Field
from store.definitions.spec import check_name, content_hash, frozen_tags
from store.errors import DefinitionError

__all__ = ["RequestSource"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSource:
    """Fields supplied with each request: ``RequestSource(name=..., schema=[Field(...)])``.

    Example:
        >>> from store.types import Int64
        >>> vals = RequestSource(name="vals_to_add", schema=[Field(name="val_to_add", dtype=Int64)])
        >>> vals.field_names
        ['val_to_add']
    """

    name: str
    schema: Sequence[Field] = ()
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""

    def __post_init__(self) -> None:
        check_name("request source", self.name)
        schema = tuple(self.schema or ())
        if not schema:
            raise DefinitionError(
                f"request source {self.name!r}: declare its fields, e.g. "
                f"schema=[Field(name='val_to_add', dtype=Int64)]"
            )
        names: set[str] = set()
        for item in schema:
            if not isinstance(item, Field):
                raise DefinitionError(
                    f"request source {self.name!r}: schema entries must be Field objects, "
                    f"got {item!r}"
                )
            if item.name in names:
                raise DefinitionError(
                    f"request source {self.name!r}: field {item.name!r} is listed twice"
                )
            names.add(item.name)
        object.__setattr__(self, "schema", schema)
        object.__setattr__(self, "tags", frozen_tags("request source", self.name, self.tags))

    def __hash__(self) -> int:
        return hash(self.content_hash)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.schema]

    def to_spec(self) -> dict[str, Any]:
        """The canonical spec stored in the registry (a data source of type ``request``)."""
        return {
            "type": "request",
            "name": self.name,
            "schema": [f.to_spec() for f in self.schema],
            "description": self.description,
            "tags": dict(self.tags),
            "owner": self.owner,
        }

    @property
    def content_hash(self) -> str:
        return content_hash(self.to_spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> RequestSource:
        return cls(
            name=spec["name"],
            schema=[Field.from_spec(f) for f in spec["schema"]],
            description=spec["description"],
            tags=spec["tags"],
            owner=spec["owner"],
        )
