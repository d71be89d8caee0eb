"""Experiment reports end to end: the predictions log's per-arm sums in SQL against the same
numbers computed by SciPy on the raw rows, sample-ratio mismatch, guardrails, shadows, the
experiment's window, plans, promotion on evidence and bad input."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

from registry import RegistryError, Target
from store import FeatureStore, RequestError
from store.cli import main
from store.serving.prediction_log import LoggedPrediction, canonical
from tests.conftest import T0, serve_stale_values

H = timedelta(hours=1)
REFS = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"]


@pytest.fixture
def store(make_repo: Callable[..., Path]) -> FeatureStore:
    repo = make_repo("basic")
    serve_stale_values(repo)
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    rows = pd.DataFrame(
        {
            "driver_id": [1001, 1002, 1003, 1001, 1002, 1003],
            "event_timestamp": [T0 + H] * 3 + [T0 + 3 * H] * 3,
            "label": [0, 1, 1, 0, 1, 1],
        }
    )
    saved = fs.get_historical_features(rows, REFS).save("drivers")
    data = saved.to_df()
    for c in (0.1, 10.0, 1.0):
        model = LogisticRegression(C=c).fit(data[["conv_rate", "avg_daily_trips"]], data["label"])
        fs.model_registry.register_model("churn", model, training_set=saved.record)
    fs.materialize(T0, T0 + 10 * H)
    return fs


def log_arm(
    fs: FeatureStore,
    version: int,
    role: str,
    outcomes: Sequence[object | None],
    *,
    arm: str = "",
    share: float | None = None,
    errors: int = 0,
    missing: int = 0,
    latency: float = 2.0,
    predictions: Sequence[object] | None = None,
    at: datetime | None = None,
) -> list[str]:
    """Log one prediction per outcome (None: no outcome arrives) for a target, plus failed
    ones; record the outcomes; return the ids."""
    when = (at or datetime.now(UTC)).isoformat()
    ids = [uuid.uuid4().hex for _ in outcomes]
    rows = []
    for i, pid in enumerate(ids):
        predicted = predictions[i] if predictions is not None else 1
        label, number = canonical(predicted)
        rows.append(
            LoggedPrediction(
                request_id=pid,
                predicted_at=when,
                environment="production",
                model="churn",
                version=version,
                role=role,
                entity=json.dumps({"driver_id": 1000 + i}),
                features="{}",
                prediction=json.dumps({"prediction": predicted}),
                latency_ms=latency,
                prediction_id=pid,
                arm=arm,
                propensity=None if share is None else share / 100,
                missing=int(i < missing),
                label=label,
                predicted=number,
            )
        )
    rows += [
        LoggedPrediction(
            request_id="failed",
            predicted_at=when,
            environment="production",
            model="churn",
            version=version,
            role=role,
            entity="{}",
            features="{}",
            prediction="{}",
            latency_ms=0.0,
            prediction_id=uuid.uuid4().hex,
            arm=arm,
            error="ValueError: broken",
        )
        for _ in range(errors)
    ]
    fs._prediction_log.append(rows)
    arrived = [(pid, o) for pid, o in zip(ids, outcomes, strict=True) if o is not None]
    if arrived:
        fs.record_outcomes([p for p, _ in arrived], [o for _, o in arrived])
    return ids


def bernoulli(rng: np.random.Generator, n: int, rate: float) -> list[object | None]:
    return [bool(x) for x in rng.random(n) < rate]


def deploy_ab(fs: FeatureStore, shares: tuple[float, float] = (50, 50)) -> None:
    fs.model_registry.deployments.deploy(
        "churn",
        "production",
        [Target(1, "ab", shares[0], "control"), Target(2, "ab", shares[1], "treatment")],
    )


def test_ab_report_matches_scipy_on_the_raw_rows(store: FeatureStore) -> None:
    deploy_ab(store)
    rng = np.random.default_rng(7)
    control = bernoulli(rng, 3000, 0.10) + [None] * 200
    treatment = bernoulli(rng, 3000, 0.14) + [None] * 150
    log_arm(store, 1, "ab", control, arm="control", share=50)
    log_arm(store, 2, "ab", treatment, arm="treatment", share=50)

    report = store.experiment("churn")
    control_arm, treatment_arm = report.arms
    assert (control_arm.predictions, control_arm.outcomes) == (3200, 3000)
    assert (treatment_arm.predictions, treatment_arm.outcomes) == (3150, 3000)
    (result,) = report.metrics
    c = np.array([x for x in control if x is not None], dtype=float)
    t = np.array([x for x in treatment if x is not None], dtype=float)
    table = [[c.sum(), len(c) - c.sum()], [t.sum(), len(t) - t.sum()]]
    _chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert result.comparison.test == "two-proportion z-test"
    assert result.comparison.p_value == pytest.approx(p)
    assert result.comparison.difference == pytest.approx(t.mean() - c.mean())
    assert control_arm.metrics["outcome"] == pytest.approx(c.mean())
    # the sample-ratio check on all traffic, against 50/50
    assert report.sample_ratio is not None
    expected_p = stats.chisquare([3200, 3150], [3175, 3175]).pvalue
    assert report.sample_ratio.p_value == pytest.approx(expected_p)
    assert not report.sample_ratio.mismatch
    assert report.verdict == "better"
    assert report.winner == "v2 treatment"
    assert "beats v1 control" in report.render()


def test_welch_for_a_continuous_outcome(store: FeatureStore) -> None:
    deploy_ab(store)
    rng = np.random.default_rng(3)
    control = [float(x) for x in rng.exponential(10.0, 800)]
    treatment = [float(x) for x in rng.exponential(10.5, 900)]
    log_arm(store, 1, "ab", control, arm="control", share=50)
    log_arm(store, 2, "ab", treatment, arm="treatment", share=50)
    (result,) = store.experiment("churn").metrics
    expected = stats.ttest_ind(treatment, control, equal_var=False)
    assert result.comparison.test == "Welch's t-test"
    assert result.comparison.p_value == pytest.approx(expected.pvalue)


def test_sample_ratio_mismatch_blocks_the_verdict(store: FeatureStore) -> None:
    deploy_ab(store)
    rng = np.random.default_rng(1)
    log_arm(store, 1, "ab", bernoulli(rng, 5200, 0.10), arm="control", share=50)
    log_arm(store, 2, "ab", bernoulli(rng, 4800, 0.30), arm="treatment", share=50)
    report = store.experiment("churn")
    assert report.sample_ratio is not None
    assert report.sample_ratio.mismatch
    assert report.verdict == "blocked"
    assert "sample ratio mismatch" in report.reason
    assert report.winner is None


def test_guardrails_and_the_window_of_the_live_arms(store: FeatureStore) -> None:
    rng = np.random.default_rng(5)
    store.model_registry.deployments.deploy("churn", "production", version=1)
    # before the canary: not part of the experiment
    log_arm(store, 1, "primary", bernoulli(rng, 500, 0.5), at=datetime.now(UTC) - H)
    store.model_registry.deployments.deploy(
        "churn", "production", [Target(1, share=50), Target(2, "canary", 50)]
    )
    log_arm(store, 1, "primary", bernoulli(rng, 2000, 0.10), share=50, latency=2.0)
    log_arm(
        store,
        2,
        "canary",
        bernoulli(rng, 2000, 0.20),
        share=50,
        errors=60,
        missing=300,
        latency=2.0,
    )
    report = store.experiment("churn")
    assert report.kind == "canary"
    assert report.arms[0].predictions == 2000  # the hour-old rows are left out
    breached = {g.guardrail for g in report.guardrails if g.breached}
    assert breached == {"error_rate", "missing_feature_rate"}
    canary = report.arms[1]
    assert canary.error_rate == pytest.approx(60 / 2060)
    assert report.verdict == "breached"
    assert "breaks its guardrails" in report.reason


def test_shadows_are_compared_on_how_right_they_were(store: FeatureStore) -> None:
    store.model_registry.deployments.deploy("churn", "production", [Target(1), Target(2, "shadow")])
    rng = np.random.default_rng(2)
    truth = [int(bool(y)) for y in bernoulli(rng, 400, 0.5)]
    primary_right = rng.random(400) < 0.9
    shadow_right = rng.random(400) < 0.4
    primary_ids = log_arm(
        store,
        1,
        "primary",
        [None] * 400,
        predictions=[y if r else 1 - y for y, r in zip(truth, primary_right, strict=True)],
    )
    # the shadow is right less often; its rows carry the primary's ids
    store._prediction_log.append(
        [
            LoggedPrediction(
                request_id=pid,
                predicted_at=datetime.now(UTC).isoformat(),
                environment="production",
                model="churn",
                version=2,
                role="shadow",
                entity="{}",
                features="{}",
                prediction=json.dumps({"prediction": y if r else 1 - y}),
                latency_ms=1.0,
                prediction_id=f"{pid}.shadow.v2",
                label=canonical(y if r else 1 - y)[0],
                predicted=float(y if r else 1 - y),
            )
            for pid, y, r in zip(primary_ids, truth, shadow_right, strict=True)
        ]
    )
    store.record_outcomes(primary_ids, truth)
    report = store.experiment("churn")
    assert report.kind == "shadow"
    assert report.sample_ratio is None
    (result,) = report.metrics
    assert result.metric == "accuracy"
    assert result.comparison.control_mean == pytest.approx(primary_right.mean())
    assert result.comparison.treatment_mean == pytest.approx(shadow_right.mean())
    assert report.verdict == "worse"
    with pytest.raises(RequestError, match="never change the outcome"):
        store.experiment("churn", metric="outcome")


def test_plans_and_the_verdict_over_time(store: FeatureStore) -> None:
    deploy_ab(store)
    experiment = store.plan_experiment(
        "churn", "production", "calmer", metric="outcome", baseline=0.10, effect=0.05
    )
    horizon = experiment.spec["horizon"]
    assert horizon > experiment.spec["fixed_horizon"] > 0
    rng = np.random.default_rng(11)
    log_arm(store, 1, "ab", bernoulli(rng, 100, 0.10), arm="control", share=50)
    log_arm(store, 2, "ab", bernoulli(rng, 100, 0.10), arm="treatment", share=50)
    early = store.experiment("churn")
    assert early.verdict == "keep running"
    assert f"100 of {horizon:,} planned" in early.reason
    assert early.experiment == "calmer"
    log_arm(store, 1, "ab", bernoulli(rng, horizon, 0.10), arm="control", share=50)
    log_arm(store, 2, "ab", bernoulli(rng, horizon, 0.10), arm="treatment", share=50)
    late = store.experiment("churn")
    assert late.verdict == "no difference"


def test_bad_input_is_a_clear_error(store: FeatureStore) -> None:
    store.model_registry.deployments.deploy("churn", "production", version=1)
    with pytest.raises(RequestError, match="serves one version only"):
        store.experiment("churn")
    deploy_ab(store)
    log_arm(store, 1, "ab", ["gold", "silver"], arm="control", share=50)
    with pytest.raises(RequestError, match="cannot read 2 outcomes of churn as numbers"):
        store.experiment("churn")
    with pytest.raises(RequestError, match="metric 'revenue' is unknown"):
        store.experiment("churn", metric="revenue")
    with pytest.raises(RequestError, match="metric 'revenue' is unknown"):
        store.set_promotion_gate("production", metric="revenue")
    with pytest.raises(RequestError, match="cannot plan"):
        store.plan_experiment("churn", "production", "x", baseline=0.1, effect=0.0)


def test_promotion_on_evidence(store: FeatureStore, capsys: pytest.CaptureFixture[str]) -> None:
    deployments = store.model_registry.deployments
    deployments.deploy("churn", "production", [Target(1, share=50), Target(2, "canary", 50)])
    store.set_promotion_gate("production", metric="outcome")
    with pytest.raises(RegistryError, match="promotes only on evidence"):
        deployments.promote("churn", "production")
    rng = np.random.default_rng(4)
    log_arm(store, 1, "primary", bernoulli(rng, 1500, 0.10), share=50)
    log_arm(store, 2, "canary", bernoulli(rng, 1500, 0.11), share=50)
    before = len(deployments.history("churn", "production"))
    card_before = store.model_registry.cards.get("churn", 2).revision
    with pytest.raises(RequestError, match="v2 is not promoted in production: not shown better"):
        store.promote("churn", if_better=True)
    assert len(deployments.history("churn", "production")) == before  # nothing recorded
    assert store.model_registry.cards.get("churn", 2).revision == card_before

    log_arm(store, 1, "primary", bernoulli(rng, 3000, 0.10), share=50)
    log_arm(store, 2, "canary", bernoulli(rng, 3000, 0.16), share=50)
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", str(store.repo_path), "promote", "churn", "production", "--if-better"])
    assert exit_info.value.code == 0
    assert "shown better on outcome" in capsys.readouterr().out
    live = deployments.live("churn", "production")
    assert live.versions("primary") == [2]
    assert live.evidence is not None
    assert live.evidence["passed"]
    assert live.evidence["comparisons"][0]["test"] == "two-proportion z-test"
    card = store.model_registry.cards.get("churn", 2)
    (recorded,) = card.sections["quantitative_analyses"]["online_experiments"]
    assert recorded["challenger"] == 2
    assert recorded["arms"][1]["outcomes"] == 4500


def test_non_inferiority_margin(store: FeatureStore) -> None:
    store.model_registry.deployments.deploy(
        "churn", "production", [Target(1, share=50), Target(2, "canary", 50)]
    )
    store.set_promotion_gate("production", metric="outcome", margin=0.05)
    rng = np.random.default_rng(8)
    log_arm(store, 1, "primary", bernoulli(rng, 4000, 0.10), share=50)
    log_arm(store, 2, "canary", bernoulli(rng, 4000, 0.10), share=50)
    revision = store.promote("churn")
    assert revision.evidence is not None
    assert "not worse by more than 0.05" in revision.evidence["decision"]


def test_cli_plan_and_report(store: FeatureStore, capsys: pytest.CaptureFixture[str]) -> None:
    deploy_ab(store)
    rng = np.random.default_rng(9)
    log_arm(store, 1, "ab", bernoulli(rng, 300, 0.10), arm="control", share=50)
    log_arm(store, 2, "ab", bernoulli(rng, 300, 0.12), arm="treatment", share=50)
    repo = str(store.repo_path)
    for args in (
        ["experiments", "plan", "churn", "lift", "--baseline", "0.1", "--effect", "0.02"],
        ["experiments", "report", "churn"],
        ["experiments", "report", "churn", "--format", "json"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["--repo", repo, *args])
        assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "7,350 outcomes per arm" in out
    assert "Verdict: KEEP RUNNING" in out
    assert '"verdict": "keep running"' in out


def test_rankings_interleave_two_versions_and_credit_clicks(
    store: FeatureStore,
) -> None:
    deployments = store.model_registry.deployments
    candidates = [{"driver_id": d} for d in (1001, 1002, 1003)]
    deployments.deploy("churn", "production", version=1)
    ranked = store.rank("churn", "production", {}, candidates)
    assert [r["rank"] for r in ranked] == [0, 1, 2]
    assert {r["model_version"] for r in ranked} == {1}
    scores = [r["score"] for r in ranked]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(RequestError, match="not interleaving"):
        store.interleaving("churn")

    with pytest.raises(RegistryError, match="exactly two A/B arms"):
        deployments.deploy("churn", "production", [Target(1)], mode="interleave")
    deployments.deploy(
        "churn",
        "production",
        [Target(1, "ab", 50, "old"), Target(2, "ab", 50, "new")],
        mode="interleave",
    )
    for _ in range(12):
        shown = store.rank("churn", "production", {}, candidates)
        assert sorted(r["driver_id"] for r in shown) == [1001, 1002, 1003]
        assert {r["model_version"] for r in shown} <= {1, 2}
        # users click what version 2 placed
        clicked = [r["prediction_id"] for r in shown if r["model_version"] == 2]
        store.record_outcomes(clicked, [True] * len(clicked))
    report = store.interleaving("churn")
    assert report.preference.wins_b == 12
    assert report.preference.wins_a == 0
    assert report.winner == 2
    assert "b preferred" in report.render()
    log = store.prediction_log()
    assert (log["request_id"].value_counts() == 3).all()


def test_bandit_shares_follow_outcomes_with_evidence(store: FeatureStore) -> None:
    from store.experiments.bandit import BanditPolicy

    deployments = store.model_registry.deployments
    policy = BanditPolicy(min_outcomes=50, floor=0.05, interval=timedelta(hours=1))
    deployments.deploy(
        "churn",
        "production",
        [Target(1, "ab", 50, "a"), Target(2, "ab", 50, "b")],
        mode="bandit",
        policy=policy.to_dict(),
    )
    # each prediction logs the probability its arm was chosen with
    served = store.predict("churn", [{"driver_id": d} for d in (1001, 1002, 1003)])
    log = store.prediction_log()
    assert set(log["propensity"]) == {0.5}
    assert set(log["arm"]) <= {"a", "b"}
    assert store.reweight("churn") is None  # its interval has not passed
    rng = np.random.default_rng(6)
    log_arm(store, 1, "ab", bernoulli(rng, 20, 0.1), arm="a", share=50)
    log_arm(store, 2, "ab", bernoulli(rng, 20, 0.3), arm="b", share=50)
    assert store.reweight("churn", force=True) is None  # too few outcomes to move
    log_arm(store, 1, "ab", bernoulli(rng, 400, 0.1), arm="a", share=50)
    log_arm(store, 2, "ab", bernoulli(rng, 400, 0.3), arm="b", share=50)
    revision = store.reweight("churn", force=True)
    assert revision is not None
    assert revision.action == "reweight"
    assert revision.mode == "bandit"
    shares = {t.arm: t.share for t in revision.targets}
    assert shares["b"] == pytest.approx(95.0)  # the floor keeps 5% on a
    assert revision.evidence is not None
    assert revision.evidence["arms"]["b"]["n"] == 420
    assert "b best" in revision.reason
    # the bandit's arms are one experiment across reweightings; no sample-ratio check
    report = store.experiment("churn")
    assert report.kind == "bandit"
    assert report.sample_ratio is None
    assert report.arms[0].predictions + report.arms[1].predictions == 840 + len(served)
    with pytest.raises(RegistryError, match="at least two A/B arms"):
        deployments.deploy("churn", "staging", [Target(1)], mode="bandit")


def test_a_log_written_before_experiments_is_read_right(store: FeatureStore) -> None:
    import sqlite3

    path = store.repo_path / "data" / "predictions.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE predictions (request_id TEXT NOT NULL, predicted_at TEXT NOT NULL, "
            "environment TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL, "
            "role TEXT NOT NULL, entity TEXT NOT NULL, features TEXT NOT NULL, "
            "prediction TEXT NOT NULL, latency_ms REAL NOT NULL, prediction_id TEXT)"
        )
        conn.execute(
            "CREATE TABLE outcomes (prediction_id TEXT PRIMARY KEY, value TEXT NOT NULL, "
            "observed_at TEXT NOT NULL, recorded_at TEXT NOT NULL)"
        )
        now = datetime.now(UTC)
        for version, role, right in ((1, "primary", 1), (2, "canary", 0)):
            for i in range(50):
                pid = f"{version}-{i}"
                conn.execute(
                    "INSERT INTO predictions VALUES (?, ?, 'production', 'churn', ?, ?, '{}', "
                    "'{}', ?, 1.0, ?)",
                    (
                        "r",
                        (now + H).isoformat(),
                        version,
                        role,
                        json.dumps({"prediction": right}),
                        pid,
                    ),
                )
                conn.execute(
                    "INSERT INTO outcomes VALUES (?, 'true', ?, ?)",
                    (pid, now.isoformat(), now.isoformat()),
                )
    store.model_registry.deployments.deploy(
        "churn", "production", [Target(1, share=50), Target(2, "canary", 50)]
    )
    report = store.experiment("churn", metric="accuracy")
    assert [a.metrics["accuracy"] for a in report.arms] == [1.0, 0.0]
    assert [a.outcomes for a in report.arms] == [50, 50]


def test_error_metrics_are_lower_is_better_everywhere(store: FeatureStore) -> None:
    deployments = store.model_registry.deployments
    deployments.deploy("churn", "production", [Target(1, share=50), Target(2, "canary", 50)])
    store.plan_experiment("churn", "production", "lift", baseline=0.1, effect=0.05)
    store.set_promotion_gate("production", metric="absolute_error")
    rng = np.random.default_rng(12)
    truth = [int(x) for x in rng.random(2000) < 0.5]
    right = rng.random(2000) < np.r_[np.full(1000, 0.9), np.full(1000, 0.4)]
    predicted = [y if r else 1 - y for y, r in zip(truth, right, strict=True)]
    # the primary is right 90% of the time, the canary 40%: six times the error
    log_arm(store, 1, "primary", truth[:1000], share=50, predictions=predicted[:1000])
    log_arm(store, 2, "canary", truth[1000:], share=50, predictions=predicted[1000:])
    report = store.experiment("churn", metric="absolute_error")
    assert report.metrics[0].finding == "worse"
    with pytest.raises(RequestError, match="not shown better on absolute_error"):
        store.promote("churn", if_better=True)
    assert deployments.live("churn", "production").versions("primary") == [1]


def test_the_best_intact_challenger_wins(store: FeatureStore) -> None:
    store.model_registry.deployments.deploy(
        "churn",
        "production",
        [Target(1, "ab", 34, "a"), Target(2, "ab", 33, "b"), Target(3, "ab", 33, "c")],
    )
    rng = np.random.default_rng(13)
    log_arm(store, 1, "ab", bernoulli(rng, 3000, 0.10), arm="a", share=34)
    log_arm(store, 2, "ab", bernoulli(rng, 2900, 0.20), arm="b", share=33, errors=100)
    log_arm(store, 3, "ab", bernoulli(rng, 3000, 0.16), arm="c", share=33)
    report = store.experiment("churn")
    assert report.verdict == "better"
    assert report.winner == "v3 c"
    assert {g.treatment for g in report.guardrails if g.breached} == {"v2 b"}


def test_plans_and_evidence_belong_to_their_deployment(store: FeatureStore) -> None:
    deployments = store.model_registry.deployments
    deploy_ab(store)
    store.plan_experiment("churn", "production", "old", baseline=0.1, effect=0.05)
    deployments.deploy("churn", "production", [Target(1), Target(2, "shadow")])
    log_arm(store, 1, "primary", [True, False] * 10, predictions=[1, 0] * 10)
    report = store.experiment("churn")
    assert report.experiment is None  # the plan was for the A/B deployment
    assert report.metrics[0].metric == "accuracy"
    deployments.deploy("churn", "production", [Target(1, share=50), Target(2, "canary", 50)])
    store.set_promotion_gate("production")
    live = deployments.live("churn", "production")
    forged = {"passed": True, "revision": live.revision - 1, "challenger": 2}
    with pytest.raises(RegistryError, match="read the experiment again"):
        deployments.promote("churn", "production", evidence=forged)
    with pytest.raises(RegistryError, match="is about v3, not v2"):
        deployments.promote(
            "churn",
            "production",
            evidence={"passed": True, "revision": live.revision, "challenger": 3},
        )
