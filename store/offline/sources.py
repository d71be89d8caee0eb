"""Sources: the data a view reads, their schemas, and the checks against them.

Applying a repository reads each source's schema (not its data): a ``FileSource``'s from its
Parquet footers, a ``SparkSource``'s from Spark (only the Spark engine reads one), and
:func:`check_view` confirms that every join key, timestamp and feature column exists with a
type the declaration accepts; join keys whose type the view does not declare get it from
the data, so the registry always holds fully typed views. :func:`view_scan` describes a
view to the compilers (its files, keys, times and features), and :func:`time_statistics`
reads row counts and time ranges from Parquet footers alone, and :func:`hot_key_estimate`
the keys holding many rows from a sample of key columns, for planning.
"""

from __future__ import annotations

import dataclasses
import glob
from collections.abc import Iterable, Sequence
from pathlib import Path

from store import types
from store.definitions.data_source import DataSource
from store.definitions.feature_view import FeatureView
from store.definitions.field import Field
from store.definitions.label_view import LabelView
from store.definitions.source import FileSource
from store.definitions.spark_source import SparkSource
from store.errors import SourceDataError
from store.offline.compiler.labels import LabelResolution
from store.offline.compiler.point_in_time import FeatureColumn, ViewScan
from store.offline.compiler.query import SourceTable, SparkRead, source_table_name
from store.offline.engine import OfflineEngine, SchemaEngine

__all__ = [
    "HOT_KEY_SAMPLE_ROWS",
    "KEY_DTYPES",
    "check_view",
    "hot_key_estimate",
    "parquet_files",
    "read_source_schema",
    "source_label",
    "spark_read",
    "time_statistics",
    "view_keys",
    "view_scan",
]

# Join keys must compare exactly across Parquet, DuckDB, SQLite and Python.
KEY_DTYPES = (types.Int32, types.Int64, types.String)


def parquet_files(source: FileSource, repo_root: Path) -> list[Path]:
    """The Parquet files of a source: one file, every ``*.parquet`` under a folder, or a glob."""
    location = source.resolve_path(repo_root)
    path = Path(location)
    if glob.has_magic(location):
        files = sorted(Path(p) for p in glob.glob(location, recursive=True) if Path(p).is_file())
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
    elif path.is_file():
        files = [path]
    else:
        files = []
    if not files:
        raise SourceDataError(
            f"no Parquet file at {location}; create the data, or fix `path` "
            f"(relative paths start at the repository root)"
        )
    return files


def spark_read(source: SparkSource, repo_root: Path) -> SparkRead:
    """How the Spark engine reads a ``SparkSource`` (a relative path taken from
    ``repo_root``)."""
    return SparkRead(
        source=source.name,
        table=source.table,
        query=source.query,
        path=None if source.path is None else source.resolve_path(repo_root),
        file_format=source.file_format,
    )


def source_label(source: DataSource) -> str:
    """How messages name a source: ``source 'stats' (data/stats.parquet)``."""
    if isinstance(source, FileSource):
        return f"source {source.name!r} ({source.path})"
    read = spark_read(source, Path())
    return f"SparkSource {source.name!r} ({read.describe()})"


def read_source_schema(
    source: DataSource, repo_root: Path, engine: OfflineEngine | None = None
) -> dict[str, object]:
    """Column name to Arrow type, after ``field_mapping`` renames: a ``FileSource``'s from
    its first file's footer, a ``SparkSource``'s from ``engine`` (the Spark engine).

    Raises:
        SourceDataError: the data cannot be read, or a ``SparkSource`` meets an engine that
            cannot read it (saying to set ``offline_store: {type: spark}``).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(source, SparkSource):
        if not isinstance(engine, SchemaEngine):
            raise SourceDataError(
                f"data source {source.name!r} is a SparkSource, which only the Spark engine "
                f"reads; set `offline_store: {{type: spark}}` in feature_store.yaml, or read "
                f"the data through a FileSource"
            )
        table = SourceTable(source_table_name(source.name), (), spark_read(source, repo_root))
        schema = engine.source_schema(table)
    else:
        first = parquet_files(source, repo_root)[0]
        try:
            schema = pq.read_schema(first)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceDataError(f"cannot read the Parquet schema of {first}: {exc}") from exc
    mapping = source.field_mapping or {}
    return {mapping.get(f.name, f.name): f.type for f in schema}


def time_statistics(files: Sequence[Path], column: str) -> tuple[int, int, int] | None:
    """Row count and the smallest and largest value of a timestamp column, in microseconds,
    from the Parquet footers alone (no data is read). None when a footer lacks statistics
    or cannot be read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, low, high = 0, None, None
    for file in files:
        try:
            metadata = pq.ParquetFile(file).metadata
        except (pa.ArrowInvalid, OSError):
            return None  # unreadable: no plan from it; the engine reports the file to the user

        names = [metadata.schema.column(i).name for i in range(metadata.num_columns)]
        if column not in names:
            return None
        index = names.index(column)
        for group in range(metadata.num_row_groups):
            chunk = metadata.row_group(group)
            stats = chunk.column(index).statistics
            if chunk.num_rows and (stats is None or not stats.has_min_max):
                return None
            rows += chunk.num_rows
            if not chunk.num_rows:
                continue
            values = pa.array([stats.min, stats.max]).cast(pa.timestamp("us", tz="UTC"))
            first, last = values.cast(pa.int64()).to_pylist()
            low = first if low is None else min(low, first)
            high = last if high is None else max(high, last)
    if low is None or high is None:
        return None
    return rows, low, high


