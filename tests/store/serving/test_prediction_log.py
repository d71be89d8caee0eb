"""The predictions log on SQLite and on PostgreSQL: one suite, both databases.

Every test gets a new, empty log of each kind (``prediction_log`` in ``tests/conftest.py``).
Beyond round trips, the log must take appends from several serving processes at once
without losing a row or a running sum, and a team's stores must all read one log.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from store import FeatureStore
from store.errors import ConfigError, PredictionLogError
from store.serving.prediction_log import METRICS, LoggedPrediction, PredictionLog, canonical
from tests.services import fresh_postgres_database
from tests.store.serving.test_rollup import same

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


def prediction(
    i: int, *, version: int = 1, role: str = "primary", at: datetime = T0, **extra: Any
) -> LoggedPrediction:
    value = extra.pop("value", i % 2)
    label, number = canonical(value)
    fields: dict[str, Any] = {
        "request_id": f"r{i}",
        "predicted_at": at.isoformat(),
        "environment": "production",
        "model": "m",
        "version": version,
        "role": role,
        "entity": json.dumps({"driver_id": i}),
        "features": json.dumps({"conv_rate": i / 10, "trips": None if i % 3 == 0 else i}),
        "prediction": json.dumps({"prediction": value}),
        "latency_ms": 1.0 + i,
        "prediction_id": f"p{i}",
        "label": label,
        "predicted": number,
    }
    fields.update(extra)
    return LoggedPrediction(**fields)


def with_shadow(i: int, at: datetime = T0) -> list[LoggedPrediction]:
    return [
        prediction(i, at=at),
        prediction(i, version=2, role="shadow", prediction_id=f"p{i}.shadow.v2", value=1, at=at),
    ]


def test_a_log_never_written_reads_empty_and_stays_absent(prediction_log: PredictionLog) -> None:
    assert prediction_log.read().empty
    assert prediction_log.scored("m") == []
    assert prediction_log.arm_sums("m", "outcome", environment="production") == []
    assert prediction_log.outcomes_since("m", environment="production", since=None) == 0
    assert not prediction_log.db.exists()  # reading made no file and no table


def test_rows_read_back_in_logging_order_with_json_decoded(prediction_log: PredictionLog) -> None:
    rows = [prediction(i, at=T0 + timedelta(seconds=-i)) for i in range(5)]  # times go back
    prediction_log.append(rows[:2])
    prediction_log.append(rows[2:])
    log = prediction_log.read()
    assert list(log["prediction_id"]) == [f"p{i}" for i in range(5)]  # logged order, not time
    assert log.iloc[3]["entity"] == {"driver_id": 3}
    assert log.iloc[0]["features"] == {"conv_rate": 0.0, "trips": None}
    assert str(log["predicted_at"].dt.tz) == "UTC"
    assert log["latency_ms"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    table = prediction_log.features_table("m")
    assert table.column("trips").to_pylist() == [None, 1, 2, None, 4]


def test_outcomes_reach_the_prediction_and_its_shadow(prediction_log: PredictionLog) -> None:
    prediction_log.append([r for i in range(4) for r in with_shadow(i)])
    recorded, unknown = prediction_log.record_outcomes(
        [("p1", 1, T0), ("p2", 0, T0), ("nope", 1, T0)]
    )
    assert (recorded, unknown) == (2, ["nope"])
    prediction_log.record_outcomes([("p2", 1, T0)])  # recorded again: replaces
    scored = prediction_log.scored("m")
    outcomes = [(s.version, s.role, s.outcome) for s in scored if s.has_outcome]
    assert outcomes == [(1, "primary", 1), (2, "shadow", 1), (1, "primary", 1), (2, "shadow", 1)]
    assert sum(not s.has_outcome for s in scored) == 4
    assert prediction_log.outcomes_since("m", environment="production", since=None) == 2
    log = prediction_log.read()
    assert log.set_index("prediction_id").loc["p2.shadow.v2", "outcome"] == "1.0"
    for metric in METRICS:
        fast = prediction_log.arm_sums("m", metric, environment="production")
        slow = prediction_log.raw_arm_sums("m", metric, environment="production")
        same(fast, slow)
    accuracy = {
        a.role: a.metric for a in prediction_log.arm_sums("m", "accuracy", environment="production")
    }
    # p1 predicted 1 (right), p2 predicted 0 against 1 (wrong); shadows always say 1.
    assert (accuracy["primary"].n, accuracy["primary"].total) == (2, 1.0)
    assert (accuracy["shadow"].n, accuracy["shadow"].total) == (2, 2.0)
    assert isinstance(accuracy["primary"].total, float)


def test_clicks_count_positive_outcomes_per_request(prediction_log: PredictionLog) -> None:
    prediction_log.append([prediction(i, request_id="r", arm="a") for i in range(3)])
    prediction_log.record_outcomes([("p0", 1, T0), ("p2", 1, T0), ("p1", 0, T0)])
    assert prediction_log.clicks("m", environment="production") == [("r", 1, "a", 2)]


def _append_many(where: str, worker: int, batches: int) -> None:
    log = PredictionLog(where)
    for b in range(batches):
        at = T0 + timedelta(minutes=7 * b + worker)  # the hours interleave across workers
        rows = [
            prediction(1000 * worker + 10 * b + k, at=at, version=1 + k % 2, arm="ab")
            for k in range(3)
        ]
        log.append(rows)
        if b % 4 == 3:  # outcomes for an earlier batch, while the others append
            done = [(f"p{1000 * worker + 10 * (b - 1) + k}", k % 2, at) for k in range(3)]
            log.record_outcomes(done)


def _at_once(runs: list[tuple[str, int, int]]) -> None:
    """:func:`_append_many` in one new process per run, all started before any is awaited."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_many, args=run) for run in runs]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
        assert p.exitcode == 0
        p.close()


