"""The HTTP server, started for real on localhost and called with a real HTTP client."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from registry import Target
from store import FeatureStore
from tests.conftest import T0, serve_stale_values

pytestmark = pytest.mark.slow
H = timedelta(hours=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# A token with every write scope, made by the server fixture (``Authorization`` header).
AUTH: dict[str, str] = {}


@pytest.fixture
def server(make_repo: Callable[..., Path]) -> Iterator[str]:
    repo = make_repo("basic")
    serve_stale_values(repo)
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        rows = pd.DataFrame(
            {
                "driver_id": [1001, 1002, 1003, 1001],
                "event_timestamp": [T0 + H] * 4,
                "label": [0, 1, 1, 0],
            }
        )
        refs = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"]
        saved = fs.get_historical_features(rows, refs).save("drivers")
        data = saved.to_df()
        model = LogisticRegression().fit(data[["conv_rate", "avg_daily_trips"]], data["label"])
        fs.model_registry.register_model("churn", model, training_set=saved.record)
        fs.model_registry.deployments.deploy("churn", "production", [Target(1)])
        fs.materialize(T0, T0 + 10 * H)
        _, secret = fs.model_registry.tokens.create(
            "tests", ["outcomes", "deploy", "approve", "push"]
        )
        AUTH["Authorization"] = f"Bearer {secret}"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "store.cli", "--repo", str(repo), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(
                    f"the server did not start: {process.stderr.read() if process.stderr else ''}"
                )
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_health_online_features_and_predictions(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        assert client.get("/health").json() == {"status": "ok", "project": "basic"}
        answer = client.post(
            "/get-online-features",
            json={
                "features": ["driver_hourly_stats:avg_daily_trips"],
                "entities": {"driver_id": [1003, 1001, 9]},
            },
        )
        assert answer.status_code == 200
        body = answer.json()
        assert body["metadata"]["feature_names"] == ["driver_id", "avg_daily_trips"]
        assert body["results"][1]["values"] == [23, 3, None]
        assert body["results"][1]["statuses"] == ["PRESENT", "PRESENT", "NOT_FOUND"]
        service = client.post(
            "/get-online-features",
            json={
                "feature_service": "driver_activity",
                "entities": {"driver_id": [1001]},
                "full_feature_names": True,
            },
        ).json()
        assert "driver_hourly_stats__conv_rate" in service["metadata"]["feature_names"]
        predicted = client.post("/predict/churn", json={"entity_rows": [{"driver_id": 1002}]})
        assert predicted.status_code == 200
        (row,) = predicted.json()["predictions"]
        assert (row["driver_id"], row["model_version"], row["role"]) == (1002, 1, "primary")
        assert 0.0 <= row["probability"] <= 1.0
        refused = client.post("/outcomes", json={"outcomes": []})
        assert (refused.status_code, refused.headers["WWW-Authenticate"]) == (401, "Bearer")
        recorded = client.post(
            "/outcomes",
            headers=AUTH,
            json={
                "outcomes": [
                    {"prediction_id": row["prediction_id"], "value": 1, "at": "2026-11-27T10:00"},
                    {"prediction_id": "no-such-id", "value": 0},
                ]
            },
        )
        assert recorded.json() == {"recorded": 1, "unknown": ["no-such-id"]}


@pytest.mark.parametrize(
    ("path", "payload", "status", "message"),
    [
        ("/get-online-features", {"entities": {"driver_id": [1]}}, 400, "give `features`"),
        (
            "/get-online-features",
            {"features": ["nope:x"], "entities": {"driver_id": [1]}},
            404,
            "no feature view named 'nope'",
        ),
        (
            "/get-online-features",
            {"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": ["x"]}},
            400,
            "key it by an integer",
        ),
        ("/predict/churn", {"entity_rows": "driver"}, 400, "give `entity_rows`"),
        ("/predict/ghost", {"entity_rows": [{"driver_id": 1}]}, 404, "no model named 'ghost'"),
        ("/predict/churn", {"entity_rows": [{"driver_id": 9}]}, 400, "has no value for feature"),
        ("/outcomes", {"outcomes": [{"value": 1}]}, 400, "give `outcomes` as a list"),
        (
            "/outcomes",
            {"outcomes": [{"prediction_id": "x", "value": 1, "at": "yesterday"}]},
            400,
            "is not an ISO time",
        ),
        ("/push", {"df": {"driver_id": [1]}}, 400, "name the push source"),
        ("/push", {"feature_view": "driver_hourly_stats", "df": []}, 400, "give `df` as columns"),
        (
            "/write-to-online-store",
            {"feature_view_name": "driver_hourly_stats", "df": {"driver_id": [1]}},
            400,
            "lack column(s)",
        ),
        (
            "/push",
            {"feature_view": "driver_hourly_stats", "df": {"event_timestamp": ["soon"]}},
            400,
            "not ISO times",
        ),
    ],
)
def test_bad_input_gets_a_json_error(
    server: str, path: str, payload: dict[str, object], status: int, message: str
) -> None:
    answer = httpx.post(f"{server}{path}", json=payload, headers=AUTH, timeout=10)
    assert answer.status_code == status
    assert message in answer.json()["error"]