# At most this many source rows are read to estimate hot keys (whole row groups, spread
# evenly over the files); a source this small or smaller is counted exactly.
HOT_KEY_SAMPLE_ROWS = 1_000_000
# More hot keys than this are not written into the SQL: the query counts them itself.
_MAX_HOT_KEYS = 1_000


def hot_key_estimate(
    files: Sequence[Path], columns: Sequence[str], threshold: int
) -> tuple[tuple[int | str, ...], ...] | None:
    """The keys (values of ``columns``) with more than ``threshold`` rows in the files, for
    planning only: () when the footers' row count is at most ``threshold`` (no key can be
    hot; no data is read), else counted in the key columns of row groups spread evenly over
    the files, up to :data:`HOT_KEY_SAMPLE_ROWS` rows (exact when that is all of them; a
    sample's counts are scaled up, and a key is taken as hot above half the threshold, so
    a key near it is rather cut than missed). None when the files or columns cannot be
    read this way, or there are too many hot keys to name.

    Example: 10M rows in ten row groups of 1M: one row group's keys are counted, and a key
    holding 20% of them (about 200k rows in all) is hot at a threshold of 100k."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        opened = [pq.ParquetFile(file) for file in files]
        groups = [
            (f, g, f.metadata.row_group(g).num_rows)
            for f in opened
            for g in range(f.metadata.num_row_groups)
        ]
        total = sum(rows for _, _, rows in groups)
        if total <= threshold:
            return ()
        chosen = groups
        if total > HOT_KEY_SAMPLE_ROWS:
            wanted = max(1, -(-HOT_KEY_SAMPLE_ROWS * len(groups) // total))
            step = len(groups) / wanted
            chosen = [groups[int(i * step)] for i in range(wanted)]
        sample = pa.concat_tables(
            f.read_row_group(g, columns=list(columns)) for f, g, _ in chosen
        ).drop_null()
        counts = sample.group_by(list(columns)).aggregate([([], "count_all")])
    except (pa.ArrowException, OSError, KeyError):
        return None  # a missing column or an unreadable file: the query counts instead
    sampled = sum(rows for _, _, rows in chosen)
    scale = total / max(sampled, 1)
    limit = threshold if sampled == total else threshold / 2
    hot = counts.filter(pc.greater(counts["count_all"], limit / scale))
    if hot.num_rows > _MAX_HOT_KEYS:
        return None
    keys = zip(*(hot.column(c).to_pylist() for c in columns), strict=True)
    return tuple(sorted(tuple(key) for key in keys))


def check_view(
    view: FeatureView, schema: dict[str, object], *, structs_as_maps: bool = True
) -> tuple[list[str], FeatureView]:
    """Check a view against its source's schema (column name to Arrow type, after
    ``field_mapping``). Returns the problems found (empty when all is well) and the view
    with its undeclared join-key types filled in from the data. ``structs_as_maps``: whether
    the offline engine reads a struct column as a ``Map`` feature (Spark does not)."""
    problems: list[str] = []
    source = view.source
    columns = ", ".join(schema)
    src = source_label(source)

    def check_timestamp(role: str, name: str | None) -> None:
        if name is None:
            return
        if name not in schema:
            problems.append(f"{role} {name!r} is not a column of {src}; its columns are {columns}")
        elif types.arrow_kind(schema[name]) != "timestamp":
            problems.append(
                f"{role} {name!r} of {src} is {schema[name]}, not a timestamp; "
                f"store it as a Parquet timestamp"
            )

    check_timestamp("timestamp_field", source.timestamp_field)
    check_timestamp("created_timestamp_column", source.created_timestamp_column)

    declared = {f.name: f for f in view.entity_columns}
    key_fields: list[Field] = []
    for key in view.join_keys:
        if key not in schema:
            problems.append(f"join key {key!r} is not a column of {src}; its columns are {columns}")
            continue
        field = declared.get(key)
        if field is None:
            dtype = types.dtype_for_arrow(schema[key])
            if dtype not in KEY_DTYPES:
                problems.append(
                    f"join key {key!r} of {src} is {schema[key]}; join keys must be integers "
                    f"or strings"
                )
                continue
            assert dtype is not None
            key_fields.append(Field(name=key, dtype=dtype))
        elif field.dtype not in KEY_DTYPES:
            problems.append(
                f"join key {key!r} is declared {field.dtype.spec}; join keys must be Int32, "
                f"Int64 or String"
            )
        elif not types.accepts_arrow_type(field.dtype, schema[key]):
            problems.append(_mismatch("join key", key, field, schema[key], src))

    for feature in view.features:
        if feature.name not in schema:
            problems.append(
                f"feature {feature.name!r} is not a column of {src}; its columns are {columns}"
            )
        elif not types.accepts_arrow_type(feature.dtype, schema[feature.name]):
            problems.append(_mismatch("feature", feature.name, feature, schema[feature.name], src))
        elif not types.accepts_arrow_type(
            feature.dtype, schema[feature.name], structs_as_maps=structs_as_maps
        ):
            problems.append(_struct_as_map(feature, schema[feature.name], src))

    if problems or not key_fields:
        return problems, view
    # Keys first, in entity order, then the declared schema as written.
    return problems, dataclasses.replace(view, schema=(*key_fields, *view.schema))


def _mismatch(role: str, name: str, field: Field, arrow_type: object, src: str) -> str:
    natural = types.dtype_for_arrow(arrow_type)
    fix = f"declare it as {natural.spec}" if natural else "convert the column"
    return (
        f"{role} {name!r} is declared {field.dtype.spec} but is "
        f"{types.describe_arrow_type(arrow_type)} in {src}; "
        f"{fix}, or cast the column in the data"
    )


def _struct_as_map(field: Field, arrow_type: object, src: str) -> str:
    """A struct column (at some depth) declared as a map, on an engine that casts no struct
    to a map (Spark)."""
    natural = types.dtype_for_arrow(arrow_type)
    declare = f", or declare it as {natural.spec}" if natural else ""
    return (
        f"feature {field.name!r} is declared {field.dtype.spec} but is "
        f"{types.describe_arrow_type(arrow_type)} in {src}, and the Spark engine cannot read "
        f"a struct as a map; write the column as a Parquet map (pyarrow's pa.map_, Spark's "
        f"MapType){declare}"
    )


def view_keys(view: FeatureView) -> list[tuple[str, types.DType]]:
    """A resolved view's join keys and their types, in entity order."""
    typed = {f.name: f.dtype for f in view.entity_columns}
    return [(k, typed[k]) for k in view.join_keys]


