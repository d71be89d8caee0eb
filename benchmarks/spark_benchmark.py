"""The point-in-time join on Spark beside Feast 0.67's Spark offline store: each rendering,
one core against two, uniform and skewed keys, Spark's start-up apart from the join.

    python benchmarks/spark_benchmark.py [--runs 3] [--entities 1000000]
        [--feature-rows 10000000] [--cores 1,2] [--renderings carry,window]
        [--variants ttl_1d,no_ttl] [--data uniform,skewed] [--feast-cores 2]

Uses pit_benchmark's seeded data (100k drivers over 90 days, 1% late corrections tying on
event time). ``skewed`` is the same data with 20% of the feature rows moved to one driver
(and entity rows asking for it in proportion). Every run is a fresh process: it starts a
Spark session on ``local[N]`` (timed as start-up, with the same settings for Silage and
Feast), then builds the training set with ``to_df`` (timed as the join). Feast runs from
its own virtualenv (``make bench-env-spark``: feast[spark]==0.67.0) on the same data, read
through its ``SparkSource``. Medians are reported. Before any time is printed, every Silage
result is checked against Silage on DuckDB row by row, in order, and Feast's result against
Silage's: rows lost, rows out of entity order, values that differ.

The plan columns come from Spark's physical plan of the job: how many times the feature
file is scanned, and how many shuffles (``Exchange``) lie above each scan.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pit_benchmark import FEAST_PYTHON, FEATURES, VARIANTS, generate, write_repos  # noqa: E402

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
    target = repo.with_name(repo.name + "_spark")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(repo, target)
    config = target / "feature_store.yaml"
    text = config.read_text().replace("  type: duckdb\n", "  type: spark\n", 1)
    config.write_text(text)
    return target


def feast_spark_repo(repo: Path) -> Path:
    """Feast's repository for the same view on its Spark offline store: the source becomes
    Feast's ``SparkSource`` over the same Parquet file."""
    config = repo / "feature_store.yaml"
    config.write_text(config.read_text().replace("  type: duckdb\n", "  type: spark\n", 1))
    definitions = repo / "definitions.py"
    text = definitions.read_text()
    text = text.replace(", FileSource\n", "\n", 1)
    text = (
        "from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import"
        " SparkSource\n" + text
    )
    text = re.sub(r"FileSource\(name='stats', path=", "SparkSource(name='stats', path=", text)
    text = text.replace(
        ", timestamp_field='event_timestamp'",
        ", file_format='parquet', timestamp_field='event_timestamp'",
        1,
    )
    definitions.write_text(text)
    return repo


def start_spark(cores: int) -> object:
    """The session every Spark run starts, Silage's and Feast's alike."""
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "6g")
        .config("spark.sql.shuffle.partitions", str(8 * cores))
        .config("spark.sql.session.timeZone", "UTC")
        # pandas in and out through Arrow (Feast's documented setting; Silage uses Arrow anyway)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.log.level", "ERROR")
        .getOrCreate()
    )
    spark.range(1).count()  # the JVM and an executor are up
    return spark


def plan_shape(frame: object, features: Path) -> dict[str, object]:
    """Scans of the feature file, and the shuffles above each, in the physical plan."""
    tree = frame._jdf.queryExecution().executedPlan().treeString().splitlines()  # type: ignore[attr-defined]
    scans = [i for i, line in enumerate(tree) if "Scan parquet" in line and features.name in line]
    if not scans:  # the file name is not always printed: every Parquet scan but the entities'
        scans = [i for i, line in enumerate(tree) if "Scan parquet" in line]
    shuffles = []
    for scan in scans:
        depth = _depth(tree[scan])
        above = 0
        for line in reversed(tree[:scan]):
            if _depth(line) < depth:
                depth = _depth(line)
                above += line.lstrip(" :+-").startswith("Exchange")
        shuffles.append(above)
    return {"scans": len(scans), "shuffles": shuffles}


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip(" :+-"))


