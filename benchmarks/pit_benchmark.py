"""Point-in-time join benchmark: Silage against Feast and a hand-written DuckDB query.

    python benchmarks/pit_benchmark.py [--runs 3] [--entities 1000000] [--feature-rows 10000000]
                                       [--baseline ../other-checkout]

Generates (once, seeded) feature rows for 100k drivers over 90 days (3 features, a created
timestamp, 1% late corrections that tie on event time) and an entity table, then for each
variant (ttl of one day, no ttl) runs every engine ``--runs`` times, each run in a fresh
process so that its peak memory (max RSS) is its own. Every engine returns a pandas
DataFrame. Results are checked to agree row by row before times are reported.

Feast runs from its own virtualenv (``make bench-env`` builds it with feast[duckdb]==0.67.0);
this file is also that process's entry point (``run`` sub-command), so it imports neither
Silage nor Feast at the top.

``--baseline DIR`` adds the engine ``baseline``: another checkout of Silage (``git worktree
add DIR <commit>``, then ``make -C DIR venv``) run from its own ``.venv`` on the same data,
in the same run, so that a change is measured side by side with what it changes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
FEAST_PYTHON = HERE / ".venv-feast" / "bin" / "python"
DRIVERS = 100_000
START = "2026-01-01 00:00:00+00"
DAYS = 90
VARIANTS = {"ttl_1d": 86400, "no_ttl": 0}
FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]
FEATURE_TYPES = {"conv_rate": "Float64", "acc_rate": "Float64", "avg_daily_trips": "Int64"}
SILAGE_KINDS = ("silage", "baseline")  # engines that are a Silage checkout
BASELINE_ENV = "SILAGE_BENCH_BASELINE"


def python_for(engine: str) -> str:
    """The interpreter an engine runs in: Feast's virtualenv, the baseline checkout's, or
    this one."""
    if engine == "feast":
        return str(FEAST_PYTHON)
    if engine == "baseline":
        return str(Path(os.environ[BASELINE_ENV]) / ".venv" / "bin" / "python")
    return sys.executable


def use_baseline(folder: str | None) -> list[str]:
    """Remember the baseline checkout for child processes; the engines it adds."""
    if folder is None:
        return []
    python = Path(folder).resolve() / ".venv" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"no {python}: run `make -C {folder} venv` first")
    os.environ[BASELINE_ENV] = str(Path(folder).resolve())
    return ["baseline"]


# --- data ---------------------------------------------------------------------------------


def generate(feature_rows: int, entities: int) -> Path:
    """Write features.parquet and entities.parquet (skipped when present with these sizes)."""
    import duckdb

    folder = DATA / f"f{feature_rows}_e{entities}"
    if (folder / "entities.parquet").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    span_us = DAYS * 86400 * 1_000_000
    corrections = feature_rows // 100
    base = feature_rows - corrections
    steps = max(base // DRIVERS, 1)
    step_us = span_us // steps
    every = max(base // max(corrections, 1), 1)

    def rows(select_from: str, *, late: bool) -> str:
        # One expression per column, computed from the row number alone, so that a late
        # correction of row i repeats row i's key and event time without storing row i.
        ts = (
            f"TIMESTAMPTZ '{START}' + to_microseconds("
            f"((i // {DRIVERS}) * {step_us} + hash(i) % {step_us})::BIGINT)"
        )
        created = (
            "INTERVAL 1 HOUR" if late else "to_microseconds((hash(i * 11) % 600000000)::BIGINT)"
        )
        flip = "1 - " if late else ""
        return f"""
            SELECT (i % {DRIVERS})::BIGINT AS driver_id,
                   {ts} AS event_timestamp,
                   {ts} + {created} AS created,
                   {flip}((hash(i * 3) % 1000) / 1000.0)::DOUBLE AS conv_rate,
                   {flip}((hash(i * 5) % 1000) / 1000.0)::DOUBLE AS acc_rate,
                   (hash(i * 7) % 50)::BIGINT + {1 if late else 0} AS avg_daily_trips
            FROM {select_from}"""

    con.execute(f"""
        COPY (
            {rows(f"range({base}) t(i)", late=False)}
            UNION ALL
            {rows(f"range(0, {base}, {every}) t(i)", late=True)}
        ) TO '{folder / "features.parquet"}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
    """)
    con.execute(f"""
        COPY (
            SELECT i AS row_id,
                   (hash(i * 13) % {DRIVERS})::BIGINT AS driver_id,
                   TIMESTAMPTZ '{START}' + to_microseconds(
                       (hash(i * 17) % {span_us + 86400 * 1_000_000})::BIGINT
                       - 86400000000) AS event_timestamp
            FROM range({entities}) t(i)
        ) TO '{folder / "entities.parquet"}' (FORMAT parquet)
    """)
    return folder


def write_repos(
    folder: Path,
    ttl: int,
    engines: tuple[str, ...] = ("silage", "feast"),
    features: dict[str, str] = FEATURE_TYPES,
) -> dict[str, Path]:
    """A repository per engine (Silage's form for Silage checkouts, Feast's for Feast) over
    the same Parquet file, with a view ``stats`` of ``features`` (name to dtype)."""
    repos = {}
    for engine in engines:
        if engine not in (*SILAGE_KINDS, "feast"):
            continue
        repo = folder / f"{engine}_repo_ttl{ttl}"
        repo.mkdir(exist_ok=True)
        # Stores start fresh: a registry left by an older version may need migrating, and
        # an online store must be materialized from scratch (with its WAL files gone too).
        for stale in ("registry.db", "online.db"):
            for suffix in ("", "-wal", "-shm"):
                (repo / (stale + suffix)).unlink(missing_ok=True)
        (repo / "feature_store.yaml").write_text(
            "project: bench\n"
            "registry: registry.db\n"
            "provider: local\n"
            "offline_store:\n  type: duckdb\n"
            "online_store:\n  type: sqlite\n  path: online.db\n"
            + ("entity_key_serialization_version: 3\n" if engine == "feast" else "")
        )
        module = "feast" if engine == "feast" else "store"
        types = "feast.types" if engine == "feast" else "store.types"
        fields = "".join(
            f"            Field(name={n!r}, dtype={t}),\n" for n, t in features.items()
        )
        (repo / "definitions.py").write_text(
            "from datetime import timedelta\n"
            f"from {module} import Entity, FeatureView, Field, FileSource\n"
            f"from {types} import {', '.join(sorted({*features.values(), 'Int64'}))}\n"
            "driver = Entity(name='driver', join_keys=['driver_id'])\n"
            "source = FileSource(name='stats', path="
            + repr(str(folder / "features.parquet"))
            + ", timestamp_field='event_timestamp', created_timestamp_column='created')\n"
            "stats = FeatureView(name='stats', entities=[driver], source=source,\n"
            f"    ttl=timedelta(seconds={ttl}),\n"
            "    schema=[Field(name='driver_id', dtype=Int64),\n" + fields + "    ])\n"
        )
        repos[engine] = repo
    return repos


# --- one measured run (in its own process) -------------------------------------------------


def run_silage(repo: Path, entity_df: object) -> object:
    from store import FeatureStore

    store = FeatureStore(repo_path=repo)
    refs = [f"stats:{f}" for f in FEATURES]
    return store.get_historical_features(entity_df, refs).to_df()


def run_feast(repo: Path, entity_df: object) -> object:
    from feast import FeatureStore

    store = FeatureStore(repo_path=str(repo))
    refs = [f"stats:{f}" for f in FEATURES]
    return store.get_historical_features(entity_df=entity_df, features=refs).to_df()


def run_duckdb(folder: Path, entity_df: object, ttl: int) -> object:
    """A straightforward hand-written query: dedupe by created time, ASOF join, ttl filter."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("entity_df", entity_df)
    keep = f"f.event_timestamp >= e.event_timestamp - INTERVAL {ttl} SECOND" if ttl else "TRUE"
    return con.sql(f"""
        WITH f AS (
            SELECT * FROM '{folder / "features.parquet"}'
            QUALIFY row_number() OVER (
                PARTITION BY driver_id, event_timestamp ORDER BY created DESC) = 1
        )
        SELECT e.*,
               CASE WHEN {keep} THEN f.conv_rate END AS conv_rate,
               CASE WHEN {keep} THEN f.acc_rate END AS acc_rate,
               CASE WHEN {keep} THEN f.avg_daily_trips END AS avg_daily_trips
        FROM entity_df e ASOF LEFT JOIN f
          ON e.driver_id = f.driver_id AND e.event_timestamp >= f.event_timestamp
    """).df()


