"""Cross-check against Feast itself: the same Feast repository, unchanged, applied in Feast
(its file/DuckDB offline store, SQLite online store) and in Silage; training sets (on-demand
outputs included) and online features compared value by value.

Two repositories: ``feast init``'s template (Feast writes it and its data; compared unchanged,
and on a copy without its push and label objects, see ``template_core``) and
tests/fixtures/repos/feast_rich
(two entities, a view keyed by both, ttls, ties and nulls, a python-mode on-demand view).
Each runs in two copies of the folder, because Feast and Silage both keep a registry and an
online store under ``data/`` by the same names.

Where Feast is wrong, the test asserts Silage's answer and documents Feast's, instead of
copying the bug (see ``FEAST_DIFFERENCES``).
"""

from __future__ import annotations

import ast
import json
import math
import shutil
import subprocess
import sys
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import FeatureStore
from store.repo.loader import load_repo
from tests.conftest import FIXTURES

pytestmark = [
    pytest.mark.feast,
    # Feast 0.67 and the libraries it drives (ibis, duckdb's deprecated fetch_arrow_table,
    # its entity value_type notice) warn from their own code; Silage's warnings stay errors.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

H = timedelta(hours=1)
FEAST_BIN = Path(sys.executable).parent / "feast"


def run_feast(*args: str, cwd: Path) -> str:
    """Feast's own CLI, from this venv."""
    done = subprocess.run(
        [str(FEAST_BIN), *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"feast {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def twin_copies(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The repository in two folders: one for Feast, one for Silage."""
    feast_dir, silage_dir = tmp_path / "in_feast", tmp_path / "in_silage"
    for target in (feast_dir, silage_dir):
        shutil.copytree(repo, target, ignore=shutil.ignore_patterns("__pycache__"))
    return feast_dir, silage_dir


def feast_store(repo: Path) -> Any:
    import feast

    run_feast("apply", cwd=repo)
    return feast.FeatureStore(repo_path=str(repo))


def silage_store(repo: Path) -> FeatureStore:
    """``silage apply`` in the folder, as a Feast user would type it; then the store."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "silage"), "apply"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"silage apply failed:\n{done.stdout}\n{done.stderr}"
    with warnings.catch_warnings():
        # Keys of feature_store.yaml only Feast reads (warned by Silage, by design).
        warnings.simplefilter("ignore")
        return FeatureStore(repo_path=repo)


def same(a: Any, b: Any) -> bool:
    """Equal values, nulls (None, NaN, NaT) equal to each other, floats to 6 digits."""
    a_null, b_null = _null(a), _null(b)
    if a_null or b_null:
        return a_null and b_null
    if isinstance(a, float | int) and isinstance(b, float | int):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
    return bool(a == b)


def _null(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def differences(
    feast_rows: Mapping[Any, Mapping[str, Any]],
    silage_rows: Mapping[Any, Mapping[str, Any]],
    columns: list[str],
) -> list[str]:
    found = []
    assert set(feast_rows) == set(silage_rows), (sorted(feast_rows), sorted(silage_rows))
    for key in sorted(feast_rows):
        for column in columns:
            f, s = feast_rows[key][column], silage_rows[key][column]
            if not same(f, s):
                found.append(f"row {key} {column}: feast {f!r}, silage {s!r}")
    return found


def by_row_id(df: pd.DataFrame) -> dict[Any, dict[str, Any]]:
    return {row["row_id"]: row for row in df.to_dict("records")}


def online_rows(response: Mapping[str, list[Any]]) -> dict[int, dict[str, Any]]:
    names = list(response)
    count = len(response[names[0]])
    return {i: {n: response[n][i] for n in names} for i in range(count)}


# --- feast init's template ----------------------------------------------------------------------

# What the value comparison of `feast init`'s template leaves out (see TEMPLATE_FEATURES).
_TEMPLATE_CUT = {
    "driver_stats_push_source",
    "driver_stats_fresh_fv",
    "transformed_conv_rate_fresh",
    "driver_activity_v3",
    "driver_quality_labels_source",
    "driver_quality_labels",
}


def template_core(definitions: Path) -> None:
    """Rewrite the template's definitions without the objects listed above (and without the
    service's logging config)."""
    tree = ast.parse(definitions.read_text(encoding="utf-8"))
    kept: list[ast.stmt] = []
    for node in tree.body:
        names = {t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)} | (
            {node.name} if isinstance(node, ast.FunctionDef) else set()
        )
        if names & _TEMPLATE_CUT:
            continue
        kept.append(node)
    tree.body = kept
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            node.keywords = [k for k in node.keywords if k.arg != "logging_config"]
    definitions.write_text(ast.unparse(tree) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def feast_init(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`feast init` run once: the template repository and its data, as Feast writes them."""
    root = tmp_path_factory.mktemp("feast_init")
    run_feast("init", "driver_app", cwd=root)
    return root / "driver_app" / "feature_repo"


def test_feast_init_then_silage_apply_works_unchanged(feast_init: Path, tmp_path: Path) -> None:
    """The issue's "done when": `feast init x && cd x/feature_repo && silage apply`."""
    repo = tmp_path / "feature_repo"
    shutil.copytree(feast_init, repo)
    silage_store(repo)


def test_feast_init_template_converts_every_object(feast_init: Path) -> None:
    """Each of the template's objects has its Silage twin: push sources, the views on them,
    the label view, the service's logging config, the Map, Json and Struct fields."""
    from store import LabelView

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        contents = load_repo(feast_init)
    views = {v.name: v for v in contents.feature_views}
    labels = views["driver_quality_labels"]
    assert isinstance(labels, LabelView)
    assert labels.push_source is not None
    assert labels.push_source.name == "driver_quality_labels_push"
    assert views["driver_hourly_stats_fresh"].push_source is not None
    assert {"Map", "Json"} <= {f.dtype.spec for f in views["driver_hourly_stats"].features}
    services = {s.name: s for s in contents.feature_services}
    assert any(s.logging_config is not None for s in services.values())


def template_entity_df(data: Path) -> pd.DataFrame:
    """Entity rows at the data's own times: on an event time, between two, before the first,
    past the ttl, an unknown driver, and a duplicated row; request values for the on-demand
    view."""
    stats = pd.read_parquet(data / "driver_stats.parquet")
    times = sorted(pd.to_datetime(stats["event_timestamp"], utc=True).unique())
    first, middle, last = times[0], times[len(times) // 2], times[-1]
    rows = [
        (1001, middle),
        (1002, middle + timedelta(minutes=30)),
        (1003, last),
        (1004, first - H),
        (1005, last + timedelta(days=2)),
        (9999, middle),
        (1001, middle),
    ]
    return pd.DataFrame(
        {
            "row_id": range(len(rows)),
            "driver_id": [d for d, _ in rows],
            "event_timestamp": [t for _, t in rows],
            "val_to_add": [1, 2, 3, 4, 5, 6, 7],
            "val_to_add_2": [10, 20, 30, 40, 50, 60, 70],
        }
    )


TEMPLATE_FEATURES = [
    "driver_hourly_stats:conv_rate",
    "driver_hourly_stats:acc_rate",
    "driver_hourly_stats:avg_daily_trips",
    "transformed_conv_rate:conv_rate_plus_val1",
    "transformed_conv_rate:conv_rate_plus_val2",
]


# With the template's Map, Json and Struct features (its Map column is a struct in the
# Parquet file: pandas writes dicts so).
TEMPLATE_FULL_FEATURES = [
    *TEMPLATE_FEATURES,
    "driver_hourly_stats:driver_metadata",
    "driver_hourly_stats:driver_config",
    "driver_hourly_stats:driver_profile",
]


@pytest.mark.parametrize(
    ("features", "cut"),
    [
        pytest.param(TEMPLATE_FEATURES, True, id="core"),
        pytest.param(TEMPLATE_FULL_FEATURES, True, id="core-with-map-json-struct"),
        pytest.param(TEMPLATE_FULL_FEATURES, False, id="unchanged"),
    ],
)
def test_feast_init_template_matches_feast(
    feast_init: Path, tmp_path: Path, features: list[str], cut: bool
) -> None:
    repo = tmp_path / "feature_repo"
    shutil.copytree(feast_init, repo)
    if cut:
        template_core(repo / "feature_definitions.py")
    feast_dir, silage_dir = twin_copies(repo, tmp_path)
    feast = feast_store(feast_dir)
    silage = silage_store(silage_dir)
    # Converting again gives the same definitions (the function's text included).
    plan = subprocess.run(
        [str(Path(sys.executable).parent / "silage"), "plan"],
        cwd=silage_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "No changes: the registry matches the repository." in plan.stdout

    entity_df = template_entity_df(repo / "data")
    columns = [ref.partition(":")[2] for ref in features]
    f_hist = feast.get_historical_features(entity_df, features).to_df()
    s_hist = silage.get_historical_features(entity_df, features).to_df()
    assert list(s_hist["row_id"]) == list(entity_df["row_id"])  # every row, in order
    silage_rows = by_row_id(s_hist)
    feast_rows = by_row_id(f_hist)
    # Feast's file offline store drops entity rows: the one before the first event (3), the
    # one past the ttl (4) and the duplicate of row 0 (6). Silage keeps every row: nulls
    # where nothing is in reach, the duplicate equal to its twin.
    assert sorted(set(silage_rows) - set(feast_rows)) == [3, 4, 6]
    assert all(_null(silage_rows[i][c]) for i in (3, 4) for c in columns[:3])
    assert all(same(silage_rows[6][c], silage_rows[0][c]) for c in columns[:3])
    kept = {i: row for i, row in silage_rows.items() if i in feast_rows}
    assert differences(feast_rows, kept, columns) == []

    end = datetime.now(UTC)
    start = end - timedelta(days=30)
    feast.materialize(start, end)
    silage.materialize(start, end)
    rows = [
        {"driver_id": d, "val_to_add": i, "val_to_add_2": 10 * i}
        for i, d in enumerate([1001, 1002, 1003, 1004, 1005, 9999])
    ]
    f_online = feast.get_online_features(features, rows).to_dict()
    s_online = silage.get_online_features(features, rows).to_dict()
    if "driver_config" in s_online:
        # Feast serves a Json feature parsed online (a dict) but as its text offline, so a
        # model trained on the text is served a dict; Silage serves the text in both, and
        # the document is the same.
        assert all(isinstance(v, str | None) for v in s_online["driver_config"])
        s_online["driver_config"] = [
            None if v is None else json.loads(v) for v in s_online["driver_config"]
        ]
    assert differences(online_rows(f_online), online_rows(s_online), columns) == []
    # The template's service, as a service.
    f_service = feast.get_online_features(
        feast.get_feature_service("driver_activity_v1"), rows
    ).to_dict()
    s_service = silage.get_online_features(
        silage.get_feature_service("driver_activity_v1"), rows
    ).to_dict()
    service_columns = ["conv_rate", "conv_rate_plus_val1", "conv_rate_plus_val2"]
    assert differences(online_rows(f_service), online_rows(s_service), service_columns) == []


# --- the richer repository ----------------------------------------------------------------------


def write_rich_data(data: Path, now: datetime) -> datetime:
    """The rich repository's data, around ``base`` (the current hour, so online ttls apply):
    a tie on event time broken by the created column, nulls, a driver whose newest row is
    past the 2-hour ttl, a pair past the 1-day ttl, and a customer whose value changes."""
    base = now.replace(minute=0, second=0, microsecond=0)
    data.mkdir(parents=True, exist_ok=True)
    ts = pa.timestamp("us", tz="UTC")
    pq.write_table(
        pa.table(
            {
                "driver_id": [1, 1, 1, 1, 2, 3],
                "event_timestamp": [
                    base - 5 * H,
                    base - 3 * H,
                    base - 3 * H,  # the same event time: the later `created` wins
                    base - H,
                    base - 30 * H,  # past the 2-hour ttl at `base`
                    base - H,
                ],
                "created": [
                    base - 5 * H,
                    base - 2 * H,
                    base - 3 * H,
                    base - H,
                    base - 30 * H,
                    base,
                ],
                "conv_rate": [0.1, 0.3, 0.2, None, 0.5, 0.7],
                "trips_today": [1, 3, 2, 4, None, 7],
                "city": ["Oslo", "Lima", "Pune", "Oslo", None, "Rome"],
            },
            schema=pa.schema(
                [
                    ("driver_id", pa.int64()),
                    ("event_timestamp", ts),
                    ("created", ts),
                    ("conv_rate", pa.float64()),
                    ("trips_today", pa.int64()),
                    ("city", pa.string()),
                ]
            ),
        ),
        data / "driver_stats.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "customer_id": [10, 10, 20],
                "event_timestamp": [base - 100 * H, base - 2 * H, base - 50 * H],
                "lifetime_value": [100.0, 150.0, 80.0],
                "tier": ["gold", None, "silver"],
            },
            schema=pa.schema(
                [
                    ("customer_id", pa.int64()),
                    ("event_timestamp", ts),
                    ("lifetime_value", pa.float64()),
                    ("tier", pa.string()),
                ]
            ),
        ),
        data / "customer_profile.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "driver_id": [1, 1, 2],
                "customer_id": [10, 20, 10],
                "event_timestamp": [base - 4 * H, base - 20 * H, base - 40 * H],
                "trips_together": [3, 1, 9],
            },
            schema=pa.schema(
                [
                    ("driver_id", pa.int64()),
                    ("customer_id", pa.int64()),
                    ("event_timestamp", ts),
                    ("trips_together", pa.int64()),
                ]
            ),
        ),
        data / "trips.parquet",
    )
    return base


RICH_FEATURES = [
    "driver_stats:conv_rate",
    "driver_stats:trips_today",
    "driver_stats:city",
    "customer_profile:lifetime_value",
    "customer_profile:tier",
    "driver_customer_trips:trips_together",
    "trip_value:expected_value",
    "trip_value:long_trip",
]
RICH_COLUMNS = [ref.partition(":")[2] for ref in RICH_FEATURES]


@pytest.fixture
def rich_repo(tmp_path: Path) -> tuple[Path, datetime]:
    repo = tmp_path / "feast_rich"
    shutil.copytree(FIXTURES / "feast_rich", repo)
    base = write_rich_data(repo / "data", datetime.now(UTC))
    return repo, base


def test_rich_repository_matches_feast(
    rich_repo: tuple[Path, datetime], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, base = rich_repo
    feast_dir, silage_dir = twin_copies(repo, tmp_path)
    # Feast's DuckDB offline store reads a relative FileSource path from the working
    # directory, not the repository (its file store and Silage use the repository).
    monkeypatch.chdir(feast_dir)
    feast = feast_store(feast_dir)
    silage = silage_store(silage_dir)

    rows = [
        (1, 10, base - 5 * H, 3.0),  # exactly on an event time
        (1, 10, base - 3 * H, 12.0),  # the tie: created decides
        (1, 20, base - 2.5 * H, 1.5),
        (1, 10, base - H, 20.0),  # a null conv_rate is the newest value
        (2, 10, base, 5.0),  # driver past ttl; pair past ttl
        (3, 20, base, 11.0),
        (1, 10, base - 6 * H, 2.0),  # before any driver row
        (9, 30, base, 4.0),  # unknown driver and customer
        (1, 10, base - 3 * H, 12.0),  # a duplicate of row 1
    ]
    entity_df = pd.DataFrame(
        {
            "row_id": range(len(rows)),
            "driver_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "event_timestamp": [r[2] for r in rows],
            "distance_km": [r[3] for r in rows],
        }
    )
    f_hist = feast.get_historical_features(entity_df, RICH_FEATURES).to_df()
    s_hist = silage.get_historical_features(entity_df, RICH_FEATURES).to_df()
    assert list(s_hist["row_id"]) == list(entity_df["row_id"])
    silage_rows, feast_rows = by_row_id(s_hist), by_row_id(f_hist)
    assert differences(feast_rows, silage_rows, RICH_COLUMNS) == []

    feast.materialize(base - 200 * H, base + H)
    silage.materialize(base - 200 * H, base + H)
    requests = [
        {"driver_id": d, "customer_id": c, "distance_km": km}
        for d, c, km in [(1, 10, 12.0), (1, 20, 3.0), (2, 10, 5.0), (3, 20, 11.0), (9, 30, 1.0)]
    ]
    f_online = online_rows(feast.get_online_features(RICH_FEATURES, requests).to_dict())
    s_online = online_rows(silage.get_online_features(RICH_FEATURES, requests).to_dict())
    # Feast's online store has no ttl: for driver 2 it serves a rate from 30 hours ago (ttl
    # 2 hours) and the pair (2, 10)'s trips from 40 hours ago (ttl 1 day), and computes the
    # on-demand value from the stale rate. Silage answers null past the ttl, which is what a
    # training set row at the same moment holds (entity row 4, in both stores).
    assert differences(f_online, s_online, RICH_COLUMNS) == [
        "row 2 conv_rate: feast 0.5, silage None",
        "row 2 trips_together: feast 9, silage None",
        "row 2 expected_value: feast 80.0, silage None",
    ]
    for column in ("conv_rate", "trips_together", "expected_value"):
        assert _null(silage_rows[4][column])
        assert _null(feast_rows[4][column])

    # The service, online, in both.
    f_service = online_rows(
        feast.get_online_features(feast.get_feature_service("trip_model"), requests).to_dict()
    )
    s_service = online_rows(
        silage.get_online_features(silage.get_feature_service("trip_model"), requests).to_dict()
    )
    service_columns = ["conv_rate", "city", "lifetime_value", "expected_value", "long_trip"]
    assert differences(f_service, s_service, service_columns) == [
        "row 2 conv_rate: feast 0.5, silage None",
        "row 2 expected_value: feast 80.0, silage None",
    ]

    # Materializing an earlier window again (a backfill): Feast's SQLite store writes the
    # older rows over the newer ones; Silage keeps the newest value per key.
    feast.materialize(base - 200 * H, base - 2 * H)
    silage.materialize(base - 200 * H, base - 2 * H)
    f_after = online_rows(feast.get_online_features(RICH_FEATURES, requests).to_dict())
    s_after = online_rows(silage.get_online_features(RICH_FEATURES, requests).to_dict())
    assert differences(s_online, s_after, RICH_COLUMNS) == []
    stored = ("conv_rate", "trips_today", "city")
    # Driver 1: Feast now serves the row from 3 hours ago; Silage its newest row.
    assert [f_after[0][c] for c in stored] == [0.3, 3, "Lima"]
    assert [s_after[0][c] for c in stored] == [None, 4, "Oslo"]
    assert [f_online[0][c] for c in stored] == [None, 4, "Oslo"]  # before the backfill


# --- pushes -------------------------------------------------------------------------------------

PUSH_DEFINITIONS = """\
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
stats_source = FileSource(name="stats_source", path="data/stats.parquet",
                          timestamp_field="event_timestamp", created_timestamp_column="created")
stats_push = PushSource(name="stats_push", batch_source=stats_source)
stats = FeatureView(name="stats", entities=[driver], ttl=timedelta(days=2), source=stats_push,
                    schema=[Field(name="conv_rate", dtype=Float64),
                            Field(name="trips", dtype=Int64)])
"""

PUSH_YAML = """\
project: pushes
registry: data/registry.db
provider: local
online_store:
    type: sqlite
    path: data/online_store.db
entity_key_serialization_version: 3
"""


def push_frame(base: datetime, rows: list[tuple[int, float, float, int]]) -> pd.DataFrame:
    """Rows ``(driver, hours before base, conv_rate, trips)`` in the source's columns and types
    (Feast's offline push wants exactly those)."""
    times = [base - timedelta(hours=h) for _, h, _, _ in rows]
    return pd.DataFrame(
        {
            "driver_id": pd.Series([d for d, _, _, _ in rows], dtype="int64"),
            "event_timestamp": pd.to_datetime(times, utc=True),
            "created": pd.to_datetime(times, utc=True),
            "conv_rate": pd.Series([c for _, _, c, _ in rows], dtype="float64"),
            "trips": pd.Series([t for _, _, _, t in rows], dtype="int64"),
        }
    )


def test_pushes_match_feast_online_and_offline(tmp_path: Path) -> None:
    """The same rows pushed to the same push source in Feast and in Silage, online and
    offline (Feast's own PushMode accepted by Silage): the online values and the training
    set read afterwards agree."""
    from feast.data_source import PushMode

    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(PUSH_YAML, encoding="utf-8")
    (repo / "definitions.py").write_text(PUSH_DEFINITIONS, encoding="utf-8")
    history = push_frame(base, [(1, 5, 0.1, 1), (1, 3, 0.3, 3), (2, 4, 0.5, 5)])
    history.to_parquet(repo / "data" / "stats.parquet", index=False)
    feast_dir, silage_dir = twin_copies(repo, tmp_path)
    feast = feast_store(feast_dir)
    silage = silage_store(silage_dir)
    feast.materialize(base - timedelta(days=1), base)
    silage.materialize(base - timedelta(days=1), base)

    fresh = push_frame(base, [(1, 1, 0.9, 9), (3, 2, 0.7, 7)])
    feast.push("stats_push", fresh, to=PushMode.ONLINE_AND_OFFLINE)
    assert silage.push("stats_push", fresh, to=PushMode.ONLINE_AND_OFFLINE) == 2

    features = ["stats:conv_rate", "stats:trips"]
    rows = [{"driver_id": d} for d in (1, 2, 3, 9)]
    f_online = online_rows(feast.get_online_features(features, rows).to_dict())
    s_online = online_rows(silage.get_online_features(features, rows).to_dict())
    assert differences(f_online, s_online, ["conv_rate", "trips"]) == []
    assert [s_online[i]["trips"] for i in range(4)] == [9, 5, 7, None]

    # An older row pushed online: Feast's SQLite store writes it over the newer one (as its
    # materialization does); Silage keeps the newest per key.
    stale = push_frame(base, [(1, 4, 0.0, 0)])
    feast.push("stats_push", stale, to=PushMode.ONLINE)
    silage.push("stats_push", stale, to=PushMode.ONLINE)
    assert feast.get_online_features(features, rows[:1]).to_dict()["trips"] == [0]
    assert silage.get_online_features(features, rows[:1]).to_dict()["trips"] == [9]

    entity_df = pd.DataFrame(
        {
            "row_id": [0, 1, 2],
            "driver_id": [1, 2, 3],
            "event_timestamp": pd.to_datetime([base, base, base], utc=True),
        }
    )
    f_hist = by_row_id(feast.get_historical_features(entity_df, features).to_df())
    s_hist = by_row_id(silage.get_historical_features(entity_df, features).to_df())
    assert differences(f_hist, s_hist, ["conv_rate", "trips"]) == []
    assert [s_hist[i]["trips"] for i in range(3)] == [9, 5, 7]  # pushed rows read offline