def measure(
    repo: Path, folder: Path, *, engine: str, rendering: str, cores: int, out: Path
) -> None:
    """One run, in this process: prints start-up and join seconds (and the plan) as JSON."""
    import pandas as pd

    entity_df = pd.read_parquet(folder / "entities.parquet")
    refs = [f"stats:{f}" for f in FEATURES]
    started = time.perf_counter()
    spark = start_spark(cores) if engine in ("spark", "feast") else None
    startup = time.perf_counter() - started
    shape: dict[str, object] = {}
    if engine == "feast":
        from feast import FeatureStore as FeastStore

        feast = FeastStore(repo_path=str(repo))
        started = time.perf_counter()
        feast_job = feast.get_historical_features(entity_df=entity_df, features=refs)
        result = feast_job.to_df()
        seconds = time.perf_counter() - started
        try:
            shape = plan_shape(feast_job.to_spark_df(), folder / "features.parquet")
        except Exception as exc:  # the plan is a note; the time stands without it
            shape = {"error": repr(exc)[:200]}
    else:
        from store import FeatureStore

        store = FeatureStore(repo_path=repo, spark=spark) if spark else FeatureStore(repo_path=repo)
        started = time.perf_counter()
        job = store.get_historical_features(entity_df, refs)
        if engine == "spark":
            job = job.using(rendering)
        result = job.to_df()
        seconds = time.perf_counter() - started
        if engine == "spark":
            shape = plan_shape(job.to_spark_df(), folder / "features.parquet")
    result[["row_id", *FEATURES]].to_parquet(out)
    print(json.dumps({"startup": startup, "seconds": seconds, "rows": len(result), **shape}))


