"""Saved training sets: a retrieval job's result, fingerprinted, described and shared.

Saving writes the job's result as Parquet to a local file (streamed by the offline engine),
computes per-feature statistics over it (compiled by
:mod:`store.offline.compiler.statistics`, run by the engine), and hands its bytes to the
registry, which puts them in the artifact store (``artifact_store:`` in
feature_store.yaml: a folder, ``s3://...`` or the registry database) and records the set,
its sha256, size and links to the exact feature-view versions used, all or nothing (see
:mod:`registry.training_sets`). Any checkout that shares the registry and the artifact
store can then read it.

Reading fetches the file from the artifact store, checks its sha256 and size, and keeps a
verified copy in the repository's ``data/.cache/training_sets/<sha256>.parquet``: later
reads (and engines that want a path, such as DuckDB and Spark) use the copy once its
digest is found to match, and fetch again when it does not. The cache may be deleted at
any time. Sets saved before registry revision 0011 are read from the repository file they
were recorded with, checked against their sha256.

The fingerprint is the sha256 of a canonical manifest: the sorted feature references with
each view's version and content hash, a hash of every row of the entity table, and the
point-in-time settings. Same inputs, same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry import (
    ArtifactIntegrityError,
    NewValidationRun,
    Registry,
    TrainingSetFeature,
    TrainingSetRecord,
)
from registry.storage import FileStore, digest_of
from registry.storage.local import write_atomically
from store.definitions.spec import canonical_json
from store.epoch import from_micros
from store.errors import RequestError, TrainingSetIntegrityError
from store.offline.compiler.query import ROW_COLUMN, SourceTable
from store.offline.retrieval import RetrievalJob
from store.offline.statistics import compute_statistics

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["TrainingSet", "cache_path", "save_training_set"]

# Bumped whenever the meaning of a point-in-time join changes, so fingerprints do too.
JOIN_SEMANTICS = 1

# Where a checkout keeps verified copies of training sets, by sha256, under its root.
CACHE_FOLDER = Path("data") / ".cache" / "training_sets"


def cache_path(repo_root: Path, sha256: str) -> Path:
    """The local copy of the training set whose data has this sha256."""
    return repo_root / CACHE_FOLDER / f"{sha256}.parquet"


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """A saved training set: its registry record, the artifact store holding its data, and
    the checkout whose cache keeps a verified local copy.

    Example::

        saved = store.get_training_set("trips_2026_11")
        frame = saved.to_df()  # fetched, checked against sha256 and size, cached
        path = saved.check()  # the verified local Parquet file, for engines that want one
    """

    record: TrainingSetRecord
    files: FileStore
    repo_root: Path

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def fingerprint(self) -> str:
        return self.record.fingerprint

    @property
    def location(self) -> str:
        """Where the data lives: an artifact-store URI or path, or (for a set saved before
        registry revision 0011) a file in the repository. Reads nothing."""
        if self.record.storage_key is not None:
            return self.files.location(self.record.storage_key)
        return str(self._repository_file())

    def to_arrow(self) -> pa.Table:
        """The data as an Arrow table, once its bytes are found to be the ones saved.

        Raises:
            TrainingSetIntegrityError: the data is missing or changed since it was saved.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        _, data = self._verified()
        return pq.read_table(pa.BufferReader(data))

    def to_df(self) -> pd.DataFrame:
        """The data as a DataFrame, once its bytes are found to be the ones saved.

        Raises:
            TrainingSetIntegrityError: the data is missing or changed since it was saved.
        """
        import io

        import pandas as pd

        _, data = self._verified()
        return pd.read_parquet(io.BytesIO(data))

    def check(self) -> Path:
        """A local Parquet file holding exactly the bytes saved: the checkout's cached copy
        (fetched from the artifact store when absent or changed), or the repository file of
        a set saved before registry revision 0011.

        Raises:
            TrainingSetIntegrityError: the data is missing or changed since it was saved.
        """
        path, _ = self._verified()
        return path

    def _verified(self) -> tuple[Path, bytes]:
        record = self.record
        if record.storage_key is None:
            # Saved before registry revision 0011: a file of the repository, no size recorded.
            path = self._repository_file()
            data = path.read_bytes() if path.is_file() else None
            if data is None:
                raise self._integrity_error(str(path), None)
            sha256, size = digest_of(data)
            if sha256 != record.data_sha256:
                raise self._integrity_error(str(path), (sha256, size))
            return path, data
        assert record.size_bytes is not None  # the registry's CHECK: a key comes with a size
        cached = cache_path(self.repo_root, record.data_sha256)
        # The copy is trusted only while its digest matches (the size first: it costs no read).
        if cached.is_file() and cached.stat().st_size == record.size_bytes:
            data = cached.read_bytes()
            if digest_of(data) == (record.data_sha256, record.size_bytes):
                return cached, data
        try:
            data = self.files.get(record.storage_key, record.data_sha256, record.size_bytes)
        except ArtifactIntegrityError as exc:
            found = None
            if exc.found_sha256 is not None and exc.found_size is not None:
                found = (exc.found_sha256, exc.found_size)
            raise self._integrity_error(exc.location, found) from exc
        write_atomically(cached, data)
        return cached, data

    def _integrity_error(
        self, where: str, found: tuple[str, int] | None
    ) -> TrainingSetIntegrityError:
        """The error for data missing at ``where`` (``found`` None) or other bytes there."""
        record = self.record
        backup = "the repository" if record.storage_key is None else "the artifact store"
        fix = (
            f"restore the file from a backup of {backup}, or build the training set again "
            f"and save it under a new name"
        )
        if found is None:
            problem = "is missing (moved or deleted since it was saved)"
        else:
            saved = f"sha256 {record.data_sha256[:12]}" + (
                "" if record.size_bytes is None else f", {record.size_bytes} bytes"
            )
            problem = (
                f"changed since it was saved (sha256 {found[0][:12]}, {found[1]} bytes; saved "
                f"as {saved}), so it is refused"
            )
        return TrainingSetIntegrityError(
            f"training set {self.name!r}: its data at {where} {problem}; {fix}",
            name=self.name,
            location=where,
        )

    def _repository_file(self) -> Path:
        assert self.record.storage_path is not None  # the registry's CHECK: key or path
        return self.repo_root / self.record.storage_path


