"""A bounded load test of ``silage serve`` on localhost: p50 and p99 at a fixed rate.

    python benchmarks/serve_benchmark.py [--rate 100] [--seconds 5] [--baseline ../other]

Runs the worked example's main job (if its registry is missing), starts the server on a
free localhost port, and for each endpoint sends ``rate`` requests per second for
``seconds`` seconds (open loop: a request is sent on schedule whether or not earlier ones
returned), then stops. Only 127.0.0.1 is ever contacted.

``--baseline DIR`` also serves another Silage checkout's worked example (from its own
``.venv``) and loads both servers in turns, ``--rounds`` times each, so that the two are
measured side by side; their latencies are pooled per server.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
REPO = ROOT / "feature_repo"


async def load(url: str, payload: dict[str, object], rate: float, seconds: float) -> list[float]:
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(timeout=10) as client:

        async def one() -> None:
            nonlocal errors
            started = time.perf_counter()
            answer = await client.post(url, json=payload)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += answer.status_code != 200

        tasks = []
        begin = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    if errors:
        raise SystemExit(f"{errors} requests to {url} failed")
    return latencies


def start_server(python: str, repo: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``silage serve`` on a free localhost port, once its main job has run; waits for it."""
    if not (repo / "data" / "registry.db").exists():
        subprocess.run([python, "main_job.py"], cwd=repo, check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [python, "-m", "store.cli", "--repo", str(repo), "serve", "--port", str(port)]
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    return server, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--baseline", help="another Silage checkout, served side by side")
    args = parser.parse_args()
    targets = {"silage": (sys.executable, REPO)}
    if args.baseline:
        other = Path(args.baseline).resolve()
        targets["baseline"] = (str(other / ".venv" / "bin" / "python"), other / "feature_repo")
    servers = {name: start_server(python, repo) for name, (python, repo) in targets.items()}
    cases = {
        "/get-online-features": {
            "feature_service": "trip_completion",
            "entities": {"driver_id": [1001], "customer_id": [5001]},
        },
        "/predict/trip_completion": {
            "entity_rows": [{"driver_id": 1001, "customer_id": 5001}],
            "missing": "model",
        },
    }
    try:
        print(
            f"{args.rate:g} requests/s for {args.seconds:g}s per endpoint and round, "
            f"{args.rounds} round(s), one entity each"
        )
        for path, payload in cases.items():
            latencies: dict[str, list[float]] = {name: [] for name in servers}
            for _, base in servers.values():
                asyncio.run(load(base + path, payload, args.rate, 1.0))  # warm up
            for _ in range(args.rounds):
                for name, (_, base) in servers.items():
                    latencies[name] += asyncio.run(
                        load(base + path, payload, args.rate, args.seconds)
                    )
            p50 = {}
            for name, values in latencies.items():
                ordered = sorted(values)
                p50[name] = statistics.median(ordered)
                p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
                print(
                    f"{name:8} {path:28} p50 {p50[name]:7.2f} ms   p99 {p99:7.2f} ms"
                    f"   ({len(ordered)} requests)"
                )
            if "baseline" in p50:
                print(
                    f"{'':8} {path:28} p50 baseline / silage {p50['baseline'] / p50['silage']:.2f}x"
                )
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