def spawn(
    repo: Path, folder: Path, *, engine: str, rendering: str, cores: int, out: Path
) -> dict[str, object]:
    python = str(FEAST_PYTHON) if engine == "feast" else sys.executable
    command = [python, __file__, "run", str(repo), str(folder), engine, rendering, str(cores)]
    done = subprocess.run([*command, str(out)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{engine} {rendering} local[{cores}] failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def same_rows(ours: Path, duck: Path) -> None:
    """Silage on Spark equals Silage on DuckDB: every row, in entity order."""
    import pandas as pd

    pd.testing.assert_frame_equal(pd.read_parquet(ours), pd.read_parquet(duck), check_dtype=False)


def check_feast(feast: Path, ours: Path, entities: Path) -> str:
    """Feast's result against Silage's: rows lost or added, order, values."""
    import numpy as np
    import pandas as pd

    theirs = pd.read_parquet(feast)
    base = pd.read_parquet(ours)
    asked = pd.read_parquet(entities, columns=["row_id"])["row_id"].to_numpy()
    notes = []
    lost = len(np.setdiff1d(asked, theirs["row_id"].to_numpy()))
    extra = len(theirs) - theirs["row_id"].nunique()
    if lost or extra:
        notes.append(f"{lost} rows lost, {extra} duplicated")
    if len(theirs) != len(asked) or not (theirs["row_id"].to_numpy() == asked).all():
        notes.append("rows not in entity order")
    merged = base.merge(theirs, on="row_id", how="left", suffixes=("", "_feast"))
    bad = 0
    for feature in FEATURES:
        a = merged[feature].astype("float64").to_numpy()
        b = merged[f"{feature}_feast"].astype("float64").to_numpy()
        bad += int((~np.isclose(a, b, equal_nan=True)).sum())
    notes.append("values agree" if bad == 0 else f"{bad} values differ")
    return "; ".join(notes)


def apply(repo: Path, engine: str) -> None:
    if engine == "feast":
        command = [str(FEAST_PYTHON.parent / "feast"), "apply"]
    else:
        command = [sys.executable, "-m", "store.cli", "--repo", str(repo), "apply"]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"apply in {repo} failed:\n{done.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--feature-rows", type=int, default=10_000_000)
    parser.add_argument("--cores", default="1,2")
    parser.add_argument("--renderings", default="carry,window")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--data", default="uniform,skewed")
    parser.add_argument("--feast-cores", type=int, default=2, help="0: Feast not run")
    args = parser.parse_args()
    if args.feast_cores and not FEAST_PYTHON.exists():
        raise SystemExit("Feast's virtualenv is missing: run `make bench-env-spark` first")
    base = generate(args.feature_rows, args.entities)
    print(f"data: {args.feature_rows:,} feature rows, {args.entities:,} entity rows in {base}")
    lines = [
        "| data | ttl | engine | cores | start-up s | join s (median) | feature scans "
        "| shuffles above each scan | vs Feast |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    folders = {"uniform": base}
    if "skewed" in args.data:
        folders["skewed"] = skewed_copy(base)
    notes = []
    for data, folder in folders.items():
        if data not in args.data.split(","):
            continue
        for variant in args.variants.split(","):
            ttl = VARIANTS[variant]
            repos = write_repos(folder, ttl, engines=("silage", "feast"))
            on_spark = spark_repo(repos["silage"])
            for repo in (repos["silage"], on_spark):
                apply(repo, "silage")
            duck = folder / f"result_duckdb_{variant}.parquet"
            spawn(repos["silage"], folder, engine="duckdb", rendering="asof", cores=2, out=duck)
            feast_s = None
            if args.feast_cores:
                feast_repo = feast_spark_repo(repos["feast"])
                apply(feast_repo, "feast")
                theirs = folder / f"result_feast_{variant}.parquet"
                runs = [
                    spawn(
                        feast_repo,
                        folder,
                        engine="feast",
                        rendering="-",
                        cores=args.feast_cores,
                        out=theirs,
                    )
                    for _ in range(args.runs)
                ]
                verdict = check_feast(theirs, duck, folder / "entities.parquet")
                notes.append(f"{data} {variant}: Feast against Silage: {verdict}")
                feast_s = statistics.median(float(r["seconds"]) for r in runs)
                lines.append(
                    _row(
                        data,
                        variant,
                        engine="Feast 0.67 Spark",
                        cores=args.feast_cores,
                        runs=runs,
                        feast_s=None,
                    )
                )
                print(lines[-1], flush=True)
            for rendering in args.renderings.split(","):
                for cores in (int(c) for c in args.cores.split(",")):
                    ours = folder / f"result_spark_{rendering}_{variant}.parquet"
                    runs = [
                        spawn(
                            on_spark,
                            folder,
                            engine="spark",
                            rendering=rendering,
                            cores=cores,
                            out=ours,
                        )
                        for _ in range(args.runs)
                    ]
                    same_rows(ours, duck)
                    lines.append(
                        _row(
                            data,
                            variant,
                            engine=f"Silage {rendering}",
                            cores=cores,
                            runs=runs,
                            feast_s=feast_s,
                        )
                    )
                    print(lines[-1], flush=True)
    print("\n".join(lines))
    print("\n".join(notes))


def _row(
    data: str,
    variant: str,
    *,
    engine: str,
    cores: int,
    runs: list[dict[str, object]],
    feast_s: float | None,
) -> str:
    startup = statistics.median(float(r["startup"]) for r in runs)  # type: ignore[arg-type]
    join = statistics.median(float(r["seconds"]) for r in runs)  # type: ignore[arg-type]
    scans = runs[0].get("scans", "-")
    shuffles = ", ".join(str(s) for s in runs[0].get("shuffles", [])) or "-"  # type: ignore[attr-defined]
    ratio = f"{feast_s / join:.1f}x faster" if feast_s else "-"
    return (
        f"| {data} | {variant} | {engine} | {cores} | {startup:.1f} | {join:.2f} | {scans} "
        f"| {shuffles} | {ratio} |"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        _, _, repo, folder, engine, rendering, cores, out = sys.argv
        measure(
            Path(repo),
            Path(folder),
            engine=engine,
            rendering=rendering,
            cores=int(cores),
            out=Path(out),
        )
    else:
        main()
