"""The point-in-time join on Spark: each rendering, one core against two, uniform and skewed
keys, Spark's start-up apart from the join, DuckDB beside it.

    python benchmarks/spark_benchmark.py [--runs 3] [--entities 1000000]
        [--feature-rows 10000000] [--cores 1,2] [--renderings carry,window]

Uses pit_benchmark's seeded data (100k drivers over 90 days, 1% late corrections tying on
event time). ``skewed`` is the same data with 20% of the feature rows moved to one driver
(and entity rows asking for it in proportion). Every run is a fresh process: it starts a
Spark session on ``local[N]`` (timed as start-up), then builds the training set with
``to_df`` (timed as the join). Medians are reported; every result is checked against
Silage on DuckDB, row by row, before any time is printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pit_benchmark import FEATURES, VARIANTS, generate, write_repos  # noqa: E402

HOT_SHARE = 0.2


def skewed_copy(folder: Path) -> Path:
    """The same files with one hot driver holding 20% of the feature rows and entity rows."""
    import duckdb

    target = folder.parent / f"{folder.name}_skewed"
    if (target / "entities.parquet").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, key in (("features", "event_timestamp"), ("entities", "row_id")):
        hot = f"CASE WHEN hash({key}) % 1000 < {int(HOT_SHARE * 1000)} THEN 0 ELSE driver_id END"
        con.execute(f"""
            COPY (SELECT * REPLACE ({hot} AS driver_id) FROM '{folder / name}.parquet')
            TO '{target / name}.parquet' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
        """)
    return target


def spark_repo(repo: Path) -> Path:
    """A copy of a DuckDB repository with the one-line change to Spark."""
    import shutil

    target = repo.with_name(repo.name + "_spark")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(repo, target)
    config = target / "feature_store.yaml"
    text = config.read_text().replace("  type: duckdb\n", "  type: spark\n", 1)
    config.write_text(text)
    return target


def measure(repo: Path, folder: Path, engine: str, rendering: str, cores: int) -> None:
    """One run, in this process: prints start-up and join seconds as JSON."""
    import pandas as pd

    from store import FeatureStore

    entity_df = pd.read_parquet(folder / "entities.parquet")
    store = FeatureStore(repo_path=repo)
    started = time.perf_counter()
    spark = None
    if engine == "spark":
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master(f"local[{cores}]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "6g")
            .config("spark.sql.shuffle.partitions", str(8 * cores))
            .config("spark.log.level", "ERROR")
            .getOrCreate()
        )
        spark.range(1).count()  # the JVM and an executor are up
        store = FeatureStore(repo_path=repo, spark=spark)
    startup = time.perf_counter() - started
    refs = [f"stats:{f}" for f in FEATURES]
    started = time.perf_counter()
    job = store.get_historical_features(entity_df, refs)
    if engine == "spark":
        job = job.using(rendering)
    result = job.to_df()
    seconds = time.perf_counter() - started
    result[["row_id", *FEATURES]].to_parquet(folder / f"result_{engine}_{rendering}.parquet")
    print(json.dumps({"startup": startup, "seconds": seconds, "rows": len(result)}))


def spawn(repo: Path, folder: Path, engine: str, rendering: str, cores: int) -> dict[str, float]:
    command = [sys.executable, __file__, "run", str(repo), str(folder), engine, rendering]
    out = subprocess.run([*command, str(cores)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{engine} {rendering} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def same_rows(folder: Path, rendering: str) -> None:
    import pandas as pd

    ours = pd.read_parquet(folder / f"result_spark_{rendering}.parquet")
    duck = pd.read_parquet(folder / "result_duckdb_asof.parquet")
    pd.testing.assert_frame_equal(ours, duck, check_dtype=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--feature-rows", type=int, default=10_000_000)
    parser.add_argument("--cores", default="1,2")
    parser.add_argument("--renderings", default="carry,window")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    base = generate(args.feature_rows, args.entities)
    lines = [
        "| data | ttl | engine | cores | start-up s | join s (median) | vs DuckDB |",
        "|---|---|---|---|---|---|---|",
    ]
    for folder in (base, skewed_copy(base)):
        data = "skewed" if folder.name.endswith("_skewed") else "uniform"
        for variant in args.variants.split(","):
            ttl = VARIANTS[variant]
            repo = write_repos(folder, ttl, engines=("silage",))["silage"]
            on_spark = spark_repo(repo)
            for each in (repo, on_spark):
                subprocess.run(
                    [sys.executable, "-m", "store.cli", "--repo", str(each), "apply"],
                    cwd=each,
                    check=True,
                    capture_output=True,
                )
            duck = [spawn(repo, folder, "duckdb", "asof", 2) for _ in range(args.runs)]
            duck_s = statistics.median(r["seconds"] for r in duck)
            lines.append(f"| {data} | {variant} | DuckDB | 2 | - | {duck_s:.2f} | 1.00 |")
            for rendering in args.renderings.split(","):
                for cores in (int(c) for c in args.cores.split(",")):
                    runs = [
                        spawn(on_spark, folder, "spark", rendering, cores) for _ in range(args.runs)
                    ]
                    same_rows(folder, rendering)
                    startup = statistics.median(r["startup"] for r in runs)
                    join = statistics.median(r["seconds"] for r in runs)
                    lines.append(
                        f"| {data} | {variant} | Spark {rendering} | {cores} | {startup:.1f} | "
                        f"{join:.2f} | {join / duck_s:.1f}x |"
                    )
                    print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        _, _, repo, folder, engine, rendering, cores = sys.argv
        measure(Path(repo), Path(folder), engine, rendering, int(cores))
    else:
        main()
