"""Feature-service logging: what ``get_online_features`` served, kept as Parquet.

A feature service declared with ``logging_config=LoggingConfig(...)`` has its sampled
online reads logged, one row per entity row served:

- the entity rows' columns as given (join keys and request values);
- per served feature (stored or on-demand, under the name it was served as): its value,
  ``<name>__status`` and ``<name>__timestamp`` (the value's event time, UTC);
- ``__log_timestamp`` (when it was served, UTC) and ``__request_id``.

Reads never wait for the disk: :meth:`FeatureLogger.log` decides the sample and appends a
reference to the response to an in-memory buffer; a background thread turns the buffer
into Arrow and writes it, every ``flush_seconds`` or sooner when ``max_rows`` rows wait.
Files go to ``<destination>/<service>/<YYYY-MM-DD>/<time>-<random>.parquet`` (by the UTC
day served). In a local folder each is written to a hidden temporary file, fsynced and
renamed into place; in S3 (``s3://bucket/prefix``, for serving processes on several hosts)
each is one PUT, which S3 makes visible whole or not at all. Either way a reader never sees
half a file, and files from every process read back as one table:
:meth:`FeatureLogger.read` flushes, then reads a service's files.

A write that fails (a full disk, an unreachable bucket) puts its rows back in the buffer;
the background writer warns and tries again at its next turn, and :meth:`FeatureLogger.read`
and :meth:`FeatureLogger.flush` raise :class:`~store.errors.FeatureLogError` naming the
destination.

Sampling is per request and deterministic: a request is logged when the first 8 bytes of
the sha256 of its id, read as a fraction of 2**64, fall below the rate. A rate of 1 logs
every request, 0 none; a given id always gets the same answer, in every process.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import logging
import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from store.definitions.feature_logging import FileLoggingDestination
from store.definitions.feature_service import FeatureService
from store.errors import FeatureLogError, RequestError
from store.online.read import OnlineResponse

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["FeatureLogger", "is_sampled"]

LOG_TIMESTAMP = "__log_timestamp"
REQUEST_ID = "__request_id"

_log = logging.getLogger(__name__)


def is_sampled(request_id: str, rate: float) -> bool:
    """Whether the request ``request_id`` is logged at ``rate`` (deterministic).

    Example:
        >>> is_sampled("any", 1.0), is_sampled("any", 0.0)
        (True, False)
    """
    digest = hashlib.sha256(request_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


@dataclass(frozen=True, slots=True)
class _Entry:
    """One logged request, as served: converted to Arrow only when flushed."""

    service: str
    destination: FileLoggingDestination
    request_id: str
    served_at: datetime
    entities: Mapping[str, list[Any]]
    response: OnlineResponse


class FeatureLogger:
    """Buffers the sampled reads of logged feature services and writes them as Parquet.

    Args:
        repo_root: where relative destination paths start.
        storage_options: options for the S3 filesystem library (s3fs) of ``s3://``
            destinations, such as ``key``, ``secret`` and ``endpoint_url``; a destination's
            ``s3_endpoint_override`` wins over ``endpoint_url``.
        flush_seconds: how long rows may wait in memory before they are written.
        max_rows: write sooner when this many rows wait.
    """

    def __init__(
        self,
        repo_root: Path,
        *,
        storage_options: Mapping[str, Any] | None = None,
        flush_seconds: float = 1.0,
        max_rows: int = 10_000,
    ):
        self._root = repo_root
        self._storage_options = dict(storage_options or {})
        self._folders: dict[tuple[FileLoggingDestination, str], _Folder] = {}
        self._flush_seconds = flush_seconds
        self._max_rows = max_rows
        self._pending: list[_Entry] = []
        self._rows = 0
        self._lock = threading.Lock()  # guards the buffer
        self._writing = threading.Lock()  # one flush at a time, so files never interleave
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def log(
        self,
        service: FeatureService,
        response: OnlineResponse,
        request_id: str | None = None,
    ) -> str | None:
        """Buffer one served response of ``service`` when its request is sampled.

        Returns:
            The request id, or None when the service does not log.
        """
        config = service.logging_config
        if config is None:
            return None
        found = request_id or uuid.uuid4().hex
        if not is_sampled(found, config.sample_rate):
            return found
        entry = _Entry(
            service=service.name,
            destination=config.destination,
            request_id=found,
            served_at=datetime.now(UTC),
            entities=response.entities,
            response=response,
        )
        rows = _row_count(entry)
        with self._lock:
            self._pending.append(entry)
            self._rows += rows
            full = self._rows >= self._max_rows
            if self._thread is None and not self._closed:
                self._start()
        if full:
            self._wake.set()
        return found

    def flush(self) -> list[str]:
        """Write every buffered row now; returns where the files went.

        Raises:
            FeatureLogError: a destination could not be written; its rows (and those of
                destinations not tried yet) are back in the buffer for the next flush.
        """
        with self._writing:
            with self._lock:
                pending, self._pending, self._rows = self._pending, [], 0
            groups: dict[tuple[FileLoggingDestination, str, str], list[_Entry]] = {}
            for entry in pending:
                day = entry.served_at.strftime("%Y-%m-%d")
                groups.setdefault((entry.destination, entry.service, day), []).append(entry)
            written: list[str] = []
            for done, ((destination, service, day), entries) in enumerate(groups.items()):
                folder = self._folder(destination, service)
                try:
                    written.append(_write(folder, day, entries))
                except (OSError, ValueError) as exc:
                    left = [e for group in list(groups.values())[done:] for e in group]
                    with self._lock:
                        self._pending[:0] = left
                        self._rows += sum(_row_count(e) for e in left)
                    raise FeatureLogError(
                        f"cannot write the log of feature service {service!r} to "
                        f"{folder.location}: {exc}; its rows wait in memory for the next "
                        f"write. Check that the destination exists and is writable "
                        f"(for s3:// its bucket, credentials and s3_endpoint_override)"
                    ) from exc
            return written

    def read(
        self,
        service: FeatureService,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.DataFrame:
        """Every logged row of ``service`` served in ``[start, end]`` (UTC; None: unbounded),
        oldest first, as one table; buffered rows are written first."""
        import pandas as pd
        import pyarrow as pa

        self.flush()
        config = service.logging_config
        if config is None:
            raise RequestError(
                f"feature service {service.name!r} has no logging_config; declare it with "
                f"logging_config=LoggingConfig(destination=FileLoggingDestination(path=...)) "
                f"and apply"
            )
        folder = self._folder(config.destination, service.name)
        tables = []
        try:
            for day in folder.days():
                if _day_in(day, start, end):
                    tables += folder.read_day(day)
        except OSError as exc:
            raise FeatureLogError(
                f"cannot read the log of feature service {service.name!r} from "
                f"{folder.location}: {exc}"
            ) from exc
        if not tables:
            return pd.DataFrame({REQUEST_ID: [], LOG_TIMESTAMP: []})
        table = pa.concat_tables(tables, promote_options="default")
        frame = table.to_pandas()
        times = frame[LOG_TIMESTAMP]
        keep = pd.Series(True, index=frame.index)
        if start is not None:
            keep &= times >= pd.Timestamp(start)
        if end is not None:
            keep &= times <= pd.Timestamp(end)
        result: pd.DataFrame = frame[keep].sort_values(LOG_TIMESTAMP, kind="stable")
        return result.reset_index(drop=True)

    def _folder(self, destination: FileLoggingDestination, service: str) -> _Folder:
        key = (destination, service)
        found = self._folders.get(key)
        if found is None:
            if destination.is_remote:
                options = dict(self._storage_options)
                if destination.s3_endpoint_override:
                    options["endpoint_url"] = destination.s3_endpoint_override
                found = _ObjectFolder(f"{destination.path}/{service}", options)
            else:
                found = _LocalFolder(destination.resolve_path(self._root) / service)
            self._folders[key] = found
        return found

    def close(self) -> None:
        """Stop the background writer and write what is buffered."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._wake.set()
            thread.join()
            atexit.unregister(self.flush)
        self.flush()

    def _start(self) -> None:
        """Start the writer thread (the caller holds the buffer lock)."""
        self._thread = threading.Thread(target=self._run, name="silage-feature-log", daemon=True)
        self._thread.start()
        atexit.register(self.flush)  # a daemon thread dies at exit: write what is left

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            with self._lock:
                closed = self._closed
            if closed:
                return  # close() writes the rest
            try:
                self.flush()
            except FeatureLogError as exc:
                _log.warning("%s", exc)  # the rows are back in the buffer: tried again later


