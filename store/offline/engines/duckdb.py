"""The DuckDB offline engine: the one module that imports duckdb.

It runs compiled SQL with the entity table registered as an Arrow view (no copy), and
returns Arrow, or streams the result to Parquet with ``COPY`` so a large training set
never passes through Python. Each job gets its own in-memory connection, set to UTC so
that no timestamp is ever read in the machine's local zone.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from store.errors import RequestError, SourceDataError
from store.offline.compiler.point_in_time import ENTITY_TABLE, CompiledQuery

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["DuckDBEngine"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DuckDBEngine:
    """Settings of the DuckDB connections jobs run on.

    Args:
        threads: worker threads; None lets DuckDB use every core.
        memory_limit: e.g. ``"4GB"``; beyond it DuckDB spills to ``temp_directory``.
        temp_directory: where spilled data goes; None: a folder in the system's temp folder.
    """

    threads: int | None = None
    memory_limit: str | None = None
    temp_directory: str | None = None

    def connect(self) -> duckdb.DuckDBPyConnection:
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

    def query_to_arrow(self, sql: str) -> pa.Table:
        """Run a user's SQL query (an entity table given as SQL) and return its rows.

        Raises:
            RequestError: the query does not parse or fails; the message has DuckDB's reason.
        """
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

    def record_batches(self, sql: str, batch_size: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Stream a query's result as Arrow record batches; the connection closes at the end."""
        conn = self.connect()
        try:
            reader = conn.sql(sql).to_arrow_reader(batch_size)
            yield from reader
        finally:
            conn.close()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Every row a (small) query returns."""
        conn = self.connect()
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def row(self, sql: str) -> tuple[Any, ...]:
        """The one row a query returns."""
        found = self.rows(sql)
        return found[0] if found else ()

    def scalar(self, sql: str) -> Any:
        """The single value a query returns."""
        found = self.row(sql)
        return found[0] if found else None

    def read_parquet(self, path: Path) -> pa.Table:
        """Read an entity table stored as Parquet."""
        import pyarrow.parquet as pq

        if not path.exists():
            raise RequestError(f"entity table file {path} does not exist")
        return pq.read_table(path)

    def execute(self, compiled: CompiledQuery, entities: pa.Table) -> pa.Table:
        """Run a compiled join over ``entities``; returns the result as Arrow."""
        return self._run(compiled, entities, lambda conn, q: conn.sql(q).to_arrow_table())

    def copy_to_parquet(self, compiled: CompiledQuery, entities: pa.Table, path: Path) -> None:
        """Stream a compiled join's result into a Parquet file, in order."""
        path.parent.mkdir(parents=True, exist_ok=True)
        target = str(path).replace("'", "''")
        self._run(
            compiled,
            entities,
            lambda conn, q: conn.execute(f"COPY ({q}) TO '{target}' (FORMAT parquet)"),
        )

    def _run(self, compiled: CompiledQuery, entities: pa.Table, action: Any) -> Any:
        import duckdb

        conn = self.connect()
        try:
            conn.register(ENTITY_TABLE, entities)
            # Setup statements run one by one, so DuckDB frees each one's memory before the
            # next starts; temporary tables vanish with the connection.
            for statement in compiled.setup:
                conn.execute(statement)
            return action(conn, compiled.query)
        except duckdb.IOException as exc:
            raise SourceDataError(f"a source's Parquet data could not be read: {exc}") from exc
        except duckdb.ConversionException as exc:
            raise SourceDataError(
                f"a source column could not be cast to its declared type: {exc}; fix the "
                f"declared dtype or the data"
            ) from exc
        finally:
            conn.close()
