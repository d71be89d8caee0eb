"""On-demand features online: get_online_features of a service with one on-demand view.

    python benchmarks/on_demand_benchmark.py [--entities 100000] [--calls 2000]

Silage and Feast 0.67 (SQLite online store, from ``make bench-env``) each apply the same
repository: a view ``stats`` (a double, an integer and a string) and two on-demand views
over it and a request source ``vals`` (``val_to_add``), with the same function text: one
in ``pandas`` mode, one in ``python`` mode (a dict of lists). Each engine materializes the
same Parquet source in its own fresh process, then answers in-process lookups of each
on-demand view's output (with the stored feature it reads) for 1 entity and for 1,000.
Answers for 1,000 entities are compared value by value before the timings are printed;
timings are medians of many calls.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from online_benchmark import END, FEATURES, START, compare, generate  # noqa: E402
from pit_benchmark import FEAST_PYTHON, apply_repos, python_for, write_repos  # noqa: E402

MODES = ("pandas", "python")
ON_DEMAND = """
import pandas as pd
{imports}
from {types} import Float64

vals = RequestSource(name="vals", schema=[Field(name="val_to_add", dtype=Int64)])


@on_demand_feature_view(
    sources=[stats, vals], schema=[Field(name="conv_plus_val", dtype=Float64)], mode="pandas"
)
def odfv_pandas(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame()
    out["conv_plus_val"] = inputs["conv_rate"] + inputs["val_to_add"]
    return out


@on_demand_feature_view(
    sources=[stats, vals], schema=[Field(name="conv_plus_val", dtype=Float64)], mode="python"
)
def odfv_python(inputs: dict) -> dict:
    return {{
        "conv_plus_val": [
            c + v for c, v in zip(inputs["conv_rate"], inputs["val_to_add"], strict=True)
        ]
    }}
"""


def write(folder: Path, engine: str) -> Path:
    repo = write_repos(folder, 0, (engine,), FEATURES)[engine]
    types = "feast.types" if engine == "feast" else "store.types"
    definitions = repo / "definitions.py"
    text = definitions.read_text(encoding="utf-8")
    imports = (
        "from feast import Field, RequestSource\n"
        "from feast.on_demand_feature_view import on_demand_feature_view"
        if engine == "feast"
        else "from store import Field, RequestSource, on_demand_feature_view"
    )
    code = ON_DEMAND.format(imports=imports, types=types)
    definitions.write_text(text + code, encoding="utf-8")
    return repo


def measure(engine: str, repo: Path, entities: int, calls: int) -> dict[str, object]:
    """Runs inside the engine's own process."""
    if engine == "feast":
        from feast import FeatureStore as FeastStore

        feast_store = FeastStore(repo_path=str(repo))
        feast_store.materialize(START, END)

        def lookup(refs: list[str], rows: list[dict[str, int]]) -> dict[str, list[object]]:
            return feast_store.get_online_features(features=refs, entity_rows=rows).to_dict()
    else:
        from store import FeatureStore

        store = FeatureStore(repo_path=repo)
        store.materialize(START, END)

        def lookup(refs: list[str], rows: list[dict[str, int]]) -> dict[str, list[object]]:
            return store.get_online_features(refs, rows).to_dict()

    rng = random.Random(7)
    sample = [{"driver_id": rng.randrange(entities), "val_to_add": i % 5} for i in range(1000)]
    out: dict[str, object] = {}
    for mode in MODES:
        refs = ["stats:conv_rate", f"odfv_{mode}:conv_plus_val"]
        answers = lookup(refs, sample)
        out[f"{mode}_answers"] = {k: answers[k] for k in ("conv_rate", "conv_plus_val")}
        for _ in range(100):  # warm up caches and code paths
            lookup(refs, sample[:1])
        one = []
        for i in range(calls):
            t = time.perf_counter_ns()
            lookup(refs, [sample[i % len(sample)]])
            one.append((time.perf_counter_ns() - t) / 1000)
        many = []
        for _ in range(max(calls // 20, 20)):
            t = time.perf_counter_ns()
            lookup(refs, sample)
            many.append((time.perf_counter_ns() - t) / 1e6)
        out[f"{mode}_one_us"] = statistics.median(one)
        out[f"{mode}_many_ms"] = statistics.median(many)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    if not FEAST_PYTHON.exists():
        raise SystemExit("Feast's virtualenv is missing: run `make bench-env` first")
    folder = generate(args.entities)
    results: dict[str, dict[str, object]] = {}
    for engine in ("silage", "feast"):
        repo = write(folder, engine)
        apply_repos({engine: repo})
        command = [python_for(engine), __file__, "run", engine, str(repo)]
        done = subprocess.run(
            [*command, str(args.entities), str(args.calls)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"{engine} failed:\n{done.stderr[-3000:]}")
        results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
    s, f = results["silage"], results["feast"]
    print(
        f"get_online_features: stats:conv_rate + one on-demand view; {args.entities:,} "
        f"entities stored; {args.calls} single-entity calls; medians"
    )
    print(f"{'mode':8} {'engine':8} {'1 entity':>10} {'1000 entities':>14}")
    for mode in MODES:
        for engine, r in results.items():
            print(
                f"{mode:8} {engine:8} {float(r[f'{mode}_one_us']):8.0f}us "  # type: ignore[arg-type]
                f"{float(r[f'{mode}_many_ms']):12.2f}ms"  # type: ignore[arg-type]
            )
        one = float(f[f"{mode}_one_us"]) / float(s[f"{mode}_one_us"])  # type: ignore[arg-type]
        many = float(f[f"{mode}_many_ms"]) / float(s[f"{mode}_many_ms"])  # type: ignore[arg-type]
        check = compare(s[f"{mode}_answers"], f[f"{mode}_answers"])  # type: ignore[arg-type]
        print(f"{mode:8} Silage faster by: 1 entity {one:.1f}x, 1000 entities {many:.1f}x; {check}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        _, _, engine, repo, entities, calls = sys.argv
        print(json.dumps(measure(engine, Path(repo), int(entities), int(calls))))
    else:
        main()
