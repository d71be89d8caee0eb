"""Checking feature views against the Parquet files they read.

Applying a repository reads each source's Parquet schema (not its data) and checks
that every join key, timestamp and feature column exists with a type the declaration
accepts. Join keys whose type the view does not declare get it from the data here, so
the registry always holds fully typed views.
"""

from __future__ import annotations

import dataclasses
import glob
from collections.abc import Sequence
from pathlib import Path

from store import types
from store.definitions.feature_view import FeatureView
from store.definitions.field import Field
from store.definitions.source import FileSource
from store.errors import SourceDataError
from store.repo.loader import RepoContents

__all__ = [
    "KEY_DTYPES",
    "parquet_files",
    "read_source_schema",
    "resolve_feature_views",
    "time_statistics",
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


def read_source_schema(source: FileSource, repo_root: Path) -> dict[str, object]:
    """Column name to Arrow type, after ``field_mapping`` renames (from the first file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = parquet_files(source, repo_root)[0]
    try:
        schema = pq.read_schema(first)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceDataError(f"cannot read the Parquet schema of {first}: {exc}") from exc
    mapping = source.field_mapping or {}
    return {mapping.get(f.name, f.name): f.type for f in schema}


def time_statistics(files: Sequence[Path], column: str) -> tuple[int, int, int] | None:
    """Row count and the smallest and largest value of a timestamp column, in microseconds,
    from the Parquet footers alone (no data is read). None when a footer lacks statistics."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, low, high = 0, None, None
    for file in files:
        metadata = pq.ParquetFile(file).metadata
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


def resolve_feature_views(
    contents: RepoContents, repo_root: Path
) -> tuple[RepoContents, list[str]]:
    """Check every view against its data; return the contents with key types filled in,
    and the list of problems found (empty when all is well)."""
    problems: list[str] = []
    schemas: dict[str, dict[str, object]] = {}
    for source in contents.data_sources:
        try:
            schemas[source.name] = read_source_schema(source, repo_root)
        except SourceDataError as exc:
            problems.append(f"{contents.where('data_source', source.name or '')}: {exc}")
    resolved: list[FeatureView] = []
    for view in contents.feature_views:
        schema = schemas.get(view.source.name)
        if schema is None:
            resolved.append(view)
            continue
        view_problems, fixed = _check_view(view, schema)
        where = contents.where("feature_view", view.name)
        problems.extend(f"{where}: {p}" for p in view_problems)
        resolved.append(fixed)
    return dataclasses.replace(contents, feature_views=tuple(resolved)), problems


def _check_view(view: FeatureView, schema: dict[str, object]) -> tuple[list[str], FeatureView]:
    problems: list[str] = []
    source = view.source
    columns = ", ".join(schema)
    src = f"source {source.name!r} ({source.path})"

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

    if problems or not key_fields:
        return problems, view
    # Keys first, in entity order, then the declared schema as written.
    return problems, dataclasses.replace(view, schema=(*key_fields, *view.schema))


def _mismatch(role: str, name: str, field: Field, arrow_type: object, src: str) -> str:
    natural = types.dtype_for_arrow(arrow_type)
    fix = f"declare it as {natural.spec}" if natural else "convert the column"
    return (
        f"{role} {name!r} is declared {field.dtype.spec} but is {arrow_type} in {src}; "
        f"{fix}, or cast the column in the data"
    )
