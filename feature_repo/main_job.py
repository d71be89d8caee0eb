"""The worked example, end to end: data -> features -> training set -> model -> deployment
-> online store -> predictions -> monitoring (an upstream bug injected, and caught) ->
continual learning (the world shifts, a retraining fires, its canary is tested and promoted
on evidence).

    python main_job.py

Reruns are safe: the data is regenerated for the current hour, the registry keeps every
earlier training set, model version and deployment revision.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from generate_data import (
    conv_rate_bug,
    generate,
    newest_driver_stats,
    outcomes,
    recent_trips,
    requests,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from registry import Target
from store import FeatureStore

HERE = Path(__file__).resolve().parent
FEATURES = [
    "conv_rate",
    "acc_rate",
    "avg_daily_trips",
    "avg_rating_given",
    "trips_together",
    "km_per_daily_trip",  # on demand, from the trip's requested distance
]
MODEL = "trip_completion"


def step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def done(started: float, note: str = "") -> None:
    print(f"   done in {time.perf_counter() - started:.2f}s{': ' + note if note else ''}")


def main() -> None:
    began = time.perf_counter()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

    t = step("1. Generate example data (seeded)")
    counts = generate(HERE / "data", end, days=14)
    done(t, ", ".join(f"{name} {rows:,} rows" for name, rows in counts.items()))

    store = FeatureStore(repo_path=HERE)
    t = step("2. Apply the feature repository")
    print(store.apply().render(applied=True), end="")
    done(t)

    t = step("3. Build and save a leakage-free training set")
    trips = pd.read_parquet(HERE / "data" / "trips.parquet")
    job = store.get_historical_features(trips, store.get_feature_service("trip_completion"))
    saved = job.save(f"trips_{end:%Y%m%d%H}")
    done(t, f"{saved.record.row_count:,} rows, fingerprint {saved.fingerprint[:12]}")

    t = step("4. Train two candidate models (time-based split)")
    registry = store.model_registry
    versions = train_candidates(store, saved)
    done(t)

    t = step("5. Deploy to production: the first as primary, the second as a 20% canary")
    revision = registry.deployments.deploy(
        MODEL,
        "production",
        [Target(versions[0]), Target(versions[1], "canary", 20)],
        reason="example job",
    )
    print(
        f"   revision {revision.revision}: "
        + ", ".join(f"v{t.version} {t.role} {t.share:g}%" for t in revision.targets)
    )
    done(t)

    t = step("6. Materialize the newest feature values into the online store")

    def progress(view: str, rows: int, seconds: float) -> None:
        if rows:
            print(f"   {view}: {rows:,} rows ({rows / max(seconds, 1e-9):,.0f} rows/s)")

    store.materialize_incremental(end, on_progress=progress)
    done(t)

    t = step("7. Serve predictions for a handful of entities")
    rows = first_requests(trips, 8)
    for result in store.predict(MODEL, rows, "production", missing="model"):
        print(
            f"   driver {result['driver_id']} customer {result['customer_id']}: "
            f"p(completed)={result['probability']:.2f} from v{result['model_version']} "
            f"({result['role']})"
        )
    done(t, f"{len(store.prediction_log()):,} predictions in the log")

    t = step("8. Serve traffic and learn how the trips ended; check drift and skew")
    calm = serve(store, HERE / "data", 600, seed=1)
    check(store, calm)
    done(t)

    t = step("9. Break something upstream: a release restates conv_rate 0.25 too low, online")
    bug = conv_rate_bug(newest_driver_stats(HERE / "data", datetime.now(UTC)))
    store.push("driver_hourly_stats", bug)
    broken = serve(store, HERE / "data", 600, seed=2)
    check(store, broken)
    report = HERE / "data" / "monitoring_report.html"
    report.write_text(
        store.monitoring_report(MODEL, window="1h", start_date=broken), encoding="utf-8"
    )
    done(t, f"the report: {report.relative_to(HERE)}")

    t = step("10. Roll the release back: restate the right values, serve, check again")
    store.push("driver_hourly_stats", newest_driver_stats(HERE / "data", datetime.now(UTC)))
    check(store, serve(store, HERE / "data", 600, seed=3))
    done(t)

    close_the_loop(store)

    print(
        f"\nThe whole path took {time.perf_counter() - began:.1f}s.",
        registry.cards.get(MODEL, versions[1]).to_markdown().split("## Intended use")[0],
        sep="\n",
    )


def first_requests(trips: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    """The first ``n`` driver-customer pairs of the trips, as requests. Each carries the
    trip's distance: the on-demand view trip_load computes km_per_daily_trip from it, with
    the function that built the training set."""
    pairs = trips[["driver_id", "customer_id", "trip_distance_km"]].drop_duplicates(
        ["driver_id", "customer_id"]
    )
    return [
        {"driver_id": int(d), "customer_id": int(c), "trip_distance_km": float(km)}
        for d, c, km in pairs.head(n).to_numpy()
    ]


def close_the_loop(store: FeatureStore) -> None:
    """Continual learning: the world shifts, a retraining policy fires (feature_repo/
    retraining.py), its canary is tested against the primary and promoted on evidence."""
    registry = store.model_registry
    t = step("11. The world shifts (completion flips; the features do not show it): alert, retrain")
    serve(store, HERE / "data", 1000, seed=4, shifted=True)
    recent_trips(HERE / "data", datetime.now(UTC), 3000, seed=5)
    # Cron runs `silage monitor run` as each hour ends; this hour is not over yet, so its
    # alert rules are read now as they will stand then, should no more traffic come.
    hour_end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    for alert in store.run_monitoring(now=hour_end):
        print(
            f"   alert {alert.rule} at {hour_end:%H:%M} UTC: {alert.condition} "
            f"({alert.value:.2f} in the hour from {alert.window_start:%H:%M})"
        )
    learned = store.run_continual_learning()
    for run in learned.retraining:
        print(
            f"   retraining run {run.id} ({run.kind}: {run.reason}): "
            + (f"registered v{run.version}" if run.version else f"failed: {run.error}")
        )
    live = registry.deployments.live(MODEL, "production")
    print(
        "   now serving: " + ", ".join(f"v{x.version} {x.role} {x.share:g}%" for x in live.targets)
    )
    done(t)

    t = step("12. Test the retrained canary against the primary; promote it on evidence")
    store.set_promotion_gate("production", metric="accuracy")
    plan = store.plan_experiment(
        MODEL, "production", "refresh", metric="accuracy", baseline=0.4, effect=0.1
    )
    print(f"   planned: {plan.spec['horizon']:,} outcomes per arm to find +0.1 accuracy")
    serve(store, HERE / "data", 2000, seed=6, shifted=True)
    report = store.experiment(MODEL)
    for line in report.render().splitlines():
        print(f"   {line}")
    promoted = store.promote(MODEL, if_better=True)
    print(f"   promoted v{promoted.versions('primary')[0]}: revision {promoted.revision}")
    done(t)


def train_candidates(store: FeatureStore, saved: Any) -> list[int]:
    """Two logistic regressions on the training set's first 80% (by time), registered with
    their lineage, test metrics and an approved model card. Returns their versions."""
    data = saved.to_df()
    cut = data["event_timestamp"].quantile(0.8)
    train, test = data[data["event_timestamp"] <= cut], data[data["event_timestamp"] > cut]
    registry = store.model_registry
    versions: list[int] = []
    for c in (0.1, 1.0):
        model = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True),
            StandardScaler(),
            LogisticRegression(C=c),
        ).fit(train[FEATURES], train["completed"])
        scores = model.predict_proba(test[FEATURES])[:, 1]
        auc = float(roc_auc_score(test["completed"], scores))
        sliced = {
            f"tier={tier}": {"auc": float(roc_auc_score(part["completed"], part_scores))}
            for tier, part, part_scores in (
                (tier, test[test["tier"] == tier], scores[(test["tier"] == tier).to_numpy()])
                for tier in sorted(test["tier"].unique())
            )
            if part["completed"].nunique() == 2
        }
        version = registry.register_model(
            MODEL,
            model,
            training_set=saved.record,
            metrics={"auc": auc, "test_rows": len(test)},
            tags={"team": "marketplace", "C": str(c)},
            description=f"Imputed, scaled logistic regression, C={c}",
        )
        registry.cards.update(
            MODEL,
            version.version,
            {
                "intended_use": "Rank trip requests by how likely the driver completes them.",
                "factors": ["customer tier", "driver experience with the customer"],
                "evaluation_data": f"The last 20% of trips by time ({len(test):,} rows).",
                "quantitative_analyses": {"sliced_metrics": sliced},
                "ethical_considerations": "Uses no personal data beyond driver and customer ids.",
                "caveats_and_recommendations": "Synthetic data: the numbers show the workflow.",
            },
        )
        registry.cards.approve(MODEL, version.version, by="example-reviewer")
        versions.append(version.version)
        print(f"   {MODEL} v{version.version}: auc {auc:.3f} (C={c})")
    return versions


def serve(store: FeatureStore, data: Path, n: int, seed: int, *, shifted: bool = False) -> datetime:
    """Serve ``n`` requests, then record their outcomes (in the shifted world if asked);
    returns when serving began."""
    began = datetime.now(UTC)
    rows = requests(data, n, seed)
    served = store.predict(MODEL, rows, "production", missing="model")
    truth = outcomes(rows, seed, shifted=shifted)
    receipt = store.record_outcomes([r["prediction_id"] for r in served], truth)
    quality = store.live_quality(MODEL, window="1h", start_date=began)
    accuracy = ", ".join(
        f"v{q.version} {q.role} {q.metrics['accuracy']:.2f}"
        for q in quality.targets
        if q.metrics.get("accuracy") is not None
    )
    print(f"   served {n} requests, {receipt.recorded} outcomes; accuracy {accuracy}")
    return began


def check(store: FeatureStore, since: datetime) -> None:
    """Drift of the served features against the training set, and training-serving skew,
    of the predictions served since ``since``."""
    drift = store.drift(MODEL, window="1h", start_date=since)
    drifting = ", ".join(f"{name} ({effect:.1f}x)" for name, _, effect in drift.drifted())
    print(f"   drift against {drift.reference}: {drifting or 'nothing drifts'}")
    skew = store.skew(MODEL, start_date=since)
    different = ", ".join(
        f"{f.feature} {f.mismatches}/{f.compared}" for f in skew.features if f.mismatches
    )
    print(f"   training-serving skew: {different or 'none'}")


if __name__ == "__main__":
    main()
