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
day served), each written to a hidden temporary file, fsynced and renamed into place, so a
reader never sees half a file. :meth:`FeatureLogger.read` flushes, then reads a service's
files back as one table.

Sampling is per request and deterministic: a request is logged when the first 8 bytes of
the sha256 of its id, read as a fraction of 2**64, fall below the rate. A rate of 1 logs
every request, 0 none; a given id always gets the same answer, in every process.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from store.definitions.feature_service import FeatureService
from store.errors import RequestError
from store.online.read import OnlineResponse

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["FeatureLogger", "is_sampled"]

LOG_TIMESTAMP = "__log_timestamp"
REQUEST_ID = "__request_id"


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
    folder: Path
    request_id: str
    served_at: datetime
    entities: Mapping[str, list[Any]]
    response: OnlineResponse


class FeatureLogger:
    """Buffers the sampled reads of logged feature services and writes them as Parquet.

    Args:
        repo_root: where relative destination paths start.
        flush_seconds: how long rows may wait in memory before they are written.
        max_rows: write sooner when this many rows wait.
    """

    def __init__(self, repo_root: Path, *, flush_seconds: float = 1.0, max_rows: int = 10_000):
        self._root = repo_root
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
            folder=config.destination.resolve_path(self._root) / service.name,
            request_id=found,
            served_at=datetime.now(UTC),
            entities=response.entities,
            response=response,
        )
        rows = len(next(iter(response.entities.values()), []))
        with self._lock:
            self._pending.append(entry)
            self._rows += rows
            full = self._rows >= self._max_rows
            if self._thread is None and not self._closed:
                self._start()
        if full:
            self._wake.set()
        return found

    def flush(self) -> list[Path]:
        """Write every buffered row now; returns the files written."""
        with self._writing:
            with self._lock:
                pending, self._pending, self._rows = self._pending, [], 0
            groups: dict[tuple[Path, str], list[_Entry]] = {}
            for entry in pending:
                day = entry.served_at.strftime("%Y-%m-%d")
                groups.setdefault((entry.folder, day), []).append(entry)
            return [_write(folder / day, entries) for (folder, day), entries in groups.items()]

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
        import pyarrow.parquet as pq

        self.flush()
        config = service.logging_config
        if config is None:
            raise RequestError(
                f"feature service {service.name!r} has no logging_config; declare it with "
                f"logging_config=LoggingConfig(destination=FileLoggingDestination(path=...)) "
                f"and apply"
            )
        folder = config.destination.resolve_path(self._root) / service.name
        tables = []
        for day in sorted(p for p in folder.glob("*") if p.is_dir()) if folder.exists() else []:
            if not _day_in(day.name, start, end):
                continue
            tables += [pq.read_table(f) for f in sorted(day.glob("*.parquet"))]
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
            self.flush()


def _write(folder: Path, entries: list[_Entry]) -> Path:
    """One Parquet file of ``entries``, written atomically into ``folder``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([_table(e) for e in entries], promote_options="default")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = entries[0].served_at.strftime("%H%M%S%fZ")
    target = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.parquet"
    temporary = folder / f".{target.name}.tmp"
    try:
        with open(temporary, "wb") as handle:
            pq.write_table(table, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


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
