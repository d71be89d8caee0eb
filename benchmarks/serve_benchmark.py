"""A bounded load test of ``silage serve`` on localhost: p50 and p99 at a fixed rate.

    python benchmarks/serve_benchmark.py [--rate 100] [--seconds 5]

Runs the worked example's main job (if its registry is missing), starts the server on a
free localhost port, and for each endpoint sends ``rate`` requests per second for
``seconds`` seconds (open loop: a request is sent on schedule whether or not earlier ones
returned), then stops. Only 127.0.0.1 is ever contacted.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if not (REPO / "data" / "registry.db").exists():
        subprocess.run([sys.executable, "main_job.py"], cwd=REPO, check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "store.cli", "--repo", str(REPO), "serve", "--port", str(port)]
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
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
        print(f"{args.rate:g} requests/s for {args.seconds:g}s per endpoint, one entity each")
        for path, payload in cases.items():
            asyncio.run(load(base + path, payload, args.rate, 1.0))  # warm up
            latencies = sorted(asyncio.run(load(base + path, payload, args.rate, args.seconds)))
            p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
            print(
                f"{path:28} p50 {statistics.median(latencies):7.2f} ms   p99 {p99:7.2f} ms"
                f"   ({len(latencies)} requests)"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
