"""Shared fixtures: fixture repositories copied to a temporary folder, with their data."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from store.serving.prediction_log import PredictionLog
from tests.backends import OFFLINE_ENGINES, ONLINE_BACKENDS, OnlineUnderTest, known_gap
from tests.object_storage import s3_server
from tests.registries import REGISTRY_DATABASES, new_registry_url

FIXTURES = Path(__file__).parent / "fixtures" / "repos"
GOLDEN = Path(__file__).parent / "golden"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def write_driver_stats(path: Path, *, drivers: int = 3, hours: int = 4) -> pa.Table:
    """A small driver-stats table: one row per driver and hour, with a created column."""
    rows: dict[str, list[object]] = {
        "driver_id": [],
        "event_timestamp": [],
        "created": [],
        "conv_rate": [],
        "acc_rate": [],
        "avg_daily_trips": [],
        "city": [],
    }
    for h in range(hours):
        for d in range(drivers):
            ts = T0 + timedelta(hours=h)
            rows["driver_id"].append(1001 + d)
            rows["event_timestamp"].append(ts)
            rows["created"].append(ts + timedelta(minutes=1))
            rows["conv_rate"].append(0.1 * d + 0.01 * h)
            rows["acc_rate"].append(0.5)
            rows["avg_daily_trips"].append(10 * d + h)
            rows["city"].append(["Oslo", "Lima", "Pune"][d % 3])
    schema = pa.schema(
        [
            ("driver_id", pa.int64()),
            ("event_timestamp", pa.timestamp("us", tz="UTC")),
            ("created", pa.timestamp("us", tz="UTC")),
            ("conv_rate", pa.float64()),
            ("acc_rate", pa.float64()),
            ("avg_daily_trips", pa.int64()),
            ("city", pa.string()),
        ]
    )
    table = pa.table(rows, schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return table


def serve_stale_values(repo: Path) -> None:
    """Turn off online ttl enforcement: the fixture data is months old."""
    path = repo / "feature_store.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["online_store"] = {**config.get("online_store", {}), "enforce_ttl": False}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


@pytest.fixture(params=OFFLINE_ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The name of each offline engine in turn: the offline conformance suite."""
    name: str = request.param
    return name


@pytest.fixture(params=ONLINE_BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineUnderTest]:
    """Each online backend in turn: the online conformance suite."""
    under_test = OnlineUnderTest(request.param, tmp_path)
    yield under_test
    under_test.cleanup()


@pytest.fixture(params=REGISTRY_DATABASES)
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty registry database on SQLite and on PostgreSQL in turn: its URL."""
    with new_registry_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture(params=REGISTRY_DATABASES)
def prediction_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PredictionLog]:
    """A new, empty predictions log on SQLite and on PostgreSQL in turn (the databases the
    registry runs on, which are the log's too)."""
    with new_registry_url(request.param, tmp_path) as url:
        log = PredictionLog(tmp_path / "predictions.db" if url.startswith("sqlite") else url)
        yield log
        log.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server (moto) on localhost for the session: its endpoint URL."""
    with s3_server() as endpoint:
        yield endpoint


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``@pytest.mark.notimpl(["name"], reason=...)``: see :func:`tests.backends.known_gap`."""
    for item in items:
        marker = item.get_closest_marker("notimpl")
        if marker is not None:
            params = getattr(getattr(item, "callspec", None), "params", {})
            gap = known_gap(marker.args, marker.kwargs, params)
            if gap is not None:
                item.add_marker(gap)


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """Copy a fixture repository into a temporary folder and write its data.

    ``make_repo("basic")`` returns the copy's path; ``make_repo("basic_v2", into=path)``
    lays another fixture's files over an existing copy (its data stays).
    """

    def make(name: str, *, into: Path | None = None, data: bool = True) -> Path:
        target = into or tmp_path / name
        for py in target.glob("*.py") if into else []:
            py.unlink()
        shutil.copytree(FIXTURES / name, target, dirs_exist_ok=True)
        if data and not (target / "data" / "driver_stats.parquet").exists():
            write_driver_stats(target / "data" / "driver_stats.parquet")
        return target

    return make
