"""The DuckDB offline engine: the one module that imports duckdb.

Each job gets its own in-memory connection, set to UTC so that no timestamp is ever read in
the machine's local zone. Sources become views over ``read_parquet`` (read by column name,
so files may differ in column order); the entity table is registered as an Arrow view (no
copy). Results come back as Arrow, or stream to Parquet with ``COPY`` so a large training
set never passes through Python.

``offline_store: {type: duckdb, threads: 4, memory_limit: 2GB}``: DuckDB keeps freed buffers
up to its limit (80% of RAM by its default), so a training-set job's process would stay
large; a 1 GB default costs little time and spills to the system's temporary folder beyond
it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from sqlglot import exp

from store.errors import ConfigError, RequestError, SourceDataError
from store.offline.compiler.query import CompiledQuery, SourceTable

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from store.settings import Settings

__all__ = ["DuckDBEngine"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DuckDBEngine:
    """Settings of the DuckDB connections jobs run on.

    Args:
        threads: worker threads; None lets DuckDB use every core.
        memory_limit: e.g. ``"4GB"``; beyond it DuckDB spills to ``temp_directory``.
        temp_directory: where spilled data goes; None: a folder in the system's temp folder.
    """

    dialect: ClassVar[str] = "duckdb"
    renderings: ClassVar[tuple[str, ...]] = ("asof", "window")
    settings_keys: ClassVar[frozenset[str]] = frozenset({"threads", "memory_limit"})
    reads_structs_as_maps: ClassVar[bool] = True

    threads: int | None = None
    memory_limit: str | None = "1GB"
    temp_directory: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            threads=settings.integer("threads"),
            memory_limit=settings.text("memory_limit", "1GB", example="2GB"),
        )

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A new in-memory connection with this engine's settings, in UTC."""
        import duckdb

        conn = duckdb.connect(":memory:")
        conn.execute("SET TimeZone = 'UTC'")
        if self.threads is not None:
            conn.execute(f"SET threads = {int(self.threads)}")
        if self.memory_limit is not None:
            conn.execute("SET memory_limit = ?", [self.memory_limit])
        # Spill files go to the system's temporary folder, not the working directory.
        spill = self.temp_directory or str(Path(tempfile.gettempdir()) / "silage-duckdb")
        conn.execute("SET temp_directory = ?", [spill])
        return conn

    def to_arrow(
        self, query: CompiledQuery, tables: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        return self._run(query, tables, lambda conn, sql: conn.sql(sql).to_arrow_table())

    def to_parquet(
        self, query: CompiledQuery, path: Path, tables: Mapping[str, pa.Table] | None = None
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        target = str(path).replace("'", "''")
        self._run(
            query,
            tables,
            lambda conn, sql: conn.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet)"),
        )

    def to_batches(
        self, query: CompiledQuery, batch_size: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        conn = self._prepared(query, None)
        try:
            with _source_errors():
                reader = conn.sql(query.query).to_arrow_reader(batch_size)
                yield from reader
        finally:
            conn.close()

    def run_sql(self, sql: str) -> pa.Table:
        import duckdb

        conn = self.connect()
        try:
            return conn.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise RequestError(
                f"the entity table's SQL query failed: {exc}; check the query, e.g. "
                f"SELECT driver_id, event_timestamp FROM 'entities.parquet'"
            ) from exc
        finally:
            conn.close()

    def _prepared(
        self, query: CompiledQuery, tables: Mapping[str, pa.Table] | None
    ) -> duckdb.DuckDBPyConnection:
        """A connection with the sources, the given tables and the setup statements in place."""
        if query.dialect != self.dialect:
            raise ValueError(
                f"a query compiled for {query.dialect!r} was given to the DuckDB engine; "
                f"compile it with dialect='duckdb'"
            )
        conn = self.connect()
        try:
            given = dict(tables or {})
            with _source_errors():
                for source in query.sources:
                    if source.name not in given:
                        _refuse_spark_only(source)
                        conn.execute(_source_view(source))
                for name, arrow in given.items():
                    conn.register(name, arrow)  # a view over the Arrow data: no copy
                # Setup statements run one by one, so DuckDB frees each one's memory before
                # the next starts; temporary tables vanish with the connection.
                for statement in query.setup:
                    conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(
        self,
        query: CompiledQuery,
        tables: Mapping[str, pa.Table] | None,
        action: Callable[[duckdb.DuckDBPyConnection, str], Any],
    ) -> Any:
        conn = self._prepared(query, tables)
        try:
            with _source_errors():
                return action(conn, query.query)
        finally:
            conn.close()


def _refuse_spark_only(source: SourceTable) -> None:
    """A ``SparkSource`` (a metastore table, a Spark SQL query, files of a Spark format)
    means nothing to DuckDB: say which source, and that the Spark engine reads it."""
    if source.spark is None:
        return
    view = source.name.removeprefix("__silage_source_")
    raise ConfigError(
        f"feature view {view!r} reads data source {source.spark.source!r}, a SparkSource "
        f"({source.spark.describe()}), which the DuckDB engine cannot read; set "
        f"`offline_store: {{type: spark}}` in feature_store.yaml, or declare the data as a "
        f"FileSource of Parquet files"
    )


def _source_view(source: SourceTable) -> str:
    """``CREATE TEMP VIEW name AS SELECT * FROM read_parquet([...], union_by_name = true)``.
    DuckDB inlines the view, so projections and filters still reach the Parquet reader."""
    files = exp.Array(expressions=[exp.Literal.string(f) for f in source.files])
    scan = exp.Anonymous(
        this="read_parquet",
        expressions=[files, exp.EQ(this=exp.var("union_by_name"), expression=exp.true())],
    )
    view = exp.Create(
        this=exp.Table(this=exp.to_identifier(source.name, quoted=True)),
        kind="VIEW",
        expression=exp.select(exp.Star()).from_(exp.Table(this=scan)),
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )
    return view.sql(dialect="duckdb")


@contextmanager
def _source_errors() -> Iterator[None]:
    """Turn DuckDB's errors about unreadable or mistyped source data into SourceDataError."""
    import duckdb

    try:
        yield
    except duckdb.IOException as exc:
        raise SourceDataError(f"a source's Parquet data could not be read: {exc}") from exc
    except duckdb.ConversionException as exc:
        raise SourceDataError(
            f"a source column could not be cast to its declared type: {exc}; fix the "
            f"declared dtype or the data"
        ) from exc