def measure(engine: str, folder: Path, repo: Path, ttl: int, keep: Path | None) -> None:
    import pandas as pd

    entity_df = pd.read_parquet(folder / "entities.parquet")
    started = time.perf_counter()
    if engine in SILAGE_KINDS:
        result = run_silage(repo, entity_df)
    elif engine == "feast":
        result = run_feast(repo, entity_df)
    else:
        result = run_duckdb(folder, entity_df, ttl)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if keep is not None:
        result[["row_id", *FEATURES]].to_parquet(keep)  # type: ignore[index]
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "rows": len(result)}))  # type: ignore[arg-type]


# --- driver ------------------------------------------------------------------------------


def spawn(engine: str, folder: Path, repo: Path, ttl: int, keep: Path | None) -> dict[str, float]:
    command = [python_for(engine), __file__, "run", engine, str(folder), str(repo), str(ttl)]
    if keep is not None:
        command.append(str(keep))
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def apply_repos(repos: dict[str, Path]) -> None:
    """``silage apply`` or ``feast apply`` in each repository, with its own interpreter."""
    for engine, repo in repos.items():
        if engine == "feast":
            command = [str(FEAST_PYTHON.parent / "feast"), "apply"]
        else:
            command = [python_for(engine), "-m", "store.cli", "--repo", str(repo), "apply"]
        subprocess.run(command, cwd=repo, check=True, capture_output=True)