def test_several_processes_append_at_once_without_losing_a_row_or_a_sum(
    prediction_log: PredictionLog,
) -> None:
    where = prediction_log.db.url
    prediction_log.append([prediction(0)])  # the tables exist; the workers race on rows
    workers, batches = 4, 40
    _at_once([(where, w + 1, batches) for w in range(workers)])
    log = prediction_log.read()
    assert len(log) == 1 + workers * batches * 3
    assert log["prediction_id"].is_unique
    for worker in range(1, workers + 1):  # each worker's rows in the order it wrote them
        mine = log[log["prediction_id"].map(lambda p, w=worker: p.startswith(f"p{w}"))]
        written = sorted(mine["prediction_id"], key=lambda p: int(p[1:]))
        assert mine["prediction_id"].tolist() == written
    assert log["outcome"].notna().sum() == workers * (batches // 4) * 3
    for metric in METRICS:
        fast = prediction_log.arm_sums("m", metric, environment="production")
        slow = prediction_log.raw_arm_sums("m", metric, environment="production")
        same(fast, slow)


def test_a_new_postgresql_log_made_by_several_processes_at_once(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        _at_once([(url, w, 1) for w in range(4)])
        log = PredictionLog(url)
        assert len(log.read()) == 12
        log.close()


def _use_log(repo: Path, value: dict[str, str], registry: str | None = None) -> None:
    path = repo / "feature_store.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["prediction_log"] = value
    if registry is not None:
        config["registry"] = registry
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def test_two_checkouts_log_to_one_postgresql_log(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    """Two serving hosts (two checkouts sharing a PostgreSQL registry) log predictions to
    the registry's database; either one's monitoring reads both hosts' rows."""
    with fresh_postgres_database() as url:
        stores = []
        for name in ("host_a", "host_b"):
            repo = make_repo("basic", into=tmp_path / name)
            _use_log(repo, {"url": "registry"}, registry=url)
            stores.append(FeatureStore(repo_path=repo))
        stores[0].apply()
        a, b = (s._prediction_log for s in stores)
        assert a.db.url == b.db.url
        assert a.db.is_postgresql
        a.append([prediction(1)])
        b.append([prediction(2)])
        b.record_outcomes([("p1", 1, T0)])
        for store in stores:
            log = store.prediction_log()
            assert log["prediction_id"].tolist() == ["p1", "p2"]
            assert store.prediction_counts("m", "production") == {1: (2, 1)}
        for store in stores:
            store.close()


def test_bad_prediction_log_settings_say_what_to_write(make_repo: Callable[..., Path]) -> None:
    repo = make_repo("basic", data=False)
    for value, message in (
        ({"url": "mysql://db/x"}, "give a PostgreSQL URL"),
        ({"url": "registry"}, "which is SQLite here"),
        ({"path": "a.db", "url": "postgresql://db/x"}, "is not valid"),
        ("data/log.db", "is not valid"),
    ):
        _use_log(repo, value)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match=message) as caught:
            FeatureStore(repo_path=repo).config  # noqa: B018
        assert "feature_store.yaml" in str(caught.value)


def test_an_unreachable_log_server_is_named_without_its_password(tmp_path: Path) -> None:
    log = PredictionLog("postgresql://ana:s3cret@127.0.0.1:9/nowhere")
    with pytest.raises(PredictionLogError, match=r"ana:\*\*\*@127\.0\.0\.1:9") as caught:
        log.append([prediction(1)])
    assert "s3cret" not in str(caught.value)
    assert "prediction_log:" in str(caught.value)
