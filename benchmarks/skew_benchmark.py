"""Training-serving skew benchmark: ``store.skew`` over a predictions log of ``--rows`` rows.

    python benchmarks/skew_benchmark.py [--rows 1000000] [--runs 3]

Builds (once, seeded) a repository under ``benchmarks/.data/skew_r<rows>``: one view of
three features (a float, an integer, a string) for 10,000 riders, updated hourly for 100
hours (1M source rows); a model trained on a saved training set and deployed; and a
predictions log of ``--rows`` predictions at random times, each logging the features a
point-in-time join gives at its time (pandas ``merge_asof``, independent of Silage), except
for planted mismatches: 0.5% of rows served an older value, 0.1% a missing one.

Then, side by side, ``--runs`` times each in turns:

- ``silage``: ``store.skew(model)``: reading the log, the point-in-time join at each
  prediction's time by the offline engine, and the comparison; it must find every planted
  mismatch and nothing else.
- ``duckdb``: a hand-written DuckDB query over the same log (already decoded to Arrow, so
  it is spared the JSON) with an ``ASOF JOIN`` on the source, counting the mismatches.

Prints each run's seconds, the medians and their ratio, and the issue's goal (under 30 s).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
SEED = 20261127
RIDERS = 10_000
HOURS = 100
T0 = datetime(2026, 1, 1, tzinfo=UTC)
GOAL_SECONDS = 30.0
STALE, MISSING = 0.005, 0.001

DEFINITIONS = """
from datetime import timedelta
from store import Entity, FeatureView, Field, FileSource
from store.types import Float64, Int64, String

