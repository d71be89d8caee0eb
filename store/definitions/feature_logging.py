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
    """A folder of Parquet files; relative paths start at the repository root.

    ``s3_endpoint_override`` and ``partition_by`` are Feast's arguments: accepted for a
    Feast repository, but only local folders are written (an S3 endpoint is refused, and
    files are always partitioned by service and day).
    """

    path: str
    s3_endpoint_override: str = ""
    partition_by: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, str | Path) or not str(self.path):
            raise DefinitionError(
                f"FileLoggingDestination: path must be a folder such as 'data/feature_logs', "
                f"got {self.path!r}"
            )
        path = PurePosixPath(Path(self.path).as_posix()).as_posix()
        if "://" in path or self.s3_endpoint_override:
            raise DefinitionError(
                f"FileLoggingDestination {path!r}: only local folders are supported; give a "
                f"path such as 'data/feature_logs'"
            )
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "partition_by", None)

    def resolve_path(self, repo_root: Path) -> Path:
        """The absolute folder, a relative path taken from ``repo_root``."""
        path = Path(self.path)
        return path if path.is_absolute() else repo_root / path

    def to_spec(self) -> dict[str, Any]:
        return {"type": "file", "path": self.path}


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
        return cls(
            destination=FileLoggingDestination(path=spec["destination"]["path"]),
            sample_rate=spec["sample_rate"],
        )
