"""Four writers on the same keys at once, on every backend: an older row never replaces a
newer one, and every row is seen whole. Part of the online conformance suite.

Two writers load in several batches (like materializations) and two write a few rows at a
time (like pushes), all in random orders, while a reader watches: for each key the stored
row may only move forward in (event time, created time), and its features always come from
one row. At the end each key holds its newest row. A backend that compares and writes in
two steps (Feast's Redis store reads the stored times, then writes) fails here.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from store.online.backend import OnlineBackend
from tests.backends import OnlineUnderTest, online_backend
from tests.store.online.test_backend_conformance import STATS, batch

KEYS = 40
WRITERS = 4
ROUNDS = 12


def rank_value(event: int, created: int | None) -> int:
    """A row's feature value: ordered like the row's (event time, created time)."""
    return event * 100 + (0 if created is None else created + 1)


def row(key: int, event: int, created: int | None) -> dict[str, Any]:
    value = rank_value(event, created)
    return {
        "driver_id": key,
        "trips": value,
        "city": f"c{value}",
        "__event_ts": event,
        "__created_ts": created,
    }


def writes_of(seed: int) -> list[list[list[dict[str, Any]]]]:
    """One writer's calls, each a list of batches: every key in two or three batches
    (a load), or three keys in one batch (a push)."""
    rng = random.Random(seed)
    calls = []
    for _ in range(ROUNDS):
        loading = seed % 2 == 0
        keys = rng.sample(range(KEYS), KEYS if loading else 3)
        rows = [row(k, rng.randrange(1000), rng.choice([None, *range(5)])) for k in keys]
        parts = rng.randint(2, 3) if loading else 1
        size = -(-len(rows) // parts)
        calls.append([rows[i : i + size] for i in range(0, len(rows), size)])
    return calls


@pytest.fixture
def store(backend: OnlineUnderTest) -> Iterator[OnlineBackend]:
    with online_backend(backend.name, backend.folder) as opened:
        opened.sync_tables("p", [STATS], drop_missing=True)
        yield opened


def test_four_writers_never_let_an_older_row_win(store: OnlineBackend) -> None:
    plans = [writes_of(seed) for seed in range(WRITERS)]
    errors: list[BaseException] = []
    done = threading.Event()
    seen: dict[int, int] = {}
    problems: list[str] = []

    def write(calls: list[list[list[dict[str, Any]]]]) -> None:
        try:
            for call in calls:
                batches: list[pa.RecordBatch] = [batch(STATS, part) for part in call]
                store.write(STATS, batches)
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    def watch() -> None:
        try:
            while not done.is_set():
                for key, (trips, city, _) in enumerate(
                    store.read(STATS, ["trips", "city"], [list(range(KEYS))])
                ):
                    if trips is None:
                        continue
                    if city != f"c{trips}":
                        problems.append(f"key {key}: a mixed row {trips}, {city}")
                    if trips < seen.get(key, -1):
                        problems.append(f"key {key}: {trips} replaced the newer {seen[key]}")
                    seen[key] = trips
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    watcher = threading.Thread(target=watch)
    writers = [threading.Thread(target=write, args=(plan,)) for plan in plans]
    watcher.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(300)
    done.set()
    watcher.join(60)
    assert errors == []
    assert problems == []
    newest = {}
    for plan in plans:
        for call in plan:
            for part in call:
                for r in part:
                    newest[r["driver_id"]] = max(newest.get(r["driver_id"], -1), r["trips"])
    found = store.read(STATS, ["trips"], [list(range(KEYS))])
    assert {k: trips for k, (trips, _) in enumerate(found)} == newest
    assert seen  # the reader saw rows while the writers wrote
