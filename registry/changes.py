"""The change counter: how serving processes learn that the registry changed.

Every write transaction (apply, register, alias move, deploy, promote, rollback, card
edit, monitoring record...) adds one to a single counter row in the same transaction, so
the count moves exactly when a write commits and never for one that rolled back. Reading
it is one primary-key lookup, cheap enough to poll every second from each serving process:
when the number differs from the one seen last, cached definitions and deployments are
stale. Feast's SQL registry instead caches for ``cache_ttl_seconds`` (600 by default), so a
deploy can take ten minutes to reach a replica.

Example:
    >>> from registry import Registry
    >>> reg = Registry("sqlite://")
    >>> watcher = reg.watch(interval_seconds=0)
    >>> watcher.changed()
    False
    >>> _ = reg.catalog.apply("demo", [], delete_missing=True)
    >>> watcher.changed(), watcher.changed()
    (True, False)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from registry.database import Database
from registry.tables import RegistryChangesRow

__all__ = ["ChangeWatcher", "change_count"]


def change_count(db: Database) -> int:
    """How many write transactions the registry has committed (since revision 0008)."""
    # A plain connection, no ORM session: this runs every second in every serving process.
    with db.engine.connect() as conn:
        count: int = conn.execute(_COUNT).scalar_one()
        return count


_COUNT = select(RegistryChangesRow.changes).where(RegistryChangesRow.id == 1)


class ChangeWatcher:
    """Polls the change counter at most once per ``interval_seconds``.

    :meth:`changed` answers from memory between polls, so calling it before every request
    costs nothing; it returns True once for each poll that found a new count.

    Args:
        read_count: returns the current count (``Registry.change_count``).
        interval_seconds: the longest a change goes unseen (plus the poll's own time).
        clock: monotonic seconds; replaceable in tests.
    """

    def __init__(
        self,
        read_count: Callable[[], int],
        *,
        interval_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval_seconds < 0:
            raise ValueError(f"interval_seconds is {interval_seconds}; give 0 or more")
        self._read = read_count
        self._interval = interval_seconds
        self._clock = clock
        self.seen = read_count()
        self._polled_at = clock()

    def changed(self) -> bool:
        """True when a poll due now finds a count other than the one seen last."""
        now = self._clock()
        if now - self._polled_at < self._interval:
            return False
        self._polled_at = now
        count = self._read()
        if count == self.seen:
            return False
        self.seen = count
        return True
