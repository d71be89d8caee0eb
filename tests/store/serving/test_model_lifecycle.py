"""From a saved training set to deployed models: cards, deployments, lineage, search."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from registry import ProjectRegistry, RegistryError, RegistryNotFoundError, Target
from store import FeatureStore
from tests.conftest import T0

H = timedelta(hours=1)
REFS = ["driver_hourly_stats:avg_daily_trips", "driver_hourly_stats:conv_rate"]


@pytest.fixture
def project(make_repo: Callable[..., Path]) -> ProjectRegistry:
    fs = FeatureStore(repo_path=make_repo("basic"))
    fs.apply()
    rows = pd.DataFrame(
        {
            "driver_id": [1001, 1002, 1003, 1001],
            "event_timestamp": [T0 + H, T0 + 2 * H, T0 + 3 * H, T0 + 3 * H],
            "label": [0, 1, 1, 0],
        }
    )
    saved = fs.get_historical_features(rows, REFS).save("drivers")
    data = saved.to_df()
    model = LogisticRegression().fit(data[["avg_daily_trips", "conv_rate"]], data["label"])
    registry = fs.model_registry
    for auc, team in ((0.81, "growth"), (0.93, "growth"), (0.88, "risk")):
        registry.register_model(
            "churn", model, training_set=saved.record, metrics={"auc": auc}, tags={"team": team}
        )
    registry.register_model("eta", {"k": 1}, serializer="pickle", metrics={"mae": 3.0})
    return registry


def test_deploy_canary_promote_and_rollback(project: ProjectRegistry) -> None:
    d = project.deployments
    d.deploy("churn", "production", version=1, by="ana", reason="first")
    live = d.deploy(
        "churn",
        "production",
        [Target(1), Target(2, "canary", 10), Target(3, "shadow", 0)],
        by="ana",
        reason="try v2",
    )
    assert live.revision == 2
    with pytest.raises(RegistryError, match="sum to 95%, not 100%"):
        d.deploy("churn", "production", [Target(1, share=85), Target(2, "canary", 10)])
    promoted = d.promote("churn", "production", by="bo", reason="canary healthy")
    assert [(t.version, t.role, t.share) for t in promoted.targets] == [
        (2, "primary", 100.0),
        (3, "shadow", 0.0),
    ]
    back = d.rollback("churn", "production", by="cy", reason="latency")
    assert back.action == "rollback"
    assert back.targets == live.targets
    assert [r.revision for r in d.history("churn", "production")] == [1, 2, 3, 4]
    assert d.served_at("churn", "production", promoted.created_at).revision == 3


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ([Target(1), Target(2)], "two primaries"),
        ([Target(2, "canary", 100)], "a canary needs a primary"),
        ([Target(1, "ab", 50, "a"), Target(2, "ab", 50, "a")], "its own arm name"),
        ([Target(1, "gold")], "role 'gold' is unknown"),
        ([Target(1), Target(2, "ab", 50, "a")], "take the place of a primary"),
        ([Target(1, share=50), Target(1, "canary", 50)], "serves in two roles"),
        ([Target(1), Target(2, "canary")], "give the canary v2 its share"),
        ([Target(9)], "churn v9"),
    ],
)
def test_bad_deployments_change_nothing(
    project: ProjectRegistry, targets: list[Target], message: str
) -> None:
    project.deployments.deploy("churn", "staging", version=1)
    with pytest.raises((RegistryError, RegistryNotFoundError), match=message):
        project.deployments.deploy("churn", "staging", targets)
    assert len(project.deployments.history("churn", "staging")) == 1


def test_ab_arms_split_traffic(project: ProjectRegistry) -> None:
    live = project.deployments.deploy(
        "churn", "production", [Target(2, "ab", 50, "a"), Target(3, "ab", 50, "b")]
    )
    assert live.versions("ab") == [2, 3]


def test_an_environment_can_require_an_approved_card(project: ProjectRegistry) -> None:
    project.deployments.create_environment("production", require_approved_card=True)
    with pytest.raises(RegistryError, match="card is missing"):
        project.deployments.deploy("churn", "production", version=2)
    project.cards.update("churn", 2, {"intended_use": "Rank drivers for offers"})
    with pytest.raises(RegistryError, match="card is draft"):
        project.deployments.deploy("churn", "production", version=2)
    project.cards.approve("churn", 2, by="reviewer")
    assert project.deployments.deploy("churn", "production", version=2).revision == 1


def test_model_cards_fill_known_sections_and_list_missing_ones(
    project: ProjectRegistry, tmp_path: Path
) -> None:
    card = project.cards.get("churn", 1)
    assert card.sections["model_details"]["type"].endswith("LogisticRegression")
    assert card.sections["metrics"] == {"auc": 0.81}
    assert card.sections["training_data"]["training_set"] == "drivers"
    assert "avg_daily_trips" in card.sections["training_data"]["feature_statistics"]
    assert "intended_use" in card.missing
    yaml_file = tmp_path / "card.yaml"
    yaml_file.write_text("ethical_considerations: No personal data beyond driver ids.\n")
    card = project.cards.update(
        "churn",
        1,
        {
            "intended_use": "Offer ranking",
            "quantitative_analyses": {"sliced_metrics": {"city=Oslo": {"auc": 0.8}}},
        },
        yaml_path=yaml_file,
        by="ana",
    )
    assert (card.revision, card.status) == (1, "draft")
    assert card.missing == ["factors", "evaluation_data", "caveats_and_recommendations"]
    markdown = card.to_markdown()
    assert "## Intended use\n\nOffer ranking" in markdown
    assert (
        "**Missing sections:** Factors, Evaluation data, Caveats and recommendations." in markdown
    )
    page = card.to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert "<link" not in page
    assert "<script" not in page
    assert "<pre>" not in page  # tables and prose, not JSON dumps
    assert '<td class="num">0.81</td>' in page
    assert "@media print" in page
    assert project.cards.approve("churn", 1).status == "approved"
    with pytest.raises(RegistryError, match="sliced_metrics must be"):
        project.cards.update("churn", 1, {"quantitative_analyses": {"sliced_metrics": {"a": 1}}})
    with pytest.raises(RegistryError, match="cannot be written"):
        project.cards.update("churn", 1, {"metrics": {"auc": 1.0}})


def test_lineage_both_ways(project: ProjectRegistry) -> None:
    lineage = project.lineage.of_version("churn", 2)
    assert lineage.training_set == "drivers"
    assert lineage.feature_views == [("driver_hourly_stats", 1)]
    assert lineage.sources == ["data/driver_stats.parquet"]
    project.deployments.deploy("churn", "production", version=2)
    users = project.lineage.users_of("driver_hourly_stats", "conv_rate")
    assert users.model_versions == (("churn", 1), ("churn", 2), ("churn", 3))
    assert users.live_deployments == (("churn", "production", 2, "primary"),)
    assert project.lineage.users_of("driver_hourly_stats", "acc_rate").model_versions == ()
    revision, trained = project.lineage.served_at(
        "churn", "production", project.deployments.live("churn", "production").created_at
    )
    assert (revision.revision, trained[0].version) == (1, 2)


def test_search_with_and_or_parentheses_sorting_and_pages(project: ProjectRegistry) -> None:
    project.deployments.deploy("churn", "production", version=3)
    project.models.set_alias("churn", "champion", 2)

    def found(text: str, **kwargs: object) -> list[tuple[str, int]]:
        page = project.search_model_versions(text, **kwargs)  # type: ignore[arg-type]
        return [(v.model, v.version) for v in page.versions]

    assert found("metrics.auc > 0.85") == [("churn", 3), ("churn", 2)]
    assert found("metrics.auc > 0.85 AND tags.team = 'growth'") == [("churn", 2)]
    assert found("deployed_in = 'production' OR alias = 'champion'") == [
        ("churn", 3),
        ("churn", 2),
    ]
    assert found("(name = 'eta' OR metrics.auc < 0.85) AND version = 1") == [
        ("churn", 1),
        ("eta", 1),
    ]
    assert found("uses_feature = 'driver_hourly_stats:conv_rate'", order_by=["metrics.auc DESC"])[
        0
    ] == ("churn", 2)
    assert found("name LIKE 'ch%'", order_by=["version"]) == [
        ("churn", 1),
        ("churn", 2),
        ("churn", 3),
    ]
    first = project.search_model_versions("", order_by=["name", "version"], max_results=3)
    second = project.search_model_versions(
        "", order_by=["name", "version"], max_results=3, page_token=first.next_page_token
    )
    assert [(v.model, v.version) for v in second.versions] == [("eta", 1)]
    assert second.next_page_token is None
    with pytest.raises(RegistryError, match="is not a field"):
        project.search_model_versions("accuracy > 1")


def test_versions_in_use_cannot_be_deleted(project: ProjectRegistry) -> None:
    project.deployments.deploy("churn", "production", [Target(1), Target(2, "shadow", 0)])
    project.models.set_alias("churn", "champion", 3)
    with pytest.raises(RegistryError, match="serves in production"):
        project.delete_version("churn", 2)
    with pytest.raises(RegistryError, match="alias"):
        project.delete_version("churn", 3)
    project.deployments.deploy("churn", "production", version=1)
    project.delete_version("churn", 2)
    assert [v.version for v in project.models.list_versions("churn")] == [1, 3]
    with pytest.raises(RegistryNotFoundError):
        project.load_model("churn", version=2)
