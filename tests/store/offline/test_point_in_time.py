"""The point-in-time join against a brute-force reference on generated data.

The offline conformance suite: for every engine, every plan it runs (each rendering it
supports, and the bucketed hash join with the ASOF rendering) must give, for every entity
row, a value the reference accepts: ties, ttl edges, future rows, rows before any feature
row, nulls, duplicate entity rows, missing keys, composite keys, several views, and entity
timestamps naive, in UTC or in other zones.
"""

from __future__ import annotations

import math
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import Entity, FeatureView, Field, FileSource
from store.offline.compiler import point_in_time
from store.offline.retrieval import build_retrieval_job
from store.types import Float64, Int64, String
from tests.backends import OFFLINE_ENGINES, examples, offline_engine

from .pit_reference import RefView, acceptable_values, every_plan

BASE = datetime(2026, 3, 1, tzinfo=UTC)
DRIVER = Entity(name="driver", join_keys=["driver_id"])
CUSTOMER = Entity(name="customer", join_keys=["customer_id"])
ZONES = [None, "UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]

# Times on a coarse grid of seconds so that ties and ttl boundaries happen often.
instants = st.integers(min_value=0, max_value=8).map(lambda s: BASE + timedelta(seconds=s))
maybe_created = st.one_of(
    st.none(),
    instants.map(lambda t: t + timedelta(seconds=30)),
    # before 1970: negative epoch values must still order correctly
    st.just(datetime(1960, 5, 1, tzinfo=UTC)),
)
ints = st.one_of(st.none(), st.integers(min_value=-5, max_value=5))
floats = st.one_of(st.none(), st.floats(min_value=-10, max_value=10, allow_nan=False))


@st.composite
def driver_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "driver_id": st.integers(min_value=1, max_value=3),
                    "ts": instants,
                    "created": maybe_created,
                    "trips": ints,
                    "rate": floats,
                }
            ),
            max_size=15,
        )
    )
    # Late corrections: the same key and event time written again later with other values.
    for row in list(rows):
        if draw(st.booleans()):
            created = draw(maybe_created)
            rows.append({**row, "created": created, "trips": draw(ints), "rate": draw(floats)})
    for row in rows:
        # Copies of the row's own times as features reveal which row the join picked.
        row["ts_us"] = int(row["ts"].timestamp() * 1_000_000)
        row["created_us"] = (
            None if row["created"] is None else int(row["created"].timestamp() * 1_000_000)
        )
    return rows


@st.composite
def pair_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "driver_id": st.integers(min_value=1, max_value=3),
                    "customer_id": st.sampled_from(["a", "b"]),
                    "ts": instants,
                    "together": ints,
                }
            ),
            max_size=15,
        )
    )
    for row in rows:
        row["created"] = None  # this source has no created column: ties are unresolved
    return rows


@st.composite
def entity_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    # 4 has no feature rows at all
                    "driver_id": st.integers(min_value=1, max_value=4),
                    "customer_id": st.sampled_from(["a", "b", "c"]),
                    "event_timestamp": st.integers(min_value=-2, max_value=15).map(
                        lambda s: BASE + timedelta(seconds=s)
                    ),
                    "label": st.integers(),
                }
            ),
            min_size=1,
            max_size=20,
        )
    )
    if len(rows) > 1 and draw(st.booleans()):
        rows.append(dict(rows[0]))  # an exact duplicate entity row
    return rows


def write_source(path: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    columns = {name: [r[name] for r in rows] for name in schema.names}
    pq.write_table(pa.table(columns, schema=schema), path)


def views_for(folder: Path, driver_ttl: int | None, pair_ttl: int | None) -> dict[str, FeatureView]:
    stats = FeatureView(
        name="stats",
        entities=[DRIVER],
        schema=[
            Field(name="driver_id", dtype=Int64),
            Field(name="trips", dtype=Int64),
            Field(name="rate", dtype=Float64),
            Field(name="ts_us", dtype=Int64),
            Field(name="created_us", dtype=Int64),
        ],
        source=FileSource(
            path=str(folder / "stats.parquet"),
            timestamp_field="ts",
            created_timestamp_column="created",
        ),
        ttl=timedelta(seconds=driver_ttl) if driver_ttl else None,
    )
    pairs = FeatureView(
        name="pairs",
        entities=[DRIVER, CUSTOMER],
        schema=[
            Field(name="driver_id", dtype=Int64),
            Field(name="customer_id", dtype=String),
            Field(name="together", dtype=Int64),
        ],
        source=FileSource(path=str(folder / "pairs.parquet"), timestamp_field="ts"),
        ttl=timedelta(seconds=pair_ttl) if pair_ttl else None,
    )
    return {"stats": stats, "pairs": pairs}


def entity_frame(rows: list[dict[str, Any]], zone: str | None) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    ts = pd.to_datetime(frame["event_timestamp"], utc=True)
    frame["event_timestamp"] = ts.dt.tz_localize(None) if zone is None else ts.dt.tz_convert(zone)
    return frame


def same(a: Any, b: Any) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)) or a is pd.NA:
        return b is None
    return bool(a == b)


