"""The offline engine interface: run compiled SQL over Parquet sources, return Arrow.

An engine is what ``offline_store: {type: ...}`` names in ``feature_store.yaml``. It gets
:class:`~store.offline.compiler.query.CompiledQuery` objects already rendered in its
:attr:`~OfflineEngine.dialect`, makes each listed source readable under its table name,
registers the Arrow ``tables`` it is given under theirs (the entity rows as
``__silage_entities``; rows being pushed in place of a source), runs the setup statements
in order and then the query, on one session that it closes afterwards.

Everything the offline store and materialization need from an engine is here: a training
set (:meth:`~OfflineEngine.to_arrow`, :meth:`~OfflineEngine.to_parquet`), newest rows per key
streamed to the online store (:meth:`~OfflineEngine.to_batches`), and an entity table given
as the user's own SQL (:meth:`~OfflineEngine.run_sql`). An engine is correct when it passes
the point-in-time conformance suite (``tests/store/offline``), which every engine runs.

Adding one: a module in :mod:`store.offline.engines` with a class that satisfies this
protocol, and one entry in :data:`store.offline.engines.ENGINES`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa

    from store.offline.compiler.query import CompiledQuery, SourceTable
    from store.settings import Settings

__all__ = ["DataFrameEngine", "OfflineEngine", "SchemaEngine", "SessionEngine"]


class OfflineEngine(Protocol):
    """Runs compiled SQL; every result is Arrow."""

    #: The sqlglot dialect its SQL must be rendered in.
    dialect: ClassVar[str]

    @property
    def renderings(self) -> tuple[str, ...]:
        """The point-in-time renderings it runs, preferred first (keys of ``RENDERINGS``);
        an engine may find some only at run time (Spark's as-of join)."""
        ...

    #: The keys its ``offline_store:`` section may hold besides ``type``; others are warned.
    settings_keys: ClassVar[frozenset[str]]
    #: Whether it reads a struct source column as a ``Map`` feature (its fields as the
    #: entries, as pandas writes dicts); Spark casts no struct to a map.
    reads_structs_as_maps: ClassVar[bool]

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The engine its ``offline_store:`` section describes.

        Raises:
            ConfigError: a bad or unknown setting, naming the key and the fix.
        """
        ...

    def to_arrow(
        self, query: CompiledQuery, tables: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        """The query's rows, in its order. ``tables``: Arrow tables by name, read by the
        query instead of a source of the same name (or as the entity table).

        Raises:
            SourceDataError: a source's files cannot be read or cast to their declared types.
        """
        ...

    def to_parquet(
        self, query: CompiledQuery, path: Path, tables: Mapping[str, pa.Table] | None = None
    ) -> None:
        """Write the query's rows, in order, to one Parquet file, without holding them all in
        memory."""
        ...

    def to_batches(
        self, query: CompiledQuery, batch_size: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        """Stream the query's rows as record batches; the session closes when the iterator
        is exhausted or closed."""
        ...

    def run_sql(self, sql: str) -> pa.Table:
        """Run a user's own query (an entity table given as SQL) in the engine's dialect.

        Raises:
            RequestError: the query fails; the message carries the engine's reason.
        """
        ...


@runtime_checkable
class SessionEngine(Protocol):
    """An engine that can run on a session its caller owns (Spark: ``FeatureStore(...,
    spark=session)``) instead of one it starts from its settings."""

    def with_session(self, session: Any) -> OfflineEngine:
        """This engine, running every job on ``session``."""
        ...


@runtime_checkable
class SchemaEngine(Protocol):
    """An engine that reads sources no other engine reads (Spark: a ``SparkSource``'s
    metastore table, query or files), and so is the one to ask for their schema when a
    repository is applied."""

    def source_schema(self, source: SourceTable) -> pa.Schema:
        """The source's columns and their Arrow types, reading no rows.

        Raises:
            SourceDataError: the source cannot be read (a missing table, a failing query),
                naming the source and the fix.
        """
        ...


@runtime_checkable
class DataFrameEngine(Protocol):
    """An engine whose results can stay inside it as a lazy DataFrame (Spark)."""

    def to_spark_df(
        self, query: CompiledQuery, tables: Mapping[str, pa.Table] | None = None
    ) -> Any:
        """The query's rows as the engine's own DataFrame, not yet run."""
        ...

    def arrow_to_spark_df(self, table: pa.Table) -> Any:
        """Rows already computed (in Arrow) as the engine's own DataFrame."""
        ...

    def to_parquet_folder(
        self, query: CompiledQuery, uri: str, tables: Mapping[str, pa.Table] | None = None
    ) -> None:
        """Write the query's rows as a folder of Parquet parts at ``uri`` (any filesystem
        the engine writes: ``s3a://``, ``hdfs://``, ``file://``), one part per task, in
        parallel; the parts in name order hold the rows in the query's order."""
        ...

    def write_parquet_folder(self, frame: Any, uri: str) -> None:
        """Write one of the engine's DataFrames as :meth:`to_parquet_folder` does."""
        ...
