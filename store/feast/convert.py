"""Converting Feast objects to Silage definitions, one table row per Feast class and type.

:data:`CONVERTERS` maps a Feast class name to a :class:`Row`: the stage it converts in
(what it may refer to must be converted in an earlier stage) and a function reading the
Feast object's public attributes and returning the Silage definition (or ``None`` for an
object that only carries settings, like ``Project``). :data:`TYPES` maps a Feast type to
a Silage dtype in the same way. Adding support for a Feast class or type is one row and
one small function here; everything else is refused by :meth:`Conversion.convert` with a
message naming the object, its file and what is supported.

Objects are recognised by class name and module (``feast.*``), never by importing
``feast``. The same Feast object reached twice (imported into two files, or a view's source
that is also declared at module level) converts once, to the same Silage object, so the
loader's duplicate checks see one declaration.

Conversions, and what is refused:

- ``Entity``: name, join key, description, tags, owner. Its ``value_type`` types the join
  key of the views that use it when they do not declare the key themselves.
- ``FileSource``: Parquet only (a Delta source is refused), with Feast's field mapping and
  timestamp columns.
- ``SparkSource`` (``feast.infra.offline_stores.contrib.spark_offline_store``): its table,
  query or path and file format, timestamp columns and field mapping; read by the Spark
  engine only (``offline_store: {type: spark}``).
- ``RequestSource``: its schema.
- ``PushSource``: its batch source (a ``FileSource``); a view declared on it reads the
  batch source offline and receives its pushes.
- ``FeatureView``: entities, schema (entity columns included), ttl (Feast's zero ttl is
  "no limit", as in Silage), online, source. Refused: derived views (a view as source),
  transformations, views without entities or without a source.
- ``OnDemandFeatureView``: sources (views, selections ``fv[[...]]``, request sources),
  schema, the function (recorded as source text like Silage's own), pandas and python
  modes, ``singleton``, ``write_to_online_store``. Refused: ``input_schema``,
  aggregations, other modes.
- ``FeatureService``: its selections (string references ``"view"`` and ``"view:feature"``
  too) and its ``LoggingConfig`` (a ``FileLoggingDestination`` and the sample rate).
  Refused: aliased projections (``with_name``), join key maps, version pins, logging
  destinations other than files (a file destination may be ``s3://`` with its
  ``s3_endpoint_override``).
- ``LabelView``: as a feature view, with its labeler field, conflict policy and reference
  view (a join key Feast typed as String only because its entity has no value type is
  left for the source's Parquet schema to type).
- ``Project``: accepted; Silage takes the project from ``feature_store.yaml``.

Types: the scalars, ``Map`` (string values, as Feast's Arrow type has them: data with
other values is refused at apply, naming the ``Map(...)`` to declare), ``Json``, ``Struct``
(fields in order) and ``Array`` of any of them, arrays included. Refused: ``Set``,
``ScalarMap``, ``Uuid``, ``Decimal`` and Feast's other newer scalars.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.definitions.entity import Entity
from store.definitions.feature_logging import FileLoggingDestination, LoggingConfig
from store.definitions.feature_service import FeatureService
from store.definitions.feature_view import FeatureView
from store.definitions.field import Field
from store.definitions.label_view import ConflictPolicy, LabelView
from store.definitions.on_demand import OnDemandFeatureView
from store.definitions.push_source import PushSource
from store.definitions.request_source import RequestSource
from store.definitions.source import FileSource
from store.definitions.spark_source import SparkSource
from store.errors import DefinitionError
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
    Map,
    String,
    Struct,
    UnixTimestamp,
)

__all__ = [
    "CONVERTERS",
    "TYPES",
    "VALUE_TYPES",
    "Conversion",
    "FeastObject",
    "Row",
    "convert_feast_objects",
    "is_feast_value",
]

# Feast's name for "no entity" (views declared without entities get it).
_DUMMY_ENTITY = "__dummy"
# Base classes of what Feast's own `feast apply` collects from a repository file. A module
# value of one of these that has no row in CONVERTERS is refused; other Feast values found at
# module level (types such as Float32, enums, a FeatureStore) are not definitions.
_DEFINITION_BASES = frozenset(
    {
        "Entity",
        "DataSource",
        "BaseFeatureView",
        "FeatureService",
        "Project",
        "Permission",
        "SavedDataset",
        "ValidationReference",
    }
)
# Classes converted only as parts of a definition (a service's logging settings), never
# collected on their own from module level.
_PARTS = frozenset({"LoggingConfig", "FileLoggingDestination"})


class _Refused(Exception):
    """One object cannot convert; the message is the problem reported to the user."""


class _DependencyFailed(Exception):
    """An object this one needs failed already (reported once, for that object)."""


def is_feast_value(value: object) -> bool:
    """Whether ``value`` is an instance of a class from the ``feast`` package."""
    return type(value).__module__.partition(".")[0] == "feast"


def _is_definition(value: object) -> bool:
    if type(value).__name__ in _PARTS:
        return False
    return is_feast_value(value) and any(
        cls.__name__ in _DEFINITION_BASES or cls.__name__ in CONVERTERS
        for cls in type(value).__mro__
        if cls.__module__.partition(".")[0] == "feast"
    )


@dataclass(frozen=True, slots=True)
class FeastObject:
    """A Feast object found at module level of a repository file.

    Args:
        value: the object.
        path: the file, relative to the repository root (for messages).
        variable: the module-level name it was assigned to.
    """

    value: Any
    path: Path
    variable: str


Converter = Callable[["Conversion", Any, str], Any]
TypeConverter = Callable[["Conversion", Any, str], DType]


@dataclass(frozen=True, slots=True)
class Row:
    """How one Feast class converts: in which stage, by which function.

    Stages: 0 entities, sources and settings; 1 feature views; 2 on-demand views (they read
    feature views); 3 services (they select from any view)."""

    stage: int
    convert: Converter


class Conversion:
    """One repository's conversion: each Feast object converted once, looked up by identity;
    entities and views also by name, for the Feast attributes that hold names."""

    def __init__(self) -> None:
        self._done: dict[int, Any] = {}
        self._failed: set[int] = set()
        self._keep: list[Any] = []  # the objects behind the ids, kept alive
        self.entities: dict[str, Entity] = {}
        self.feast_entities: dict[str, Any] = {}
        self.views: dict[str, FeatureView | OnDemandFeatureView] = {}

    def convert(self, value: Any, where: str) -> Any:
        """The Silage definition for a Feast object; ``where`` names what refers to it.

        Raises:
            _Refused: the object has no Silage counterpart or a setting Silage cannot honour.
        """
        key = id(value)
        if key in self._done:
            return self._done[key]
        if key in self._failed:
            raise _DependencyFailed
        name = type(value).__name__
        row = CONVERTERS.get(name) if is_feast_value(value) else None
        label = f"{where}: {_label(value)}"
        if row is None:
            self._failed.add(key)
            self._keep.append(value)
            supported = ", ".join(sorted(set(CONVERTERS) - _PARTS))
            raise _Refused(
                f"{label} has no Silage counterpart yet; Silage converts these Feast "
                f"objects: {supported}. Replace it with one of those, or move it to a file "
                f"listed in .silageignore"
            )
        try:
            result = row.convert(self, value, label)
        except DefinitionError as exc:
            self._failed.add(key)
            self._keep.append(value)
            raise _Refused(f"{label}: {exc}") from exc
        except (_Refused, _DependencyFailed):
            self._failed.add(key)
            self._keep.append(value)
            raise
        self._done[key] = result
        self._keep.append(value)
        if isinstance(result, Entity):
            self.entities[result.name] = result
            self.feast_entities[result.name] = value
        elif isinstance(result, FeatureView | OnDemandFeatureView):
            self.views[result.name] = result
        return result

    def dtype(self, feast_type: Any, where: str) -> DType:
        """The Silage dtype of a Feast type (``Float32``, ``Array(String)``, ...)."""
        key = _type_key(feast_type)
        converter = TYPES.get(key)
        if converter is None:
            raise _Refused(
                f"{where} has type {feast_type}, which Silage does not support yet; "
                f"supported Feast types: {', '.join(sorted(TYPES))}"
            )
        return converter(self, feast_type, where)

    def field(self, feast_field: Any, where: str) -> Field:
        """A Silage field from a Feast ``Field``."""
        inner = f"{where}, field {feast_field.name!r},"
        return Field(
            name=feast_field.name,
            dtype=self.dtype(feast_field.dtype, inner),
            description=getattr(feast_field, "description", "") or "",
            tags=dict(getattr(feast_field, "tags", None) or {}),
        )

    def entity(self, name: str, where: str) -> Entity:
        """A converted entity by name (Feast views hold entity names, not objects)."""
        entity = self.entities.get(name)
        if entity is None:
            raise _Refused(
                f"{where} uses entity {name!r}, which no repository file declares at module "
                f"level; assign the Entity to a module-level variable"
            )
        return entity

    def view(self, name: str, where: str) -> FeatureView | OnDemandFeatureView:
        """A converted view by name (Feast projections and string references hold names)."""
        view = self.views.get(name)
        if view is None:
            if any(getattr(v, "name", None) == name for v in self._keep):
                raise _DependencyFailed
            raise _Refused(
                f"{where} selects feature view {name!r}, which no repository file declares "
                f"at module level; declare it, or remove it"
            )
        return view


def convert_feast_objects(
    found: Iterable[FeastObject], problems: list[str]
) -> list[tuple[Any, FeastObject]]:
    """Convert a repository's module-level Feast objects, in dependency order.

    Returns:
        ``(silage_definition, found_object)`` pairs; objects that are settings only
        (``Project``) and objects that failed give none.
    Side effect:
        one message per object that cannot convert is appended to ``problems`` (the loader
        raises them together, so a user fixes them all in one pass).
    """
    candidates = [f for f in found if _is_definition(f.value)]
    stage_of = {name: row.stage for name, row in CONVERTERS.items()}
    candidates.sort(key=lambda f: stage_of.get(type(f.value).__name__, -1))
    conversion = Conversion()
    converted: list[tuple[Any, FeastObject]] = []
    for item in candidates:
        # The object's own name says which it is; a nameless one is named by its variable.
        named = isinstance(getattr(item.value, "name", None), str) and item.value.name
        where = str(item.path) if named else f"{item.path}: variable {item.variable!r}"
        try:
            result = conversion.convert(item.value, where)
        except _Refused as exc:
            message = str(exc)
            if message not in problems:
                problems.append(message)
            continue
        except _DependencyFailed:
            continue
        if result is not None:
            converted.append((result, item))
    return converted


def _label(value: Any) -> str:
    name = getattr(value, "name", None)
    kind = type(value).__name__
    return f"Feast {kind} {name!r}" if isinstance(name, str) and name else f"a Feast {kind}"


def _type_key(feast_type: Any) -> str:
    """Feast's primitive types are members of one enum (``INT64``, ``MAP``, ...); its complex
    types are classes (``Array``, ``Struct``)."""
    if type(feast_type).__name__ == "PrimitiveFeastType":
        return str(feast_type.name)
    return type(feast_type).__name__


def _refuse_set(where: str, setting: str, value: Any, why: str) -> None:
    if value:
        raise _Refused(f"{where} sets {setting}={value!r}: {why}")


# --- one function per Feast class ---------------------------------------------------------------


def _project(conversion: Conversion, project: Any, where: str) -> None:
    """Feast's ``Project`` object documents the project; Silage reads the project's name
    from ``feature_store.yaml``, as Feast does for everything it stores."""
    return None


def _entity(conversion: Conversion, entity: Any, where: str) -> Entity:
    join_keys = list(getattr(entity, "join_keys", None) or [entity.join_key])
    return Entity(
        name=entity.name,
        join_keys=join_keys,
        description=entity.description or "",
        tags=dict(entity.tags or {}),
        owner=entity.owner or "",
    )


def _file_source(conversion: Conversion, source: Any, where: str) -> FileSource:
    file_format = type(getattr(source, "file_format", None)).__name__
    if file_format not in ("ParquetFormat", "NoneType"):
        raise _Refused(
            f"{where} reads {file_format.removesuffix('Format')} files; Silage's FileSource "
            f"reads Parquet (a file, a folder or a glob): convert the data to Parquet"
        )
    return FileSource(
        name=source.name or "",
        path=source.path,
        timestamp_field=source.timestamp_field,
        created_timestamp_column=source.created_timestamp_column or None,
        field_mapping=dict(source.field_mapping or {}),
        description=source.description or "",
        tags=dict(source.tags or {}),
        owner=source.owner or "",
    )


def _push_source(conversion: Conversion, source: Any, where: str) -> PushSource:
    batch = getattr(source, "batch_source", None)
    if batch is None:
        raise _Refused(f"{where} has no batch_source; give it the FileSource pushes go to")
    converted = conversion.convert(batch, where)
    if not isinstance(converted, FileSource):
        raise _Refused(
            f"{where} keeps its rows in a {type(batch).__name__}; Silage's push sources "
            f"keep them in a FileSource"
        )
    return PushSource(
        name=source.name,
        batch_source=converted,
        description=source.description or "",
        tags=dict(source.tags or {}),
        owner=source.owner or "",
    )


def _spark_source(conversion: Conversion, source: Any, where: str) -> SparkSource:
    return SparkSource(
        name=source.name or "",
        table=source.table or None,
        query=source.query or None,
        path=source.path or None,
        file_format=source.file_format or None,
        timestamp_field=source.timestamp_field,
        created_timestamp_column=source.created_timestamp_column or None,
        field_mapping=dict(source.field_mapping or {}),
        description=source.description or "",
        tags=dict(source.tags or {}),
        owner=source.owner or "",
    )


def _logging_config(conversion: Conversion, config: Any, where: str) -> LoggingConfig:
    destination = conversion.convert(config.destination, where)
    return LoggingConfig(destination=destination, sample_rate=float(config.sample_rate))


def _file_logging_destination(
    conversion: Conversion, destination: Any, where: str
) -> FileLoggingDestination:
    return FileLoggingDestination(
        path=destination.path,
        s3_endpoint_override=getattr(destination, "s3_endpoint_override", "") or "",
    )


def _request_source(conversion: Conversion, source: Any, where: str) -> RequestSource:
    return RequestSource(
        name=source.name,
        schema=[conversion.field(f, where) for f in source.schema],
        description=source.description or "",
        tags=dict(source.tags or {}),
        owner=source.owner or "",
    )


def _feature_view(conversion: Conversion, view: Any, where: str) -> FeatureView:
    _refuse_set(
        where,
        "source",
        [v.name for v in getattr(view, "source_views", None) or []],
        "feature views computed from other feature views are not supported; read a FileSource",
    )
    _refuse_set(
        where,
        "a transformation",
        getattr(view, "feature_transformation", None) is not None,
        "Silage computes features at read time with an on-demand feature view instead",
    )
    names = [n for n in view.entities if n != _DUMMY_ENTITY]
    if not names:
        raise _Refused(
            f"{where} has no entities; Silage needs at least one, e.g. entities=[driver]"
        )
    entities = [conversion.entity(n, where) for n in names]
    feast_source = view.stream_source or view.batch_source
    if feast_source is None:
        raise _Refused(f"{where} has no source; give it a FileSource")
    source = conversion.convert(feast_source, where)
    # Feast's schema may list the source's timestamp columns ("feature, timestamp and entity
    # columns"); in Silage they belong to the source, not the view's features.
    batch = view.batch_source
    timestamps = {batch.timestamp_field, batch.created_timestamp_column} if batch else set()
    schema = [
        conversion.field(f, where)
        for f in [*view.entity_columns, *view.features]
        if f.name not in timestamps
    ]
    declared = {f.name for f in schema}
    for feast_entity_name, entity in zip(names, entities, strict=True):
        key_type = _entity_value_type(conversion, feast_entity_name, where)
        if key_type is not None and entity.join_key not in declared:
            schema.insert(0, Field(name=entity.join_key, dtype=key_type))
    return FeatureView(
        name=view.name,
        source=source,
        schema=schema,
        entities=entities,
        ttl=view.ttl or None,
        online=bool(view.online),
        description=view.description or "",
        tags=dict(view.tags or {}),
        owner=view.owner or "",
    )


def _label_view(conversion: Conversion, view: Any, where: str) -> LabelView:
    names = list(view.entities or [])
    if not names:
        raise _Refused(
            f"{where} has no entities; Silage needs at least one, e.g. entities=[driver]"
        )
    entities = [conversion.entity(n, where) for n in names]
    if view.source is None:
        raise _Refused(
            f"{where} has no source; give it the FileSource its labels are kept in (or a "
            f"PushSource over one)"
        )
    source = conversion.convert(view.source, where)
    batch = getattr(view.source, "batch_source", None) or view.source
    timestamps = {batch.timestamp_field, batch.created_timestamp_column}
    schema = []
    for feast_field in [*view.entity_columns, *view.features]:
        if feast_field.name in timestamps:
            continue
        entity_name = next(
            (n for n, e in zip(names, entities, strict=True) if e.join_key == feast_field.name),
            None,
        )
        # Feast types a join key it was not told the type of as String; Silage reads the
        # type from the source's Parquet schema instead.
        if entity_name is not None and _entity_value_type(conversion, entity_name, where) is None:
            continue
        schema.append(conversion.field(feast_field, where))
    policy = getattr(view.conflict_policy, "value", view.conflict_policy)
    return LabelView(
        name=view.name,
        source=source,
        schema=schema,
        entities=entities,
        ttl=view.ttl or None,
        online=bool(view.online),
        description=view.description or "",
        tags=dict(view.tags or {}),
        owner=view.owner or "",
        labeler_field=view.labeler_field,
        conflict_policy=ConflictPolicy(policy),
        reference_feature_view=view.reference_feature_view or None,
    )


def _entity_value_type(conversion: Conversion, entity_name: str, where: str) -> DType | None:
    """The join key's type from the Feast entity's ``value_type``, when it declares one."""
    value = conversion.feast_entities.get(entity_name)
    kind = getattr(getattr(value, "value_type", None), "name", "UNKNOWN")
    if kind == "UNKNOWN":
        return None
    dtype = VALUE_TYPES.get(kind)
    if dtype is None:
        raise _Refused(
            f"{where} uses entity {entity_name!r} of value type {kind}, which Silage "
            f"does not support as a join key; supported: {', '.join(VALUE_TYPES)}"
        )
    return dtype


def _selection(
    view: FeatureView | OnDemandFeatureView, features: Sequence[str]
) -> FeatureView | OnDemandFeatureView | Any:
    """The view itself when all its features are selected, else ``view[[...]]``."""
    if list(features) == [f.name for f in view.features]:
        return view
    return view[list(features)]


def _projection_view(
    conversion: Conversion, projection: Any, where: str
) -> FeatureView | OnDemandFeatureView:
    _refuse_set(
        where,
        "a renamed selection",
        getattr(projection, "name_alias", None),
        "renaming a view with with_name() is not supported; select it under its own name",
    )
    _refuse_set(
        where,
        "a join key map",
        dict(getattr(projection, "join_key_map", None) or {}),
        "with_join_key_map() is not supported; rename the column in the entity table",
    )
    _refuse_set(
        where,
        "a version pin",
        getattr(projection, "version_tag", None),
        "Silage versions views itself; select the view without @vN",
    )
    return conversion.view(projection.name, where)


def _on_demand_feature_view(conversion: Conversion, odfv: Any, where: str) -> OnDemandFeatureView:
    _refuse_set(
        where,
        "input_schema",
        [f.name for f in getattr(odfv, "input_schema", None) or []],
        "declare a RequestSource with these fields and list it in sources",
    )
    _refuse_set(
        where,
        "aggregations",
        list(getattr(odfv, "aggregations", None) or []),
        "aggregations are not supported; compute them in the function",
    )
    if odfv.mode not in ("pandas", "python"):
        raise _Refused(f"{where} has mode={odfv.mode!r}; Silage runs 'pandas' and 'python'")
    transformation = getattr(odfv, "feature_transformation", None)
    udf = getattr(transformation, "udf", None) or getattr(odfv, "udf", None)
    if udf is None:
        raise _Refused(f"{where} has no function; decorate one with @on_demand_feature_view")
    sources: list[Any] = []
    for source in odfv.sources:
        kind = type(source).__name__
        if kind == "RequestSource":
            sources.append(conversion.convert(source, where))
            continue
        projection = source
        if kind != "FeatureViewProjection":
            conversion.convert(source, where)  # a view that is not at module level, or refused
            projection = source.projection
        view = _projection_view(conversion, projection, where)
        sources.append(_selection(view, [f.name for f in projection.features]))
    entities = [conversion.entity(n, where) for n in odfv.entities if n != _DUMMY_ENTITY]
    return OnDemandFeatureView(
        name=odfv.name,
        sources=sources,
        schema=[conversion.field(f, where) for f in odfv.features],
        udf=udf,
        mode=odfv.mode,
        singleton=bool(getattr(odfv, "singleton", False)),
        write_to_online_store=bool(getattr(odfv, "write_to_online_store", False)),
        entities=entities,
        description=odfv.description or "",
        tags=dict(odfv.tags or {}),
        owner=odfv.owner or "",
    )


def _feature_service(conversion: Conversion, service: Any, where: str) -> FeatureService:
    selected: list[Any] = []
    for projection in service.feature_view_projections:
        view = _projection_view(conversion, projection, where)
        selected.append(_selection(view, [f.name for f in projection.features]))
    # References given as strings ("view" or "view:feature"); Feast resolves them at apply.
    for reference in getattr(service, "_pending_feature_refs", None) or []:
        view_name, _, feature = str(reference).partition(":")
        _refuse_set(where, "a version pin", "@" in view_name, "select the view without @vN")
        view = conversion.view(view_name, where)
        selected.append(view[[feature]] if feature else view)
    extra: dict[str, Any] = {}
    if getattr(service, "logging_config", None) is not None:
        extra["logging_config"] = conversion.convert(service.logging_config, where)
    return FeatureService(
        name=service.name,
        features=selected,
        description=service.description or "",
        tags=dict(service.tags or {}),
        owner=service.owner or "",
        **extra,
    )


CONVERTERS: dict[str, Row] = {
    "Project": Row(0, _project),
    "Entity": Row(0, _entity),
    "FileSource": Row(0, _file_source),
    "SparkSource": Row(0, _spark_source),
    "RequestSource": Row(0, _request_source),
    "PushSource": Row(0, _push_source),
    "FeatureView": Row(1, _feature_view),
    "LabelView": Row(1, _label_view),
    "OnDemandFeatureView": Row(2, _on_demand_feature_view),
    "FeatureService": Row(3, _feature_service),
    # Parts of a service, converted when the service is.
    "LoggingConfig": Row(3, _logging_config),
    "FileLoggingDestination": Row(3, _file_logging_destination),
}


# --- one function per Feast type ----------------------------------------------------------------


def _same(dtype: DType) -> TypeConverter:
    def convert(conversion: Conversion, feast_type: Any, where: str) -> DType:
        return dtype

    return convert


def _array(conversion: Conversion, feast_type: Any, where: str) -> DType:
    """Feast's ``Array`` of any type it allows: scalars, ``Map``, ``Json``, ``Struct``, arrays."""
    return Array(conversion.dtype(feast_type.base_type, where))