@pytest.mark.parametrize("engine", OFFLINE_ENGINES)
def test_join_matches_the_brute_force_reference(engine: str) -> None:
    run = settings(
        max_examples=examples(engine, 120),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(
        given(
            stats_rows=driver_rows(),
            pairs=pair_rows(),
            entities=entity_rows(),
            driver_ttl=st.sampled_from([None, 0, 1, 3, 5]),
            pair_ttl=st.sampled_from([None, 2, 4]),
            zone=st.sampled_from(ZONES),
        )(lambda **drawn: check_one_example(engine, **drawn))
    )
    run()


@pytest.mark.parametrize("engine", OFFLINE_ENGINES)
def test_join_matches_the_reference_with_every_key_hot(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same properties with every key of more than one source row counted hot: without
    a ttl the carry plan then cuts every such key into buckets a few seconds wide (the
    entity rows' range in 4) and carries values across them, on the same generated ties,
    nulls and zones."""
    monkeypatch.setattr(point_in_time, "HOT_KEY_ROWS", 1)
    monkeypatch.setattr(point_in_time, "_CARRY_BUCKETS", 4)
    test_join_matches_the_brute_force_reference(engine)


def check_one_example(  # noqa: PLR0917 (hypothesis passes them)
    engine: str,
    stats_rows: list[dict[str, Any]],
    pairs: list[dict[str, Any]],
    entities: list[dict[str, Any]],
    driver_ttl: int | None,
    pair_ttl: int | None,
    zone: str | None,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ts_type = pa.timestamp("us", tz="UTC")
        write_source(
            folder / "stats.parquet",
            stats_rows,
            pa.schema(
                [
                    ("driver_id", pa.int64()),
                    ("ts", ts_type),
                    ("created", ts_type),
                    ("trips", pa.int64()),
                    ("rate", pa.float64()),
                    ("ts_us", pa.int64()),
                    ("created_us", pa.int64()),
                ]
            ),
        )
        # Naive nanosecond timestamps in this file: they mean UTC, read as microseconds.
        naive_pairs = [{**r, "ts": r["ts"].replace(tzinfo=None)} for r in pairs]
        write_source(
            folder / "pairs.parquet",
            naive_pairs,
            pa.schema(
                [
                    ("driver_id", pa.int32()),
                    ("customer_id", pa.string()),
                    ("ts", pa.timestamp("ns")),  # naive nanoseconds: UTC
                    ("together", pa.int64()),
                ]
            ),
        )
        views = views_for(folder, driver_ttl, pair_ttl)
        job = build_retrieval_job(
            entity_frame(entities, zone),
            ["stats:trips", "stats:rate", "stats:ts_us", "stats:created_us", "pairs:together"],
            lookup_view=views.__getitem__,
            repo_root=folder,
            engine=offline_engine(engine, folder),
        )
        for plan in every_plan(job):
            check_against_reference(plan.to_df(), entities, views, stats_rows, pairs)


def check_against_reference(
    result: pd.DataFrame,
    entities: list[dict[str, Any]],
    views: dict[str, FeatureView],
    stats_rows: list[dict[str, Any]],
    pairs: list[dict[str, Any]],
) -> None:
    assert len(result) == len(entities)
    assert result["label"].tolist() == [e["label"] for e in entities]
    assert str(result["event_timestamp"].dt.tz) == "UTC"
    reference_views = [
        RefView(
            ("driver_id",),
            stats_rows,
            ("trips", "rate", "ts_us", "created_us"),
            views["stats"].ttl,
        ),
        RefView(("driver_id", "customer_id"), pairs, ("together",), views["pairs"].ttl),
    ]
    for i, entity in enumerate(entities):
        row = result.iloc[i]
        for view in reference_views:
            for feature, allowed in acceptable_values(entity, view).items():
                value = row[feature]
                assert any(same(value, a) for a in allowed), (
                    f"row {i} {entity} {feature}: got {value!r}, allowed {allowed}"
                )
        # Property: no value comes from a row later than the entity row, or older than the ttl.
        chosen = row["ts_us"]
        if not pd.isna(chosen):
            t_us = int(entity["event_timestamp"].timestamp() * 1_000_000)
            assert chosen <= t_us
            if views["stats"].ttl is not None:
                assert chosen >= t_us - int(views["stats"].ttl.total_seconds() * 1_000_000)


def hot_key_rows(rng: random.Random) -> list[dict[str, Any]]:
    """Driver 1 holds 90% of the rows, spread over an hour on a 10-second grid (ties occur),
    so a plan that splits a key's work by time has many buckets of it to spread."""
    rows = []
    for _ in range(400):
        ts = BASE + timedelta(seconds=10 * rng.randint(0, 360))
        created = rng.choice([None, ts + timedelta(seconds=30)])
        rows.append(
            {
                "driver_id": 1 if rng.random() < 0.9 else rng.randint(2, 3),
                "ts": ts,
                "created": created,
                "trips": rng.choice([None, rng.randint(-5, 5)]),
                "rate": rng.choice([None, rng.uniform(-10, 10)]),
                "ts_us": int(ts.timestamp() * 1_000_000),
                "created_us": None if created is None else int(created.timestamp() * 1_000_000),
            }
        )
    return rows


@pytest.mark.parametrize("driver_ttl", [None, 300])
@pytest.mark.parametrize("engine", OFFLINE_ENGINES)
def test_a_hot_key_matches_the_brute_force_reference(
    engine: str, driver_ttl: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One key holding most rows, entity rows over the whole hour and around it: each plan's
    answers are the reference's (the carry plan splits a hot key by time, then carries
    across; driver 1 is hot here, the others are not)."""
    monkeypatch.setattr(point_in_time, "HOT_KEY_ROWS", 50)
    rng = random.Random(f"hot-{driver_ttl}")
    stats_rows = hot_key_rows(rng)
    entities = [
        {
            "driver_id": 1 if rng.random() < 0.8 else rng.randint(2, 4),
            "customer_id": "a",
            "event_timestamp": BASE + timedelta(seconds=rng.randint(-60, 3700)),
            "label": i,
        }
        for i in range(80)
    ]
    pairs = [
        {"driver_id": 1, "customer_id": "a", "ts": BASE + timedelta(seconds=s), "together": s}
        for s in (0, 1000, 2000)
    ]
    for row in pairs:
        row["created"] = None
    check_one_example(engine, stats_rows, pairs, entities, driver_ttl, None, "UTC")
