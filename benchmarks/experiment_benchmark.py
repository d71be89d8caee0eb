"""Experiment benchmark: a report over ``--rows`` logged predictions, and bandit routing's cost.

    python benchmarks/experiment_benchmark.py [--rows 10000000] [--runs 5] [--calls 2000]

Builds (seeded) a repository under ``benchmarks/.data/experiment_r<rows>``: one view of two
features for 10,000 riders, materialized online; two versions of a classifier trained on a
saved training set and deployed in ``production`` as A/B arms (``control`` v1, ``treatment``
v2, 50% each); and a predictions log of ``--rows`` predictions evenly over the week after
that deployment, each drawn to an arm with probability 1/2 (as if every prediction were
another entity), with the JSON entity, features and prediction ``predict`` writes (the
models' own outputs for a pool of feature rows), 0.1% failed rows, and for 60% of the
predictions a boolean outcome, true 10% of the time for the control and 11% for the
treatment.

The log is written with sqlite3 directly, in two processes, with its indexes and its running
per-arm sums (``arm_rollup``, added up by the rollup's own ``contribution``): what ``append``
and ``record_outcomes`` would leave, outcomes copied onto their predictions' rows. (Through
the API, 400,000 rows take about 30 s here, slower as the id index grows: 10M would take
far over a quarter of an hour.) The first rows are written again through the API into a
scratch log and must come out identical, type for type, in the same schema, with the same
running sums.

Then, side by side:

1. The report: ``store.experiment("churn")``, everything the facade does (deployment history,
   per-arm sums in ``PredictionLog.arm_sums``: whole hours from the running sums, the
   partial hour after the deployment from the log's rows, then the tests and the verdict),
   ``--runs`` times, the first run shown apart; and a hand-written DuckDB query of the same
   per-arm sums over the log's needed columns, exported once (untimed) to Parquet. The
   issue's goal: under 5 s. Also, once, the same sums from the rows alone (one ``GROUP BY``
   over the window, as reports did before the running sums); all three must agree. SQLite's
   plans of the report's queries show where the time goes.
2. Routing: ``predict`` for one entity through the same arms deployed as a fixed split and
   as a bandit, ``--calls`` calls each, interleaved one call at a time; the p50s and their
   difference with a bootstrap interval. The goal: the bandit adds under 50 microseconds at
   p50. The routing step alone (``deployments.live`` and ``route``) resolves finer; and since
   a bandit adds a deployment revision each time it reweights, both are also measured after
   a day (and the step after a week) of hourly reweighting.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from store import FeatureStore

HERE = Path(__file__).resolve().parent
SEED = 20261128
RIDERS = 10_000
HOURS = 48
T0 = datetime(2026, 1, 1, tzinfo=UTC)
REPORT_GOAL_S = 5.0
ROUTING_GOAL_US = 50.0
OUTCOME_SHARE = 0.6
RATES = {"control": 0.10, "treatment": 0.11}
FAILED = 0.001
CHUNK = 500_000
CHECK_ROWS = 5_000
SPAN = timedelta(days=7)  # the predictions come evenly over a week of the experiment
POOL = 50_000  # distinct feature rows drawn from; their predictions are the models' own
# Part 2's environments: the same arms as a fixed split, and as bandits reweighted hourly for
# so many hours.
FIXED, BANDIT, DAY, WEEK = "ab-fixed", "ab-bandit", "ab-bandit-day", "ab-bandit-week"
MODES = {FIXED: 0, BANDIT: 0, DAY: 24, WEEK: 168}

# Online ttl enforcement is off: the source data is fixed in time (reproducible), not recent.
SETTINGS = "project: experiment_bench\nonline_store:\n  enforce_ttl: false\n"
DEFINITIONS = """
from datetime import timedelta
from store import Entity, FeatureView, Field, FileSource
from store.types import Float64, Int64

