"""The Spark offline engine: the one module that imports pyspark.

``offline_store: {type: spark, spark_conf: {spark.master: "local[*]", ...}}`` (Feast's keys)
builds a Spark session from ``spark_conf`` the first time a job runs, or uses the session
given to ``FeatureStore(..., spark=session)``. Nothing starts when the configuration is
read: a JVM costs tens of seconds, and ``silage --help`` never imports pyspark.

Each job runs on its own child session (``newSession()``: same cluster, its own temporary
views and SQL settings), set to UTC, so two jobs never see each other's tables and no time
is read in the machine's zone. Sources become temporary views over ``spark.read.parquet``
(columns matched by name across files), or, for a ``SparkSource``, over ``spark.table`` (a
metastore table), ``spark.sql`` (a query) or ``spark.read.format(...).load`` (a path); the
entity table and rows given as Arrow become DataFrames. Results come back as Arrow; large
ones are written by Spark's tasks in parallel to Parquet and read back batch by batch, so
the driver never holds them whole.

Spark facts this module designs around (verified on Spark 4.3):

- Parquet ``TIMESTAMP(NANOS)`` columns (pandas' default unit) are refused by Spark's reader;
  with ``spark.sql.legacy.parquet.nanosAsLong`` they read as integer nanoseconds, which the
  source view turns back into exact microsecond timestamps.
- Naive Parquet timestamps read as ``TIMESTAMP_NTZ``; the compiled SQL casts them to
  ``TIMESTAMP`` in the session zone, UTC: naive means UTC, as on DuckDB.
- ANSI mode is on by default: a source value that cannot be cast to its declared type
  fails the job (``CAST_INVALID_INPUT``) instead of turning into a null.
- Spark SQL 4.3 has ``[LEFT] ASOF JOIN ... MATCH_CONDITION (...) ON ...`` (a sort-merge
  as-of join), refused at parse time unless ``spark.sql.join.asofJoin.enabled`` is true;
  a build or a cluster may differ, so :meth:`SparkEngine.asof_join_available` runs a tiny
  as-of query once per Spark session and checks its answer instead of reading the version.
  Where it does, the ``asof`` rendering is offered too (job sessions then get the flag).
"""

from __future__ import annotations

import atexit
import functools
import re
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from store.errors import ConfigError, RequestError, SourceDataError
from store.offline.compiler.query import CompiledQuery, SourceTable, SparkRead

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from store.settings import Settings

__all__ = ["SparkEngine"]