def fingerprint_manifest(job: RetrievalJob, versions: dict[str, tuple[int, str]]) -> dict[str, Any]:
    """The canonical description of what a training set was built from."""
    import pyarrow as pa

    entities = job.entity_table()
    entities = entities.drop_columns([ROW_COLUMN]).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, entities.schema) as writer:
        writer.write_table(entities)
    features = []
    for requested in job.requested:
        version, digest = versions[requested.view.name]
        for field, column in zip(requested.features, requested.outputs, strict=True):
            features.append(
                {
                    "ref": f"{requested.view.name}:{field.name}",
                    "column": column,
                    "view_version": version,
                    "view_hash": digest,
                }
            )
    return {
        "features": sorted(features, key=lambda f: f["ref"]),
        "entity_table_sha256": hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest(),
        "entity_rows": entities.num_rows,
        "point_in_time": {
            "semantics": JOIN_SEMANTICS,
            "full_feature_names": job.full_feature_names,
            "timestamp_column": "event_timestamp",
        },
    }


def save_training_set(
    job: RetrievalJob,
    name: str,
    *,
    project: str,
    registry: Registry,
    files: FileStore,
    repo_root: Path,
    validations: Sequence[NewValidationRun] = (),
) -> TrainingSet:
    """Write a job's result to the artifact store and record it, with the validation runs of
    its views' data; an identical save returns the existing set.

    Args:
        files: the artifact store (``FeatureStore.artifact_store``).
        repo_root: the checkout whose ``data/.cache/training_sets`` keeps the local copy the
            statistics are computed over (and later reads reuse).

    Raises:
        RequestError: a bad name, or a view changed in the registry since the job was built.
        RegistryError: the name is taken by a training set built from other inputs, or the
            artifact store cannot be written; then nothing is recorded and no file is left.
    """
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise RequestError(
            f"training set name {name!r} is not valid; use letters, digits, '_' and '-'"
        )
    versions: dict[str, tuple[int, str]] = {}
    for view in job.requested_views:
        history = registry.catalog.feature_view_versions(project, view.name)
        match = [v for v in history if v.content_hash == view.content_hash]
        if not match:
            raise RequestError(
                f"feature view {view.name!r} changed in the registry since this job was built; "
                f"build the job again"
            )
        assert match[-1].version is not None
        versions[view.name] = (match[-1].version, view.content_hash)
    manifest = fingerprint_manifest(job, versions)
    fingerprint = hashlib.sha256(canonical_json(manifest).encode("ascii")).hexdigest()
    existing = registry.training_sets.find_same(project, name, fingerprint)
    if existing is not None:
        return TrainingSet(existing, files, repo_root)
    # Written locally first: the engine streams the result into a file, statistics are
    # computed over it, and it becomes the cached copy once the set is recorded.
    temporary = repo_root / CACHE_FOLDER / f".{name}.{uuid.uuid4().hex}.partial.parquet"
    try:
        job.to_parquet(temporary)
        data = temporary.read_bytes()
        record = registry.training_sets.record(
            project,
            name=name,
            fingerprint=fingerprint,
            data=data,
            files=files,
            row_count=job.entities.table.num_rows,
            schema=_schema(temporary),
            statistics=_statistics(job, temporary),
            manifest=manifest,
            entity_time_min=_time(job.entities.min_ts_us),
            entity_time_max=_time(job.entities.max_ts_us),
            features=[
                TrainingSetFeature(r.view.name, versions[r.view.name][0], f.name, column)
                for r in job.requested
                for f, column in zip(r.features, r.outputs, strict=True)
            ],
            validations=validations,
        )
        # Another process may have saved the same set first: then its bytes are the ones
        # recorded, and this file is not their copy.
        if record.data_sha256 == hashlib.sha256(data).hexdigest():
            temporary.replace(cache_path(repo_root, record.data_sha256))
    finally:
        temporary.unlink(missing_ok=True)
    return TrainingSet(record, files, repo_root)


def _time(us: int | None) -> datetime | None:
    return None if us is None else from_micros(us)


def _schema(path: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    return {f.name: str(f.type) for f in pq.read_schema(path)}


def _statistics(job: RetrievalJob, path: Path) -> dict[str, Any]:
    """Per feature column: the statistics every window of a view or of the predictions log
    gets (:func:`store.offline.statistics.compute_statistics`), over the whole set."""
    columns = [
        (column, field.dtype)
        for requested in job.requested
        for field, column in zip(requested.features, requested.outputs, strict=True)
    ]
    (whole,) = compute_statistics(
        job.engine, SourceTable("__silage_training_set", (str(path),)), columns
    )
    plain: dict[str, Any] = json.loads(json.dumps(whole.columns, default=str))
    return plain