rider = Entity(name="rider", join_keys=["rider_id"])
rider_stats = FeatureView(
    name="rider_stats",
    entities=[rider],
    ttl=timedelta(days=2),
    schema=[Field(name="spend", dtype=Float64), Field(name="trips", dtype=Int64)],
    source=FileSource(path="data/rider_stats.parquet", timestamp_field="ts"),
)
"""
REFS = ["rider_stats:spend", "rider_stats:trips"]
# The columns part 1 reads, as the log holds them.
NARROW = (
    "model, environment, predicted_at, version, role, arm, error, missing, latency_ms, "
    "outcome, outcome_value"
)


def arms() -> list[Any]:
    from registry import Target

    return [Target(1, "ab", 50, "control"), Target(2, "ab", 50, "treatment")]


def build_repo(root: Path) -> tuple[FeatureStore, list[Any]]:
    """The repository, materialized online, with two model versions as A/B arms in
    production; returns the store and the two fitted models."""
    from sklearn.linear_model import LogisticRegression

    from store import FeatureStore

    if root.exists():
        shutil.rmtree(root)
    (root / "data").mkdir(parents=True)
    (root / "feature_store.yaml").write_text(SETTINGS)
    (root / "definitions.py").write_text(DEFINITIONS)
    rng = np.random.default_rng(SEED)
    source = pd.MultiIndex.from_product(
        [np.arange(RIDERS), pd.date_range(T0, periods=HOURS, freq="h")], names=["rider_id", "ts"]
    ).to_frame(index=False)
    source["spend"] = np.round(rng.gamma(2.0, 20.0, len(source)), 2)
    source["trips"] = rng.poisson(5, len(source)).astype("int64")
    pq.write_table(
        pa.Table.from_pandas(source, preserve_index=False), root / "data" / "rider_stats.parquet"
    )
    fs = FeatureStore(repo_path=root)
    fs.apply()
    sample = pd.DataFrame(
        {
            "rider_id": rng.integers(0, RIDERS, 5_000),
            "event_timestamp": T0 + pd.to_timedelta(rng.uniform(1, HOURS, 5_000), unit="h"),
        }
    )
    saved = fs.get_historical_features(sample, REFS).save("riders")
    data = saved.to_df()
    label = data["spend"] + 5 * data["trips"] + rng.normal(0, 20, len(data)) > 70
    models = []
    for c in (0.1, 10.0):
        model = LogisticRegression(C=c).fit(data[["spend", "trips"]], label)
        fs.model_registry.register_model("churn", model, training_set=saved.record)
        models.append(model)
    fs.materialize(T0, T0 + timedelta(hours=HOURS))
    fs.model_registry.deployments.deploy("churn", "production", arms())
    return fs, models


@dataclass(frozen=True, slots=True)
class Pools:
    """Texts the log's rows are drawn from, as ``predict`` writes them: each entity's key;
    each feature row (the last one ``{}``, a failed row's) and each version's prediction of
    it, with its canonical label and number; the ISO endings of each microsecond."""

    entities: np.ndarray
    features: np.ndarray
    predictions: np.ndarray  # [version - 1, feature row]
    labels: np.ndarray
    numbers: np.ndarray
    micros: np.ndarray


def make_pools(rng: np.random.Generator, models: list[Any]) -> Pools:
    from store.serving.predict import model_outputs
    from store.serving.prediction_log import canonical

    frame = pd.DataFrame(
        {"spend": np.round(rng.gamma(2.0, 20.0, POOL), 2), "trips": rng.poisson(5, POOL)}
    ).astype("float64")  # as predict hands them to the model, and logs them
    features = [json.dumps(f, default=str) for f in frame.to_dict(orient="records")]
    predictions, labels, numbers = [], [], []
    for model in models:
        outputs = model_outputs(model, frame)
        predictions.append([json.dumps(o, default=str) for o in outputs] + ["{}"])
        read = [canonical(o["prediction"]) for o in outputs] + [(None, None)]
        labels.append([r[0] for r in read])
        numbers.append([r[1] for r in read])
    return Pools(
        entities=_objects([json.dumps({"rider_id": r}, sort_keys=True) for r in range(RIDERS)]),
        features=_objects([*features, "{}"]),
        predictions=_objects(predictions),
        labels=_objects(labels),
        numbers=_objects(numbers),
        # datetime.isoformat writes no fraction when it is zero.
        micros=_objects(["+00:00"] + [f".{m:06d}+00:00" for m in range(1, 1_000_000)]),
    )


def _objects(values: list[Any]) -> np.ndarray:
    """An object array of ``values`` (of lists: two-dimensional): indexing it shares the
    Python objects, so a million rows cost a million references, not a million strings."""
    rows = len(values[0]) if values and isinstance(values[0], list) else None
    array = np.empty(len(values) if rows is None else (len(values), rows), dtype=object)
    array[:] = values
    return array


ARMS = _objects(["control", "treatment"])
ERRORS = _objects(["", "PredictionError: entity has no value for feature trips (missing)"])
OUTCOMES = _objects([None, "0.0", "1.0"])  # canonical(False), canonical(True)
OUTCOME_VALUES = _objects([None, 0.0, 1.0])


def make_chunk(
    rng: np.random.Generator, pools: Pools, start: int, size: int, *, rows: int, began: int
) -> list[tuple[Any, ...]]:
    """Predictions ``start`` to ``start + size`` of ``rows`` as the log's rows (every column,
    outcomes included), evenly over ``SPAN`` from ``began`` (microseconds since the epoch)."""
    index = np.arange(start, start + size, dtype=np.int64)
    times = _iso(pools, began + index * (SPAN // timedelta(microseconds=1)) // rows)
    treatment = (rng.random(size) < 0.5).astype(np.int64)
    failed = rng.random(size) < FAILED
    pick = np.where(failed, POOL, rng.integers(0, POOL, size))
    arrived = (rng.random(size) < OUTCOME_SHARE) & ~failed
    value = rng.random(size) < np.where(treatment, RATES["treatment"], RATES["control"])
    code = arrived * (1 + value)  # 0: no outcome, 1: false, 2: true
    ids = _hex_ids(rng, 2 * size)
    return list(
        zip(
            ids[:size],  # request id: one entity per request
            times,
            ["production"] * size,
            ["churn"] * size,
            (treatment + 1).tolist(),  # version
            ["ab"] * size,
            pools.entities[rng.integers(0, RIDERS, size)].tolist(),
            pools.features[pick].tolist(),
            pools.predictions[treatment, pick].tolist(),
            np.where(failed, 0.0, rng.lognormal(np.log(1.5), 0.3, size)).tolist(),  # latency
            ids[size:],  # prediction id
            ARMS[treatment].tolist(),
            [0.5] * size,  # propensity: the arm's share
            [0] * size,  # missing features
            ERRORS[failed.astype(np.int64)].tolist(),
            pools.labels[treatment, pick].tolist(),
            pools.numbers[treatment, pick].tolist(),
            OUTCOMES[code].tolist(),
            OUTCOME_VALUES[code].tolist(),
            strict=True,
        )
    )


def _iso(pools: Pools, micros: np.ndarray) -> list[str]:
    """Microseconds since the epoch as ``datetime.isoformat`` writes them in UTC."""
    seconds, inverse = np.unique(micros // 1_000_000, return_inverse=True)
    prefixes = _objects(
        [datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%S") for s in seconds.tolist()]
    )
    result: list[str] = (prefixes[inverse] + pools.micros[micros % 1_000_000]).tolist()
    return result


def _hex_ids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random 32-digit hex ids, like ``uuid4().hex``."""
    text = rng.bytes(16 * n).hex()
    return [text[i : i + 32] for i in range(0, 32 * n, 32)]