rider = Entity(name="rider", join_keys=["rider_id"])
rider_stats = FeatureView(
    name="rider_stats",
    entities=[rider],
    ttl=timedelta(days=2),
    schema=[Field(name="spend", dtype=Float64), Field(name="trips", dtype=Int64),
            Field(name="tier", dtype=String)],
    source=FileSource(path="data/rider_stats.parquet", timestamp_field="ts"),
)
"""
REFS = ["rider_stats:spend", "rider_stats:trips", "rider_stats:tier"]


def build(root: Path, rows: int) -> tuple[int, int]:
    """The repository, model and log; returns the planted (stale, missing) counts."""
    from sklearn.linear_model import LogisticRegression

    from registry import Target
    from store import FeatureStore
    from store.serving.prediction_log import LoggedPrediction

    if root.exists():
        shutil.rmtree(root)
    (root / "data").mkdir(parents=True)
    (root / "feature_store.yaml").write_text("project: skew_bench\n")
    (root / "definitions.py").write_text(DEFINITIONS)
    rng = np.random.default_rng(SEED)
    hours = pd.date_range(T0, periods=HOURS, freq="h")
    source = pd.MultiIndex.from_product(
        [np.arange(RIDERS), hours], names=["rider_id", "ts"]
    ).to_frame(index=False)
    source["spend"] = np.round(rng.gamma(2.0, 20.0, len(source)), 2)
    source["trips"] = rng.poisson(5, len(source)).astype("int64")
    source["tier"] = rng.choice(["gold", "silver", "bronze"], len(source))
    pq.write_table(
        pa.Table.from_pandas(source, preserve_index=False), root / "data" / "rider_stats.parquet"
    )

    fs = FeatureStore(repo_path=root)
    fs.apply()
    sample = pd.DataFrame(
        {
            "rider_id": rng.integers(0, RIDERS, 5_000),
            "event_timestamp": T0 + pd.to_timedelta(rng.uniform(1, HOURS, 5_000), unit="h"),
        }
    )
    saved = fs.get_historical_features(sample, REFS).save("riders")
    data = saved.to_df()
    model = LogisticRegression().fit(data[["spend", "trips"]], data["spend"] > 40)
    fs.model_registry.register_model("churn", model, training_set=saved.record)
    fs.model_registry.deployments.deploy("churn", "production", [Target(1)])

    # What a point-in-time join gives at each prediction's time, by pandas.
    log = pd.DataFrame(
        {
            "rider_id": rng.integers(0, RIDERS, rows),
            "at": T0 + pd.to_timedelta(rng.uniform(0.5, HOURS + 1, rows) * 3600, unit="s"),
        }
    ).sort_values("at", ignore_index=True)
    log["at"] = log["at"].astype("datetime64[us, UTC]")
    source["ts"] = source["ts"].astype("datetime64[us, UTC]")
    joined = pd.merge_asof(
        log, source.sort_values("ts"), left_on="at", right_on="ts", by="rider_id"
    )
    spend = joined["spend"].to_numpy(dtype=float, copy=True)
    trips = joined["trips"].to_numpy(dtype=float, copy=True)
    pick = rng.uniform(0, 1, rows)
    stale = pick < STALE
    missing = (pick >= STALE) & (pick < STALE + MISSING)
    spend[stale] = spend[stale] + 1.0  # an older value: materialization lag
    trips[missing] = np.nan
    records = [
        LoggedPrediction(
            request_id=uuid.uuid4().hex,
            predicted_at=at.isoformat(),
            environment="production",
            model="churn",
            version=1,
            role="primary",
            entity=json.dumps({"rider_id": int(r)}),
            features=json.dumps({"spend": float(s), "trips": None if np.isnan(t) else int(t)}),
            prediction=json.dumps({"prediction": 0}),
            latency_ms=1.0,
            prediction_id=uuid.uuid4().hex,
        )
        for r, at, s, t in zip(
            log["rider_id"], log["at"].dt.to_pydatetime(), spend, trips, strict=True
        )
    ]
    for start in range(0, rows, 200_000):
        fs._prediction_log.append(records[start : start + 200_000])
    return int(stale.sum()), int(missing.sum())


def run_silage(root: Path) -> tuple[float, dict[str, int]]:
    from store import FeatureStore

    fs = FeatureStore(repo_path=root)
    began = time.perf_counter()
    report = fs.skew("churn")
    seconds = time.perf_counter() - began
    began = time.perf_counter()
    fs._prediction_log.served("churn")
    print(f"      (reading and decoding the log alone: {time.perf_counter() - began:.2f}s)")
    return seconds, {f.feature: f.mismatches for f in report.features}


def run_duckdb(root: Path) -> tuple[float, dict[str, int]]:
    import duckdb

    from store import FeatureStore

    served = FeatureStore(repo_path=root)._prediction_log.features_table("churn")
    entity = pa.table(
        {
            "rider_id": [json.loads(e)["rider_id"] for e in _entities(root)],
            "at": served.column("predicted_at"),
            "spend": served.column("spend"),
            "trips": served.column("trips"),
        }
    )
    began = time.perf_counter()
    conn = duckdb.connect()
    conn.register("served", entity)
    source = root / "data" / "rider_stats.parquet"
    found = conn.execute(
        f"""
        SELECT
          count(*) FILTER (WHERE s.spend IS DISTINCT FROM o.spend) AS spend,
          count(*) FILTER (WHERE s.trips IS DISTINCT FROM o.trips) AS trips
        FROM served s ASOF LEFT JOIN read_parquet('{source}') o
          ON s.rider_id = o.rider_id AND s.at >= o.ts
        """
    ).fetchone()
    seconds = time.perf_counter() - began
    assert found is not None
    return seconds, {"spend": int(found[0]), "trips": int(found[1])}


def _entities(root: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(root / "data" / "predictions.db") as conn:
        return [r[0] for r in conn.execute("SELECT entity FROM predictions ORDER BY rowid")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = HERE / ".data" / f"skew_r{args.rows}"
    began = time.perf_counter()
    stale, missing = build(root, args.rows)
    print(
        f"built {args.rows:,} logged predictions in {time.perf_counter() - began:.0f}s: "
        f"{stale:,} served a stale spend, {missing:,} a missing trips"
    )
    times: dict[str, list[float]] = {"silage": [], "duckdb": []}
    for run in range(args.runs):
        for name, engine in (("silage", run_silage), ("duckdb", run_duckdb)):
            seconds, found = engine(root)
            times[name].append(seconds)
            print(f"run {run + 1} {name:7} {seconds:7.2f}s  mismatches {found}")
            expected = {"spend": stale, "trips": missing}
            if found != expected:
                raise SystemExit(f"{name} found {found}, planted {expected}")
    silage, duck = (statistics.median(times[n]) for n in ("silage", "duckdb"))
    print(
        f"\nmedian: silage {silage:.2f}s, hand-written DuckDB {duck:.2f}s "
        f"(silage/duckdb {silage / duck:.1f}x); goal under {GOAL_SECONDS:.0f}s: "
        + ("met" if silage < GOAL_SECONDS else "NOT met")
    )


if __name__ == "__main__":
    main()
