"""Feature logging: what a feature service served, kept as Parquet (Feast's names).

A :class:`FeatureService` declared with ``logging_config=LoggingConfig(...)`` has every
sampled online read of it logged (by ``get_online_features`` with the service, over HTTP
too): the entity keys and request values given, each feature's value, status and event
time, on-demand outputs, the time and a request id. Rows go to Parquet files under the
destination's folder; ``FeatureStore.read_feature_logs`` reads them back as one table.

Sampling is by request, not by row, and deterministic: a request is logged when a hash of
its id falls below ``sample_rate``, so a request's rows are all kept or all dropped, and
the same id always gets the same answer.

Example:
    >>> config = LoggingConfig(destination=FileLoggingDestination(path="data/logs"),
    ...                        sample_rate=0.25)
    >>> config.to_spec()
    {'destination': {'type': 'file', 'path': 'data/logs'}, 'sample_rate': 0.25}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from store.errors import DefinitionError

__all__ = ["FileLoggingDestination", "LoggingConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FileLoggingDestination:
    """A folder of Parquet files: a local folder (relative paths start at the repository
    root) or, for serving processes on several hosts, ``s3://bucket/prefix`` on S3 or an
    S3-compatible server (``s3_endpoint_override="http://minio:9000"``, Feast's argument).

    When the artifact store is in S3 too, its ``storage_options`` in feature_store.yaml
    (credentials, and ``endpoint_url`` unless ``s3_endpoint_override`` is given) serve the
    logs as well: one object store per team. Otherwise the usual AWS environment applies
    (``AWS_ACCESS_KEY_ID``...). ``partition_by`` is Feast's argument, accepted and
    ignored: files are always partitioned by service and UTC day.
    """

    path: str
    s3_endpoint_override: str = ""
    partition_by: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, str | Path) or not str(self.path):
            raise DefinitionError(
                f"FileLoggingDestination: path must be a folder such as 'data/feature_logs' "
                f"or 's3://bucket/feature_logs', got {self.path!r}"
            )
        text = str(self.path)
        if isinstance(self.path, Path) and text.startswith("s3:"):
            raise DefinitionError(
                f"FileLoggingDestination {text!r}: a Path cannot hold a URI (it drops a "
                f"slash); give the S3 URI as a string, e.g. path='s3://bucket/feature_logs'"
            )
        if "://" in text:
            scheme, _, rest = text.partition("://")
            if scheme != "s3" or not rest.strip("/"):
                raise DefinitionError(
                    f"FileLoggingDestination {text!r}: give a local folder such as "
                    f"'data/feature_logs' or an S3 URI such as 's3://bucket/feature_logs'"
                )
            path = f"s3://{rest.strip('/')}"
        else:
            if self.s3_endpoint_override:
                raise DefinitionError(
                    f"FileLoggingDestination {text!r}: s3_endpoint_override is for s3:// "
                    f"paths; give path='s3://bucket/feature_logs' or drop the override"
                )
            path = PurePosixPath(Path(text).as_posix()).as_posix()
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "partition_by", None)

    @property
    def is_remote(self) -> bool:
        """Whether the logs go to object storage (``s3://``) rather than a local folder."""
        return self.path.startswith("s3://")

    def resolve_path(self, repo_root: Path) -> Path:
        """The absolute local folder, a relative path taken from ``repo_root``."""
        if self.is_remote:
            raise ValueError(f"{self.path} is not a local folder")
        path = Path(self.path)
        return path if path.is_absolute() else repo_root / path

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": "file", "path": self.path}
        if self.s3_endpoint_override:
            spec["s3_endpoint_override"] = self.s3_endpoint_override
        return spec


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggingConfig:
    """Log what a feature service serves: ``LoggingConfig(destination=..., sample_rate=...)``.

    Args:
        destination: where the logs go (a :class:`FileLoggingDestination`).
        sample_rate: the share of requests logged, from 0 (none) to 1 (all, the default).
    """

    destination: FileLoggingDestination
    sample_rate: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.destination, FileLoggingDestination):
            raise DefinitionError(
                f"LoggingConfig: destination must be a FileLoggingDestination(path=...), "
                f"got {self.destination!r}"
            )
        rate = self.sample_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise DefinitionError(
                f"LoggingConfig: sample_rate={rate!r}; give a share of requests from 0 to 1, "
                f"e.g. sample_rate=0.1 to log one request in ten"
            )
        object.__setattr__(self, "sample_rate", float(rate))

    def to_spec(self) -> dict[str, Any]:
        return {"destination": self.destination.to_spec(), "sample_rate": self.sample_rate}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> LoggingConfig:
        destination = spec["destination"]
        return cls(
            destination=FileLoggingDestination(
                path=destination["path"],
                s3_endpoint_override=destination.get("s3_endpoint_override", ""),
            ),
            sample_rate=spec["sample_rate"],
        )
