"""On-demand feature views: features computed by a Python function at request time.

The same function runs wherever features are read, which is what keeps a request-time
transformation identical in training and serving:

- in a training set, after the point-in-time join, once over the whole result;
- online, after the stored features are read, over the requested entities;
- in predictions, as part of the online read.

Its inputs are the features of its source feature views (under their names and as
``view__feature``) and the fields of its request sources; its outputs are the fields of
its ``schema``, checked on every call (:mod:`store.transformation`). Two modes, as in
Feast: ``"pandas"`` (a DataFrame in, a DataFrame out) and ``"python"`` (a dict of lists
in, a dict of lists out; with ``singleton=True`` one row's dict of values in and out).

Example:
    >>> from store import Entity, FileSource, FeatureView, Field
    >>> from store.types import Float64, Int64
    >>> driver = Entity(name="driver", join_keys=["driver_id"])
    >>> stats = FeatureView(name="stats", entities=[driver],
    ...                     schema=[Field(name="rate", dtype=Float64)],
    ...                     source=FileSource(path="s.parquet", timestamp_field="ts"))
    >>> vals = RequestSource(name="vals", schema=[Field(name="add", dtype=Int64)])
    >>> @on_demand_feature_view(sources=[stats, vals], schema=[Field(name="sum", dtype=Float64)])
    ... def rate_plus(inputs):
    ...     return inputs.assign(sum=inputs["rate"] + inputs["add"])[["sum"]]
    >>> rate_plus.name, rate_plus.join_keys, [f.name for f in rate_plus.request_fields]
    ('rate_plus', ['driver_id'], ['add'])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store.definitions.entity import Entity
from store.definitions.feature_view import FeatureView, FeatureViewProjection
from store.definitions.field import Field
from store.definitions.request_source import RequestSource
from store.definitions.spec import check_name, content_hash, frozen_tags
from store.definitions.user_function import UserFunction
from store.errors import DefinitionError

__all__ = ["MODES", "OnDemandFeatureView", "SourceFeatures", "on_demand_feature_view"]

MODES = ("pandas", "python")

OnDemandSource = FeatureView | FeatureViewProjection | RequestSource


@dataclass(frozen=True, slots=True)
class SourceFeatures:
    """The features an on-demand view reads from one feature view."""

    view: FeatureView
    features: tuple[Field, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OnDemandFeatureView:
    """Features computed from other features and request values by a function, as in Feast.

    Args:
        name: unique among feature views (references read ``name:feature``).
        sources: feature views (or selections ``fv[["a"]]``) and request sources.
        schema: the output fields; the function must return each, of its type.
        udf: the transformation (what the decorator wraps).
        mode: ``"pandas"`` or ``"python"``.
        singleton: python mode only: call the function once per row with scalar values.
        write_to_online_store: compute the outputs when their source views' rows are
            written online (materialization and pushes) and store them in an online table
            of their own; ``get_online_features`` then serves the stored values instead of
            running the function. Training sets still compute them after the join. The
            outputs must not depend on the request, so such a view reads no request
            source, and its source views share one set of join keys.
        description, tags, owner: documentation carried into the registry.
    """

    name: str
    sources: Sequence[OnDemandSource] = ()
    schema: Sequence[Field] = ()
    udf: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    mode: str = "pandas"
    singleton: bool = False
    write_to_online_store: bool = False
    entities: Sequence[Entity] = ()
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""
    function: UserFunction | None = None

    def __post_init__(self) -> None:
        check_name("on-demand feature view", self.name)
        where = f"on-demand feature view {self.name!r}"
        if self.mode not in MODES:
            raise DefinitionError(
                f"{where}: mode={self.mode!r} is not supported; use 'pandas' (a DataFrame in "
                f"and out) or 'python' (a dict of lists in and out)"
            )
        if self.singleton and self.mode != "python":
            raise DefinitionError(f"{where}: singleton=True needs mode='python'")
        sources = tuple(self.sources or ())
        if not sources:
            raise DefinitionError(
                f"{where}: list its sources: feature views and request sources, "
                f"e.g. sources=[driver_hourly_stats, vals_to_add]"
            )
        for source in sources:
            if isinstance(source, FeatureViewProjection) and source.view is None:
                raise DefinitionError(
                    f"{where}: source {source.feature_view!r} is a projection without its "
                    f"view; pass the FeatureView or fv[['feature', ...]]"
                )
            if not isinstance(source, FeatureView | FeatureViewProjection | RequestSource):
                raise DefinitionError(
                    f"{where}: sources must be FeatureView, fv[[...]] or RequestSource "
                    f"objects, got {source!r}"
                )
        names = [_source_name(s) for s in sources]
        if len(set(names)) != len(names):
            raise DefinitionError(f"{where}: a source is listed twice in sources; list it once")
        object.__setattr__(self, "sources", sources)
        schema = tuple(self.schema or ())
        if not schema:
            raise DefinitionError(
                f"{where}: declare the output fields, e.g. "
                f"schema=[Field(name='conv_rate_plus_val1', dtype=Float64)]"
            )
        seen: set[str] = set()
        for item in schema:
            if not isinstance(item, Field):
                raise DefinitionError(
                    f"{where}: schema entries must be Field objects, got {item!r}"
                )
            if item.name in seen:
                raise DefinitionError(f"{where}: field {item.name!r} is listed twice")
            seen.add(item.name)
        object.__setattr__(self, "schema", schema)
        if self.write_to_online_store:
            _check_storable(where, sources)
        object.__setattr__(self, "entities", tuple(self.entities or ()))
        object.__setattr__(
            self, "tags", frozen_tags("on-demand feature view", self.name, self.tags)
        )
        if self.function is None:
            if self.udf is None:
                raise DefinitionError(f"{where}: pass the transformation as udf=<function>")
            object.__setattr__(self, "function", UserFunction.capture(self.udf, where))
        elif self.udf is None:
            object.__setattr__(self, "udf", self.function.compile())

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the transformation itself (handy in tests of the user's function)."""
        return self.transformation(*args, **kwargs)

    @property
    def transformation(self) -> Callable[..., Any]:
        assert self.udf is not None
        return self.udf

    @property
    def features(self) -> list[Field]:
        """The output fields."""
        return list(self.schema)

    @property
    def feature_sources(self) -> list[SourceFeatures]:
        """The feature views read, each with the features the function receives."""
        found = []
        for source in self.sources:
            if isinstance(source, FeatureView):
                found.append(SourceFeatures(source, tuple(source.features)))
            elif isinstance(source, FeatureViewProjection):
                assert source.view is not None
                by_name = {f.name: f for f in source.view.features}
                found.append(
                    SourceFeatures(source.view, tuple(by_name[n] for n in source.features))
                )
        return found

    @property
    def request_sources(self) -> list[RequestSource]:
        return [s for s in self.sources if isinstance(s, RequestSource)]

    @property
    def request_fields(self) -> list[Field]:
        """The fields every request must supply."""
        return [f for s in self.request_sources for f in s.schema]

    @property
    def join_keys(self) -> list[str]:
        """The join keys of its source views, each once, in order."""
        keys: dict[str, None] = {}
        for source in self.feature_sources:
            keys.update(dict.fromkeys(source.view.join_keys))
        return list(keys)

    def __getitem__(self, names: Sequence[str]) -> FeatureViewProjection:
        """Select some outputs for a feature service: ``odfv[["a"]]``."""
        if isinstance(names, str):
            names = [names]
        known = [f.name for f in self.schema]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise DefinitionError(
                f"on-demand feature view {self.name!r} has no feature {unknown[0]!r}; "
                f"its features are {', '.join(known)}"
            )
        return FeatureViewProjection(feature_view=self.name, features=tuple(names))

    @property
    def projection(self) -> FeatureViewProjection:
        return FeatureViewProjection(
            feature_view=self.name, features=tuple(f.name for f in self.schema)
        )

    def to_spec(self) -> dict[str, Any]:
        """The canonical spec: stored as a feature view of type ``on_demand``. It embeds its
        source views and the function's text, so either changing makes a new version;
        ``write_to_online_store`` appears only when set, so other views keep their hash."""
        assert self.function is not None
        sources: list[dict[str, Any]] = [
            {
                "type": "feature_view",
                "view": s.view.to_spec(),
                "features": [f.name for f in s.features],
            }
            for s in self.feature_sources
        ]
        sources += [{"type": "request", **s.to_spec()} for s in self.request_sources]
        spec: dict[str, Any] = {
            "type": "on_demand",
            "name": self.name,
            "sources": sources,
            "schema": [f.to_spec() for f in self.schema],
            "mode": self.mode,
            "singleton": self.singleton,
            "function": self.function.to_spec(),
            "entities": [e.to_spec() for e in self.entities],
            "description": self.description,
            "tags": dict(self.tags),
            "owner": self.owner,
        }
        if self.write_to_online_store:
            spec["write_to_online_store"] = True
        return spec

    @property
    def content_hash(self) -> str:
        return content_hash(self.to_spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> OnDemandFeatureView:
        """Rebuild the view from its registry spec; the function is compiled from its text."""
        sources: list[OnDemandSource] = []
        for source in spec["sources"]:
            if source["type"] == "feature_view":
                view = FeatureView.from_spec(source["view"])
                sources.append(view[list(source["features"])])
            else:
                sources.append(RequestSource.from_spec(source))
        function = UserFunction(spec["function"]["name"], spec["function"]["source"])
        return cls(
            name=spec["name"],
            sources=sources,
            schema=[Field.from_spec(f) for f in spec["schema"]],
            mode=spec["mode"],
            singleton=spec["singleton"],
            write_to_online_store=bool(spec.get("write_to_online_store", False)),
            entities=[Entity.from_spec(e) for e in spec["entities"]],
            description=spec["description"],
            tags=spec["tags"],
            owner=spec["owner"],
            function=function,
        )


def on_demand_feature_view(
    *,
    sources: Sequence[OnDemandSource],
    schema: Sequence[Field],
    mode: str = "pandas",
    singleton: bool = False,
    write_to_online_store: bool = False,
    entities: Sequence[Entity] = (),
    description: str = "",
    tags: Mapping[str, str] | None = None,
    owner: str = "",
) -> Callable[[Callable[..., Any]], OnDemandFeatureView]:
    """Declare an on-demand feature view from a function, named after it (Feast's
    decorator)."""

    def wrap(function: Callable[..., Any]) -> OnDemandFeatureView:
        return OnDemandFeatureView(
            name=getattr(function, "__name__", ""),
            sources=sources,
            schema=schema,
            udf=function,
            mode=mode,
            singleton=singleton,
            write_to_online_store=write_to_online_store,
            entities=entities,
            description=description,
            tags=tags or {},
            owner=owner,
        )

    return wrap


def _check_storable(where: str, sources: Sequence[OnDemandSource]) -> None:
    """Stored outputs are keyed like their inputs and computed without a request."""
    requests = [s.name for s in sources if isinstance(s, RequestSource)]
    if requests:
        raise DefinitionError(
            f"{where}: write_to_online_store=True computes the outputs when rows are written, "
            f"before any request, so they cannot read request source {requests[0]!r}; remove "
            f"the request source or write_to_online_store"
        )
    views = [s.view if isinstance(s, FeatureViewProjection) else s for s in sources]
    offline = [v.name for v in views if isinstance(v, FeatureView) and not v.online]
    if offline:
        raise DefinitionError(
            f"{where}: write_to_online_store=True computes the outputs from the source views' "
            f"online values, but {offline[0]!r} is not online; set online=True on it, or "
            f"remove write_to_online_store"
        )
    keys = {tuple(sorted(v.join_keys)) for v in views if isinstance(v, FeatureView)}
    if len(keys) > 1:
        raise DefinitionError(
            f"{where}: write_to_online_store=True stores one row per entity, but its source "
            f"views are keyed differently ({' vs '.join(', '.join(k) for k in sorted(keys))}); "
            f"read views of the same entities, or remove write_to_online_store"
        )


def _source_name(source: OnDemandSource) -> str:
    if isinstance(source, FeatureViewProjection):
        return source.feature_view
    return source.name