# The outcomes as record_outcomes keeps them, from the rows that carry one: the value as
# JSON, observed an hour after the prediction (isoformat, with the prediction's fraction;
# SQLite's date functions keep milliseconds, so they are given whole seconds only).
OUTCOMES_SQL = """
INSERT INTO outcomes
SELECT prediction_id, CASE outcome_value WHEN 1.0 THEN 'true' ELSE 'false' END,
  strftime('%Y-%m-%dT%H:%M:%S', substr(predicted_at, 1, 19), '+1 hour')
    || substr(predicted_at, 20), ?
FROM predictions WHERE outcome IS NOT NULL ORDER BY prediction_id
"""


INSERT_SQL = f"INSERT INTO predictions VALUES ({', '.join('?' * 19)})"


def _bulk(path: Path) -> sqlite3.Connection:
    """A connection for a bulk load: no WAL (every page would be written twice), no fsync,
    a large cache."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    return conn


def insert_chunks(
    conn: sqlite3.Connection, pools: Pools, starts: list[int], rows: int, began: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Insert the chunks of predictions beginning at ``starts`` (each seeded by its start, so
    whichever process writes it, it is the same); returns the first chunk's first rows and
    the running sums all the rows add (``UPSERT_SQL`` parameters)."""
    import gc

    first: list[tuple[Any, ...]] = []
    sums: list[tuple[Any, ...]] = []
    gc.disable()  # millions of tuples: the collector would walk them again and again
    try:
        conn.execute("BEGIN")
        for start in starts:
            rng = np.random.default_rng([SEED, start])
            chunk = make_chunk(rng, pools, start, min(CHUNK, rows - start), rows=rows, began=began)
            first = first or chunk[:CHECK_ROWS]
            conn.executemany(INSERT_SQL, chunk)
            sums += running_sums(chunk)
            del chunk
        conn.execute("COMMIT")
    finally:
        gc.enable()
    return first, sums


