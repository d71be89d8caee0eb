"""Pages cost a number of SQL queries that does not grow with what they list: a registry
grown by more versions, alias moves, card revisions, deployment revisions and training
sets answers each page with the same count as before. Also: a view's version history and
its field-level diff."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import event

from registry import Target
from store import FeatureStore
from store.serving.server import create_app
from tests.conftest import T0
from tests.store.ui.conftest import client

H = timedelta(hours=1)
REFS = ["driver_hourly_stats:avg_daily_trips", "driver_hourly_stats:conv_rate"]
PAGES = [
    "/ui/",
    "/ui/models",
    "/ui/models/churn",
    "/ui/models/churn/versions/1",
    "/ui/models/churn/versions/1/card",
    "/ui/models/churn/versions/1/lineage",
    "/ui/models/churn/compare",
    "/ui/deployments",
    "/ui/deployments/churn/production",
    "/ui/training-sets",
    "/ui/training-sets/drivers_0",
    "/ui/feature-views",
    "/ui/feature-views/driver_hourly_stats",
    "/ui/features",
    "/ui/monitoring",
    "/ui/monitoring/churn",
    "/ui/search?q=d",
]


@pytest.fixture
def store(make_repo: Callable[..., Path]) -> Iterator[FeatureStore]:
    fs = FeatureStore(repo_path=make_repo("basic"))
    fs.apply()
    yield fs
    fs.close()


def grow(store: FeatureStore, n: int, start: int) -> None:
    """``n`` more of everything a page lists."""
    rows = pd.DataFrame(
        {"driver_id": [1001, 1002, 1003], "event_timestamp": [T0 + H, T0 + 2 * H, T0 + 3 * H]}
    )
    project = store.model_registry
    for i in range(start, start + n):
        saved = store.get_historical_features(
            rows.assign(event_timestamp=rows.event_timestamp + i * H), REFS
        ).save(f"drivers_{i}")
        v = project.register_model(
            "churn",
            {"k": i},
            saved.record,
            serializer="pickle",
            metrics={"auc": 0.5 + i / 100, "loss": 1.0 / (i + 1)},
            tags={"i": str(i)},
        )
        project.register_model(f"other_{i}", {"k": i}, serializer="pickle")
        project.models.set_alias("churn", "champion", v.version, reason=f"round {i}")
        project.cards.update("churn", 1, {"intended_use": f"round {i}"})
        project.deployments.deploy("churn", "production", [Target(v.version)], reason=f"{i}")


def spent(store: FeatureStore) -> dict[str, int]:
    app = create_app(store)
    web = client(app)
    found: list[str] = []

    def count(*args: Any) -> None:
        if str(args[2]) != "BEGIN":
            found.append(str(args[2]))

    engine = store.registry.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        out = {}
        for path in PAGES:
            found.clear()
            assert web.get(path).status_code == 200, path
            assert (
                web.get(
                    path.replace("?", ".json?")
                    if "?" in path
                    else ("/ui/index.json" if path == "/ui/" else path + ".json")
                ).status_code
                == 200
            )
            out[path] = len(found) // 2
        return out
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_query_counts_do_not_grow_with_the_rows_listed(store: FeatureStore) -> None:
    grow(store, 2, 0)
    small = spent(store)
    grow(store, 4, 2)
    large = spent(store)
    assert {p: (small[p], large[p]) for p in PAGES if large[p] != small[p]} == {}
    assert max(large.values()) <= 20


def test_a_view_shows_its_versions_and_what_changed(
    make_repo: Callable[..., Path], store: FeatureStore
) -> None:
    make_repo("basic_v2", into=store.repo_path, data=False)
    store.apply()
    web = client(create_app(store))
    page = web.get("/ui/feature-views/driver_hourly_stats.json").json()
    assert [v["version"] for v in page["versions"]] == [2, 1]
    assert page["diff_from"] == 1
    changed = {c["path"]: (c["kind"], c["before"], c["after"]) for c in page["changes"]}
    assert changed["tags.team"] == ("added", None, "marketplace")
    assert any(k.endswith(".dtype") and v[1:] == ("Float32", "Float64") for k, v in changed.items())
    html = web.get("/ui/feature-views/driver_hourly_stats").text
    assert "Changes from v1 to v2" in html
    assert "Float64" in html
    old = web.get("/ui/feature-views/driver_hourly_stats", params={"version": 1}).text
    assert "Version 1 of 2" in old