class _Folder(Protocol):
    """One service's log files: a folder per UTC day, Parquet files inside."""

    location: str

    def write(self, day: str, name: str, data: bytes) -> str:
        """Make ``<day>/<name>`` visible with ``data``, whole or not at all."""
        ...

    def days(self) -> list[str]:
        """The day folders there are, oldest first."""
        ...

    def read_day(self, day: str) -> list[pa.Table]:
        """The files of one day, in name order (time written)."""
        ...


class _LocalFolder:
    """A folder on this machine: temporary file, fsync, rename."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)

    def write(self, day: str, name: str, data: bytes) -> str:
        folder = self.path / day
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        temporary = folder / f".{name}.tmp"
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return str(target)

    def days(self) -> list[str]:
        if not self.path.exists():
            return []
        return sorted(p.name for p in self.path.iterdir() if p.is_dir())

    def read_day(self, day: str) -> list[pa.Table]:
        import pyarrow.parquet as pq

        return [pq.read_table(f) for f in sorted((self.path / day).glob("*.parquet"))]


class _ObjectFolder:
    """A prefix in S3 (or an S3-compatible server) through fsspec/s3fs: one PUT per file.

    Listings are never cached: files written by other processes must be seen at once.
    """

    def __init__(self, uri: str, storage_options: Mapping[str, Any]) -> None:
        try:
            import fsspec

            self._fs = fsspec.filesystem(
                "s3", skip_instance_cache=True, use_listings_cache=False, **storage_options
            )
        except ImportError as exc:
            raise FeatureLogError(
                f"feature log destination {uri!r} needs s3fs: pip install 'silage[s3]'"
            ) from exc
        self.location = uri
        self._root = uri.removeprefix("s3://")

    def write(self, day: str, name: str, data: bytes) -> str:
        key = f"{self._root}/{day}/{name}"
        self._fs.pipe_file(key, data)
        return f"s3://{key}"

    def days(self) -> list[str]:
        try:
            found = self._fs.ls(self._root, detail=True)
        except FileNotFoundError:
            return []
        return sorted(
            str(f["name"]).rsplit("/", 1)[-1] for f in found if f.get("type") == "directory"
        )

    def read_day(self, day: str) -> list[pa.Table]:
        import pyarrow.parquet as pq

        try:
            files = self._fs.ls(f"{self._root}/{day}", detail=False)
        except FileNotFoundError:
            return []
        names = sorted(str(f) for f in files if str(f).endswith(".parquet"))
        return [pq.read_table(io.BytesIO(self._fs.cat_file(f))) for f in names]


def _write(folder: _Folder, day: str, entries: list[_Entry]) -> str:
    """One Parquet file of ``entries`` in ``folder``'s ``day``; returns where it went."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([_table(e) for e in entries], promote_options="default")
    stamp = entries[0].served_at.strftime("%H%M%S%fZ")
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return folder.write(day, f"{stamp}-{uuid.uuid4().hex[:8]}.parquet", buffer.getvalue())


