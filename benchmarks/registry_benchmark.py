"""Registry benchmark: the same registry work on SQLite and on PostgreSQL, side by side.

    python benchmarks/registry_benchmark.py [--postgres URL] [--views 20] [--calls 200]

For each database a repository is built under ``benchmarks/.data/registry_<db>``: ``--views``
feature views of three features over one small Parquet source, and a feature service over
all of them, applied to a new registry (a new database on the PostgreSQL server, dropped
afterwards). Then, ``--calls`` times each, interleaved between the databases one call at a
time so that both see the same machine:

1. ``register_model``: a fitted scikit-learn logistic regression, skops-serialized, its
   artifact in the repository's folder and its version row in the registry.
2. The registry lookups of ``get_historical_features`` for the feature service: resolving
   the service and each of its views from the catalog (what ``build_retrieval_job`` asks the
   registry; the join itself is the offline engine's and does not touch the registry).
3. ``Registry.change_count()``: the poll a serving process makes every second.

Reported: p50 and p99 in milliseconds per database and the ratio PostgreSQL / SQLite (the
issue's goal: within 2x). PostgreSQL is reached over TCP on localhost, SQLite is a file.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def definitions(views: int) -> str:
    lines = [
        "from datetime import timedelta",
        "from store import Entity, FeatureService, FeatureView, Field, FileSource",
        "from store.types import Float64",
        'rider = Entity(name="rider", join_keys=["rider_id"])',
        'source = FileSource(name="stats", path="data/stats.parquet", timestamp_field="ts")',
    ]
    for i in range(views):
        fields = ", ".join(f'Field(name="f{i}_{k}", dtype=Float64)' for k in range(3))
        lines.append(
            f'view_{i} = FeatureView(name="view_{i}", entities=[rider], ttl=timedelta(days=1),'
            f" schema=[{fields}], source=source)"
        )
    names = ", ".join(f"view_{i}" for i in range(views))
    lines.append(f'service = FeatureService(name="all_views", features=[{names}])')
    return "\n".join(lines) + "\n"


def build(root: Path, registry: str, views: int) -> None:
    if root.exists():
        shutil.rmtree(root)
    (root / "data").mkdir(parents=True)
    (root / "feature_store.yaml").write_text(
        f"project: registry_bench\nregistry: {{registry_type: sql, path: '{registry}'}}\n"
    )
    (root / "definitions.py").write_text(definitions(views))
    columns: dict[str, object] = {
        "rider_id": pa.array(np.arange(10, dtype="int64")),
        "ts": pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 10, pa.timestamp("us", tz="UTC")),
    }
    for i in range(views):
        for k in range(3):
            columns[f"f{i}_{k}"] = pa.array(np.linspace(0, 1, 10))
    pq.write_table(pa.table(columns), root / "data" / "stats.parquet")


def fresh_postgres(server: str, stack: ExitStack) -> str:
    import sqlalchemy as sa

    name = f"silage_registry_bench_{int(time.time())}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    stack.callback(drop)
    return sa.make_url(server).set(database=name).render_as_string(hide_password=False)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="server URL (admin db)")
    parser.add_argument("--views", type=int, default=20)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression

    from store import FeatureStore

    rng = np.random.default_rng(20261128)
    x = rng.normal(size=(200, 4))
    model = LogisticRegression().fit(x, x[:, 0] > 0)
    with ExitStack() as stack:
        stores: dict[str, FeatureStore] = {}
        for db in ("sqlite", "postgresql"):
            root = ROOT / ".data" / f"registry_{db}"
            url = "data/registry.db" if db == "sqlite" else fresh_postgres(args.postgres, stack)
            build(root, url, args.views)
            fs = stack.enter_context(FeatureStore(repo_path=root))
            fs.apply()
            stores[db] = fs

        def lookups(fs: FeatureStore) -> Callable[[], object]:
            def run() -> object:
                service = fs.get_feature_service("all_views")
                return [fs.get_feature_view(p.feature_view) for p in service.projections]

            return run

        work: dict[str, dict[str, Callable[[], object]]] = {
            "register_model": {
                db: (lambda fs=fs: fs.model_registry.register_model("churn", model))
                for db, fs in stores.items()
            },
            f"historical-feature lookups ({args.views} views)": {
                db: lookups(fs) for db, fs in stores.items()
            },
            "change_count poll": {db: fs.registry.change_count for db, fs in stores.items()},
        }
        print(f"registry benchmark: {args.calls} calls each, interleaved\n")
        print(f"{'operation':42} {'SQLite p50/p99 ms':>20} {'PostgreSQL p50/p99 ms':>24} ratio")
        for name, calls in work.items():
            for call in calls.values():  # warm up: first connections, imports, caches
                call()
            times: dict[str, list[float]] = {db: [] for db in calls}
            for _ in range(args.calls):
                for db, call in calls.items():
                    start = time.perf_counter()
                    call()
                    times[db].append((time.perf_counter() - start) * 1000)
            s, p = times["sqlite"], times["postgresql"]
            ratio = statistics.median(p) / statistics.median(s)
            print(
                f"{name:42} {statistics.median(s):9.2f} / {percentile(s, 0.99):7.2f}"
                f"   {statistics.median(p):11.2f} / {percentile(p, 0.99):7.2f}   {ratio:4.2f}x"
            )


if __name__ == "__main__":
    main()
