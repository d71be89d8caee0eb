"""Entities: the things features describe (a driver, a customer), identified by a join key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store.definitions.spec import check_name, content_hash, frozen_tags
from store.errors import DefinitionError

__all__ = ["Entity"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=True)
class Entity:
    """An entity with one join key, declared as in Feast.

    Args:
        name: unique name of the entity in the repository.
        join_keys: the one column that identifies it in sources and entity tables;
            defaults to ``[name]``. Composite keys come from several entities on one view.
        description, tags, owner: documentation carried into the registry.

    Example:
        >>> driver = Entity(name="driver", join_keys=["driver_id"])
        >>> driver.join_key
        'driver_id'
    """

    name: str
    join_keys: Sequence[str] | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""

    def __post_init__(self) -> None:
        check_name("entity", self.name)
        keys = tuple(self.join_keys) if self.join_keys is not None else (self.name,)
        if isinstance(self.join_keys, str):
            keys = (self.join_keys,)
        if len(keys) != 1:
            raise DefinitionError(
                f"entity {self.name!r}: join_keys={list(keys)!r} must name exactly one column; "
                f"for a composite key declare one entity per column and list them all "
                f"in the feature view's entities"
            )
        check_name(f"join key of entity {self.name!r}:", keys[0])
        object.__setattr__(self, "join_keys", keys)
        object.__setattr__(self, "tags", frozen_tags("entity", self.name, self.tags))

    def __hash__(self) -> int:
        return hash(self.content_hash)

    @property
    def join_key(self) -> str:
        """The column that identifies this entity."""
        assert self.join_keys is not None
        return self.join_keys[0]

    def to_spec(self) -> dict[str, Any]:
        """The canonical spec stored in the registry."""
        return {
            "name": self.name,
            "join_key": self.join_key,
            "description": self.description,
            "tags": dict(self.tags),
            "owner": self.owner,
        }

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical spec."""
        return content_hash(self.to_spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Entity:
        """Rebuild an entity from its registry spec."""
        return cls(
            name=spec["name"],
            join_keys=[spec["join_key"]],
            description=spec["description"],
            tags=spec["tags"],
            owner=spec["owner"],
        )