def running_sums(chunk: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """What the rows add to the log's running per-arm sums (``UPSERT_SQL`` parameters), by
    the rollup's own ``contribution`` once per kind of row: rows alike but for their latency
    add alike, and latency adds its sum and sum of squares. (The rollup's SQL rebuild gives
    the same numbers but sorts every row: over a minute at 10M.)"""
    from store.serving import rollup

    kinds: dict[tuple[Any, ...], list[float]] = {}
    for r in chunk:
        # model, environment, version, role, arm, hour, error, missing, label, predicted,
        # outcome, outcome_value
        kind = (r[3], r[2], r[4], r[5], r[11], r[1][:13], r[14], r[13], r[15], r[16], r[17], r[18])
        found = kinds.get(kind)
        if found is None:
            found = kinds[kind] = [0, 0.0, 0.0]
        found[0] += 1
        found[1] += r[9]
        found[2] += r[9] * r[9]
    changes = []
    for kind, (n, total, squares) in kinds.items():
        row = rollup.LoggedRow(*kind[:8], 0.0, *kind[8:10])
        change = {c: n * v for c, v in rollup.contribution(row, kind[10], kind[11]).items()}
        if row.error == "":
            change["latency_sum"], change["latency_sq"] = total, squares
        changes.append((row.key, change))
    return rollup.upserts(changes)


def write_side(
    path: Path, pools: Pools, starts: list[int], rows: int, began: int
) -> list[tuple[Any, ...]]:
    """In a second process: chunks into a side file holding the log's table, appended later;
    returns their running sums."""
    from store.serving.log_database import open_log_database
    from store.serving.prediction_log import _log_sql

    conn = _bulk(path)
    try:
        conn.execute(_log_sql(open_log_database(path)))
        return insert_chunks(conn, pools, starts, rows, began)[1]
    finally:
        conn.close()


def fill_log(path: Path, pools: Pools, rows: int, began: int) -> dict[str, Any]:
    """Write ``rows`` predictions, their outcomes and the running per-arm sums they make
    into the log at ``path`` (its tables made by ``PredictionLog``); returns how many
    outcomes, the first rows and their running sums.

    Python builds and binds the rows at about 10 microseconds each on 2.5 GHz: two processes
    write half each, the second into a side file that SQLite then appends in C. The indexes
    are built once at the end (sorting beats 10M random inserts)."""
    from store.serving import rollup
    from store.serving.prediction_log import _ID_INDEX_SQL, _TIME_INDEX_SQL, PredictionLog

    made = PredictionLog(path)
    made._tables(create=True)  # the tables and indexes, as the store makes them
    made.close()
    starts = list(range(0, rows, CHUNK))
    half = (len(starts) + 1) // 2
    side = path.with_name("predictions-side.db")
    conn = _bulk(path)
    try:
        conn.execute("DROP INDEX predictions_by_id")
        conn.execute("DROP INDEX predictions_by_time")
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            later = pool.submit(write_side, side, pools, starts[half:], rows, began)
            first, sums = insert_chunks(conn, pools, starts[:half], rows, began)
            sums += later.result()
        conn.execute("ATTACH ? AS side", [str(side)])
        conn.execute("BEGIN")
        conn.execute("INSERT INTO predictions SELECT * FROM side.predictions ORDER BY rowid")
        # Before the id index exists, so that the outcomes are sorted, not looked up by id.
        outcomes = conn.execute(OUTCOMES_SQL, [datetime.now(UTC).isoformat()]).rowcount
        conn.execute(_ID_INDEX_SQL)
        conn.execute(_TIME_INDEX_SQL)
        conn.executemany(rollup.UPSERT_SQL, sums)
        conn.execute("COMMIT")
        conn.execute("DETACH side")
        conn.execute("PRAGMA journal_mode = WAL")  # as the store keeps it
    finally:
        conn.close()
        side.unlink(missing_ok=True)
    return {"outcomes": outcomes, "first": first, "sums": running_sums(first)}


def check_identical(path: Path, first: list[tuple[Any, ...]], sums: list[tuple[Any, ...]]) -> None:
    """The first rows written through ``append`` and ``record_outcomes`` into a scratch log
    must equal the bulk-written ones, column by column and type by type, in the same schema,
    and the scratch log's running sums the ones the bulk load computed for those rows."""
    from store.serving.prediction_log import LoggedPrediction, PredictionLog

    names = [f.name for f in dataclasses.fields(LoggedPrediction)]
    outcomes = [
        (r[10], r[18] == 1.0, datetime.fromisoformat(r[1]) + timedelta(hours=1))
        for r in first
        if r[17] is not None
    ]
    with tempfile.TemporaryDirectory() as scratch:
        log = PredictionLog(Path(scratch) / "predictions.db")
        log.append([LoggedPrediction(**dict(zip(names, r, strict=False))) for r in first])
        log.record_outcomes(outcomes)
        expected = _contents(log.path, len(first))
        with sqlite3.connect(log.path) as conn:
            running = conn.execute(ROLLUP_ROWS).fetchall()
    found = _contents(path, len(first))
    for part, want in expected.items():
        if found[part] != want:
            raise SystemExit(f"the bulk-written log differs from the API's in its {part}")
    if not same_sums(running, sorted(sums)):
        raise SystemExit("the bulk load's running sums differ from append's and record_outcomes'")


ROLLUP_ROWS = "SELECT * FROM arm_rollup ORDER BY model, environment, version, role, arm, hour"


def _contents(path: Path, rows: int) -> dict[str, Any]:
    with sqlite3.connect(path) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(predictions)")]
        typed = ", ".join(f"{c}, typeof({c})" for c in columns)
        predictions = conn.execute(
            f"SELECT {typed} FROM predictions ORDER BY rowid LIMIT {rows}"
        ).fetchall()
        ids = ", ".join(f"'{r[20]}'" for r in predictions)  # prediction_id, typed pairs
        return {
            "schema": conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
            ).fetchall(),
            "journal mode": conn.execute("PRAGMA journal_mode").fetchone(),
            "prediction rows": predictions,
            # recorded_at is when record_outcomes ran: it differs by nature.
            "outcome rows": conn.execute(
                "SELECT prediction_id, value, observed_at FROM outcomes "
                f"WHERE prediction_id IN ({ids}) ORDER BY prediction_id"
            ).fetchall(),
        }