def _struct(conversion: Conversion, feast_type: Any, where: str) -> DType:
    """Feast's ``Struct({"name": String, ...})``: its fields in order, each type converted."""
    fields = dict(getattr(feast_type, "fields", None) or {})
    converted = [
        (name, conversion.dtype(t, f"{where} struct field {name!r}")) for name, t in fields.items()
    ]
    try:
        return Struct(converted)
    except TypeError as exc:
        raise _Refused(f"{where} is a {feast_type}: {exc}") from None


TYPES: dict[str, TypeConverter] = {
    "INT32": _same(Int32),
    "INT64": _same(Int64),
    "FLOAT32": _same(Float32),
    "FLOAT64": _same(Float64),
    "STRING": _same(String),
    "BOOL": _same(Bool),
    "BYTES": _same(Bytes),
    "UNIX_TIMESTAMP": _same(UnixTimestamp),
    # Feast's Map is string-keyed; its Arrow type (and so its offline data) has string values.
    "MAP": _same(Map),
    "JSON": _same(Json),
    "Array": _array,
    "Struct": _struct,
}

# Feast's older ValueType enum, as entities declare it (``value_type=ValueType.INT64``).
VALUE_TYPES: dict[str, DType] = {
    "INT32": Int32,
    "INT64": Int64,
    "FLOAT": Float32,
    "DOUBLE": Float64,
    "STRING": String,
    "BOOL": Bool,
    "BYTES": Bytes,
    "UNIX_TIMESTAMP": UnixTimestamp,
    "MAP": Map,
    "JSON": Json,
    "INT32_LIST": Array(Int32),
    "INT64_LIST": Array(Int64),
    "FLOAT_LIST": Array(Float32),
    "DOUBLE_LIST": Array(Float64),
    "STRING_LIST": Array(String),
    "BOOL_LIST": Array(Bool),
    "BYTES_LIST": Array(Bytes),
    "UNIX_TIMESTAMP_LIST": Array(UnixTimestamp),
    "MAP_LIST": Array(Map),
    "JSON_LIST": Array(Json),
}
