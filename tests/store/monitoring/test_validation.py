"""Expectations where data enters: materialization, push, training sets, on demand, the CLI;
the policies (reject writes nothing, warn loads and records) and what the registry keeps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from store import (
    DataValidationError,
    DefinitionError,
    Entity,
    FeatureStore,
    FeatureView,
    Field,
    FileSource,
    Matches,
    RepoValidationError,
    RequestError,
    ValueRange,
)
from store.cli import main
from store.types import Float64, String
from tests.conftest import T0, serve_stale_values
from tests.store.offline.test_retrieval import row, write

H = timedelta(hours=1)
STATS = ["driver_hourly_stats:conv_rate"]


@pytest.fixture
def store(make_repo: Callable[..., Path]) -> FeatureStore:
    repo = make_repo("validated")
    serve_stale_values(repo)
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    return fs


def bad_rate(repo: Path) -> None:
    """Driver 2's rate at hour 1 is out of range (and above its acceptance rate)."""
    rows = [row(d, T0 + h * H, d * 10 + h, created=T0) for d in (1, 2) for h in (0, 1)]
    rows[3]["conv_rate"] = 1.5
    write(repo, rows)
    table = pd.read_parquet(repo / "data" / "driver_stats.parquet")
    table["city"] = "Oslo"
    table.to_parquet(repo / "data" / "driver_stats.parquet")


def test_materialize_checks_each_view_then_loads_it(store: FeatureStore) -> None:
    done = store.materialize(T0, T0 + 3 * H)
    assert [d.feature_view for d in done] == ["driver_city", "driver_hourly_stats"]
    runs = {r.feature_view: r for r in store.validation_runs()}
    assert runs["driver_hourly_stats"].passed
    assert [c.passed for c in runs["driver_hourly_stats"].checks] == [True, True, True]
    # the lenient view loaded although one driver's city is not allowed, and says so
    city = runs["driver_city"]
    assert (city.passed, city.policy, city.trigger, city.row_count) == (
        False,
        "warn",
        "materialize",
        12,
    )
    assert city.checks[0].observed == {"share": pytest.approx(8 / 12), "n": 12}
    assert "city in {'Oslo', 'Lima'}" in city.checks[0].description
    values = store.get_online_features(["driver_city:city"], [{"driver_id": 1003}]).to_dict()
    assert values["city"] == ["Pune"]


def test_a_rejected_load_writes_nothing_and_says_what_failed(store: FeatureStore) -> None:
    bad_rate(store.repo_path)
    with pytest.raises(DataValidationError) as info:
        store.materialize(T0, T0 + H, feature_views=["driver_hourly_stats"])
    message = str(info.value)
    assert "'driver_hourly_stats': 2 expectation(s) failed on 4 rows (materialize)" in message
    assert "conv_rate in [0, 1]: share 0.75, n 4, min 0.5, max 1.5 (FAILED)" in message
    assert "acc_rate >= conv_rate: share 0.75, n 4 (FAILED)" in message
    assert "on_invalid='warn'" in message
    assert info.value.report.failures  # type: ignore[attr-defined]
    assert not store.registry.catalog.materialization_intervals(
        store.project, "driver_hourly_stats"
    )
    with pytest.raises(Exception, match="never been materialized"):
        store.get_online_features(STATS, [{"driver_id": 1}])
    (run,) = store.validation_runs("driver_hourly_stats")
    assert (run.passed, run.window_start, run.window_end) == (False, T0, T0 + H)
    # a window without the bad row loads
    store.materialize(T0, T0, feature_views=["driver_hourly_stats"])
    assert store.get_online_features(STATS, [{"driver_id": 2}]).to_dict()["conv_rate"] == [0.5]


def push_rows(rate: float, city: str = "Oslo") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": [1, 2],
            "event_timestamp": [T0 + 5 * H] * 2,
            "conv_rate": [0.25, rate],
            "acc_rate": [0.9, 0.9],
            "avg_daily_trips": [3, 4],
            "city": [city, city],
        }
    )


def test_a_rejected_push_writes_nothing_and_a_warned_one_is_written(store: FeatureStore) -> None:
    store.materialize(T0, T0 + 3 * H)
    before = store.get_online_features(STATS, [{"driver_id": 1001}]).to_dict()
    with pytest.raises(DataValidationError, match=r"conv_rate in \[0, 1\]: share 0.5"):
        store.push("driver_hourly_stats", push_rows(rate=3.0))
    assert store.get_online_features(STATS, [{"driver_id": 1001}]).to_dict() == before
    assert store.push("driver_hourly_stats", push_rows(rate=0.75)) == 2
    assert store.get_online_features(STATS, [{"driver_id": 2}]).to_dict()["conv_rate"] == [0.75]
    assert store.push("driver_city", push_rows(0.5, city="Quito")) == 2
    city = store.get_online_features(["driver_city:city"], [{"driver_id": 1}]).to_dict()
    assert city["city"] == ["Quito"]
    runs = store.validation_runs()
    pushes = [(r.feature_view, r.passed) for r in runs if r.trigger == "push"]
    assert pushes == [
        ("driver_city", False),
        ("driver_hourly_stats", True),
        ("driver_hourly_stats", False),
    ]
    assert (runs[0].window_start, runs[0].window_end) == (T0 + 5 * H, T0 + 5 * H)


