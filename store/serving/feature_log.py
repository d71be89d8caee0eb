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

A write that fails (a full disk, an unreachable bucket, expired credentials) puts its rows
back at the front of the buffer; the background writer warns once and tries again, waiting
twice as long after each failure (up to a minute), and keeps at most
``max_buffered_rows`` rows meanwhile (dropping the oldest, counted in a warning), so a
broken destination costs a serving process bounded memory and no request waits on it.
:meth:`FeatureLogger.read` and :meth:`FeatureLogger.flush` raise
:class:`~store.errors.FeatureLogError` naming the destination. A write that reached S3 but
whose answer was lost is written again under another name: such a request appears twice,
with one ``__request_id``. What is buffered at interpreter exit is written then (close the
store to be sure: a killed process loses up to ``flush_seconds`` of rows).

Sampling is per request and deterministic: a request is logged when the first 8 bytes of
the sha256 of its id, read as a fraction of 2**64, fall below the rate. A rate of 1 logs
every request, 0 none; a given id always gets the same answer, in every process.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import io
import logging
import threading
import uuid
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from registry.storage.local import write_atomically
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
        max_buffered_rows: while writes fail, keep at most this many rows; beyond it the
            oldest requests are dropped (and counted in a warning), so an unwritable
            destination cannot take a serving process's memory.
    """

    def __init__(
        self,
        repo_root: Path,
        *,
        storage_options: Mapping[str, Any] | None = None,
        flush_seconds: float = 1.0,
        max_rows: int = 10_000,
        max_buffered_rows: int = 200_000,
    ):
        self._root = repo_root
        self._storage_options = dict(storage_options or {})
        self._folders: dict[tuple[FileLoggingDestination, str], _Folder] = {}
        self._flush_seconds = flush_seconds
        self._max_rows = max_rows
        self._max_buffered_rows = max_buffered_rows
        self._pending: deque[_Entry] = deque()  # oldest first; dropped from the left
        self._rows = 0
        self._dropped = 0  # rows dropped since the last warning
        self._failures = 0  # failed background flushes in a row
        self._lock = threading.Lock()  # guards the buffer and the counters
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
            while self._rows > self._max_buffered_rows and len(self._pending) > 1:
                dropped = self._pending.popleft()  # the oldest request goes first
                self._rows -= _row_count(dropped)
                self._dropped += _row_count(dropped)
            # While writes fail the writer retries on its own schedule, not per request.
            full = self._rows >= self._max_rows and not self._failures
            if self._thread is None and not self._closed:
                self._start()
        if full:
            self._wake.set()
        return found

    def flush(self, service: str | None = None) -> list[str]:
        """Write the buffered rows now (of ``service`` only, when given); returns where the
        files went.

        Every destination is tried: one that cannot be written does not hold up the others.

        Raises:
            FeatureLogError: some destinations could not be written, each named; their rows
                are back at the front of the buffer, to be tried again.
        """
        with self._writing:
            with self._lock:
                taken: list[_Entry] = []
                kept: deque[_Entry] = deque()
                for entry in self._pending:
                    (taken if service in (None, entry.service) else kept).append(entry)
                self._pending = kept
                self._rows -= sum(_row_count(e) for e in taken)
            groups: dict[tuple[FileLoggingDestination, str, str], list[_Entry]] = {}
            for entry in taken:
                day = entry.served_at.strftime("%Y-%m-%d")
                groups.setdefault((entry.destination, entry.service, day), []).append(entry)
            written: list[str] = []
            failed: list[_Entry] = []
            problems: list[str] = []
            for (destination, name, day), group in groups.items():
                data, entries = _encoded(name, group)
                if data is None:
                    continue
                try:
                    folder = self._folder(destination, name)
                    written.append(folder.write(day, _file_name(entries), data))
                except Exception as exc:  # botocore's errors are not OSErrors
                    failed += entries
                    where = self._location(destination, name)
                    problems.append(f"{name!r} to {where}: {type(exc).__name__}: {exc}")
            if failed:
                with self._lock:
                    self._pending.extendleft(reversed(failed))
                    self._rows += sum(_row_count(e) for e in failed)
                raise FeatureLogError(
                    f"cannot write the log of feature service {'; '.join(problems)}; "
                    f"{sum(_row_count(e) for e in failed)} rows not written. Check that the "
                    f"destination exists and is writable (for s3:// its bucket, credentials "
                    f"and s3_endpoint_override)"
                )
            return written

    def _location(self, destination: FileLoggingDestination, service: str) -> str:
        """Where ``service``'s files go, for messages."""
        if destination.is_remote:
            return f"{destination.path}/{service}"
        return str(destination.resolve_path(self._root) / service)

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

        config = service.logging_config
        if config is None:
            raise RequestError(
                f"feature service {service.name!r} has no logging_config; declare it with "
                f"logging_config=LoggingConfig(destination=FileLoggingDestination(path=...)) "
                f"and apply"
            )
        self.flush(service.name)
        tables = []
        try:
            folder = self._folder(config.destination, service.name)
            for day in folder.days():
                if _day_in(day, start, end):
                    tables += folder.read_day(day)
        except Exception as exc:  # botocore's and Arrow's errors are not OSErrors
            raise FeatureLogError(
                f"cannot read the log of feature service {service.name!r} from "
                f"{self._location(config.destination, service.name)}: "
                f"{type(exc).__name__}: {exc}; check that the "
                f"destination exists and is readable (for s3:// its bucket, credentials and "
                f"s3_endpoint_override)"
            ) from exc
        if not tables:
            return pd.DataFrame({REQUEST_ID: [], LOG_TIMESTAMP: []})
        table = pa.concat_tables(tables, promote_options="permissive")
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
        """Stop the background writer and write what is buffered.

        Raises:
            FeatureLogError: what was buffered could not be written (it is lost).
        """
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._wake.set()
            thread.join()
        try:
            self.flush()
        except FeatureLogError as exc:
            raise FeatureLogError(f"{exc} (closing: those rows are lost)") from exc

    def _start(self) -> None:
        """Start the writer thread (the caller holds the buffer lock), and have what is left
        written when the interpreter exits: a daemon thread just stops there."""
        self._thread = threading.Thread(target=self._run, name="silage-feature-log", daemon=True)
        self._thread.start()
        _flush_at_exit(self)

    def _run(self) -> None:
        while True:
            with self._lock:
                failures = self._failures
            # After failures, wait longer each time (up to a minute) before trying again.
            backoff = min(self._flush_seconds * 2 ** min(failures, 10), 60.0)
            self._wake.wait(max(self._flush_seconds, backoff))
            self._wake.clear()
            with self._lock:
                closed, dropped, self._dropped = self._closed, self._dropped, 0
            if closed:
                return  # close() writes the rest
            if dropped:
                _log.warning(
                    "feature logs: %d rows dropped (the oldest) while writes failed; at most "
                    "%d rows are kept in memory",
                    dropped,
                    self._max_buffered_rows,
                )
            try:
                self.flush()
            except Exception as exc:  # the rows are back in the buffer: tried again later
                with self._lock:
                    self._failures += 1
                    first = self._failures == 1
                if first:  # once per run of failures, not once per retry
                    _log.warning("%s; kept in memory and tried again", exc)
            else:
                with self._lock:
                    recovered, self._failures = self._failures, 0
                if recovered:
                    _log.warning("feature logs written again after %d failed tries", recovered)


