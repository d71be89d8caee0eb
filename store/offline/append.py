"""Appending pushed rows to a file source, atomically (``push(..., to="offline")``).

A push never edits a Parquet file in place. Where the source is a folder (or a glob such
as ``data/stats/*.parquet``) the rows become one new file in it; where the source is one
file, a new version of that file (its rows, then the pushed ones) replaces it. Either way
the bytes are written to a hidden temporary file in the same folder, flushed to disk with
``fsync``, and renamed into place: rename within a folder is atomic, so a reader sees the
source before or after the push, never half of it, and a write that fails leaves nothing
behind (the temporary file is removed).

The rows are shaped like the files already there: columns renamed back through the
source's ``field_mapping``, cast to the existing Parquet types, columns the push lacks
filled with nulls. A pushed column the files do not have is an error, since the source
would change its schema under its readers.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from store.definitions.source import FileSource
from store.errors import RequestError, SourceDataError
from store.offline.sources import parquet_files

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["append_to_source"]


def append_to_source(source: FileSource, rows: pa.Table, repo_root: Path, *, label: str) -> Path:
    """Append ``rows`` (named as the views name columns, after ``field_mapping``) to
    ``source``; return the file written.

    Args:
        source: the batch source receiving the rows.
        rows: the pushed rows, already checked against the views that read them.
        repo_root: where relative source paths start.
        label: how errors name the push, e.g. ``"push source 'driver_stats_push'"``.

    Raises:
        RequestError: a column the source's files lack, a value that does not fit their
            type, or a glob path a new file cannot match; nothing is written.
    """
    location = source.resolve_path(repo_root)
    renamed = _source_names(source, rows)
    existing = _existing_files(source, repo_root)
    if existing:
        renamed = _conform(renamed, existing[0], source, label)
    path = Path(location)
    if glob.has_magic(location):
        target = _new_file_in(_glob_folder(location))
        if not fnmatch.fnmatch(str(target), location):
            raise RequestError(
                f"{label}: batch source {source.name!r} reads {source.path!r}, which would "
                f"not read a new file named {target.name}; make the path a folder or a glob "
                f"ending in *.parquet"
            )
        _write_atomically(renamed, target)
    elif path.is_file() or (not path.exists() and path.suffix == ".parquet"):
        # One file: its new version holds its rows and then the pushed ones.
        if path.is_file():
            import pyarrow as pa
            import pyarrow.parquet as pq

            renamed = pa.concat_tables([pq.read_table(path), renamed])
        target = path
        _write_atomically(renamed, target)
    else:
        target = _new_file_in(path)
        _write_atomically(renamed, target)
    return target


def _source_names(source: FileSource, rows: pa.Table) -> pa.Table:
    """Rows with columns renamed back to the source's own names (``field_mapping``)."""
    back = {new: old for old, new in (source.field_mapping or {}).items()}
    return rows.rename_columns([back.get(n, n) for n in rows.column_names])


def _existing_files(source: FileSource, repo_root: Path) -> list[Path]:
    try:
        return parquet_files(source, repo_root)
    except SourceDataError:
        return []  # no file yet: the push creates the first


def _conform(rows: pa.Table, model: Path, source: FileSource, label: str) -> pa.Table:
    """``rows`` in the columns and types of the Parquet file ``model``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(model)
    known = set(schema.names)
    extra = [n for n in rows.column_names if n not in known]
    if extra:
        raise RequestError(
            f"{label}: column {extra[0]!r} is not a column of batch source {source.name!r} "
            f"(its files have {', '.join(schema.names)}); drop it from the pushed rows"
        )
    columns: list[pa.Array | pa.ChunkedArray] = []
    for target in schema:
        if target.name not in rows.column_names:
            columns.append(pa.nulls(rows.num_rows, target.type))
            continue
        column = rows.column(target.name)
        try:
            columns.append(column.cast(target.type, safe=not pa.types.is_timestamp(target.type)))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise RequestError(
                f"{label}: column {target.name!r} ({column.type}) does not fit the "
                f"{target.type} column of batch source {source.name!r}: {exc}"
            ) from exc
    return pa.Table.from_arrays(columns, schema=schema.remove_metadata())


def _glob_folder(pattern: str) -> Path:
    """The deepest folder of a glob before its first wildcard."""
    parts = Path(pattern).parts
    fixed = parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]
    return Path(*fixed) if fixed else Path(".")


def _new_file_in(folder: Path) -> Path:
    """A fresh file name that sorts by push time: ``push-<UTC time>-<random>.parquet``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return folder / f"push-{stamp}-{uuid.uuid4().hex[:8]}.parquet"


def _write_atomically(table: pa.Table, target: Path) -> None:
    """Write ``table`` to ``target`` by way of a hidden temporary file, fsync and rename."""
    import pyarrow.parquet as pq

    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "wb") as handle:
            pq.write_table(table, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some filesystems refuse fsync on a folder; the rename is still atomic
    finally:
        os.close(descriptor)
