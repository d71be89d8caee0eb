"""What a compiler hands an engine: statements in one dialect, and the sources they read.

Compiled SQL never names a file. It reads each source as a table (``__silage_source_<view>``)
and lists those tables in :attr:`CompiledQuery.sources` with the Parquet files behind them;
the engine makes each one readable under its name before running the statements (DuckDB: a
view over ``read_parquet``; Spark: a temporary view over ``spark.read.parquet``). A source
only Spark reads (a ``SparkSource``: a metastore table, a query, files of another format)
carries a :class:`SparkRead` instead of files, which other engines refuse. Entity
rows, when a query has them, are the table :data:`ENTITY_TABLE`, which the engine registers
from Arrow.

Example:
    >>> q = CompiledQuery(setup=("CREATE TEMP TABLE t AS SELECT 1 AS x",), query="SELECT x FROM t",
    ...                   sources=(), dialect="duckdb")
    >>> print(q.text, end="")
    CREATE TEMP TABLE t AS SELECT 1 AS x;
    SELECT x FROM t;
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CREATED_TS",
    "ENTITY_TABLE",
    "EVENT_TS",
    "ROW_COLUMN",
    "TIMESTAMP_COLUMN",
    "CompiledQuery",
    "SourceTable",
    "SparkRead",
    "source_table_name",
]

# The entity rows of a point-in-time join, registered by the engine from Arrow.
ENTITY_TABLE = "__silage_entities"
# Each entity row's input position: results are ordered by it.
ROW_COLUMN = "__silage_row"
# The entity table's time column, as in Feast.
TIMESTAMP_COLUMN = "event_timestamp"
# Newest-row queries return each row's event and created times under these names, as integer
# microseconds since the epoch, UTC; online tables store them so.
EVENT_TS = "__event_ts"
CREATED_TS = "__created_ts"


def source_table_name(view: str) -> str:
    """The table name under which compiled SQL reads a view's source."""
    return f"__silage_source_{view}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SparkRead:
    """Where a ``SparkSource``'s rows come from: exactly one of a metastore ``table``, a
    Spark SQL ``query``, or a ``path`` read as ``file_format``. ``source`` is the data
    source's name, for errors."""

    source: str
    table: str | None = None
    query: str | None = None
    path: str | None = None
    file_format: str | None = None

    def describe(self) -> str:
        """``table 'db.t'``, ``query 'SELECT ...'`` or ``csv files at '/data/x'``: for errors."""
        if self.table is not None:
            return f"table {self.table!r}"
        if self.query is not None:
            return f"query {self.query!r}"
        return f"{self.file_format} files at {self.path!r}"


@dataclass(frozen=True, slots=True)
class SourceTable:
    """A source the compiled SQL reads by ``name``: these Parquet files, read by column name
    (files may differ in column order or lack a column that others have), or, when ``spark``
    is set, rows only Spark reads (``files`` is then empty)."""

    name: str
    files: tuple[str, ...]
    spark: SparkRead | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledQuery:
    """Statements to run in order on one connection, then the query whose rows are the result.

    Attributes:
        setup: statements run first, one by one (temporary tables); may be empty.
        query: the final query.
        sources: the tables the statements read, and their files.
        dialect: the sqlglot dialect the SQL is written in; an engine refuses any other.
    """

    setup: tuple[str, ...]
    query: str
    sources: tuple[SourceTable, ...]
    dialect: str

    @property
    def text(self) -> str:
        """Every statement, as one script."""
        return "".join(f"{statement};\n" for statement in (*self.setup, self.query))
