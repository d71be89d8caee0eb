"""Freshness across serving processes: notice registry changes made elsewhere, quickly.

Each serving process caches what it looked up in the registry (a request's feature views,
layouts and ttls). With several processes (``silage serve --workers N``, or servers on
several hosts) an ``apply`` made through one, or from the command line, must reach the
others within a second or two, not after a cache ttl (Feast's SQL registry caches for up to
600 seconds). So each process polls a cheap *change token* once a second and drops its
caches when the token changes. Deployments need no polling: serving reads the live
revision on every request.

The token is the registry's change counter (:meth:`registry.Registry.change_count`), which
every committed registry write moves: one indexed read of one row.

Example:
    >>> seen = []
    >>> tokens = iter([1, 1, 2])
    >>> watcher = ChangeWatcher(lambda: next(tokens), lambda: seen.append("changed"))
    >>> watcher.check(), watcher.check(), watcher.check()
    (False, False, True)
    >>> seen
    ['changed']
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable

__all__ = ["ChangeWatcher"]

_log = logging.getLogger(__name__)


class ChangeWatcher:
    """Polls ``token`` every ``interval`` seconds in a daemon thread and calls ``on_change``
    when it differs from the last one seen (the first poll only records it).

    A failing poll (the registry briefly unreachable) is logged and retried at the next
    interval; serving goes on with what it has.
    """

    def __init__(
        self,
        token: Callable[[], Hashable],
        on_change: Callable[[], None],
        *,
        interval: float = 1.0,
    ) -> None:
        self._token = token
        self._on_change = on_change
        self.interval = interval
        self._last: Hashable | None = None
        self._started = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """Poll once; True when the token changed since the previous poll."""
        token = self._token()
        changed = self._started and token != self._last
        self._last, self._started = token, True
        if changed:
            self._on_change()
        return changed

    def start(self) -> None:
        """Record the current token, then poll in the background until :meth:`stop`."""
        self.check()
        self._thread = threading.Thread(target=self._run, name="silage-freshness", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the next poll retries; serving must not stop
                _log.warning("could not poll the registry for changes", exc_info=True)
