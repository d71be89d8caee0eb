"""Feature services: a named set of features that a model consumes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store.definitions.feature_logging import LoggingConfig
from store.definitions.feature_view import FeatureView, FeatureViewProjection
from store.definitions.on_demand import OnDemandFeatureView
from store.definitions.spec import check_name, content_hash, frozen_tags
from store.errors import DefinitionError

__all__ = ["FeatureService"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureService:
    """Features from several views, named for a model: as in Feast.

    Args:
        name: unique among services.
        features: views (all their features) or selections ``fv[["a", "b"]]``.
        logging_config: log what the service serves online to Parquet
            (:mod:`store.definitions.feature_logging`); ``None``: no logging.
        description, tags, owner: documentation carried into the registry.

    Example:
        >>> from store import Entity, FileSource, Field
        >>> from store.types import Int64
        >>> d = Entity(name="driver", join_keys=["driver_id"])
        >>> fv = FeatureView(name="stats", entities=[d], schema=[Field(name="trips", dtype=Int64)],
        ...                  source=FileSource(path="s.parquet", timestamp_field="ts"))
        >>> FeatureService(name="ranker", features=[fv]).feature_refs
        ['stats:trips']
    """

    name: str
    features: Sequence[FeatureView | OnDemandFeatureView | FeatureViewProjection] = ()
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""
    logging_config: LoggingConfig | None = None

    def __post_init__(self) -> None:
        check_name("feature service", self.name)
        if self.logging_config is not None and not isinstance(self.logging_config, LoggingConfig):
            raise DefinitionError(
                f"feature service {self.name!r}: logging_config must be a LoggingConfig("
                f"destination=FileLoggingDestination(path=...)), got {self.logging_config!r}"
            )
        projections: list[FeatureViewProjection] = []
        for item in self.features or ():
            if isinstance(item, FeatureView | OnDemandFeatureView):
                projections.append(item.projection)
            elif isinstance(item, FeatureViewProjection):
                projections.append(item)
            else:
                raise DefinitionError(
                    f"feature service {self.name!r}: features must be feature views (stored or "
                    f"on-demand) or "
                    f"selections like fv[['a', 'b']], got {item!r}"
                )
        if not projections:
            raise DefinitionError(
                f"feature service {self.name!r}: list at least one feature view in features"
            )
        views = [p.feature_view for p in projections]
        if len(set(views)) != len(views):
            raise DefinitionError(
                f"feature service {self.name!r}: a feature view appears twice in features; "
                f"select all its features in one entry"
            )
        object.__setattr__(self, "features", tuple(projections))
        object.__setattr__(self, "tags", frozen_tags("feature service", self.name, self.tags))

    def __hash__(self) -> int:
        return hash(self.content_hash)

    @property
    def projections(self) -> tuple[FeatureViewProjection, ...]:
        """The selected features, one projection per view."""
        return tuple(p for p in self.features if isinstance(p, FeatureViewProjection))

    @property
    def feature_refs(self) -> list[str]:
        """``"view:feature"`` references, in declaration order."""
        return [f"{p.feature_view}:{name}" for p in self.projections for name in p.features]

    def to_spec(self) -> dict[str, Any]:
        """The canonical spec stored in the registry; the logging config appears only when
        set, so services without one keep their hash."""
        spec: dict[str, Any] = {
            "name": self.name,
            "features": [p.to_spec() for p in self.projections],
            "description": self.description,
            "tags": dict(self.tags),
            "owner": self.owner,
        }
        if self.logging_config is not None:
            spec["logging_config"] = self.logging_config.to_spec()
        return spec

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical spec."""
        return content_hash(self.to_spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FeatureService:
        """Rebuild a service from its registry spec."""
        return cls(
            name=spec["name"],
            features=[
                FeatureViewProjection(p["feature_view"], tuple(p["features"]))
                for p in spec["features"]
            ],
            description=spec["description"],
            tags=spec["tags"],
            owner=spec["owner"],
            logging_config=(
                LoggingConfig.from_spec(spec["logging_config"])
                if spec.get("logging_config")
                else None
            ),
        )
