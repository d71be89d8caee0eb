"""Materialization under a kill, beside readers, and beside another materialization: the
all-or-nothing rules of the online conformance suite, with real processes, for each backend.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import FeatureStore
from store.online.layout import layout_of
from tests.backends import OnlineUnderTest
from tests.conftest import T0

pytestmark = pytest.mark.slow

CHILD = Path(__file__).with_name("materialize_child.py")
DRIVERS = 250_000  # three batches of 100k rows: the kill lands between two of them


def big_repo(make_repo: Callable[..., Path], backend: OnlineUnderTest) -> Path:
    repo = make_repo("basic", data=False)
    backend.configure(repo, enforce_ttl=False)
    ids = pa.array(range(DRIVERS), pa.int64())
    tables = []
    for hour in (0, 1):
        ts = pa.array([T0 + timedelta(hours=hour)] * DRIVERS, pa.timestamp("us", tz="UTC"))
        tables.append(
            pa.table(
                {
                    "driver_id": ids,
                    "event_timestamp": ts,
                    "created": ts,
                    "conv_rate": pa.array([float(hour)] * DRIVERS),
                    "acc_rate": pa.array([0.5] * DRIVERS),
                    "avg_daily_trips": pa.array([hour] * DRIVERS, pa.int64()),
                }
            )
        )
    (repo / "data").mkdir(exist_ok=True)
    pq.write_table(pa.concat_tables(tables), repo / "data" / "driver_stats.parquet")
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        fs.materialize(T0, T0)  # every driver at hour 0
    return repo


def hours_stored(repo: Path, drivers: list[int]) -> set[object]:
    with FeatureStore(repo_path=repo) as fs:
        rows = [{"driver_id": d} for d in drivers]
        return set(
            fs.get_online_features(["driver_hourly_stats:avg_daily_trips"], rows).to_dict()[
                "avg_daily_trips"
            ]
        )


def hours_in_table(repo: Path) -> dict[int, int]:
    """Rows per stored hour, over every driver, read from the backend directly."""
    with FeatureStore(repo_path=repo) as fs:
        layout = layout_of(fs.project, fs.get_feature_view("driver_hourly_stats"))
        rows = fs.online_store.read(layout, ["avg_daily_trips"], [list(range(DRIVERS))])
    return dict(Counter(row[0] for row in rows))


def start_child(repo: Path, delay: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(CHILD),
            str(repo),
            T0.isoformat(),
            (T0 + timedelta(hours=1)).isoformat(),
            str(delay),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_written_rows(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("rows ") and int(line.split()[1]) > 0:
            return
    raise AssertionError(
        f"the child ended before writing: {child.stderr.read() if child.stderr else ''}"
    )


def test_a_killed_materialization_leaves_the_view_as_it_was(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    repo = big_repo(make_repo, backend)
    with start_child(repo, delay=30) as child:
        wait_for_written_rows(child)  # 100k rows written inside the open transaction
        child.kill()
        child.communicate(timeout=30)
    assert hours_in_table(repo) == {0: DRIVERS}
    with FeatureStore(repo_path=repo) as fs:
        intervals = fs.registry.catalog.materialization_intervals("basic", "driver_hourly_stats")
        assert [(i.start, i.end) for i in intervals] == [(T0, T0)]
        # running again is safe and completes the load
        fs.materialize(T0, T0 + timedelta(hours=1))
    assert hours_in_table(repo) == {1: DRIVERS}


def test_readers_never_see_a_half_loaded_view_nor_a_lock_error(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    repo = big_repo(make_repo, backend)
    seen: list[set[object]] = []
    sample = [0, DRIVERS // 2, DRIVERS - 1]
    with start_child(repo, delay=0.5) as child:
        wait_for_written_rows(child)
        while child.poll() is None:
            seen.append(hours_stored(repo, sample))
            time.sleep(0.05)
        _, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    seen.append(hours_stored(repo, sample))
    assert all(s in ({0}, {1}) for s in seen), seen
    assert seen[0] == {0}
    assert seen[-1] == {1}


def test_two_materializations_of_one_view_serialize(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    repo = big_repo(make_repo, backend)
    children = [start_child(repo, delay=0.2) for _ in range(2)]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        assert "locked" not in err
    assert hours_stored(repo, [0, DRIVERS - 1]) == {1}
    with FeatureStore(repo_path=repo) as fs:
        intervals = fs.registry.catalog.materialization_intervals("basic", "driver_hourly_stats")
        assert len(intervals) == 3
