"""Feature views: a set of features of some entities, read from one source."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from store.definitions.data_source import DATA_SOURCE_TYPES, DataSource, data_source_from_spec
from store.definitions.entity import Entity
from store.definitions.expectations import Compare, Expectation, expectation_from_spec
from store.definitions.field import Field
from store.definitions.push_source import PushSource
from store.definitions.spec import check_name, content_hash, frozen_tags
from store.errors import DefinitionError
from store.types import Float32, Float64, Int32, Int64, String, UnixTimestamp

__all__ = ["ON_INVALID", "FeatureView", "FeatureViewProjection"]

ON_INVALID = ("reject", "warn")
_NUMBERS = frozenset({Int32, Int64, Float32, Float64})
# Which dtypes each expectation reads (kinds not listed read any dtype).
_NEEDS = {
    "value_range": (_NUMBERS, "numeric"),
    "quantile_range": (_NUMBERS, "numeric"),
    "compare": (_NUMBERS | {UnixTimestamp, String}, "numeric, timestamp or string"),
    "matches": (frozenset({String}), "string"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureView:
    """Features of one or more entities, as in Feast.

    Args:
        name: unique name of the view.
        entities: the entities whose join keys identify a row; several make a composite key.
        schema: the feature fields. A field named like a join key declares that key's type
            instead of a feature (Feast's convention); keys left out get their type from the
            source's Parquet schema when the repository is applied.
        source: where the rows live: a :class:`FileSource`, or a :class:`PushSource`
            (Feast's form), whose batch source then becomes ``source`` and which is kept
            as ``push_source``: pushes to it reach this view.
        push_source: the push source whose pushes reach this view (set for you when
            ``source`` is one).
        ttl: how far back a point-in-time join may look from an entity row's timestamp.
            ``None`` or zero: no limit. Whole seconds only.
        online: whether ``materialize`` loads this view into the online store.
        expectations: checks of the view's data (:mod:`store.definitions.expectations`),
            run where data enters: materialization, pushes, training sets, ``silage
            validate``.
        on_invalid: ``"reject"`` (default) stops a load or push that fails an expectation,
            writing nothing; ``"warn"`` loads it. Both record every check in the registry.

    Example:
        >>> from store.definitions.source import FileSource
        >>> from store.types import Float32
        >>> driver = Entity(name="driver", join_keys=["driver_id"])
        >>> src = FileSource(path="data/stats.parquet", timestamp_field="ts")
        >>> fv = FeatureView(name="stats", entities=[driver], source=src,
        ...                  schema=[Field(name="conv_rate", dtype=Float32)])
        >>> [f.name for f in fv.features], fv.join_keys
        (['conv_rate'], ['driver_id'])
    """

    name: str
    source: DataSource
    schema: Sequence[Field] = ()
    entities: Sequence[Entity] = ()
    ttl: timedelta | None = None
    online: bool = True
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""
    expectations: Sequence[Expectation] = ()
    on_invalid: str = "reject"
    push_source: PushSource | None = None

    def __post_init__(self) -> None:
        check_name("feature view", self.name)
        where = f"feature view {self.name!r}"
        given: object = self.source
        if isinstance(given, PushSource):
            # Feast's FeatureView(source=push_source): offline reads go to its batch source.
            if self.push_source is not None and self.push_source != given:
                raise DefinitionError(
                    f"{where}: source is push source {given.name!r} but push_source is "
                    f"{self.push_source.name!r}; give one of them"
                )
            object.__setattr__(self, "push_source", given)
            object.__setattr__(self, "source", given.batch_source)
        elif self.push_source is not None:
            if not isinstance(self.push_source, PushSource):
                raise DefinitionError(
                    f"{where}: push_source must be a PushSource, got {self.push_source!r}"
                )
            if self.push_source.batch_source != self.source:
                raise DefinitionError(
                    f"{where}: push source {self.push_source.name!r} keeps its rows in "
                    f"{self.push_source.batch_source.name!r}, not in the view's source "
                    f"{self.source.name!r}; pass source=push_source alone"
                )
        if not isinstance(self.source, DATA_SOURCE_TYPES):
            raise DefinitionError(
                f"{where}: source must be a FileSource, a SparkSource or a PushSource, "
                f"got {type(self.source).__name__}"
            )
        entities = tuple(self.entities or ())
        for entity in entities:
            if not isinstance(entity, Entity):
                raise DefinitionError(
                    f"{where}: entities must be Entity objects, got {entity!r}; "
                    f"pass the Entity you declared, e.g. entities=[driver]"
                )
        if not entities:
            raise DefinitionError(
                f"{where}: declare at least one entity, e.g. entities=[driver]; "
                f"views without entities are not supported"
            )
        _require_unique(where, "entity", [e.name for e in entities])
        _require_unique(where, "join key", [e.join_key for e in entities])
        schema = tuple(self.schema or ())
        for item in schema:
            if not isinstance(item, Field):
                raise DefinitionError(
                    f"{where}: schema entries must be Field objects, got {item!r}; "
                    f"write Field(name=..., dtype=...)"
                )
        _require_unique(where, "field", [f.name for f in schema])
        keys = {e.join_key for e in entities}
        if not [f for f in schema if f.name not in keys]:
            raise DefinitionError(
                f"{where}: the schema declares no features; add Field(name=..., dtype=...) "
                f"entries for the columns to serve"
            )
        timestamps = {self.source.timestamp_field, self.source.created_timestamp_column}
        for f in schema:
            if f.name in timestamps:
                raise DefinitionError(
                    f"{where}: field {f.name!r} is a timestamp column of source "
                    f"{self.source.name!r}; remove it from the schema"
                )
        object.__setattr__(self, "entities", entities)
        object.__setattr__(self, "schema", schema)
        object.__setattr__(self, "ttl", _check_ttl(where, self.ttl))
        if not isinstance(self.online, bool):
            raise DefinitionError(f"{where}: online must be True or False, got {self.online!r}")
        object.__setattr__(self, "tags", frozen_tags("feature view", self.name, self.tags))
        object.__setattr__(self, "expectations", _check_expectations(where, self))
        if self.on_invalid not in ON_INVALID:
            raise DefinitionError(
                f"{where}: on_invalid={self.on_invalid!r}; use 'reject' (stop the load) or "
                f"'warn' (load and record)"
            )

    def __hash__(self) -> int:
        return hash(self.content_hash)

    @property
    def join_keys(self) -> list[str]:
        """Join key columns, in the order of ``entities``."""
        return [e.join_key for e in self.entities]

    @property
    def features(self) -> list[Field]:
        """The feature fields: the schema without its join-key fields."""
        keys = set(self.join_keys)
        return [f for f in self.schema if f.name not in keys]

    @property
    def entity_columns(self) -> list[Field]:
        """Join-key fields whose types are declared (all of them once applied)."""
        keys = set(self.join_keys)
        return [f for f in self.schema if f.name in keys]

    @property
    def ttl_seconds(self) -> int | None:
        """The ttl in whole seconds, ``None`` when unbounded."""
        return int(self.ttl.total_seconds()) if self.ttl else None

    def __getitem__(self, names: Sequence[str]) -> FeatureViewProjection:
        """Select some features for a feature service: ``fv[["a", "b"]]``."""
        if isinstance(names, str):
            names = [names]
        known = [f.name for f in self.features]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise DefinitionError(
                f"feature view {self.name!r} has no feature {unknown[0]!r}; "
                f"its features are {', '.join(known)}"
            )
        return FeatureViewProjection(feature_view=self.name, features=tuple(names), view=self)

    @property
    def projection(self) -> FeatureViewProjection:
        """All features of the view."""
        return FeatureViewProjection(
            feature_view=self.name, features=tuple(f.name for f in self.features), view=self
        )

    def to_spec(self) -> dict[str, Any]:
        """The canonical spec. It embeds the entities and the source, so that a view version
        in the registry pins exactly what data it reads and how it is keyed; expectations
        appear only when declared, and so does a push source, so views without them keep
        their hash."""
        spec = {
            "name": self.name,
            "entities": [e.to_spec() for e in self.entities],
            "schema": [f.to_spec() for f in self.schema],
            "source": self.source.to_spec(),
            "ttl_seconds": self.ttl_seconds,
            "online": self.online,
            "description": self.description,
            "tags": dict(self.tags),
            "owner": self.owner,
        }
        if self.expectations:
            spec["expectations"] = [e.to_spec() for e in self.expectations]
            spec["on_invalid"] = self.on_invalid
        if self.push_source is not None:
            spec["push_source"] = self.push_source.to_spec()
        return spec

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical spec."""
        return content_hash(self.to_spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FeatureView:
        """Rebuild a view, with its entities and source, from its registry spec."""
        ttl = spec["ttl_seconds"]
        return cls(
            name=spec["name"],
            entities=[Entity.from_spec(e) for e in spec["entities"]],
            schema=[Field.from_spec(f) for f in spec["schema"]],
            source=data_source_from_spec(spec["source"]),
            ttl=timedelta(seconds=ttl) if ttl else None,
            online=spec["online"],
            description=spec["description"],
            tags=spec["tags"],
            owner=spec["owner"],
            expectations=[expectation_from_spec(e) for e in spec.get("expectations", [])],
            on_invalid=spec.get("on_invalid", "reject"),
            push_source=(
                PushSource.from_spec(spec["push_source"]) if spec.get("push_source") else None
            ),
        )


@dataclass(frozen=True, slots=True)
class FeatureViewProjection:
    """Some features of one view, as selected by ``fv[["a", "b"]]``.

    ``view`` is the view selected from, when known (an on-demand view's sources need it);
    it is not part of the projection's identity or spec."""

    feature_view: str
    features: tuple[str, ...]
    view: FeatureView | None = field(default=None, compare=False, repr=False)

    def to_spec(self) -> dict[str, Any]:
        return {"feature_view": self.feature_view, "features": list(self.features)}


def _check_expectations(where: str, view: FeatureView) -> tuple[Expectation, ...]:
    """Expectations must be Expectation objects naming features of the view, of a type the
    check can read."""
    found = tuple(view.expectations or ())
    dtypes = {f.name: f.dtype for f in view.features}
    for expectation in found:
        if not isinstance(expectation, Expectation):
            raise DefinitionError(
                f"{where}: expectations must be objects such as ValueRange('x', min=0), "
                f"got {expectation!r}"
            )
        for name in expectation.features:
            if name not in dtypes:
                raise DefinitionError(
                    f"{where}: {expectation.describe()!r} names {name!r}, which is not a "
                    f"feature of the view; its features are {', '.join(dtypes)}"
                )
            need = _NEEDS.get(expectation.kind)
            if need is not None and dtypes[name] not in need[0]:
                raise DefinitionError(
                    f"{where}: {expectation.describe()!r} needs {need[1]} features, but "
                    f"{name!r} is {dtypes[name].spec}"
                )
        if isinstance(expectation, Compare):
            left, right = dtypes[expectation.left], dtypes[expectation.right]
            if left != right and not {left, right} <= _NUMBERS:
                raise DefinitionError(
                    f"{where}: {expectation.describe()!r} compares {left.spec} with "
                    f"{right.spec}; compare numbers with numbers, or values of one type"
                )
    return found


def _check_ttl(where: str, ttl: object) -> timedelta | None:
    if ttl is None:
        return None
    if not isinstance(ttl, timedelta):
        raise DefinitionError(
            f"{where}: ttl must be a datetime.timedelta or None, got {ttl!r}; "
            f"for example ttl=timedelta(days=1)"
        )
    if ttl < timedelta(0):
        raise DefinitionError(
            f"{where}: ttl {ttl} is negative; use a positive timedelta, or None for no limit"
        )
    if ttl.microseconds:
        raise DefinitionError(f"{where}: ttl {ttl} has a fraction of a second; use whole seconds")
    return ttl if ttl else None


def _require_unique(where: str, what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DefinitionError(f"{where}: {what} {name!r} is listed twice; list it once")
        seen.add(name)
