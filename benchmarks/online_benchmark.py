"""Online store benchmark: materialization throughput and get_online_features latency.

    python benchmarks/online_benchmark.py [--entities 1000000] [--calls 3000] [--rounds 1]
                                          [--baseline ../other-checkout]
                                          [--online redis --redis 127.0.0.1:6379 --redis-db 12]

Silage and Feast 0.67 (SQLite online store, from ``make bench-env``) each materialize the
same Parquet source (two rows per entity, 3 features: a double, an integer and a string, and
a created timestamp) in-process, then answer in-process lookups for 1 entity and for 1,000
entities. Results for a sample of keys are compared between the engines before the timings
are printed. Each engine runs in its own fresh process; the timings are medians and 99th
percentiles of many calls. With ``--rounds N`` every engine runs N times, in turns, and the
median of each figure over the rounds is printed. ``--baseline DIR`` adds another Silage
checkout (with its own ``.venv``) as the engine ``baseline`` (see ``pit_benchmark.py``).

``--online redis`` puts both online stores on the same Redis server instead (Feast with its
Redis extra, ``make bench-env-redis``): Silage in database ``--redis-db`` and Feast in the
next one. The benchmark owns those two databases: it empties them before each run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pit_benchmark import (  # noqa: E402
    DATA,
    FEAST_PYTHON,
    SILAGE_KINDS,
    apply_repos,
    python_for,
    use_baseline,
    write_repos,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 2, tzinfo=UTC)
FEATURES = {"conv_rate": "Float64", "avg_daily_trips": "Int64", "city": "String"}
REFS = [f"stats:{name}" for name in FEATURES]
CITIES = ["Oslo", "Lima", "Pune", "Accra", "Quito", "Hanoi", "Perth", "Porto", "Cusco", "Davao"]


def generate(entities: int) -> Path:
    import duckdb

    folder = DATA / f"online_str_e{entities}"
    if (folder / "features.parquet").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"""
        COPY (
            SELECT (i % {entities})::BIGINT AS driver_id,
                   TIMESTAMPTZ '2026-01-01 06:00:00+00' + to_microseconds(
                       ((i // {entities}) * 3600000000 + hash(i) % 600000000)::BIGINT
                   ) AS event_timestamp,
                   TIMESTAMPTZ '2026-01-01 07:00:00+00' + INTERVAL 1 MINUTE * (i // {entities})
                       AS created,
                   ((hash(i * 3) % 1000) / 1000.0)::DOUBLE AS conv_rate,
                   (hash(i * 7) % 50)::BIGINT AS avg_daily_trips,
                   {CITIES!r}[1 + (hash(i * 5) % {len(CITIES)})::BIGINT] AS city
            FROM range({2 * entities}) t(i)
        ) TO '{folder / "features.parquet"}' (FORMAT parquet)
    """)
    return folder


def use_redis(repos: dict[str, Path], server: str, first_db: int) -> None:
    """Point each repository's online store at its own database of the Redis ``server``,
    emptied now."""
    import redis

    host, _, port = server.partition(":")
    for engine, repo in repos.items():
        db = first_db + (1 if engine == "feast" else 0)  # engines run one at a time
        redis.Redis(host=host, port=int(port or 6379), db=db).flushdb()
        config = repo / "feature_store.yaml"
        text = config.read_text().replace(
            "online_store:\n  type: sqlite\n  path: online.db\n",
            f'online_store:\n  type: redis\n  connection_string: "{server},db={db}"\n',
        )
        config.write_text(text)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(engine: str, repo: Path, entities: int, calls: int) -> dict[str, object]:
    """Runs inside the engine's own process."""
    if engine in SILAGE_KINDS:
        from store import FeatureStore

        store = FeatureStore(repo_path=repo)
        started = time.perf_counter()
        store.materialize(START, END)
        seconds = time.perf_counter() - started

        def lookup(rows: list[dict[str, int]]) -> dict[str, list[object]]:
            return store.get_online_features(REFS, rows).to_dict()
    else:
        from feast import FeatureStore as FeastStore

        feast_store = FeastStore(repo_path=str(repo))
        started = time.perf_counter()
        feast_store.materialize(START, END)
        seconds = time.perf_counter() - started

        def lookup(rows: list[dict[str, int]]) -> dict[str, list[object]]:
            return feast_store.get_online_features(features=REFS, entity_rows=rows).to_dict()

    rng = random.Random(7)
    sample = [{"driver_id": rng.randrange(entities)} for _ in range(1000)]
    answers = lookup(sample)
    for _ in range(200):  # warm up caches and code paths
        lookup(sample[:1])
    one = []
    for i in range(calls):
        rows = [sample[i % len(sample)]]
        t = time.perf_counter_ns()
        lookup(rows)
        one.append((time.perf_counter_ns() - t) / 1000)
    many = []
    for _ in range(max(calls // 20, 20)):
        t = time.perf_counter_ns()
        lookup(sample)
        many.append((time.perf_counter_ns() - t) / 1e6)
    return {
        "materialize_s": seconds,
        "entities_per_s": entities / seconds,
        "one_median_us": statistics.median(one),
        "one_p99_us": percentile(one, 0.99),
        "many_median_ms": statistics.median(many),
        "many_p99_ms": percentile(many, 0.99),
        "answers": {k: v for k, v in answers.items() if k != "driver_id"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--engines", default="silage,feast")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--baseline", help="another Silage checkout, run side by side")
    parser.add_argument("--online", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--redis", default="127.0.0.1:6379", help="host:port of the server")
    parser.add_argument("--redis-db", type=int, default=12, help="Silage's; Feast's is next")
    args = parser.parse_args()
    engines = args.engines.split(",")
    engines[1:1] = use_baseline(args.baseline)
    if "feast" in engines and not FEAST_PYTHON.exists():
        raise SystemExit("Feast's virtualenv is missing: run `make bench-env` first")
    folder = generate(args.entities)
    rounds: dict[str, list[dict[str, object]]] = {engine: [] for engine in engines}
    for _ in range(args.rounds):
        for engine in engines:
            # A fresh registry and online store every round: each materializes from scratch.
            repos = write_repos(folder, 0, (engine,), FEATURES)
            if args.online == "redis":
                use_redis(repos, args.redis, args.redis_db)
            apply_repos(repos)
            command = [python_for(engine), __file__, "run", engine, str(repos[engine])]
            out = subprocess.run(
                [*command, str(args.entities), str(args.calls)],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                raise SystemExit(f"{engine} failed:\n{out.stderr[-3000:]}")
            rounds[engine].append(json.loads(out.stdout.strip().splitlines()[-1]))
    results = {engine: median_of(runs) for engine, runs in rounds.items()}
    print(
        f"{args.online} online store; {args.entities:,} entities x 3 features (double, integer, "
        f"string); "
        f"{args.calls} single-entity calls; medians of {args.rounds} round(s)"
    )
    print(
        f"{'engine':8} {'materialize':>12} {'entities/s':>12} {'1 entity p50':>13} "
        f"{'p99':>8} {'1000 p50':>10} {'p99':>8}"
    )
    for engine, r in results.items():
        print(
            f"{engine:8} {r['materialize_s']:11.1f}s {r['entities_per_s']:12,.0f} "
            f"{r['one_median_us']:11.1f}us {r['one_p99_us']:6.1f}us "
            f"{r['many_median_ms']:8.2f}ms {r['many_p99_ms']:6.2f}ms"
        )
    if "silage" in results and "feast" in results:
        s, f = results["silage"], results["feast"]
        speedup = float(s["entities_per_s"]) / float(f["entities_per_s"])  # type: ignore[arg-type]
        one = float(f["one_median_us"]) / float(s["one_median_us"])  # type: ignore[arg-type]
        many = float(f["many_median_ms"]) / float(s["many_median_ms"])  # type: ignore[arg-type]
        print(
            f"ratios (Silage faster by): materialize throughput {speedup:.1f}x, "
            f"1 entity {one:.1f}x, 1000 entities {many:.1f}x"
        )
        print("check:", compare(s["answers"], f["answers"]))  # type: ignore[arg-type]
    if "silage" in results and "baseline" in results:
        s, b = results["silage"], results["baseline"]
        ratios = ", ".join(
            f"{key} {float(b[key]) / float(s[key]):.2f}x"  # type: ignore[arg-type]
            for key in ("materialize_s", "one_median_us", "many_median_ms")
        )
        print(f"baseline / silage (above 1: this checkout is faster): {ratios}")
        print("check against baseline:", compare(s["answers"], b["answers"]))  # type: ignore[arg-type]


def median_of(runs: list[dict[str, object]]) -> dict[str, object]:
    """Each timing's median over the rounds; the answers of the first round."""
    merged: dict[str, object] = {"answers": runs[0]["answers"]}
    for key in runs[0]:
        if key != "answers":
            merged[key] = statistics.median(float(r[key]) for r in runs)  # type: ignore[arg-type]
    return merged


def compare(ours: dict[str, list[object]], theirs: dict[str, list[object]]) -> str:
    bad = 0
    for name, values in ours.items():
        other = theirs.get(name)
        if other is None:
            return f"feast returned no {name}"
        for a, b in zip(values, other, strict=True):
            if (a is None) != (b is None):
                bad += 1
            elif isinstance(a, str) or isinstance(b, str):
                bad += a != b
            elif a is not None and abs(float(a) - float(b)) > 1e-6:  # type: ignore[arg-type]
                bad += 1
    return "agrees" if bad == 0 else f"{bad} values differ"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        _, _, engine, repo, entities, calls = sys.argv
        print(json.dumps(measure(engine, Path(repo), int(entities), int(calls))))
    else:
        main()