def _row_count(entry: _Entry) -> int:
    return len(next(iter(entry.entities.values()), []))


def _table(entry: _Entry) -> pa.Table:
    """One request's rows: entity columns, then per feature its value, status and time."""
    import pyarrow as pa

    response = entry.response
    columns: dict[str, pa.Array] = {}
    for name, values in entry.entities.items():
        columns[name] = _array(values)
    count = len(next(iter(entry.entities.values()), []))
    stamps = response.event_timestamps
    for name, values in response.features.items():
        columns[name] = _array(values)
        columns[f"{name}__status"] = pa.array(response.statuses[name], pa.string())
        columns[f"{name}__timestamp"] = pa.array(stamps[name], pa.timestamp("us", tz="UTC"))
    columns[LOG_TIMESTAMP] = pa.array([entry.served_at] * count, pa.timestamp("us", tz="UTC"))
    columns[REQUEST_ID] = pa.array([entry.request_id] * count, pa.string())
    return pa.table(columns)


def _array(values: list[Any]) -> pa.Array:
    """Values as Arrow; what Arrow cannot type (mixed kinds) is kept as text."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def _day_in(name: str, start: datetime | None, end: datetime | None) -> bool:
    """Whether the day folder ``name`` (``YYYY-MM-DD``) can hold rows in ``[start, end]``."""
    try:
        day = datetime.strptime(name, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return False
    if start is not None and day + timedelta(days=1) <= start:
        return False
    return not (end is not None and day > end)