def export_parquet(path: Path, folder: Path) -> None:
    """The columns an experiment reads, from the log into Parquet: two processes, half the
    rows each (fetching them into Python costs about 6 microseconds a row)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with sqlite3.connect(path) as conn:
        last = conn.execute("SELECT max(rowid) FROM predictions").fetchone()[0]
    middle = last // 2
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        later = pool.submit(export_part, path, folder / "part-1.parquet", middle, last)
        export_part(path, folder / "part-0.parquet", 0, middle)
        later.result()


def export_part(path: Path, target: Path, after: int, until: int) -> None:
    """Rows ``after < rowid <= until`` of the log's needed columns into one Parquet file."""
    writer = None
    with sqlite3.connect(path) as conn:
        cursor = conn.execute(
            f"SELECT {NARROW} FROM predictions WHERE rowid > ? AND rowid <= ?", [after, until]
        )
        names = [d[0] for d in cursor.description]
        while batch := cursor.fetchmany(1_000_000):
            columns = dict(zip(names, (pa.array(c) for c in zip(*batch, strict=True)), strict=True))
            columns["predicted_at"] = columns["predicted_at"].cast(pa.timestamp("us", tz="UTC"))
            table = pa.table(columns)
            writer = writer or pq.ParquetWriter(target, table.schema)
            writer.write_table(table)
    if writer is not None:
        writer.close()


DUCKDB_SUMS = """
SELECT version, role, arm, count(*),
  count(*) FILTER (WHERE error != ''), count(*) FILTER (WHERE missing > 0),
  count(*) FILTER (WHERE error = ''),
  sum(latency_ms) FILTER (WHERE error = ''),
  sum(latency_ms * latency_ms) FILTER (WHERE error = ''),
  count(outcome), count(*) FILTER (WHERE outcome IS NOT NULL AND outcome_value IS NULL),
  count(outcome_value), sum(outcome_value), sum(outcome_value * outcome_value)
FROM read_parquet('{path}/*.parquet')
WHERE model = 'churn' AND environment = 'production' AND predicted_at >= '{since}'
GROUP BY ALL ORDER BY ALL
"""


@dataclass
class Recorded:
    """What ``arm_sums`` returned and the SQL the log ran, during the timed reports."""

    sums: list[Any] = field(default_factory=list)
    sql: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)


