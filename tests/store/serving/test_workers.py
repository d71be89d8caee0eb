"""``silage serve --workers 2`` on Redis and on PostgreSQL: two processes share the registry
and the online store, and what is done through one (a push), or beside them (a deployment,
an apply), is what both serve.

Requests go on fresh connections, so the kernel hands them to either process; each answer
names its process in ``X-Silage-Worker``. The loops below stop once both processes have
answered; their deadlines only turn a hang into a failure. The apply's deadline (30 s) is
shorter than the registry cache's default (60 s): only polling for changes passes it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from registry import Target
from store import FeatureStore
from tests.backends import OnlineUnderTest
from tests.conftest import T0
from tests.registries import use_registry
from tests.services import fresh_postgres_database
from tests.store.serving.test_server import free_port

pytestmark = pytest.mark.slow
H = timedelta(hours=1)
TRIPS = "driver_hourly_stats:avg_daily_trips"


# A token with the push scope, made by the repo fixture.
PUSH_AUTH: dict[str, str] = {}


def fresh_rows(drivers: list[int], trips: list[int], at: datetime) -> dict[str, list[Any]]:
    return {
        "driver_id": drivers,
        "event_timestamp": [at.isoformat()] * len(drivers),
        "conv_rate": [0.5] * len(drivers),
        "acc_rate": [0.5] * len(drivers),
        "avg_daily_trips": trips,
    }


def frame(rows: dict[str, list[Any]]) -> pd.DataFrame:
    found = pd.DataFrame(rows)
    return found.assign(event_timestamp=pd.to_datetime(found["event_timestamp"], utc=True))


@pytest.fixture(params=["redis", "postgres"])
def repo(
    request: pytest.FixtureRequest, make_repo: Callable[..., Path], tmp_path: Path
) -> Iterator[Path]:
    """The basic repository on each shared online store; with PostgreSQL, the whole team
    setup: the registry and the predictions log in one PostgreSQL database too."""
    backend = OnlineUnderTest(request.param, tmp_path)
    repo = make_repo("basic")
    backend.configure(repo)  # ttl enforced: rows older than a day are withheld
    cleanup = ExitStack()
    if request.param == "postgres":
        use_registry(repo, cleanup.enter_context(fresh_postgres_database()))
        path = repo / "feature_store.yaml"
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        path.write_text(yaml.safe_dump({**config, "prediction_log": {"url": "registry"}}))
    try:
        with FeatureStore(repo_path=repo) as fs:
            fs.apply()
            rows = pd.DataFrame(
                {"driver_id": [1001, 1002, 1003, 1001], "event_timestamp": [T0 + H] * 4}
            ).assign(label=[0, 1, 1, 0])
            refs = ["driver_hourly_stats:conv_rate", TRIPS]
            saved = fs.get_historical_features(rows, refs).save("drivers")
            data = saved.to_df()
            x, y = data[["conv_rate", "avg_daily_trips"]], data["label"]
            for c in (1.0, 0.01):
                model = LogisticRegression(C=c).fit(x, y)
                fs.model_registry.register_model("churn", model, training_set=saved.record)
            fs.model_registry.deployments.deploy("churn", "production", [Target(1)])
            _, secret = fs.model_registry.tokens.create("pusher", ["push"])
            PUSH_AUTH["Authorization"] = f"Bearer {secret}"
            now = datetime.now(UTC)
            fs.push("driver_hourly_stats", frame(fresh_rows([1001, 1002], [1, 2], now)))
            stale = now - timedelta(days=2)
            fs.push("driver_hourly_stats", frame(fresh_rows([1004], [4], stale)))
        yield repo
    finally:
        backend.cleanup()
        cleanup.close()


@pytest.fixture
def server(repo: Path) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "store.cli", "--repo", str(repo), "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        until_both(url, lambda c: c.get("/health"), lambda a: a.status_code == 200, seconds=120)
        yield url
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
        assert "Traceback" not in err, err


def until_both(
    url: str,
    call: Callable[[httpx.Client], httpx.Response],
    done: Callable[[httpx.Response], bool],
    seconds: float = 30,
) -> dict[str, list[httpx.Response]]:
    """Call on fresh connections until each of the two workers gave an answer that is
    ``done``; every answer, by worker."""
    answers: dict[str, list[httpx.Response]] = {}
    deadline = time.monotonic() + seconds
    while True:
        try:
            with httpx.Client(base_url=url, timeout=10) as client:
                answer = call(client)
            answers.setdefault(answer.headers["x-silage-worker"], []).append(answer)
        except httpx.TransportError:
            pass  # still starting
        finished = [w for w, got in answers.items() if any(done(a) for a in got)]
        if len(finished) == 2:
            return answers
        if time.monotonic() > deadline:
            last = {w: (len(got), got[-1].text[:300]) for w, got in answers.items()}
            raise AssertionError(f"not both workers answered as expected (count, last): {last}")
        time.sleep(0.02)


def online(client: httpx.Client, driver: int) -> httpx.Response:
    request = {"features": [TRIPS], "entities": {"driver_id": [driver]}}
    return client.post("/get-online-features", json=request)


def trips(answer: httpx.Response) -> tuple[object, str]:
    result = answer.json()["results"][1]
    return result["values"][0], result["statuses"][0]


def test_two_workers_serve_what_either_was_told(server: str, repo: Path) -> None:
    # A push through one worker is what the other serves.
    with httpx.Client(base_url=server, timeout=10) as client:
        pushed = client.post(
            "/push",
            headers=PUSH_AUTH,
            json={
                "feature_view": "driver_hourly_stats",
                "df": fresh_rows([1001], [99], datetime.now(UTC)),
            },
        )
    assert pushed.json() == {"written": 1}
    answers = until_both(server, lambda c: online(c, 1001), lambda a: a.status_code == 200)
    assert {trips(a) for got in answers.values() for a in got} == {(99, "PRESENT")}

    # A deployment made beside them is served by both from the next request on.
    all_predictions: list[httpx.Response] = []

    def predict(client: httpx.Client) -> httpx.Response:
        answer = client.post("/predict/churn", json={"entity_rows": [{"driver_id": 1002}]})
        all_predictions.append(answer)
        return answer

    answers = until_both(server, predict, lambda a: a.status_code == 200)
    assert {a.json()["predictions"][0]["model_version"] for g in answers.values() for a in g} == {1}
    with FeatureStore(repo_path=repo) as fs:
        fs.model_registry.deployments.deploy("churn", "production", [Target(2)])
    answers = until_both(server, predict, lambda a: a.status_code == 200)
    assert {a.json()["predictions"][0]["model_version"] for g in answers.values() for a in g} == {2}
    # Both processes logged every prediction they served to the one predictions log.
    with FeatureStore(repo_path=repo) as fs:
        served = fs.prediction_log()
    assert {a.status_code for a in all_predictions} == {200}
    assert len(served) == len(all_predictions)

    # An apply beside them (a longer ttl) reaches both, though each cached the old view.
    stale = until_both(server, lambda c: online(c, 1004), lambda a: a.status_code == 200)
    assert {trips(a) for got in stale.values() for a in got} == {(None, "OUTSIDE_MAX_AGE")}
    definitions = repo / "definitions.py"
    text = definitions.read_text(encoding="utf-8")
    definitions.write_text(text.replace("ttl=timedelta(days=1)", "ttl=timedelta(days=7)"))
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
    until_both(server, lambda c: online(c, 1004), lambda a: trips(a) == (4, "PRESENT"))
