"""Cards, deployments, search, lineage, monitoring and experiment records on SQLite and
PostgreSQL: each kind of record written and read back through the registry's API (the
store's own suites check their meaning; these check the SQL on each database)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier

from registry import (
    AlertEvent,
    DriftRecord,
    ProjectRegistry,
    Registry,
    Target,
    WindowStatistics,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def reg(registry_url: str) -> Iterator[Registry]:
    with Registry(registry_url) as registry:
        yield registry


@pytest.fixture
def project(reg: Registry, tmp_path: Path) -> ProjectRegistry:
    project = reg.project("demo", tmp_path / "artifacts")
    project.register_model("churn", DummyClassifier(), metrics={"auc": 0.7}, tags={"t": "a"})
    project.register_model("churn", DummyClassifier(), metrics={"auc": 0.9}, tags={"t": "b"})
    return project


def test_cards_keep_revisions_and_approval(project: ProjectRegistry) -> None:
    project.cards.update("churn", 2, {"intended_use": "retention offers"}, by="ana")
    card = project.cards.approve("churn", 2, by="bo")
    assert (card.status, card.sections["intended_use"]) == ("approved", "retention offers")
    assert project.cards.get("churn", 2).status == "approved"


def test_deployments_history_and_search_and_lineage(project: ProjectRegistry) -> None:
    project.deployments.deploy("churn", "production", [Target(1)])
    project.deployments.deploy(
        "churn", "production", [Target(1, "primary", 80), Target(2, "canary", 20)]
    )
    project.deployments.promote("churn", "production")
    live = project.deployments.live("churn", "production")
    assert live.versions("primary") == [2]
    assert [r.revision for r in project.deployments.history("churn", "production")] == [1, 2, 3]
    page = project.search_model_versions("metrics.auc > 0.8 AND deployed_in = 'production'")
    assert [(v.model, v.version) for v in page.versions] == [("churn", 2)]
    assert project.lineage.of_version("churn", 2).feature_views == []


def test_live_deployments_are_read_in_a_fixed_number_of_queries(
    project: ProjectRegistry, reg: Registry
) -> None:
    """The UI's view page and lineage list every live deployment: their targets are read
    together, not one query per deployment (the UI benchmark found 100 queries for 100)."""
    from sqlalchemy import event

    def queries_for_list_live() -> int:
        spent: list[str] = []

        def count(*args: object) -> None:
            if str(args[2]) != "BEGIN":
                spent.append(str(args[2]))

        event.listen(reg.db.engine, "before_cursor_execute", count)
        try:
            live = project.deployments.list_live()
        finally:
            event.remove(reg.db.engine, "before_cursor_execute", count)
        assert all(r.targets for r in live)
        return len(spent)

    project.deployments.deploy("churn", "production", [Target(1)])
    few = queries_for_list_live()
    for env in ("staging", "eu", "us", "asia"):
        project.deployments.deploy(
            "churn", env, [Target(1, "primary", 50), Target(2, "canary", 50)]
        )
    live = project.deployments.list_live()
    assert [(r.environment, [t.version for t in r.targets]) for r in live] == [
        ("asia", [1, 2]),
        ("eu", [1, 2]),
        ("production", [1]),
        ("staging", [1, 2]),
        ("us", [1, 2]),
    ]
    assert queries_for_list_live() == few


def test_monitoring_records_round_trip(reg: Registry) -> None:
    monitoring = reg.monitoring
    windows = [
        WindowStatistics(
            feature="conv_rate",
            window_start=T0 + timedelta(hours=h),
            window_end=T0 + timedelta(hours=h + 1),
            statistics={"mean": 0.1 * h},
        )
        for h in range(3)
    ]
    monitoring.record_statistics("demo", "feature_view", "stats", windows)
    monitoring.record_statistics("demo", "feature_view", "stats", windows[:1])  # idempotent
    stored = monitoring.statistics("demo", "feature_view", "stats")
    assert [(w.window_start, w.statistics["mean"]) for w in stored] == [
        (w.window_start, w.statistics["mean"]) for w in windows
    ]
    monitoring.record_drift(
        "demo",
        [
            DriftRecord(
                model="churn",
                environment="production",
                reference="training_set:ts",
                feature="conv_rate",
                window_start=T0,
                window_end=T0 + timedelta(days=1),
                verdict="drift",
                p_value=0.001,
                adjusted_p_value=0.002,
                n_reference=100,
                n_current=90,
                tests={"ks": 0.4},
                histogram={"edges": [0.5], "reference": [60, 40], "current": [30, 60]},
            )
        ],
    )
    assert [d.verdict for d in monitoring.drift_results("demo", "churn")] == ["drift"]
    assert monitoring.drift_results("demo", "churn")[0].histogram == {
        "edges": [0.5],
        "reference": [60, 40],
        "current": [30, 60],
    }
    monitoring.save_alert_rule("demo", "auc_drop", {"metric": "auc"})
    assert monitoring.alert_rules("demo") == {"auc_drop": {"metric": "auc"}}
    event = AlertEvent(
        rule="auc_drop",
        model="churn",
        environment="production",
        metric="auc",
        window_start=T0,
        window_end=T0 + timedelta(hours=1),
        value=0.5,
        condition="auc < 0.6",
    )
    assert len(monitoring.record_alerts("demo", [event])) == 1
    assert monitoring.record_alerts("demo", [event]) == []  # a window fires once
    assert [a.value for a in monitoring.alerts("demo")] == [0.5]


def test_experiments_and_retraining_runs(project: ProjectRegistry) -> None:
    project.experiments.declare("churn", "production", "auc-test", {"metric": "auc"}, by="ana")
    current = project.experiments.current("churn", "production")
    assert current is not None
    assert current.name == "auc-test"
    run = project.retraining.start("churn", "weekly", "schedule", "a week passed", {}, at=T0)
    project.retraining.finish(run.id, version=2)
    assert [(r.status, r.version) for r in project.retraining.list("churn")] == [("succeeded", 2)]