@contextmanager
def recording(log: Any) -> Iterator[Recorded]:
    """Wrap the store's predictions log so that each ``arm_sums`` result and statement is
    kept (microseconds per report: the timed runs stay the store's own code path)."""
    recorded = Recorded()
    arm_sums, query = log.arm_sums, log._query

    def kept_sums(*args: Any, **kwargs: Any) -> Any:
        found = arm_sums(*args, **kwargs)
        recorded.sums.append(found)
        return found

    def traced(sql: str, params: Any = ()) -> Any:
        recorded.sql.append((sql, tuple(params)))
        return query(sql, params)

    log.arm_sums, log._query = kept_sums, traced
    try:
        yield recorded
    finally:
        del log.arm_sums, log._query  # the class's own methods again


def run_silage(fs: FeatureStore) -> tuple[float, Any]:
    began = time.perf_counter()
    report = fs.experiment("churn")
    return time.perf_counter() - began, report


def run_duckdb(parquet: Path, since: datetime) -> tuple[float, list[tuple[Any, ...]]]:
    import duckdb

    began = time.perf_counter()
    rows = duckdb.sql(DUCKDB_SUMS.format(path=parquet, since=since.isoformat())).fetchall()
    return time.perf_counter() - began, rows


def as_rows(sums: list[Any]) -> list[tuple[Any, ...]]:
    """``ArmSums`` in the DuckDB query's shape."""
    return sorted(
        (
            s.version,
            s.role,
            s.arm,
            s.predictions,
            s.errors,
            s.missing,
            s.latency.n,
            s.latency.total,
            s.latency.total_squares,
            s.outcomes,
            s.unreadable,
            s.metric.n,
            s.metric.total,
            s.metric.total_squares,
        )
        for s in sums
    )


def same_sums(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    """Equal counts; sums equal but for the order of floating-point additions."""
    return len(a) == len(b) and all(
        len(x) == len(y)
        and all(
            math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-9) if isinstance(u, float) else u == v
            for u, v in zip(x, y, strict=True)
        )
        for x, y in zip(a, b, strict=True)
    )


def explain(path: Path, recorded: Recorded) -> list[str]:
    """SQLite's plan of each query the report ran over the log."""
    found = []
    with sqlite3.connect(path) as conn:
        for query, params in dict.fromkeys(q for q in recorded.sql if q[0].startswith("SELECT")):
            table = "arm_rollup" if "FROM arm_rollup" in query else "predictions"
            steps = conn.execute(f"EXPLAIN QUERY PLAN {query}", params)
            plan = "; ".join(r[3] for r in steps)
            found.append(f"  {table}: {plan}")
    return found


def run_raw(fs: FeatureStore, since: datetime) -> tuple[float, list[tuple[Any, ...]]]:
    """The same sums from the log's rows alone: one GROUP BY over the whole window (what a
    report read before the running sums, and what they are tested against)."""
    began = time.perf_counter()
    found = fs._prediction_log.raw_arm_sums(
        "churn", "outcome", environment="production", start=since
    )
    return time.perf_counter() - began, as_rows(found)


def deploy_modes(fs: FeatureStore) -> None:
    """The A/B arms as a fixed split and as bandits: just deployed, and after a day and a
    week of hourly reweighting (each a revision with its evidence, as ``reweight`` writes)."""
    from store.experiments.bandit import ArmRewards, BanditPolicy, thompson_shares

    deployments = fs.model_registry.deployments
    policy = BanditPolicy()
    deployments.deploy("churn", FIXED, arms())
    for env, hours in MODES.items():
        if env == FIXED:
            continue
        deployments.deploy("churn", env, arms(), mode="bandit", policy=policy.to_dict())
        shares = {"control": 50.0, "treatment": 50.0}
        for hour in range(1, hours + 1):
            n = 2_000 * hour  # outcomes so far per arm: 10% and 11% positive
            rewards = [ArmRewards("control", n, 0.10 * n, 0.10 * n)]
            rewards.append(ArmRewards("treatment", n, 0.11 * n, 0.11 * n))
            result = thompson_shares(rewards, shares, policy, seed=hour + 1)
            deployments.reweight(
                "churn", env, result.shares, evidence=result.evidence(), reason=result.reason
            )
            shares = result.shares


def entity_for_all(fs: FeatureStore) -> dict[str, int]:
    """An entity every deployment routes to the same version (so the same model predicts)."""
    from store.serving.predict import route

    live = {env: fs.model_registry.deployments.live("churn", env).targets for env in MODES}
    for rider in range(RIDERS):
        key = json.dumps({"rider_id": rider}, sort_keys=True)
        if len({route("churn", env, key, t).version for env, t in live.items()}) == 1:
            return {"rider_id": rider}
    raise SystemExit("no entity is routed to the same version by every deployment")


