"""Tokens for writes: every write needs a token with its scope; a missing, wrong, revoked or
out-of-scope token is refused (401 or 403) and nothing changes; reads close on request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from registry import Registry, RegistryError, Target, TokenRefusedError
from store import FeatureStore
from store.cli import main
from store.serving.server import create_app
from tests.conftest import T0, serve_stale_values


@pytest.fixture
def store(make_repo: Callable[..., Path]) -> Iterator[FeatureStore]:
    repo = make_repo("basic")
    serve_stale_values(repo)
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        fs.materialize(T0, T0 + timedelta(hours=10))
        for w in (1, 2):
            fs.model_registry.register_model("churn", {"w": w}, serializer="pickle")
        fs.model_registry.deployments.deploy("churn", "production", [Target(1)])
        yield fs


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


DEPLOY = {"targets": [{"version": 1}, {"version": 2, "role": "canary", "share": 10}]}


def test_writes_need_a_token_with_their_scope(store: FeatureStore) -> None:
    tokens = store.model_registry.tokens
    _, pusher = tokens.create("pusher", ["outcomes"])
    _, deployer = tokens.create("release-bot", ["deploy"])
    _, revoked = tokens.create("old", ["deploy", "approve"])
    tokens.revoke("old")
    client = TestClient(create_app(store))
    deployments = store.model_registry.deployments
    before = deployments.live("churn", "production").revision
    for headers, status in (
        ({}, 401),
        (bearer("slg_not-a-token"), 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        (bearer(revoked), 401),
        (bearer(pusher), 403),
    ):
        answer = client.post("/deployments/churn/production", json=DEPLOY, headers=headers)
        assert answer.status_code == status, answer.text
        assert "token" in answer.json()["error"]
        assert deployments.live("churn", "production").revision == before  # nothing changed
    answer = client.post("/deployments/churn/production", json=DEPLOY, headers=bearer(deployer))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["revision"], answer.json()["created_by"]) == (before + 1, "release-bot")
    promoted = client.post(
        "/deployments/churn/production/promote", json={}, headers=bearer(deployer)
    )
    assert (promoted.json()["action"], promoted.json()["created_by"]) == ("promote", "release-bot")
    assert deployments.live("churn", "production").versions("primary") == [2]
    bad = client.post(
        "/deployments/churn/production/promote", json={"version": "two"}, headers=bearer(deployer)
    )
    assert (bad.status_code, "is not a version number" in bad.json()["error"]) == (400, True)
    # approving a card needs its own scope, and records the token's name
    refused = client.post("/models/churn/versions/2/card/approve", headers=bearer(deployer))
    assert refused.status_code == 403
    assert store.model_registry.cards.get("churn", 2).status == "draft"
    _, approver = tokens.create("reviewer", ["approve"])
    approved = client.post("/models/churn/versions/2/card/approve", headers=bearer(approver))
    assert approved.status_code == 200
    card = store.model_registry.cards.get("churn", 2)
    assert (card.status, card.created_by) == ("approved", "reviewer")
    # outcomes: the pusher may, the deployer may not
    assert (
        client.post("/outcomes", json={"outcomes": []}, headers=bearer(deployer)).status_code == 403
    )
    assert (
        client.post("/outcomes", json={"outcomes": []}, headers=bearer(pusher)).status_code == 200
    )


def test_reads_are_open_unless_the_server_closes_them(store: FeatureStore) -> None:
    request = {"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001]}}
    assert (
        TestClient(create_app(store)).post("/get-online-features", json=request).status_code == 200
    )
    closed = TestClient(create_app(store, read_token=True))
    assert closed.get("/ui/").status_code == 401  # the UI is a read too
    assert closed.post("/get-online-features", json=request).status_code == 401
    assert closed.get("/health").status_code == 200  # load balancers still see it
    _, writer = store.model_registry.tokens.create("writer", ["outcomes"])
    _, reader = store.model_registry.tokens.create("dashboard", ["read"])
    assert (
        closed.post("/get-online-features", json=request, headers=bearer(writer)).status_code == 403
    )
    assert (
        closed.post("/get-online-features", json=request, headers=bearer(reader)).status_code == 200
    )
    assert closed.get("/ui/", headers=bearer(writer)).status_code == 403
    assert closed.get("/ui/", headers=bearer(reader)).status_code == 200
    latin = {"Authorization": b"Bearer \xe9"}  # not UTF-8: refused, not a crash
    assert closed.get("/ui/", headers=latin).status_code == 401  # type: ignore[dict-item]


def test_tokens_are_kept_as_hashes_and_names_stay_taken(registry_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    registry = Registry(registry_url)
    tokens = registry.project("demo", tmp_path).tokens
    token, secret = tokens.create("ci", ["push", "push", "outcomes"])
    assert token.scopes == ("push", "outcomes")
    assert tokens.authenticate(secret, "outcomes").name == "ci"
    engine = sa.create_engine(registry_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT secret_sha256 FROM api_tokens")).scalars().all()
    engine.dispose()
    assert len(stored) == 1
    assert secret not in stored[0]
    tokens.revoke("ci")
    with pytest.raises(TokenRefusedError) as refused:
        tokens.authenticate(secret, "outcomes")
    assert refused.value.status == 401
    with pytest.raises(RegistryError, match="revoked names stay taken"):
        tokens.create("ci", ["push"])
    with pytest.raises(RegistryError, match="not among"):
        tokens.create("other", ["everything"])
    assert [(t.name, t.active) for t in tokens.list()] == [("ci", False)]
    registry.close()


def test_tokens_commands(
    make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(make_repo("basic"))

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_info:
            main(["--repo", repo, *args])
        out, err = capsys.readouterr()
        return int(exit_info.value.code or 0), out, err

    code, out, _ = run("tokens", "create", "ci", "--scope", "push", "--scope", "outcomes")
    assert code == 0
    secret = out.split()[-1]
    assert secret.startswith("slg_")
    assert "shown once" in out
    code, out, _ = run("tokens", "list")
    assert out.splitlines()[1].split()[:3] == ["ci", "push,outcomes", "active"]
    code, out, _ = run("tokens", "revoke", "ci")
    assert code == 0
    code, out, _ = run("tokens", "list", "--json")
    assert '"revoked_at": null' not in out
    code, _, err = run("tokens", "create", "x", "--scope", "root")
    assert code == 2
    assert "Invalid value" in err