def compare(results: dict[str, Path]) -> str:
    """Row-by-row agreement of every engine with Silage, on row_id."""
    import numpy as np
    import pandas as pd

    base = pd.read_parquet(results["silage"]).sort_values("row_id").reset_index(drop=True)
    notes = []
    for engine, path in results.items():
        if engine == "silage":
            continue
        other = pd.read_parquet(path).sort_values("row_id").reset_index(drop=True)
        if (
            len(other) != len(base)
            or not (other["row_id"].to_numpy() == base["row_id"].to_numpy()).all()
        ):
            notes.append(f"{engine}: {len(other)} rows vs silage {len(base)}")
            other = base[["row_id"]].merge(other, on="row_id", how="left")
        bad = 0
        for feature in FEATURES:
            a = base[feature].astype("float64").to_numpy()
            b = other[feature].astype("float64").to_numpy()
            bad += int((~np.isclose(a, b, equal_nan=True)).sum())
        notes.append(f"{engine}: {'agrees' if bad == 0 else f'{bad} values differ'}")
    return "; ".join(notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--feature-rows", type=int, default=10_000_000)
    parser.add_argument("--engines", default="silage,duckdb,feast")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--baseline", help="another Silage checkout, run side by side")
    args = parser.parse_args()
    engines = args.engines.split(",")
    engines[1:1] = use_baseline(args.baseline)
    if "feast" in engines and not FEAST_PYTHON.exists():
        raise SystemExit("Feast's virtualenv is missing: run `make bench-env` first")
    folder = generate(args.feature_rows, args.entities)
    print(f"data: {args.feature_rows:,} feature rows, {args.entities:,} entity rows in {folder}")
    print(f"{'variant':8} {'engine':8} {'median s':>9} {'min s':>7} {'peak MB':>8}  runs")
    for variant in args.variants.split(","):
        ttl = VARIANTS[variant]
        repos = write_repos(folder, ttl, tuple(engines))
        apply_repos(repos)
        kept: dict[str, Path] = {}
        runs: dict[str, list[dict[str, float]]] = {engine: [] for engine in engines}
        # Round-robin over the engines, so that a slow spell of a noisy machine hits them all.
        for i in range(args.runs):
            for engine in engines:
                keep = folder / f"result_{engine}_{variant}.parquet" if i == 0 else None
                runs[engine].append(spawn(engine, folder, repos.get(engine, folder), ttl, keep))
                if keep is not None:
                    kept[engine] = keep
        medians: dict[str, tuple[float, float]] = {}
        for engine in engines:
            seconds = [r["seconds"] for r in runs[engine]]
            peak = statistics.median(r["peak_mb"] for r in runs[engine])
            medians[engine] = (statistics.median(seconds), peak)
            print(
                f"{variant:8} {engine:8} {medians[engine][0]:9.2f} {min(seconds):7.2f} "
                f"{peak:8.0f}  {', '.join(f'{s:.2f}' for s in seconds)}",
                flush=True,
            )
        if "silage" in medians:
            s = medians["silage"][0]
            ratios = [
                f"{e}/silage time {m[0] / s:.2f}x, memory {m[1] / medians['silage'][1]:.2f}x"
                for e, m in medians.items()
                if e != "silage"
            ]
            print(f"{variant:8} ratios: {'; '.join(ratios)}")
            print(f"{variant:8} check: {compare(kept)}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        _, _, engine, folder, repo, ttl, *keep = sys.argv
        measure(engine, Path(folder), Path(repo), int(ttl), Path(keep[0]) if keep else None)
    else:
        main()
