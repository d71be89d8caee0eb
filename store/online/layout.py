r"""The SQLite table layout of an online feature view (pure: no database touched).

One table per online view, named ``<project>__<view>``: the join keys (typed) as the
primary key of a ``WITHOUT ROWID`` table, so a lookup is one B-tree search; one typed
column per feature; the row's event and created timestamps as integer microseconds
since the epoch, UTC. The layout hash covers exactly what the columns depend on, so a
change of description or tags never forces a rebuild.

Example:
    >>> from store.types import Int64, Float64
    >>> layout = TableLayout(project="p", feature_view="stats",
    ...                      keys=(("driver_id", Int64),), features=(("rate", Float64),))
    >>> print(layout.create_sql().replace(", ", ",\n"))
    CREATE TABLE "p__stats" ("driver_id" INTEGER NOT NULL,
    "rate" REAL,
    "__event_ts" INTEGER NOT NULL,
    "__created_ts" INTEGER,
    PRIMARY KEY ("driver_id")) WITHOUT ROWID
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from store.definitions.feature_view import FeatureView
from store.types import DType, sqlite_type

__all__ = ["CREATED_TS", "EVENT_TS", "TableLayout", "layout_of", "quote"]

EVENT_TS = "__event_ts"
CREATED_TS = "__created_ts"


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True, kw_only=True)
class TableLayout:
    """The columns of one online table."""

    project: str
    feature_view: str
    keys: tuple[tuple[str, DType], ...]
    features: tuple[tuple[str, DType], ...]

    @property
    def table(self) -> str:
        return f"{self.project}__{self.feature_view}"

    @property
    def layout_hash(self) -> str:
        text = ";".join(
            [f"k:{n}:{t.spec}" for n, t in self.keys]
            + [f"f:{n}:{t.spec}" for n, t in self.features]
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def create_sql(self) -> str:
        columns = [f"{quote(n)} {sqlite_type(t)} NOT NULL" for n, t in self.keys]
        columns += [f"{quote(n)} {sqlite_type(t)}" for n, t in self.features]
        columns += [f"{quote(EVENT_TS)} INTEGER NOT NULL", f"{quote(CREATED_TS)} INTEGER"]
        primary = ", ".join(quote(n) for n, _ in self.keys)
        return (
            f"CREATE TABLE {quote(self.table)} ({', '.join(columns)}, "
            f"PRIMARY KEY ({primary})) WITHOUT ROWID"
        )

    @property
    def columns(self) -> list[str]:
        """Every column, in the order rows are written: keys, features, the two times."""
        return [*(n for n, _ in self.keys), *(n for n, _ in self.features), EVENT_TS, CREATED_TS]

    def upsert_sql(self) -> str:
        """Insert a row, or replace the stored one only if the new row is newer: a later event
        time, or the same event time and a later created time (a missing one counts as
        oldest). Loading an old window after a new one therefore never brings old values back.
        """
        table = quote(self.table)
        names = ", ".join(quote(c) for c in self.columns)
        marks = ", ".join("?" for _ in self.columns)
        keys = ", ".join(quote(n) for n, _ in self.keys)
        updates = ", ".join(
            f"{quote(c)} = excluded.{quote(c)}" for c in self.columns[len(self.keys) :]
        )
        event, created = quote(EVENT_TS), quote(CREATED_TS)
        oldest = -(2**63)
        newer = (
            f"excluded.{event} > {table}.{event} OR (excluded.{event} = {table}.{event} AND "
            f"coalesce(excluded.{created}, {oldest}) > coalesce({table}.{created}, {oldest}))"
        )
        return (
            f"INSERT INTO {table} ({names}) VALUES ({marks}) "
            f"ON CONFLICT ({keys}) DO UPDATE SET {updates} WHERE {newer}"
        )

    def lookup_sql(self, many: bool) -> str:
        """Fetch stored rows by key: one key as parameters, or many as one JSON array
        parameter (a list of keys, or of key lists for composite keys)."""
        table = quote(self.table)
        wanted = ", ".join(f"t.{quote(c)}" for c in self.columns)
        if not many:
            where = " AND ".join(f"t.{quote(n)} = ?" for n, _ in self.keys)
            return f"SELECT {wanted} FROM {table} AS t WHERE {where}"
        if len(self.keys) == 1:
            on = f"t.{quote(self.keys[0][0])} = j.value"
        else:
            on = " AND ".join(
                f"t.{quote(n)} = json_extract(j.value, '$[{i}]')"
                for i, (n, _) in enumerate(self.keys)
            )
        return f"SELECT {wanted} FROM json_each(?) AS j JOIN {table} AS t ON {on}"


def layout_of(project: str, view: FeatureView) -> TableLayout:
    """The online table layout of a fully resolved view (every join key typed)."""
    typed = {f.name: f.dtype for f in view.entity_columns}
    missing = [k for k in view.join_keys if k not in typed]
    if missing:
        raise ValueError(f"feature view {view.name!r}: join key types unresolved: {missing}")
    return TableLayout(
        project=project,
        feature_view=view.name,
        keys=tuple((k, typed[k]) for k in view.join_keys),
        features=tuple((f.name, f.dtype) for f in view.features),
    )
