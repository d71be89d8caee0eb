"""Silage's Spark plans against each other in one Spark session, run in turn round after
round, so that a busy machine slows them alike (spark_benchmark.py starts a fresh process
per run: fairer to start-up, but on a shared machine the load changes between runs).

    python benchmarks/spark_plans_benchmark.py [--feature-rows 1000000] [--entities 100000]
        [--rounds 3] [--cores 2] [--plans asof,carry,carry-counted,window]
        [--variants ttl_1d,no_ttl] [--data uniform,skewed]

Plans: each rendering the engine offers (``asof`` only where Spark has its as-of join), and
``carry-counted``: the carry rendering with the hot keys of a view without a ttl counted
by the query (the plan before they were estimated from the files; with a ttl it is the
same plan as ``carry``). Each plan's time includes compiling (so the hot-key estimate).
``window`` without a ttl on skewed keys is a range join of the hot key's entity rows with
its 200k source rows (billions of pairs): leave it out there. Before any time is printed,
every plan's result is checked against Silage on DuckDB row by row, in order. Medians are
reported; the first plan of the first round also pays the JVM's warm-up.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pit_benchmark import FEATURES, VARIANTS, generate, write_repos  # noqa: E402
from spark_benchmark import apply, skewed_copy, spark_repo, start_spark  # noqa: E402


def planned(job: object, plan: str) -> object:
    """The retrieval job as ``plan``."""
    if plan == "carry-counted":
        carry = job.using("carry")  # type: ignore[attr-defined]
        scans = tuple(dataclasses.replace(s, hot_keys=None) for s in carry.scans)
        return dataclasses.replace(carry, scans=scans)
    return job.using(plan)  # type: ignore[attr-defined]


def main() -> None:
    import pandas as pd

    from store import FeatureStore

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--feature-rows", type=int, default=1_000_000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--plans", default="asof,carry,carry-counted,window")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--data", default="uniform,skewed")
    args = parser.parse_args()
    base = generate(args.feature_rows, args.entities)
    folders = {"uniform": base}
    if "skewed" in args.data:
        folders["skewed"] = skewed_copy(base)
    spark = start_spark(args.cores)
    plans = args.plans.split(",")
    lines = [
        f"{args.feature_rows:,} feature rows x {args.entities:,} entity rows, local[{args.cores}]",
        "| data | ttl | plan | join s (median) | runs |",
        "|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for data in args.data.split(","):
        folder = folders[data]
        entity_df = pd.read_parquet(folder / "entities.parquet")
        refs = [f"stats:{f}" for f in FEATURES]
        for variant in args.variants.split(","):
            repos = write_repos(folder, VARIANTS[variant], engines=("silage",))
            on_spark = spark_repo(repos["silage"])
            for repo in (repos["silage"], on_spark):
                apply(repo, "silage")
            duck = FeatureStore(repo_path=repos["silage"])
            expected = duck.get_historical_features(entity_df, refs).to_df()[FEATURES]
            store = FeatureStore(repo_path=on_spark, spark=spark)
            times: dict[str, list[float]] = {plan: [] for plan in plans}
            for _ in range(args.rounds):
                for plan in plans:
                    started = time.perf_counter()
                    job = planned(store.get_historical_features(entity_df, refs), plan)
                    result = job.to_df()  # type: ignore[attr-defined]
                    times[plan].append(time.perf_counter() - started)
                    pd.testing.assert_frame_equal(
                        result[FEATURES], expected, check_dtype=False, obj=f"{data} {plan}"
                    )
            for plan in plans:
                runs = ", ".join(f"{t:.1f}" for t in times[plan])
                lines.append(
                    f"| {data} | {variant} | {plan} | {statistics.median(times[plan]):.2f} "
                    f"| {runs} |"
                )
                print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
