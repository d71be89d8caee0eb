"""The offline sources a feature view may read, as one type.

A view's ``source`` is a :class:`~store.definitions.source.FileSource` (Parquet, read by
every engine) or a :class:`~store.definitions.spark_source.SparkSource` (read by Spark
only). Both carry the same column declarations (``timestamp_field``,
``created_timestamp_column``, ``field_mapping``); :func:`data_source_from_spec` rebuilds
either from its registry spec by the spec's ``type``.

Example:
    >>> src = SparkSource(table="db.trips", timestamp_field="ts")
    >>> data_source_from_spec(src.to_spec()) == src
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from store.definitions.source import FileSource
from store.definitions.spark_source import SparkSource
from store.errors import DefinitionError

__all__ = ["DATA_SOURCE_TYPES", "DataSource", "data_source_from_spec"]

DataSource = FileSource | SparkSource
DATA_SOURCE_TYPES = (FileSource, SparkSource)

_FROM_SPEC: dict[str, Callable[[Mapping[str, Any]], DataSource]] = {
    "file": FileSource.from_spec,
    "spark": SparkSource.from_spec,
}


def data_source_from_spec(spec: Mapping[str, Any]) -> DataSource:
    """The source a registry spec describes, by its ``type``.

    Raises:
        DefinitionError: a type no source has (a registry written by a newer Silage).
    """
    kind = spec.get("type")
    builder = _FROM_SPEC.get(str(kind))
    if builder is None:
        raise DefinitionError(
            f"data source {spec.get('name')!r} has type {kind!r}, which this Silage does not "
            f"know ({', '.join(_FROM_SPEC)}); upgrade Silage"
        )
    return builder(spec)
