"""Saved training sets: a retrieval job's result on disk, fingerprinted and described.

Saving writes the job's result as Parquet under the repository's ``data/training_sets``
folder (streamed by the offline engine), hashes the file, computes per-feature statistics
(compiled by :mod:`store.offline.compiler.statistics`, run by the engine), and records
it in the registry with links to the exact feature-view versions used. The fingerprint is
the sha256 of a canonical manifest: the sorted feature references with each view's version
and content hash, a hash of every row of the entity table, and the point-in-time settings.
Same inputs, same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry import NewValidationRun, Registry, TrainingSetFeature, TrainingSetRecord
from store.definitions.spec import canonical_json
from store.epoch import from_micros
from store.errors import RequestError, StoreError
from store.offline.compiler.query import ROW_COLUMN, SourceTable
from store.offline.retrieval import RetrievalJob
from store.offline.statistics import compute_statistics

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TrainingSet", "save_training_set"]

# Bumped whenever the meaning of a point-in-time join changes, so fingerprints do too.
JOIN_SEMANTICS = 1


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """A saved training set: its registry record and where its data lives."""

    record: TrainingSetRecord
    path: Path

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def fingerprint(self) -> str:
        return self.record.fingerprint

    def to_df(self) -> pd.DataFrame:
        """Read the data back, refusing it if its bytes are not the ones recorded."""
        import io

        import pandas as pd

        return pd.read_parquet(io.BytesIO(self._verified()))

    def check(self) -> Path:
        """The data file, once its bytes are found to be the ones recorded.

        Raises:
            StoreError: the file is missing or changed since it was saved.
        """
        self._verified()
        return self.path

    def _verified(self) -> bytes:
        if not self.path.is_file():
            raise StoreError(
                f"training set {self.name!r}: its data file {self.path} is missing; restore "
                f"it, or build and save the training set again"
            )
        data = self.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self.record.data_sha256:
            raise StoreError(
                f"training set {self.name!r}: {self.path} changed since it was saved; "
                f"build and save it again"
            )
        return data


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
    repo_root: Path,
    validations: Sequence[NewValidationRun] = (),
) -> TrainingSet:
    """Write a job's result and record it, with the validation runs of its views' data; an
    identical save returns the existing set.

    Raises:
        RequestError: a bad name, or a view changed in the registry since the job was built.
        RegistryError: the name is taken by a training set built from other inputs.
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
    relative = Path("data") / "training_sets" / f"{name}.parquet"
    path = repo_root / relative
    existing = registry.training_sets.find_same(project, name, fingerprint)
    if existing is not None:
        return TrainingSet(existing, repo_root / existing.storage_path)
    temporary = path.with_name(f".{name}.partial.parquet")
    job.to_parquet(temporary)
    data = temporary.read_bytes()
    try:
        record = registry.training_sets.record(
            project,
            name=name,
            fingerprint=fingerprint,
            data_sha256=hashlib.sha256(data).hexdigest(),
            row_count=job.entities.table.num_rows,
            schema=_schema(temporary),
            statistics=_statistics(job, temporary),
            manifest=manifest,
            entity_time_min=_time(job.entities.min_ts_us),
            entity_time_max=_time(job.entities.max_ts_us),
            storage_path=relative.as_posix(),
            features=[
                TrainingSetFeature(r.view.name, versions[r.view.name][0], f.name, column)
                for r in job.requested
                for f, column in zip(r.features, r.outputs, strict=True)
            ],
            validations=validations,
        )
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(path)
    return TrainingSet(record, path)


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
