"""``POST /push`` with Feast's body and each ``to``, and ``/write-to-online-store``: both need
a token of scope ``push``; the server is called in process (httpx over ASGI)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from store import FeatureStore
from store.serving.server import create_app
from tests.conftest import T0
from tests.store.online.test_push import FRESH, folder_files, online_trips, open_push_store

H = timedelta(hours=1)


@pytest.fixture
def pushing(
    make_repo: Callable[..., Path],
) -> Iterator[tuple[FeatureStore, TestClient, dict[str, str]]]:
    fs = open_push_store(make_repo)
    _, secret = fs.model_registry.tokens.create("pusher", ["push"])
    with TestClient(create_app(fs, refresh_seconds=0)) as client:
        yield fs, client, {"Authorization": f"Bearer {secret}"}
    fs.close()


def body(driver: int, hour: int, trips: int, to: str | None = None) -> dict[str, object]:
    stamp = (T0 + hour * H).isoformat().replace("+00:00", "Z")
    found: dict[str, object] = {
        "push_source_name": "stats_push",
        "df": {
            "driver_id": [driver],
            "event_timestamp": [stamp],
            "created": [stamp],
            "conv_rate": [0.5],
            "acc_rate": [0.5],
            "avg_daily_trips": [trips],
        },
    }
    if to is not None:
        found["to"] = to
    return found


def test_push_honours_to(pushing: tuple[FeatureStore, TestClient, dict[str, str]]) -> None:
    fs, client, auth = pushing
    files = folder_files(fs)
    answer = client.post("/push", json=body(1001, 5, 50), headers=auth)  # default: online
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"written": 1}
    assert online_trips(fs, [1001]) == [50]
    assert folder_files(fs) == files

    assert client.post("/push", json=body(1002, 6, 60, "offline"), headers=auth).status_code == 200
    assert len(folder_files(fs)) == len(files) + 1
    assert online_trips(fs, [1002]) == [None]  # nothing online

    answer = client.post("/push", json=body(1003, 7, 70, "online_and_offline"), headers=auth)
    assert answer.status_code == 200, answer.text
    assert online_trips(fs, [1003]) == [70]
    assert len(folder_files(fs)) == len(files) + 2


def test_write_to_online_store_takes_feasts_body(
    pushing: tuple[FeatureStore, TestClient, dict[str, str]],
) -> None:
    fs, client, auth = pushing
    request = {"feature_view_name": FRESH, "df": body(1001, 9, 90)["df"]}
    answer = client.post("/write-to-online-store", json=request, headers=auth)
    assert answer.status_code == 200, answer.text
    assert online_trips(fs, [1001]) == [90]


def test_pushes_need_a_push_token_and_bad_ones_write_nothing(
    pushing: tuple[FeatureStore, TestClient, dict[str, str]],
) -> None:
    fs, client, auth = pushing
    _, other = fs.model_registry.tokens.create("deployer", ["deploy"])
    files = sorted(os.listdir(fs.repo_path / "data" / "stats_folder"))
    assert client.post("/push", json=body(1001, 5, 50, "offline")).status_code == 401
    refused = client.post(
        "/push", json=body(1001, 5, 50, "offline"), headers={"Authorization": f"Bearer {other}"}
    )
    assert refused.status_code == 403
    bad_to = client.post("/push", json=body(1001, 5, 50, "sideways"), headers=auth)
    assert bad_to.status_code == 400
    assert "not a push mode" in bad_to.json()["error"]
    unknown = client.post(
        "/push", json={**body(1001, 5, 50), "push_source_name": "nope"}, headers=auth
    )
    assert unknown.status_code == 404
    assert folder_files(fs) == files