def view_scan(
    view: FeatureView, repo_root: Path, features: Iterable[tuple[Field, str]] | None = None
) -> ViewScan:
    """What the compilers need of a view: its files, times, keys and the features to read
    (default: all of them, under their own names).

    Raises:
        SourceDataError: the view's Parquet files are missing.
    """
    files: list[Path] = []
    spark: SparkRead | None = None
    if isinstance(view.source, SparkSource):
        spark = spark_read(view.source, repo_root)
    else:
        try:
            files = parquet_files(view.source, repo_root)
        except SourceDataError as exc:
            raise SourceDataError(f"feature view {view.name!r}: {exc}") from exc
    chosen = features if features is not None else ((f, f.name) for f in view.features)
    return ViewScan(
        name=view.name,
        files=tuple(str(f) for f in files),
        timestamp_column=view.source.timestamp_field,
        created_column=view.source.created_timestamp_column,
        ttl_seconds=view.ttl_seconds,
        keys=tuple(view_keys(view)),
        features=tuple(FeatureColumn(f.name, output, f.dtype) for f, output in chosen),
        field_mapping=tuple((view.source.field_mapping or {}).items()),
        labels=_label_resolution(view),
        spark=spark,
    )


def _label_resolution(view: FeatureView) -> LabelResolution | None:
    """How a label view's conflicts resolve before the join (None: the join's own rule,
    the newest row, is the view's policy)."""
    if not isinstance(view, LabelView) or view.resolves_by_row:
        return None
    return LabelResolution(
        policy=view.policy.value,
        labeler_column=view.labeler_field,
        labels=tuple((f.name, f.dtype) for f in view.features if f.name != view.labeler_field),
        labeler_priority=tuple(view.labeler_priority),
    )