def time_calls(calls: dict[str, tuple[int, Any]]) -> dict[str, list[float]]:
    """Microseconds per call of each ``(how many, function)``, interleaved one call of each at
    a time, the order rotating every round, so that machine noise falls on all alike."""
    latencies: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for r in range(max(n for n, _ in calls.values())):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            count, call = calls[name]
            if len(latencies[name]) < count:
                began = time.perf_counter_ns()
                call()
                latencies[name].append((time.perf_counter_ns() - began) / 1000)
    return latencies


def time_routing(
    fs: FeatureStore, calls: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Microseconds of ``predict`` for one entity, and of its routing step alone (reading the
    live revision, hashing the entity onto the arms), per deployment."""
    from store.serving.predict import route

    deploy_modes(fs)
    row = entity_for_all(fs)
    key = json.dumps(row, sort_keys=True)
    deployments = fs.model_registry.deployments

    def routing(env: str) -> Any:
        return lambda: route("churn", env, key, deployments.live("churn", env).targets)

    for env in MODES:  # warm: models loaded, the online reader's caches filled
        for _ in range(10):
            fs.predict("churn", [row], env)
    routed = time_calls(
        {
            env: (calls // 8 if hours else calls, routing(env))
            for env, hours in MODES.items()
            if hours <= 24
        }
        | {WEEK: (20, routing(WEEK))}
    )
    predicted = time_calls(
        {
            env: (calls // 8 if hours else calls, lambda env=env: fs.predict("churn", [row], env))
            for env, hours in MODES.items()
            if hours <= 24
        }
    )
    return predicted, routed


def median_difference(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """median(a) - median(b) and its 95% bootstrap interval (seeded)."""
    rng = np.random.default_rng(SEED)
    x, y = np.asarray(a), np.asarray(b)
    draws = np.median(rng.choice(x, (1000, len(x))), axis=1) - np.median(
        rng.choice(y, (1000, len(y))), axis=1
    )
    low, high = np.quantile(draws, [0.025, 0.975])
    return float(np.median(x) - np.median(y)), float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2_000, help="predict calls per deployment")
    args = parser.parse_args()
    root = HERE / ".data" / f"experiment_r{args.rows}"

    began = time.perf_counter()
    fs, models = build_repo(root)
    since = fs.model_registry.deployments.live("churn", "production").created_at
    pools = make_pools(np.random.default_rng(SEED + 1), models)
    repo_s = time.perf_counter() - began
    began = time.perf_counter()
    # The log begins a millisecond after the deployment: the report reads from there.
    micros = (since - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) + 1000
    log = fs._prediction_log.path
    assert log is not None, "the benchmark writes an SQLite log"
    filled = fill_log(log, pools, args.rows, micros)
    load_s = time.perf_counter() - began
    check_identical(log, filled["first"], filled["sums"])
    size_gb = log.stat().st_size / 1e9
    print(
        f"repository, two models, online store in {repo_s:.1f}s; {args.rows:,} predictions "
        f"over {SPAN.days} days, {filled['outcomes']:,} outcomes and their running sums "
        f"written in {load_s:.1f}s (the first {CHECK_ROWS:,} rows as append and "
        f"record_outcomes leave them); log {size_gb:.2f} GB"
    )
    parquet = root / "data" / "experiment_columns"
    began = time.perf_counter()
    export_parquet(log, parquet)
    exported = sum(f.stat().st_size for f in parquet.iterdir()) / 1e6
    print(
        f"{len(NARROW.split(','))} columns exported to Parquet in "
        f"{time.perf_counter() - began:.1f}s ({exported:.0f} MB), untimed"
    )

    times: dict[str, list[float]] = {"silage": [], "duckdb": []}
    report, duck = None, []
    with recording(fs._prediction_log) as recorded:
        for run in range(args.runs):
            seconds, report = run_silage(fs)
            times["silage"].append(seconds)
            seconds, duck = run_duckdb(parquet, since)
            times["duckdb"].append(seconds)
            print(
                f"run {run + 1}  silage {times['silage'][-1]:6.2f}s   duckdb {seconds:6.2f}s"
                + ("   (first in this process; the OS page cache is warm)" if run == 0 else "")
            )
    assert report is not None
    print(f"verdict: {report.verdict}: {report.reason}")
    print("SQLite's plans of the report's queries:", *explain(log, recorded), sep="\n")
    raw_s, raw = run_raw(fs, since)
    print(
        "the same sums from the rows alone (one GROUP BY, as before the running sums): "
        f"{raw_s:.2f}s"
    )
    ours = as_rows(recorded.sums[-1])
    if not (same_sums(ours, duck) and same_sums(ours, raw)):
        raise SystemExit(f"the sums differ:\nsilage {ours}\nrows {raw}\nduckdb {duck}")
    silage_s, duck_s = (statistics.median(times[n]) for n in ("silage", "duckdb"))

    predicted, routed = time_routing(fs, args.calls)
    print_table(
        args=args,
        times=times,
        silage_s=silage_s,
        duck_s=duck_s,
        raw_s=raw_s,
        predicted=predicted,
        routed=routed,
        size_gb=size_gb,
    )


def print_table(
    *,
    args: argparse.Namespace,
    times: dict[str, list[float]],
    silage_s: float,
    duck_s: float,
    raw_s: float,
    predicted: dict[str, list[float]],
    routed: dict[str, list[float]],
    size_gb: float,
) -> None:
    p50 = {env: statistics.median(v) for env, v in predicted.items()}
    r50 = {env: statistics.median(v) for env, v in routed.items()}
    added, low, high = median_difference(predicted[BANDIT], predicted[FIXED])
    step, step_low, step_high = median_difference(routed[BANDIT], routed[FIXED])
    day = p50[DAY] - p50[FIXED]
    rows = [
        (f"experiment report, {args.rows:,} rows ({size_gb:.1f} GB)", "", "", ""),
        ("  silage store.experiment, median", f"{silage_s:.2f} s",
         f"{REPORT_GOAL_S:.0f} s", "yes" if silage_s < REPORT_GOAL_S else "NO"),
        ("  silage, first run", f"{times['silage'][0]:.2f} s", "", ""),
        ("  hand-written DuckDB over Parquet, median", f"{duck_s:.2f} s", "", ""),
        ("  silage / DuckDB", f"{silage_s / duck_s:.2f}x", "", ""),
        ("  the rows alone, one GROUP BY (one run)", f"{raw_s:.2f} s", "", ""),
        (f"predict p50, one entity ({args.calls:,} calls each)", "", "", ""),
        ("  fixed A/B arms", f"{p50[FIXED] / 1000:.2f} ms", "", ""),
        ("  same arms as a bandit, just deployed", f"{p50[BANDIT] / 1000:.2f} ms", "", ""),
        ("  bandit minus fixed (95% interval)", f"{added:+.0f} us",
         f"+{ROUTING_GOAL_US:.0f} us", _met(low, high)),
        ("", f"[{low:+.0f}, {high:+.0f}]", "", ""),
        (f"  bandit after a day of hourly reweights ({args.calls // 8:,})",
         f"{p50[DAY] / 1000:.2f} ms", "", ""),
        ("  day-old bandit minus fixed", f"{day / 1000:+.2f} ms",
         f"+{ROUTING_GOAL_US:.0f} us", "yes" if day < ROUTING_GOAL_US else "NO"),
        ("routing step p50 (deployments.live + route)", "", "", ""),
        ("  fixed A/B arms", f"{r50[FIXED] / 1000:.2f} ms", "", ""),
        ("  bandit, just deployed", f"{r50[BANDIT] / 1000:.2f} ms", "", ""),
        ("  bandit minus fixed (95% interval)", f"{step:+.0f} us",
         f"+{ROUTING_GOAL_US:.0f} us", _met(step_low, step_high)),
        ("", f"[{step_low:+.0f}, {step_high:+.0f}]", "", ""),
        (f"  bandit after a day ({MODES[DAY] + 1} revisions)", f"{r50[DAY] / 1000:.2f} ms", "", ""),
        (f"  bandit after a week ({MODES[WEEK] + 1} revisions, 20 calls)",
         f"{r50[WEEK] / 1000:.2f} ms", "", ""),
    ]  # fmt: skip
    print(f"\n{'measure':52} {'value':>14} {'goal':>8}  met")
    for name, value, goal, met in rows:
        print(f"{name:52} {value:>14} {goal:>8}  {met}".rstrip())


def _met(low: float, high: float) -> str:
    """Met when the whole interval is under the goal, missed when it is all over it."""
    if high < ROUTING_GOAL_US:
        return "yes"
    return "NO" if low >= ROUTING_GOAL_US else "unresolved (noise)"


if __name__ == "__main__":
    main()