_OPEN: weakref.WeakSet[FeatureLogger] = weakref.WeakSet()
_EXIT_HOOK = threading.Lock()


def _flush_at_exit(logger: FeatureLogger) -> None:
    """Have ``logger``'s buffer written when the interpreter exits, unless it was closed.

    One hook for all loggers, run among ``threading``'s exit hooks, before those of
    ``concurrent.futures`` (registered earlier, run later): s3fs resolves names on that
    pool, which refuses work once its own hook has run, so a plain ``atexit`` hook would
    lose the last rows written to S3. A logger is held weakly here (its writer thread
    holds it until :meth:`FeatureLogger.close`).
    """
    _OPEN.add(logger)
    with _EXIT_HOOK:
        _register_exit_hook()


@functools.cache
def _register_exit_hook() -> None:
    import concurrent.futures.thread  # noqa: F401  (registers its exit hook first)

    register = getattr(threading, "_register_atexit", None)
    try:
        if register is None:
            raise RuntimeError  # not CPython's threading: the plain hook below
        register(_flush_all)
    except RuntimeError:
        atexit.register(_flush_all)


def _flush_all() -> None:
    for logger in list(_OPEN):
        if logger._closed:
            continue
        try:
            logger.flush()
        except Exception as exc:
            _log.warning("feature logs at exit: %s (the process is ending: lost)", exc)


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
        target = self.path / day / name
        write_atomically(target, data)
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
            # A misspelt bucket is an error, not "no rows": HEAD it (a missing bucket raises
            # FileNotFoundError, denied access PermissionError; only no prefix reads empty).
            bucket = self._root.split("/", 1)[0]
            try:
                self._fs.call_s3("head_bucket", Bucket=bucket)
            except FileNotFoundError:
                raise FileNotFoundError(f"bucket {bucket!r} does not exist") from None
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
        fetched = self._fs.cat(names) if names else {}  # concurrently
        return [pq.read_table(io.BytesIO(fetched[n])) for n in names]


def _encoded(service: str, entries: list[_Entry]) -> tuple[bytes | None, list[_Entry]]:
    """``entries`` as the bytes of one Parquet file, and the entries it holds. Columns of one
    name but other types in different requests (1 and 1.5 as a request value) are promoted
    to a common type; a request that cannot be (an entity key sent once as text) is
    dropped, logged, rather than the whole batch: it could never be written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    kept = []
    for entry in entries:
        try:
            tables.append(_table(entry))
            kept.append(entry)
        except Exception:
            _log.exception("feature service %r: a logged request could not be encoded", service)
    while kept:
        try:
            table = pa.concat_tables(tables, promote_options="permissive")
            break
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Drop the newest request whose columns do not fit the others', and say so.
            _log.error(
                "feature service %r: request %r dropped from the log: its columns' types "
                "do not fit the other requests' (send each value with one type)",
                service,
                kept[-1].request_id,
            )
            tables.pop()
            kept.pop()
    if not kept:
        return None, []
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue(), kept


def _file_name(entries: list[_Entry]) -> str:
    """``<time served, UTC>-<random>.parquet``: files sort by time within a day."""
    stamp = entries[0].served_at.strftime("%H%M%S%fZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}.parquet"


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
