"""The predictions log under several serving processes: SQLite file against PostgreSQL.

    python benchmarks/prediction_log_benchmark.py [--processes 1,4] [--appends 500]
        [--rows 2] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Each process appends ``--appends`` requests of ``--rows`` predictions (a served prediction
and its shadow, say), as ``predict`` does: one transaction per request with the rows and
their running sums. Reported per database and process count: requests per second over all
processes, and the p50 and p99 of one append's latency. Every run checks that no row was
lost and that the running sums equal a GROUP BY over the rows. PostgreSQL runs in a new
database (dropped afterwards); SQLite in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from store.serving.prediction_log import (  # noqa: E402
    METRICS,
    LoggedPrediction,
    PredictionLog,
    canonical,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def request(worker: int, i: int, rows: int) -> list[LoggedPrediction]:
    at = (T0 + timedelta(seconds=i * 7 + worker)).isoformat()
    found = []
    for k in range(rows):
        label, number = canonical(k % 2)
        found.append(
            LoggedPrediction(
                request_id=f"{worker}-{i}",
                predicted_at=at,
                environment="production",
                model="m",
                version=1 + k,
                role="primary" if k == 0 else "shadow",
                entity=json.dumps({"driver_id": i}),
                features=json.dumps({"conv_rate": 0.5, "trips": i}),
                prediction=json.dumps({"prediction": k % 2}),
                latency_ms=2.0,
                prediction_id=f"w{worker}-{i}" + ("" if k == 0 else f".shadow.v{1 + k}"),
                label=label,
                predicted=number,
            )
        )
    return found


def worker(where: str, number: int, appends: int, rows: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    log = PredictionLog(where)
    log.append(request(number, -1, rows))  # connect and check the tables before timing
    latencies = []
    started = time.time()
    for i in range(appends):
        began = time.perf_counter()
        log.append(request(number, i, rows))
        latencies.append(time.perf_counter() - began)
    out.put((latencies, started, time.time()))
    log.close()


def run(where: str, processes: int, appends: int, rows: int) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    workers = [
        context.Process(target=worker, args=(where, n, appends, rows, out))
        for n in range(processes)
    ]
    for w in workers:
        w.start()
    results = [out.get(timeout=600) for _ in workers]
    for w in workers:
        w.join()
    latencies = [x for found, _, _ in results for x in found]
    # From the first timed append to the last: process start-up is not the log's cost.
    seconds = max(r[2] for r in results) - min(r[1] for r in results)
    log = PredictionLog(where)
    written = len(log.read())
    expected = processes * (appends + 1) * rows
    if written != expected:
        raise SystemExit(f"{where}: {written} rows logged, {expected} appended")
    for metric in METRICS:
        fast = log.arm_sums("m", metric, environment="production")
        slow = log.raw_arm_sums("m", metric, environment="production")
        if [(a.version, a.predictions) for a in fast] != [(a.version, a.predictions) for a in slow]:
            raise SystemExit(f"{where}: running sums differ from the rows")
    log.close()
    latencies.sort()
    return {
        "requests_per_s": processes * appends / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,4")
    parser.add_argument("--appends", type=int, default=500)
    parser.add_argument("--rows", type=int, default=2)
    parser.add_argument(
        "--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    import sqlalchemy as sa

    print("| log | processes | requests/s | append p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    for processes in (int(p) for p in args.processes.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            found = run(str(Path(folder) / "predictions.db"), processes, args.appends, args.rows)
        print(
            f"| SQLite | {processes} | {found['requests_per_s']:,.0f} | "
            f"{found['p50_ms']:.2f} | {found['p99_ms']:.2f} |",
            flush=True,
        )
        name = f"silage_log_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            url = sa.make_url(args.postgres).set(database=name).render_as_string(False)
            found = run(url, processes, args.appends, args.rows)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        print(
            f"| PostgreSQL | {processes} | {found['requests_per_s']:,.0f} | "
            f"{found['p50_ms']:.2f} | {found['p99_ms']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
