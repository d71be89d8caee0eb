"""Spark sources: data already in Spark's metastore, a Spark SQL query, or files of any
format Spark reads.

A :class:`SparkSource` is as inert as a :class:`~store.definitions.source.FileSource`: it
records where the rows are, and only the Spark offline engine reads them (a metastore
table with ``spark.table``, a query with ``spark.sql``, a path with
``spark.read.format(file_format).load``). Another engine refuses it, saying to set
``offline_store: {type: spark}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from store.definitions.source import check_source_columns
from store.definitions.spec import check_name, content_hash, frozen_tags
from store.errors import DefinitionError

__all__ = ["SPARK_FILE_FORMATS", "SparkSource"]

# The formats Spark's built-in readers load by name, and Avro (Feast's list; it needs the
# spark-avro package on the cluster).
SPARK_FILE_FORMATS = ("avro", "csv", "json", "orc", "parquet")


@dataclass(frozen=True, slots=True, kw_only=True)
class SparkSource:
    """Rows that Spark reads: exactly one of a metastore ``table``, a Spark SQL ``query``
    or a ``path`` with its ``file_format`` (Feast's signature).

    Args:
        name: unique name; empty (the default) takes the table's name without its database,
            or the path's file name; a query has no name of its own, so it needs one.
        table: a table or view in Spark's catalog, ``"db.table"`` or ``"table"``. Jobs run
            on child sessions of the Spark session, which share its catalog but not its
            temporary views: a view made for Silage is a global one
            (``createOrReplaceGlobalTempView("x")``, read as ``table="global_temp.x"``).
        query: a Spark SQL ``SELECT`` whose rows are the source.
        path: files Spark reads with ``file_format``; a relative local path starts at the
            repository root, a URL (``s3a://...``, ``hdfs://...``) is given to Spark as is.
        file_format: one of :data:`SPARK_FILE_FORMATS`; required with ``path``, refused
            without it.
        timestamp_field, created_timestamp_column, field_mapping: as for ``FileSource``.

    Example:
        >>> src = SparkSource(table="warehouse.driver_stats", timestamp_field="event_timestamp")
        >>> src.name, src.to_spec()["type"]
        ('driver_stats', 'spark')
    """

    name: str = ""
    table: str | None = None
    query: str | None = None
    path: str | None = None
    file_format: str | None = None
    timestamp_field: str
    created_timestamp_column: str | None = None
    field_mapping: Mapping[str, str] | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""

    def __post_init__(self) -> None:
        label = f"SparkSource {self.name or '(unnamed)'!r}"
        given = {k: v for k, v in self._locations().items() if v not in (None, "")}
        if len(given) != 1:
            got = ", ".join(given) or "none"
            raise DefinitionError(
                f"{label}: give exactly one of table=, query= or path= (got {got}); e.g. "
                f"SparkSource(table='db.driver_stats', timestamp_field='event_timestamp')"
            )
        ((where, value),) = given.items()
        if not isinstance(value, str | Path):
            raise DefinitionError(f"{label}: {where} must be a string, got {value!r}")
        for unset in {"table", "query", "path"} - {where}:
            object.__setattr__(self, unset, None)
        if where == "path":
            object.__setattr__(self, "path", _portable_path(str(value)))
        if (where == "path") != bool(self.file_format):
            raise DefinitionError(
                f"{label}: file_format goes with path= only"
                if where != "path"
                else f"{label}: path= needs file_format=, one of {', '.join(SPARK_FILE_FORMATS)}"
            )
        if self.file_format is not None and self.file_format not in SPARK_FILE_FORMATS:
            raise DefinitionError(
                f"{label}: file_format {self.file_format!r} is not one Spark reads by name; "
                f"use one of {', '.join(SPARK_FILE_FORMATS)}"
            )
        name = self.name or self._default_name()
        check_name("data source", name)
        object.__setattr__(self, "name", name)
        created, mapping = check_source_columns(
            name, self.timestamp_field, self.created_timestamp_column, self.field_mapping
        )
        object.__setattr__(self, "created_timestamp_column", created)
        object.__setattr__(self, "field_mapping", mapping)
        object.__setattr__(self, "file_format", self.file_format or None)
        object.__setattr__(self, "tags", frozen_tags("data source", name, self.tags))

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def _locations(self) -> dict[str, object]:
        return {"table": self.table, "query": self.query, "path": self.path}

    def _default_name(self) -> str:
        if self.query is not None:
            raise DefinitionError(
                "SparkSource with query=: give it a name=, e.g. "
                "SparkSource(name='driver_stats', query='SELECT ...', timestamp_field=...)"
            )
        base = (self.table or "").split(".")[-1].strip("`") or PurePosixPath(
            urlsplit(self.path or "").path.rstrip("/*")
        ).name.split(".")[0]
        return "".join(c if c.isalnum() or c == "_" else "_" for c in base) or "source"

    def resolve_path(self, repo_root: Path) -> str:
        """The path Spark reads: a URL or absolute path as given, a relative one from
        ``repo_root``. Only for a source with ``path=``."""
        assert self.path is not None, "resolve_path() is for a SparkSource with path="
        if urlsplit(self.path).scheme and not Path(self.path).drive:
            return self.path
        path = Path(self.path)
        return str(path if path.is_absolute() else repo_root / path)

    def to_spec(self) -> dict[str, Any]:
        """The canonical spec stored in the registry."""
        return {
            "type": "spark",
            "name": self.name,
            "table": self.table,
            "query": self.query,
            "path": self.path,
            "file_format": self.file_format,
            "timestamp_field": self.timestamp_field,
            "created_timestamp_column": self.created_timestamp_column,
            "field_mapping": dict(self.field_mapping or {}),
            "description": self.description,
            "tags": dict(self.tags),
            "owner": self.owner,
        }

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical spec."""
        return content_hash(self.to_spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> SparkSource:
        """Rebuild a source from its registry spec."""
        return cls(
            name=spec["name"],
            table=spec["table"],
            query=spec["query"],
            path=spec["path"],
            file_format=spec["file_format"],
            timestamp_field=spec["timestamp_field"],
            created_timestamp_column=spec["created_timestamp_column"],
            field_mapping=spec["field_mapping"],
            description=spec["description"],
            tags=spec["tags"],
            owner=spec["owner"],
        )


def _portable_path(path: str) -> str:
    """Forward slashes for a local path, so a spec (and its hash) is the same on every OS;
    URLs are kept as written."""
    if urlsplit(path).scheme and not Path(path).drive:
        return path
    return PurePosixPath(Path(path).as_posix()).as_posix()