# Settings every session of a job gets, whatever the user's configuration says.
_FORCED = {
    # UTC everywhere: timestamps without a zone mean UTC, and results come back in UTC.
    "spark.sql.session.timeZone": "UTC",
    # Read pandas' nanosecond Parquet timestamps (as integers; see _nanosecond_columns).
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    # Parquet written by Spark holds UTC microseconds (Spark's default, INT96, is read back
    # by other readers as naive nanoseconds).
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}
# Defaults for a session Silage starts, which ``spark_conf`` may override.
_DEFAULTS = {
    "spark.master": "local[*]",
    "spark.app.name": "silage",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
}
_SOURCE_PREFIX = "__silage_source_"
# Spark SQL's as-of join: its flag, and a query whose one right answer is (1, 1): entity
# time 2 matches the right row at time 1, not the later one at 3.
_ASOF_FLAG = "spark.sql.join.asofJoin.enabled"
_ASOF_PROBE = (
    "SELECT l.k, r.t FROM VALUES (1, 2) AS l(k, t) LEFT ASOF JOIN "
    "VALUES (1, 1), (1, 3) AS r(k, t) MATCH_CONDITION (l.t >= r.t) ON l.k = r.k"
)
# Per Spark session, what the probe found (the session's lifetime, no longer).
_ASOF_PROBES: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
# Spark's refusal to cast a struct (possibly inside a container) to a map: the column,
# its type, the declared one.
_STRUCT_AS_MAP = re.compile(
    r'Cannot resolve "(.+?)" due to data type mismatch: cannot cast "(.*?STRUCT<.*?)" '
    r'to "(.*?MAP<.*?)"'
)
# Spark's error conditions that mean the data does not fit its declaration.
_DATA_ERRORS = frozenset(
    {
        "CAST_INVALID_INPUT",
        "CAST_OVERFLOW",
        "FAILED_READ_FILE",
        "PARQUET_COLUMN_DATA_TYPE_MISMATCH",
        "DATATYPE_MISMATCH",
        "CANNOT_MERGE_INCOMPATIBLE_DATA_TYPE",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SparkEngine:
    """Runs compiled Spark SQL on a Spark session.

    Args:
        spark_conf: settings of the session Silage starts (``spark.master`` defaults to
            ``local[*]``); ignored when ``session`` is given.
        session: a session the caller owns (``FeatureStore(..., spark=session)``).
    """

    dialect: ClassVar[str] = "spark"
    # The renderings every Spark runs; `asof` joins them where the probe finds Spark's as-of
    # join (see :attr:`renderings`).
    portable_renderings: ClassVar[tuple[str, ...]] = ("carry", "window")
    settings_keys: ClassVar[frozenset[str]] = frozenset({"spark_conf", "staging_location"})
    # Spark casts no struct to a map: such a column is refused when a repository is applied.
    reads_structs_as_maps: ClassVar[bool] = False

    spark_conf: tuple[tuple[str, str], ...] = ()
    session: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        conf = settings.values.get("spark_conf") or {}
        if not isinstance(conf, Mapping):
            raise settings.error(
                "spark_conf",
                f"{conf!r} is not valid; give a mapping of Spark settings, e.g. "
                f"spark_conf: {{spark.master: 'local[*]'}}",
            )
        return cls(spark_conf=tuple((str(k), _conf_value(v)) for k, v in conf.items()))

    def with_session(self, session: Any) -> SparkEngine:
        """This engine on a session the caller started (and stops)."""
        return replace(self, session=session)

    # --- the protocol ----------------------------------------------------------------------

    @property
    def renderings(self) -> tuple[str, ...]:
        """``carry`` (preferred), ``window``, and ``asof`` when this Spark runs an as-of join
        correctly (:meth:`asof_join_available`, which starts Spark to find out)."""
        if self.asof_join_available():
            return (*self.portable_renderings, "asof")
        return self.portable_renderings

    def to_arrow(
        self, query: CompiledQuery, tables: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        with self._job(query, tables) as frame, _source_errors(query):
            return _arrow(frame)

    def to_parquet(
        self, query: CompiledQuery, path: Path, tables: Mapping[str, pa.Table] | None = None
    ) -> None:
        import pyarrow.parquet as pq

        path.parent.mkdir(parents=True, exist_ok=True)
        with self._job(query, tables) as frame, self._written(frame, query) as parts:
            writer: pq.ParquetWriter | None = None
            try:
                for batch in _read_parts(parts):
                    if writer is None:
                        writer = pq.ParquetWriter(path, batch.schema)
                    writer.write_batch(batch)
                if writer is None:  # no rows: an empty file with the result's columns
                    pq.write_table(_arrow(frame.limit(0)), path)
            finally:
                if writer is not None:
                    writer.close()

    def to_batches(
        self, query: CompiledQuery, batch_size: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        with self._job(query, None) as frame, self._written(frame, query) as parts:
            yield from _read_parts(parts, batch_size)

    def run_sql(self, sql: str) -> pa.Table:
        from pyspark.errors import PySparkException

        try:
            return _arrow(self._child().sql(sql))
        except PySparkException as exc:
            raise RequestError(
                f"the entity table's SQL query failed on Spark: {_reason(exc)}; check the "
                f"query, e.g. SELECT driver_id, event_timestamp FROM entities"
            ) from exc

    def source_schema(self, source: SourceTable) -> pa.Schema:
        """The source's columns as Arrow types, reading no rows (Spark plans the read only).

        Raises:
            SourceDataError: the source cannot be read, naming it and the fix.
        """
        session = self._child()
        return _arrow(_source_frame(session, source).limit(0)).schema

    def asof_join_available(self) -> bool:
        """Whether this engine's Spark runs an as-of join (``ASOF JOIN ... MATCH_CONDITION``)
        correctly, found by running a tiny one, once per root session, on a throwaway child
        session with the feature flag set; the root session's settings are not touched.
        A parse or analysis error, or a wrong answer, means no.

        Example: on Spark 4.3 the probe finds it (behind its flag); on 4.0 it does not.
        """
        root = self.root_session()
        found = _ASOF_PROBES.get(root)
        if found is None:
            found = _probe_asof_join(root)
            _ASOF_PROBES[root] = found
        return found

    # --- for callers that stay in Spark ----------------------------------------------------

    def to_spark_df(
        self, query: CompiledQuery, tables: Mapping[str, pa.Table] | None = None
    ) -> DataFrame:
        """The query as a Spark DataFrame, not yet run; its views live as long as it does."""
        session = self._prepared(query, tables)
        with _source_errors(query):
            return session.sql(query.query)

    def arrow_to_spark_df(self, table: pa.Table) -> DataFrame:
        """An Arrow table as a Spark DataFrame (timestamps in UTC)."""
        # A child session: the job settings (UTC, microsecond Parquet timestamps) apply.
        return self._child().createDataFrame(_spark_ready(table))

    def to_parquet_folder(
        self, query: CompiledQuery, uri: str, tables: Mapping[str, pa.Table] | None = None
    ) -> None:
        with self._job(query, tables) as frame, _source_errors(query):
            self.write_parquet_folder(frame, uri)

    def write_parquet_folder(self, frame: DataFrame, uri: str) -> None:
        """Spark's tasks write ``frame`` to the folder ``uri``, which must not exist yet.

        Raises:
            RequestError: the folder exists already, or Spark cannot write there; names it.
        """
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        try:
            frame.write.mode("errorifexists").parquet(uri)
        except (PySparkException, Py4JJavaError) as exc:
            condition = _condition(exc)
            if condition.split(".")[0] in _DATA_ERRORS:
                raise  # a source's data: the caller's _source_errors names the views
            if condition == "PATH_ALREADY_EXISTS":
                raise RequestError(
                    f"{uri} exists already; to_parquet() writes a new folder there: remove "
                    f"it or give another path"
                ) from exc
            raise RequestError(
                f"Spark cannot write {uri}: {_reason(exc)}; check that Spark has a "
                f"filesystem for the scheme (s3a:// needs hadoop-aws on its classpath) and "
                f"may write there"
            ) from exc

    # --- sessions --------------------------------------------------------------------------

    def root_session(self) -> SparkSession:
        """The session jobs branch from: the caller's, or one built from ``spark_conf``.

        Raises:
            ConfigError: Spark cannot start (no Java runtime); says what to install.
        """
        if self.session is not None:
            session: SparkSession = self.session
            return session
        return _started(self.spark_conf)

    def _child(self) -> SparkSession:
        root = self.root_session()
        session = root.newSession()
        for key, value in _FORCED.items():
            session.conf.set(key, value)
        if self.asof_join_available():  # probed once per root session
            session.conf.set(_ASOF_FLAG, "true")
        return session

    def _prepared(
        self, query: CompiledQuery, tables: Mapping[str, pa.Table] | None
    ) -> SparkSession:
        """A child session with the sources, the given tables and the setup in place."""
        if query.dialect != self.dialect:
            raise ValueError(
                f"a query compiled for {query.dialect!r} was given to the Spark engine; "
                f"compile it with dialect='spark'"
            )
        session = self._child()
        given = dict(tables or {})
        for source in query.sources:
            if source.name not in given:
                _source_frame(session, source).createOrReplaceTempView(source.name)
        for name, arrow in given.items():
            session.createDataFrame(_spark_ready(arrow)).createOrReplaceTempView(name)
        with _source_errors(query):
            for statement in query.setup:
                session.sql(statement)
            _pin_cached_views(session, {s.name for s in query.sources} | set(given))
        return session

    @contextmanager
    def _job(
        self, query: CompiledQuery, tables: Mapping[str, pa.Table] | None
    ) -> Iterator[DataFrame]:
        session = self._prepared(query, tables)
        try:
            with _source_errors(query):  # Spark checks types when it plans the query
                frame = session.sql(query.query)
            yield frame
        finally:
            for name in session.catalog.listTables():
                if name.isTemporary:
                    session.catalog.dropTempView(name.name)

    @contextmanager
    def _written(self, frame: DataFrame, query: CompiledQuery) -> Iterator[Path]:
        """The frame written by Spark's tasks to a temporary Parquet folder, in order."""
        folder = Path(tempfile.mkdtemp(prefix="silage-spark-")) / uuid.uuid4().hex
        try:
            with _source_errors(query):
                frame.write.parquet(str(folder))
            yield folder
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)


# --- session start-up ------------------------------------------------------------------------


def _conf_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _started(conf: tuple[tuple[str, str], ...]) -> SparkSession:
    """The process's Spark session, started with ``conf`` over the defaults when there is
    none yet (Spark allows one per process: a later engine's ``spark_conf`` cannot change
    the cluster settings of a running one)."""
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in {**_DEFAULTS, **dict(conf), **_FORCED}.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except (PySparkException, FileNotFoundError, OSError) as exc:
        raise ConfigError(
            f"offline_store type spark: Spark could not start ({_reason(exc)}); it needs a "
            f"Java 17 or newer runtime: install one (e.g. apt-get install "
            f"openjdk-17-jre-headless) and set JAVA_HOME to it, or use offline_store type "
            f"duckdb"
        ) from exc


def _probe_asof_join(root: SparkSession) -> bool:
    """Run :data:`_ASOF_PROBE` on a new child session of ``root`` with the as-of flag on;
    True only when it runs and returns its one right row. The child session (and with it the
    flag) is dropped afterwards; the probe creates no table or view."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    probe = root.newSession()
    try:
        probe.conf.set(_ASOF_FLAG, "true")
        rows = [tuple(row) for row in probe.sql(_ASOF_PROBE).collect()]
    except (PySparkException, Py4JJavaError):
        return False
    return rows == [(1, 1)]


# --- sources and tables ----------------------------------------------------------------------


def _source_frame(session: SparkSession, source: SourceTable) -> DataFrame:
    """A source's files as a DataFrame, columns matched by name, nanosecond timestamps turned
    into exact microsecond ones.

    Raises:
        SourceDataError: Spark cannot read the files, naming the view and the files.
    """
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    view = _view_of(source.name)
    if source.spark is not None:
        return _spark_source_frame(session, source.spark, view)
    try:
        files = [_visible(file) for file in source.files]
        frame = session.read.option("mergeSchema", "true").parquet(*files)
    except (PySparkException, Py4JJavaError) as exc:  # a bad footer comes as a raw Java error
        raise SourceDataError(
            f"feature view {view!r}: Spark cannot read its source "
            f"{', '.join(source.files)}: {_reason(exc)}; check that the path exists and is "
            f"Parquet"
        ) from exc
    return _exact_nanoseconds(frame, source.files)


def _exact_nanoseconds(frame: DataFrame, files: tuple[str, ...]) -> DataFrame:
    """The frame with the files' nanosecond timestamp columns (read as integers, see
    ``_FORCED``) turned back into exact microsecond timestamps."""
    from pyspark.sql import functions as F

    for name in _nanosecond_columns(files):
        # Integer nanoseconds since the epoch; floor division keeps instants before 1970.
        micros = F.floor(F.col(name) / F.lit(1000)).cast("bigint")
        frame = frame.withColumn(name, F.timestamp_micros(micros))
    return frame


def _spark_source_frame(session: SparkSession, read: SparkRead, view: str) -> DataFrame:
    """A ``SparkSource``'s rows: its metastore table, its query's rows, or its files in
    their format. Spark resolves tables and columns when the frame is built, so a missing
    table or a failing query is reported here, before any job runs.

    Raises:
        SourceDataError: naming the view, the source, what Spark could not read, and the fix.
    """
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    whose = f"feature view {view!r} reads SparkSource {read.source!r}"
    try:
        if read.table is not None:
            return session.table(read.table)
        if read.query is not None:
            return session.sql(read.query)
        assert read.path is not None
        assert read.file_format is not None
        reader = session.read.format(read.file_format)
        if read.file_format == "csv":
            # CSV has no types of its own: a header row names the columns, Spark infers types.
            reader = reader.option("header", "true").option("inferSchema", "true")
        frame = reader.load(read.path)
        if read.file_format == "parquet":
            frame = _exact_nanoseconds(frame, _local_parquet_files(read.path))
        return frame
    except (PySparkException, Py4JJavaError) as exc:
        condition = _condition(exc)
        if read.table is not None and condition.startswith("TABLE_OR_VIEW_NOT_FOUND"):
            raise SourceDataError(
                f"{whose}, whose table {read.table!r} does not exist in Spark's catalog; "
                f"create the table, or fix `table=` (Silage's jobs run on their own child "
                f"sessions, which do not see a session's temporary views: register a global "
                f"one with createOrReplaceGlobalTempView and name it 'global_temp.<name>')"
            ) from exc
        raise SourceDataError(
            f"{whose}, whose {read.describe()} Spark cannot read: {_reason(exc)}; fix the "
            f"source's {'table' if read.table else 'query' if read.query else 'path'}"
        ) from exc


def _local_parquet_files(path: str) -> tuple[str, ...]:
    """The Parquet files at a local path (one file, or those under a folder), to read their
    footers; none for a remote path, whose footers Spark alone reads."""
    location = Path(path)
    if location.is_file():
        return (path,)
    if location.is_dir():
        return tuple(str(p) for p in sorted(location.rglob("*.parquet")))
    return ()


def _visible(file: str) -> str:
    """A path Spark lists: Spark skips files whose name starts with ``.`` or ``_`` (a
    training set is written as ``.name.partial.parquet`` and its statistics are computed
    before it is renamed), so such a local file is read through a hard link (or a symbolic
    one across file systems) with a plain name, in a folder removed when the process exits."""
    path = Path(file)
    if not path.name.startswith((".", "_")) or not path.is_file():
        return file
    link = _links_folder() / f"{uuid.uuid4().hex}{path.suffix}"
    try:
        link.hardlink_to(path)
    except OSError:
        link.symlink_to(path.resolve())
    return str(link)


@functools.cache
def _links_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="silage-spark-links-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _nanosecond_columns(files: tuple[str, ...]) -> list[str]:
    """The columns stored as nanosecond timestamps in the files (read from their footers)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    found: dict[str, None] = {}
    for file in files:
        try:
            schema = pq.read_schema(file)
        except (OSError, pa.ArrowInvalid):
            continue  # not a local file: Spark reads it, and reports what it cannot read
        for column in schema:
            if pa.types.is_timestamp(column.type) and column.type.unit == "ns":
                found[column.name] = None
    return list(found)


def _spark_ready(table: pa.Table) -> pa.Table:
    """Arrow types Spark's Arrow reader accepts: dictionaries decoded, timestamps in
    microseconds (Spark's unit) and UTC."""
    import pyarrow as pa

    fields = []
    for column in table.schema:
        kind = column.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_timestamp(kind):
            kind = pa.timestamp("us", tz="UTC")
        if pa.types.is_large_string(kind):
            kind = pa.string()
        fields.append(pa.field(column.name, kind))
    schema = pa.schema(fields)
    return table if schema == table.schema else table.cast(schema)


def _view_of(table: str) -> str:
    return table.removeprefix(_SOURCE_PREFIX)


def _pin_cached_views(session: SparkSession, inputs: set[str]) -> None:
    """Replace each temporary view the setup cached (``CACHE TABLE t AS ...``: Silage's
    temporary tables on Spark) by its rows, checkpointed once. Spark finds a cached view
    inside a larger query by comparing plans, and on 4.3 that fails for a view holding an
    as-of join: every query reading it would run the join again."""
    for table in session.catalog.listTables():
        name = table.name
        if table.isTemporary and name not in inputs and session.catalog.isCached(name):
            rows = session.table(name).localCheckpoint(eager=True)
            session.catalog.uncacheTable(name)
            rows.createOrReplaceTempView(name)


# --- results ---------------------------------------------------------------------------------


def _arrow(frame: DataFrame) -> pa.Table:
    """The frame's rows, in order, as Arrow (Spark's ``toArrow``)."""
    table: pa.Table = frame.toArrow()
    return table


def _read_parts(folder: Path, batch_size: int = 100_000) -> Iterator[pa.RecordBatch]:
    """The Parquet parts Spark wrote, in part order (a sorted result's order)."""
    import pyarrow.parquet as pq

    for part in sorted(folder.glob("part-*.parquet")):
        yield from pq.ParquetFile(part).iter_batches(batch_size=batch_size)


def _reason(exc: BaseException) -> str:
    """Spark's message without its Java stack trace."""
    text = str(exc).strip()
    if "[" in text and not text.startswith("["):  # a raw Java error: "...: org...: [COND..."
        text = text[text.index("[") :]
    return text.split("\n\nJVM stacktrace:")[0].split("\n")[0]


def _condition(exc: BaseException) -> str:
    """Spark's error condition (``CAST_INVALID_INPUT``), also from a raw Java error."""
    getter = getattr(exc, "getCondition", None)
    if getter is not None:
        return str(getter() or "")
    match = re.search(r"\[([A-Z_.]+)\]", str(exc))
    return match.group(1) if match else ""


@contextmanager
def _source_errors(query: CompiledQuery) -> Iterator[None]:
    """Turn Spark's errors about unreadable or mistyped source data into SourceDataError,
    naming the views the query reads."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        yield
    except (PySparkException, Py4JJavaError) as exc:
        if _condition(exc).split(".")[0] not in _DATA_ERRORS:
            raise
        views = ", ".join(repr(_view_of(s.name)) for s in query.sources) or "(none)"
        struct_as_map = _STRUCT_AS_MAP.search(_reason(exc))
        if struct_as_map is not None:
            column, found, wanted = struct_as_map.groups()
            raise SourceDataError(
                f"feature view(s) {views}: column {column!r} is {found} in the source, "
                f"declared as {wanted}, and Spark cannot read a struct as a map; write the "
                f"column as a Parquet map (pyarrow's pa.map_, Spark's MapType), or declare "
                f"the feature as a Struct of its fields, and apply again"
            ) from exc
        raise SourceDataError(
            f"feature view(s) {views}: a source column could not be read as its declared "
            f"type on Spark: {_reason(exc)}; fix the declared dtype or the data"
        ) from exc
