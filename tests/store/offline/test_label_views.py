"""Label views in training sets: conflicts resolved as of each entity row's time, on every
engine and plan, against a brute-force reference on generated labels (several labelers,
ties in time and created time, nulls, a ttl, entities without labels).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import ConflictPolicy, Entity, FeatureStore, Field, FileSource, LabelView
from store.errors import DefinitionError
from store.offline.retrieval import build_retrieval_job
from store.repo.apply import definition_from_catalog
from store.types import Float64, Int64, String
from tests.backends import OFFLINE_ENGINES, examples, offline_engine

from .pit_reference import every_plan

BASE = datetime(2026, 3, 1, tzinfo=UTC)
DRIVER = Entity(name="driver", join_keys=["driver_id"])
LABELERS = ["human", "llm", "rules", None]
PRIORITY = ("human", "llm")
LABELS = ("score", "verdict")

instants = st.integers(min_value=0, max_value=6).map(lambda s: BASE + timedelta(seconds=s))
label_rows = st.lists(
    st.fixed_dictionaries(
        {
            "driver_id": st.integers(min_value=1, max_value=3),
            "ts": instants,
            "created": st.one_of(st.none(), instants.map(lambda t: t + timedelta(seconds=30))),
            "labeler": st.sampled_from(LABELERS),
            "score": st.one_of(st.none(), st.integers(min_value=0, max_value=2)),
            "verdict": st.one_of(st.none(), st.sampled_from(["good", "bad"])),
        }
    ),
    max_size=14,
)
entity_rows = st.lists(
    st.fixed_dictionaries(
        {
            "driver_id": st.integers(min_value=1, max_value=4),  # 4: never labelled
            "event_timestamp": st.integers(min_value=0, max_value=9).map(
                lambda s: BASE + timedelta(seconds=s)
            ),
        }
    ),
    min_size=1,
    max_size=8,
)


def label_view(folder: Path, policy: ConflictPolicy, ttl: int | None) -> LabelView:
    return LabelView(
        name="quality",
        entities=[DRIVER],
        schema=[
            Field(name="driver_id", dtype=Int64),
            Field(name="score", dtype=Int64),
            Field(name="verdict", dtype=String),
            Field(name="labeler", dtype=String),
        ],
        source=FileSource(
            path=str(folder / "labels.parquet"),
            timestamp_field="ts",
            created_timestamp_column="created",
        ),
        ttl=timedelta(seconds=ttl) if ttl else None,
        conflict_policy=policy,
        labeler_priority=PRIORITY if policy is ConflictPolicy.LABELER_PRIORITY else (),
    )


# --- the reference: the policy applied to the labels each entity row may see ---------------


def _created(row: dict[str, Any]) -> float:
    return row["created"].timestamp() if row["created"] is not None else float("-inf")


def acceptable(
    rows: list[dict[str, Any]],
    key: int,
    at: datetime,
    policy: ConflictPolicy,
    ttl: int | None,
) -> list[dict[str, Any]]:
    """Every answer the policy allows for an entity row (more than one only where rows tie
    on everything the policy orders by)."""
    seen = [r for r in rows if r["driver_id"] == key and r["ts"] <= at]
    nothing = {"score": None, "verdict": None, "labeler": None}
    if not seen or (ttl and max(r["ts"] for r in seen) < at - timedelta(seconds=ttl)):
        return [nothing]
    if policy is ConflictPolicy.MAJORITY_VOTE:
        answer: dict[str, Any] = {"labeler": "majority_vote"}
        for label in LABELS:
            votes = Counter(r[label] for r in seen if r[label] is not None)
            if not votes:
                answer[label] = None
                continue
            last = {v: max(r["ts"] for r in seen if r[label] == v) for v in votes}
            answer[label] = max(votes, key=lambda v: (votes[v], last[v], v))
        return [answer]

    def rank(row: dict[str, Any]) -> tuple[Any, ...]:
        order = (row["ts"], _created(row))
        if policy is ConflictPolicy.LABELER_PRIORITY:
            labeler = row["labeler"]
            position = PRIORITY.index(labeler) if labeler in PRIORITY else len(PRIORITY)
            return (-position, *order)
        return order

    best = max(rank(r) for r in seen)
    return [
        {"score": r["score"], "verdict": r["verdict"], "labeler": r["labeler"]}
        for r in seen
        if rank(r) == best
    ]


@pytest.mark.parametrize("engine", OFFLINE_ENGINES)
def test_labels_resolve_as_of_each_entity_row(engine: str) -> None:
    run = settings(
        max_examples=examples(engine, 100),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(
        given(
            rows=label_rows,
            entities=entity_rows,
            policy=st.sampled_from(list(ConflictPolicy)),
            ttl=st.sampled_from([None, 2, 4]),
        )(lambda **drawn: check_one(engine, **drawn))
    )
    run()


def check_one(
    engine: str,
    rows: list[dict[str, Any]],
    entities: list[dict[str, Any]],
    policy: ConflictPolicy,
    ttl: int | None,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ts = pa.timestamp("us", tz="UTC")
        schema = pa.schema(
            [
                ("driver_id", pa.int64()),
                ("ts", ts),
                ("created", ts),
                ("labeler", pa.string()),
                ("score", pa.int64()),
                ("verdict", pa.string()),
            ]
        )
        columns = {name: [r[name] for r in rows] for name in schema.names}
        pq.write_table(pa.table(columns, schema=schema), folder / "labels.parquet")
        view = label_view(folder, policy, ttl)
        frame = pd.DataFrame(entities)
        job = build_retrieval_job(
            frame,
            ["quality:score", "quality:verdict", "quality:labeler"],
            lookup_view={"quality": view}.__getitem__,
            repo_root=folder,
            engine=offline_engine(engine, folder),
        )
        for plan in every_plan(job):
            result = plan.to_arrow().to_pylist()
            assert len(result) == len(entities)
            for entity, got in zip(entities, result, strict=True):
                answer = {k: got[k] for k in ("score", "verdict", "labeler")}
                allowed = acceptable(
                    rows, entity["driver_id"], entity["event_timestamp"], policy, ttl
                )
                assert answer in allowed, (plan.rendering, entity, answer, allowed)


def test_a_later_label_never_reaches_an_earlier_entity_row(tmp_path: Path) -> None:
    """The leak a whole-history resolution (Feast's resolver) would have: the majority at
    12:00 is 'bad' although at 10:00 only 'good' had been written."""
    labels = pd.DataFrame(
        {
            "driver_id": [1, 1, 1],
            "ts": pd.to_datetime(
                ["2026-03-01 09:00", "2026-03-01 11:00", "2026-03-01 11:30"], utc=True
            ),
            "created": pd.NaT,
            "labeler": ["human", "llm", "rules"],
            "score": [1, 0, 0],
            "verdict": ["good", "bad", "bad"],
        }
    )
    labels.to_parquet(tmp_path / "labels.parquet")
    view = label_view(tmp_path, ConflictPolicy.MAJORITY_VOTE, None)
    entities = pd.DataFrame(
        {
            "driver_id": [1, 1],
            "event_timestamp": pd.to_datetime(["2026-03-01 10:00", "2026-03-01 12:00"], utc=True),
        }
    )
    job = build_retrieval_job(
        entities,
        ["quality:verdict", "quality:score", "quality:labeler"],
        lookup_view={"quality": view}.__getitem__,
        repo_root=tmp_path,
        engine=offline_engine("duckdb", tmp_path),
    )
    result = job.to_df()
    assert result["verdict"].tolist() == ["good", "bad"]
    assert result["score"].tolist() == [1, 0]
    assert result["labeler"].tolist() == ["majority_vote", "majority_vote"]


def test_majority_ties_go_to_the_later_vote_then_the_greater_value(tmp_path: Path) -> None:
    at = pd.Timestamp("2026-03-01 09:00", tz="UTC")
    labels = pd.DataFrame(
        {
            # driver 1: one vote each at the same time; driver 2: one each, 'bad' later
            "driver_id": [1, 1, 2, 2],
            "ts": [at, at, at, at + pd.Timedelta(minutes=5)],
            "created": pd.NaT,
            "labeler": ["human", "llm", "human", "llm"],
            "score": [1, 2, 2, 1],
            "verdict": ["bad", "good", "good", "bad"],
        }
    )
    labels.to_parquet(tmp_path / "labels.parquet")
    view = label_view(tmp_path, ConflictPolicy.MAJORITY_VOTE, None)
    entities = pd.DataFrame(
        {"driver_id": [1, 2], "event_timestamp": [at + pd.Timedelta(hours=1)] * 2}
    )
    job = build_retrieval_job(
        entities,
        ["quality:verdict", "quality:score"],
        lookup_view={"quality": view}.__getitem__,
        repo_root=tmp_path,
        engine=offline_engine("duckdb", tmp_path),
    )
    result = job.to_arrow().to_pylist()
    assert [(r["verdict"], r["score"]) for r in result] == [("good", 2), ("bad", 1)]


def test_label_views_apply_and_round_trip_through_the_registry(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    pd.DataFrame(
        {
            "driver_id": [1, 1],
            "event_timestamp": pd.to_datetime(["2026-03-01 09:00", "2026-03-01 10:00"], utc=True),
            "labeler": ["llm", "human"],
            "score": [0.2, 0.9],
        }
    ).to_parquet(tmp_path / "data" / "labels.parquet")
    (tmp_path / "feature_store.yaml").write_text("project: labels\n", encoding="utf-8")
    (tmp_path / "definitions.py").write_text(
        "from store import ConflictPolicy, Entity, Field, FileSource, LabelView\n"
        "from store.types import Float64, Int64, String\n"
        "driver = Entity(name='driver', join_keys=['driver_id'])\n"
        "quality = LabelView(name='quality', entities=[driver],\n"
        "    schema=[Field(name='driver_id', dtype=Int64), Field(name='score', dtype=Float64),\n"
        "            Field(name='labeler', dtype=String)],\n"
        "    source=FileSource(path='data/labels.parquet', timestamp_field='event_timestamp'),\n"
        "    conflict_policy=ConflictPolicy.LABELER_PRIORITY, labeler_priority=['llm', 'human'],\n"
        "    reference_feature_view='driver_stats')\n",
        encoding="utf-8",
    )
    store = FeatureStore(repo_path=tmp_path)
    store.apply()
    stored = store.registry.catalog.get("labels", "feature_view", "quality")
    rebuilt = definition_from_catalog(stored)
    assert isinstance(rebuilt, LabelView)
    assert rebuilt.labeler_priority == ("llm", "human")
    assert rebuilt.content_hash == stored.content_hash
    entities = pd.DataFrame(
        {"driver_id": [1], "event_timestamp": pd.to_datetime(["2026-03-01 11:00"], utc=True)}
    )
    trained = store.get_historical_features(entities, ["quality:score"]).to_df()
    assert trained["score"].tolist() == [0.2]  # the llm outranks the newer human label
    store.materialize(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    online = store.get_online_features(["quality:score"], [{"driver_id": 1}]).to_dict()
    assert online["score"] == [0.9]  # online: the newest write, as in Feast
    store.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"conflict_policy": "loudest"}, "conflict_policy='loudest' is unknown"),
        (
            {"conflict_policy": ConflictPolicy.MAJORITY_VOTE, "labeler_priority": ["a"]},
            "drop labeler_priority or change the policy",
        ),
        (
            {"conflict_policy": ConflictPolicy.MAJORITY_VOTE, "labeler_field": "who"},
            "needs the labeler column 'who'",
        ),
        (
            {"conflict_policy": "labeler_priority", "labeler_priority": ["a", "a"]},
            "distinct labeler names",
        ),
    ],
)
def test_bad_label_views_say_what_to_change(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        LabelView(
            name="quality",
            entities=[DRIVER],
            schema=[Field(name="score", dtype=Float64), Field(name="labeler", dtype=String)],
            source=FileSource(path="labels.parquet", timestamp_field="ts"),
            **kwargs,
        )
