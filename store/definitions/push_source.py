"""Push sources: a named door through which fresh rows enter a feature view, as in Feast.

A push source has no data of its own. It names a ``batch_source`` (a :class:`FileSource`),
where its rows live offline; a feature view declared with ``source=push_source`` reads that
batch source for training sets and materialization, and ``FeatureStore.push(name, df,
to=...)`` writes rows of every view on the push source to the online store, to the batch
source's folder, or to both. Rows are checked against each view's schema before anything
is written.

Example:
    >>> batch = FileSource(path="data/driver_stats.parquet", timestamp_field="event_timestamp")
    >>> push = PushSource(name="driver_stats_push", batch_source=batch)
    >>> push.to_spec()["type"], push.batch_source.name
    ('push', 'driver_stats')
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from store.definitions.source import FileSource
from store.definitions.spec import check_name, content_hash, frozen_tags
from store.errors import DefinitionError

__all__ = ["PushMode", "PushSource"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PushSource:
    """Rows pushed by an application, kept offline in ``batch_source`` (Feast's signature).

    Args:
        name: unique among data sources; ``push(name, ...)`` and ``POST /push`` use it.
        batch_source: where pushed rows are appended offline, and where views on this push
            source read their history.
        description, tags, owner: documentation carried into the registry.
    """

    name: str
    batch_source: FileSource
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""

    def __post_init__(self) -> None:
        check_name("push source", self.name)
        if not isinstance(self.batch_source, FileSource):
            raise DefinitionError(
                f"push source {self.name!r}: batch_source must be a FileSource (where pushed "
                f"rows are kept offline), got {type(self.batch_source).__name__}"
            )
        if self.batch_source.name == self.name:
            raise DefinitionError(
                f"push source {self.name!r}: its batch source has the same name; data sources "
                f"share one namespace, so name one of them differently"
            )
        object.__setattr__(self, "tags", frozen_tags("push source", self.name, self.tags))

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def to_spec(self) -> dict[str, Any]:
        """The canonical spec (a data source of type ``push``, its batch source embedded)."""
        return {
            "type": "push",
            "name": self.name,
            "batch_source": self.batch_source.to_spec(),
            "description": self.description,
            "tags": dict(self.tags),
            "owner": self.owner,
        }

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical spec."""
        return content_hash(self.to_spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> PushSource:
        """Rebuild a push source from its registry spec."""
        return cls(
            name=spec["name"],
            batch_source=FileSource.from_spec(spec["batch_source"]),
            description=spec["description"],
            tags=spec["tags"],
            owner=spec["owner"],
        )


class PushMode(enum.Enum):
    """Where ``FeatureStore.push`` writes (Feast's enum; the strings ``"online"``,
    ``"offline"`` and ``"online_and_offline"`` are accepted too)."""

    ONLINE = "online"
    OFFLINE = "offline"
    ONLINE_AND_OFFLINE = "online_and_offline"

    @classmethod
    def parse(cls, to: object) -> PushMode:
        """A mode from an enum member (Silage's or Feast's, by name) or its string.

        Raises:
            DefinitionError: anything else, listing the valid choices.
        """
        if isinstance(to, cls):
            return to
        name = getattr(to, "name", to)  # Feast's PushMode members carry the same names
        if isinstance(name, str):
            for mode in cls:
                if name in (mode.value, mode.name) or name.lower() == mode.value:
                    return mode
        raise DefinitionError(
            f"push to={to!r} is not a push mode; use 'online', 'offline' or "
            f"'online_and_offline' (or PushMode.ONLINE, ...)"
        )
