"""The online backend interface: one table per online view, the newest row per entity key.

A backend is what ``online_store: {type: ...}`` names in ``feature_store.yaml``. It keeps,
per project, a table for each online view (:class:`~store.online.layout.TableLayout`) and a
record of which layout each table was built for; it writes rows newest-wins and reads them
back by key. Everything else (which rows are newest in a window, ttl at read time, statuses,
the response's shape) is the same for every backend and lives outside it.

The rules every backend keeps, checked by the shared online conformance suite
(``tests/store/online``), which every backend runs:

- **Newest wins.** A written row replaces the stored one only when its event time is later,
  or equal with a later created time (a missing created time is older than any). Loading an
  old window after a new one never brings old values back.
- **All or nothing.** One :meth:`~OnlineBackend.write` call is one transaction: readers see
  the table as before or as after, and a writer killed midway leaves it as before. One
  :meth:`~OnlineBackend.sync_tables` call is one transaction too. Two writers queue. A
  store without multi-key transactions of the usual kind (a key-value store) complies by
  applying the rows in one atomic step on the server, out of readers' sight until then
  (Redis: calls of a script that also compares the times, queued in one MULTI ... EXEC).
- **Reads in order.** :meth:`~OnlineBackend.read` answers every key in the order given,
  repeats included.

Adding one: a module in :mod:`store.online.backends` with a class that satisfies this
protocol, and one entry in :data:`store.online.backends.BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

if TYPE_CHECKING:
    import pyarrow as pa

    from store.online.layout import OnlineTableChange, StoredTable, TableLayout
    from store.settings import Settings

__all__ = ["OnlineBackend", "StoredRow"]

#: A row as :meth:`OnlineBackend.read` returns it: the requested features' values, then the
#: row's event time in microseconds since the epoch; all None where nothing is stored.
StoredRow = tuple[Any, ...]


class OnlineBackend(Protocol):
    """Stores and serves the newest row per entity key of each online view."""

    #: The keys its ``online_store:`` section may hold besides ``type``; others are warned.
    settings_keys: ClassVar[frozenset[str]]

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The backend its ``online_store:`` section describes; opens nothing yet.

        Raises:
            ConfigError: a bad or unknown setting, naming the key and the fix.
        """
        ...

    def tables(self, project: str) -> dict[str, StoredTable]:
        """The project's tables by view, as last synced; empty for a new store."""
        ...

    def sync_tables(
        self,
        project: str,
        layouts: Sequence[TableLayout],
        *,
        drop_missing: bool,
        drop: Collection[str] = (),
    ) -> list[OnlineTableChange]:
        """Create the tables of new ``layouts``, rebuild (empty) those whose layout changed,
        and drop those of the views in ``drop`` (with ``drop_missing``: of every view not in
        ``layouts``), in one transaction; returns what it changed. The changes are planned
        inside the transaction with :func:`~store.online.layout.plan_table_changes`."""
        ...

    def write(
        self,
        layout: TableLayout,
        batches: Iterable[pa.RecordBatch],
        on_rows: Callable[[int], None] | None = None,
    ) -> int:
        """Upsert rows, newest wins, all batches in one transaction; returns the rows written.

        Batches have the columns of ``layout.columns`` in the types the layout module
        describes. ``on_rows`` is called with the running count after each batch.
        """
        ...

    def read(
        self, layout: TableLayout, features: Sequence[str], keys: Sequence[Sequence[Any]]
    ) -> list[StoredRow]:
        """One row per entity, in order: the stored values of ``features`` then the event time,
        or a row of Nones when nothing is stored for it.

        ``keys`` holds one column per join key, in ``layout.keys`` order, all of the same
        non-zero length: ints for integer keys, strs for string keys; entities may repeat.
        Values come back as Python values of their dtypes: arrays as lists, ``Bool`` as
        bool, ``UnixTimestamp`` as an aware UTC datetime.
        """
        ...

    def has_rows(self, layout: TableLayout) -> bool:
        """Whether the view's table holds any row (False when it does not exist)."""
        ...

    def close(self) -> None:
        """Release this thread's connections; the backend reopens them when used again."""
        ...