def test_training_sets_record_their_checks_and_a_rejected_one_is_not_saved(
    store: FeatureStore,
) -> None:
    entity = pd.DataFrame({"driver_id": [1001, 1002], "event_timestamp": [T0 + 2 * H] * 2})
    saved = store.get_historical_features(entity, STATS).save("clean")
    (run,) = store.registry.monitoring.validation_runs(store.project, training_set="clean")
    # checked over the rows the set could read: back a ttl from the first entity row
    assert (run.trigger, run.passed, run.window_start, run.window_end) == (
        "training_set",
        True,
        T0 + 2 * H - timedelta(days=1),
        T0 + 2 * H,
    )
    assert run.training_set == saved.name
    bad_rate(store.repo_path)
    entity = pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [T0 + H] * 2})
    with pytest.raises(DataValidationError, match="2 expectation\\(s\\) failed on 4 rows"):
        store.get_historical_features(entity, STATS).save("dirty")
    assert [t.name for t in store.list_training_sets()] == ["clean"]
    assert store.artifact_store.keys(f"{store.project}/training_sets/dirty") == []
    assert store.validation_runs("driver_hourly_stats")[0].training_set is None


def test_the_model_card_shows_the_training_sets_checks(store: FeatureStore) -> None:
    from sklearn.linear_model import LogisticRegression

    entity = pd.DataFrame(
        {"driver_id": [1001, 1002, 1003, 1001], "event_timestamp": [T0 + 2 * H] * 4}
    )
    saved = store.get_historical_features(entity, STATS).save("for_card")
    frame = saved.to_df()
    model = LogisticRegression().fit(frame[["conv_rate"]], [0, 1, 1, 0])
    version = store.model_registry.register_model("m", model, training_set=saved.record)
    card = store.model_registry.cards.get("m", version.version)
    (check,) = card.sections["training_data"]["data_validation"]
    assert (check["feature_view"], check["passed"]) == ("driver_hourly_stats v1", True)
    assert check["checks"][0].startswith("conv_rate in [0, 1]: passed (share 1, n ")  # rounded
    assert "conv_rate in [0, 1]: passed" in card.to_markdown()


def test_validate_on_demand_and_from_the_cli(
    store: FeatureStore, capsys: pytest.CaptureFixture[str]
) -> None:
    report = store.validate("driver_hourly_stats", T0, T0 + 3 * H)
    assert (report.passed, report.row_count, report.trigger) == (True, 12, "on_demand")
    empty = store.validate("driver_hourly_stats", T0 + 50 * H, T0 + 60 * H)
    assert (empty.passed, empty.row_count) == (False, 0)
    assert [o.passed for o in empty.outcomes] == [True, True, False]  # only RowCount can fail
    assert "(the window holds no rows)" in empty.render()
    store.apply([_plain_view(store.repo_path)])
    with pytest.raises(RequestError, match="declares no expectations"):
        store.validate("plain")
    repo = str(store.repo_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", repo, "validate", "driver_city", "--start", "2026-01-01"])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "feature view driver_city v1, 2026-01-01 00:00:00 to the last row: 12 rows" in out
    assert "BAD city in {'Oslo', 'Lima'}: share 0.6667, n 12 (FAILED)" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", repo, "validate", "driver_hourly_stats"])
    assert exit_info.value.code == 0
    assert "12 rows, passed" in capsys.readouterr().out
    assert len(store.validation_runs()) == 4  # two here, two by the CLI


def _plain_view(repo: Path) -> FeatureView:
    return FeatureView(
        name="plain",
        entities=[Entity(name="driver", join_keys=["driver_id"])],
        schema=[Field(name="acc_rate", dtype=Float64)],
        source=FileSource(
            name="driver_stats_source",
            path="data/driver_stats.parquet",
            timestamp_field="event_timestamp",
            created_timestamp_column="created",
        ),
    )


@pytest.mark.parametrize(
    ("expectations", "message"),
    [
        ([ValueRange("speed", min=0)], "names 'speed', which is not a feature of the view"),
        ([Matches("rate", "^x")], "needs string features, but 'rate' is Float64"),
        ([ValueRange("city", min=0)], "needs numeric features, but 'city' is String"),
        (["rate > 0"], "expectations must be objects such as ValueRange"),
    ],
)
def test_expectations_are_checked_where_they_are_declared(
    expectations: list[Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        FeatureView(
            name="v",
            entities=[Entity(name="driver")],
            schema=[Field(name="rate", dtype=Float64), Field(name="city", dtype=String)],
            source=FileSource(path="x.parquet", timestamp_field="ts"),
            expectations=expectations,
        )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ValueRange("x"), "give min, max or both"),
        (lambda: ValueRange("x", min=2, max=1), "min=2 is greater than max=1"),
        (lambda: ValueRange("x", min=float("nan")), "must be a finite number"),
        (lambda: ValueRange("x", min=0, mostly=0), "mostly=0 must be a share in \\(0, 1\\]"),
        (lambda: Matches("x", "("), "pattern '\\(' is not valid"),
    ],
)
def test_bad_expectation_values_are_refused(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        build()


def test_a_repository_with_a_bad_expectation_names_the_file(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo("validated")
    text = (repo / "definitions.py").read_text()
    (repo / "definitions.py").write_text(
        text.replace('ValueRange("conv_rate"', 'ValueRange("rate"')
    )
    with pytest.raises(Exception, match=r"definitions.py:\d+: DefinitionError") as info:
        FeatureStore(repo_path=repo).plan()
    assert "names 'rate', which is not a feature of the view" in str(info.value)
    assert not isinstance(info.value, RepoValidationError)
