"""Feast's Map, Json and Struct types and arrays of them, end to end: declared in a repository
(``tests/fixtures/repos/nested_types``), checked against the Parquet schema, carried unchanged
through the point-in-time join into training sets (Arrow and Parquet) on every offline engine,
materialized and pushed to every online backend, and served back as the same Python values.

Spark casts no struct to a map: there the ``Map`` feature written as a struct (``meta``) is
written as a Parquet map instead, and the struct form is refused with a message naming the
view, the field, the type and the fix (at apply, and at run time for a repository applied
on another engine)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import FeatureStore, RequestError
from store.errors import RepoValidationError, SourceDataError
from store.types import Array, Int64, Map, to_arrow
from tests.backends import OnlineUnderTest, configure_offline

T0 = datetime(2026, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)
BORN = datetime(1960, 5, 1, 0, 0, 0, 1, tzinfo=UTC)

# The Parquet schema: maps as maps, `meta` as the struct pandas writes for dicts (Feast's
# sample data does so for its `Map` feature), the Json document as a string.
SCHEMA = pa.schema(
    [
        ("driver_id", pa.int64()),
        ("event_timestamp", pa.timestamp("us", tz="UTC")),
        ("created", pa.timestamp("us", tz="UTC")),
        ("tags", pa.map_(pa.string(), pa.string())),
        ("rates", pa.map_(pa.string(), pa.float32())),  # widened to Map(Float64)
        ("meta", pa.struct([("vehicle_type", pa.string()), ("rating", pa.string())])),
        ("doc", pa.large_string()),
        (
            "profile",
            pa.struct(
                [
                    ("seen", pa.map_(pa.string(), pa.list_(pa.binary()))),  # another order
                    ("name", pa.string()),
                    ("born", pa.timestamp("us", tz="UTC")),
                ]
            ),
        ),
        ("history", pa.list_(pa.map_(pa.string(), pa.int64()))),
        ("trips", pa.list_(pa.struct([("km", pa.float32()), ("ok", pa.bool_())]))),
        ("grid", pa.list_(pa.list_(pa.int32()))),
    ]
)
FEATURES = ["tags", "rates", "meta", "doc", "profile", "history", "trips", "grid"]

# Feature values as the online store serves them (maps and structs as dicts).
OLD: dict[str, Any] = {
    "tags": {"tier": "gold"},
    "rates": {"a": 0.5},
    "meta": {"vehicle_type": "sedan", "rating": "4.5"},
    "doc": '{"v": 1}',
    "profile": {"name": "Ann", "born": BORN, "seen": {"x": [b"\x00"]}},
    "history": [{"n": 1}],
    "trips": [{"km": 1.5, "ok": True}],
    "grid": [[1]],
}
NEW: dict[str, Any] = {
    "tags": {"zeta": "z", "alpha": None, "ünï": "✓ naïve", "": "empty key"},
    "rates": {"inf": float("inf"), "half": 0.5, "neg": -0.0},
    "meta": {"vehicle_type": None, "rating": "5.0"},
    "doc": '{"b": [1, 2.50, null],  "a": "Zoë"}',  # kept as written
    "profile": {"name": "Zoë", "born": BORN, "seen": {"x": [b"\x00\xff", None], "y": []}},
    "history": [{"a": 1, "b": None}, {}, None],
    "trips": [{"km": 2.25, "ok": False}, None, {"km": None, "ok": None}],
    "grid": [[1, None], [], None],
}
EMPTY: dict[str, Any] = {
    "tags": {},
    "rates": {},
    "meta": None,
    "doc": "[]",
    "profile": {"name": None, "born": None, "seen": {}},
    "history": [],
    "trips": [],
    "grid": [],
}
NULLS: dict[str, Any] = dict.fromkeys(FEATURES)


# Engines that cast no struct to a map (Spark) read `meta` from a Parquet map.
STRUCT_AS_MAP = {"spark": False}


def write_profiles(repo: Path, *, structs_as_maps: bool = True) -> None:
    """Driver 1 at T0 (OLD) and T0+2h (NEW), driver 2 at T0 (empty containers), driver 3 at
    T0 (every feature null). ``structs_as_maps=False``: ``meta`` as a map column."""
    schema = SCHEMA
    if not structs_as_maps:
        index = SCHEMA.get_field_index("meta")
        schema = SCHEMA.set(index, pa.field("meta", pa.map_(pa.string(), pa.string())))
    rows = [(1, T0, OLD), (1, T0 + 2 * H, NEW), (2, T0, EMPTY), (3, T0, NULLS)]
    data: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for driver, when, values in rows:
        data["driver_id"].append(driver)
        data["event_timestamp"].append(when)
        data["created"].append(when)
        for name in FEATURES:
            value = values[name]
            maps = ("tags", "rates") if structs_as_maps else ("tags", "rates", "meta")
            if name in maps and value is not None:
                value = list(value.items())  # Arrow's spelling of a map
            if name == "profile" and value is not None:
                value = {**value, "seen": list(value["seen"].items())}
            if name == "history" and value is not None:
                value = [None if m is None else list(m.items()) for m in value]
            data[name].append(value)
    (repo / "data").mkdir(exist_ok=True)
    pq.write_table(pa.table(data, schema=schema), repo / "data" / "profiles.parquet")


def open_repo(
    make_repo: Callable[..., Path], name: str = "nested_types", *, engine: str = "duckdb"
) -> Path:
    repo = make_repo(name)
    configure_offline(repo, engine)
    write_profiles(repo, structs_as_maps=STRUCT_AS_MAP.get(engine, True))
    return repo


def as_arrow(view_features: dict[str, Any], values: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The expected columns, as Arrow gives them (a map as a list of pairs)."""
    return {
        name: pa.array([v[name] for v in values], to_arrow(dtype)).to_pylist()
        for name, dtype in view_features.items()
    }


def test_training_sets_carry_the_types_unchanged(
    make_repo: Callable[..., Path], engine: str
) -> None:
    repo = open_repo(make_repo, engine=engine)
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    dtypes = {f.name: f.dtype for f in fs.get_feature_view("profiles").features}
    assert dtypes["meta"] == Map
    assert dtypes["history"] == Array(Map(Int64))
    entities = pd.DataFrame(
        {
            "driver_id": [1, 1, 2, 3, 4, 1],
            "event_timestamp": [T0 + H, T0 + 3 * H, T0 + H, T0, T0, T0 - H],
        }
    )
    job = fs.get_historical_features(entities, [f"profiles:{n}" for n in FEATURES])
    expected = as_arrow(dtypes, [OLD, NEW, EMPTY, NULLS, NULLS, NULLS])
    for plan in [job.using(r) for r in fs.offline_engine.renderings]:
        table = plan.to_arrow()
        for name, dtype in dtypes.items():
            assert table.schema.field(name).type == to_arrow(dtype), (plan.rendering, name)
        assert {n: table.column(n).to_pylist() for n in FEATURES} == expected, plan.rendering
    # A Parquet training set keeps the types and the values.
    saved = pq.read_table(job.to_parquet(repo / "data" / "training.parquet"))
    assert saved.select(FEATURES).schema == table.select(FEATURES).schema
    assert saved.select(FEATURES).to_pylist() == table.select(FEATURES).to_pylist()
    # So does a saved training set, whose statistics count the containers like categories.
    training_set = job.save("nested")
    kept = training_set.to_arrow().select(FEATURES)
    assert pq.read_table(training_set.check()).select(FEATURES).equals(kept)
    assert kept.schema == table.select(FEATURES).schema
    assert training_set.record.statistics["tags"]["nulls"] == 3
    frame = job.to_df()
    assert frame["doc"].tolist()[:2] == [OLD["doc"], NEW["doc"]]
    # Maps are dicts in pandas too, at every depth, as the online store serves them.
    assert frame["tags"].tolist()[:3] == [OLD["tags"], NEW["tags"], EMPTY["tags"]]
    assert frame["meta"].tolist()[1] == NEW["meta"]
    assert list(frame["profile"].tolist()[1]["seen"]) == ["x", "y"]


def test_a_parquet_json_column_serves_a_json_feature(
    make_repo: Callable[..., Path], engine: str
) -> None:
    """A column of Parquet's JSON logical type (DuckDB's JSON) is read as the document's
    text, offline and online (materialized by the engine)."""
    repo = open_repo(make_repo, engine=engine)
    path = repo / "data" / "profiles.parquet"
    data = pq.read_table(path)
    documents = data.column("doc").cast(pa.string())
    index = data.schema.get_field_index("doc")
    as_json = pa.ExtensionArray.from_storage(pa.json_(), documents.combine_chunks())
    pq.write_table(data.set_column(index, "doc", as_json), path)
    assert pq.read_schema(path).field("doc").type == pa.json_()
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    entities = pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [T0 + 3 * H, T0 + H]})
    table = fs.get_historical_features(entities, ["profiles:doc"]).to_arrow()
    assert table.schema.field("doc").type == pa.string()
    assert table.column("doc").to_pylist() == [NEW["doc"], EMPTY["doc"]]
    fs.materialize(T0, T0 + 3 * H)
    online = fs.get_online_features(["profiles:doc"], [{"driver_id": 1}]).to_dict()
    assert online["doc"] == [NEW["doc"]]


def test_spark_refuses_a_struct_declared_as_a_map_naming_view_field_and_fix(
    make_repo: Callable[..., Path],
) -> None:
    """Spark casts no struct to a map: ``meta`` (a struct column declared ``Map``) is refused
    at apply; a repository applied on DuckDB and then moved to Spark fails at run time with
    the same advice, not with Spark's stack trace."""
    repo = open_repo(make_repo)  # meta as a struct, as pandas writes dicts
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()  # DuckDB reads it
    configure_offline(repo, "spark")
    with FeatureStore(repo_path=repo) as fs:
        entities = pd.DataFrame({"driver_id": [1], "event_timestamp": [T0 + H]})
        job = fs.get_historical_features(entities, ["profiles:meta", "profiles:tags"])
        with pytest.raises(SourceDataError) as ran:
            job.to_arrow()
        message = str(ran.value)
        assert "'profiles'" in message, message
        assert "'meta'" in message, message
        assert "Spark cannot read a struct as a map" in message, message
        assert "JVM" not in message, message
        with pytest.raises(RepoValidationError) as applied:
            fs.apply()
    assert (
        "feature view 'profiles': feature 'meta' is declared Map but is struct<vehicle_type: "
        "string, rating: string> in source" in str(applied.value)
    )
    assert "the Spark engine cannot read a struct as a map; write the column as a Parquet map" in (
        str(applied.value)
    )
    assert "or declare it as Struct(vehicle_type: String, rating: String)" in str(applied.value)


def test_the_online_store_serves_the_same_values(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    repo = open_repo(make_repo)
    backend.configure(repo, enforce_ttl=False)
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    fs.materialize(T0, T0 + 3 * H)
    rows = [{"driver_id": d} for d in (1, 2, 3, 4, 1)]
    response = fs.get_online_features([f"profiles:{n}" for n in FEATURES], rows).to_dict()
    for name in FEATURES:
        assert response[name] == [NEW[name], EMPTY[name], None, None, NEW[name]], name
    assert list(response["tags"][0]) == list(NEW["tags"])  # the map's order
    assert str(response["rates"][0]["neg"]) == "-0.0"


def test_pushed_dicts_are_stored_as_written(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    repo = open_repo(make_repo)
    backend.configure(repo, enforce_ttl=False)
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    pushed = [
        {**NEW, "meta": {"only": "one key"}, "driver_id": 7},  # keys differ between rows
        {**EMPTY, "meta": {"vehicle_type": "suv", "rating": "3.9", "x": "y"}, "driver_id": 8},
    ]
    frame = pd.DataFrame(
        [{**row, "event_timestamp": T0, "created": T0} for row in pushed],
        columns=["driver_id", "event_timestamp", "created", *FEATURES],
    )
    fs.push("profiles", frame)
    response = fs.get_online_features(
        [f"profiles:{n}" for n in FEATURES], [{"driver_id": 7}, {"driver_id": 8}]
    ).to_dict()
    for name in FEATURES:
        assert response[name] == [pushed[0][name], pushed[1][name]], name

    # A Json column must hold documents: nothing is written otherwise.
    bad = frame.assign(driver_id=[9, 10], doc=['{"ok": 1}', "{not json"])
    with pytest.raises(RequestError, match=r"'profiles': column 'doc' is declared Json but row 1"):
        fs.push("profiles", bad)
    assert fs.get_online_features(["profiles:doc"], [{"driver_id": 9}]).to_dict()["doc"] == [None]
    # A value that does not fit the declared type names the view, the column and the type.
    wrong = frame.assign(rates=[{"a": "not a number"}, None])
    with pytest.raises(RequestError, match=r"'profiles': column 'rates' cannot be read as Map"):
        fs.push("profiles", wrong)


def test_a_column_of_another_type_is_refused_naming_the_view_and_field(
    make_repo: Callable[..., Path],
) -> None:
    repo = open_repo(make_repo, "nested_mismatch")
    with FeatureStore(repo_path=repo) as fs, pytest.raises(RepoValidationError) as info:
        fs.apply()
    assert (
        "definitions.py: feature view 'profiles': feature 'tags' is declared Map(Int64) but is "
        "map<string, string> in source" in str(info.value)
    )
    assert "declare it as Map, or cast the column in the data" in str(info.value)


def test_http_pushes_and_serves_them_as_json_objects(make_repo: Callable[..., Path]) -> None:
    """Over HTTP a map and a struct are JSON objects, both ways (Feast's request shape)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's client warns about httpx
        from starlette.testclient import TestClient
    from store.serving.server import create_app

    repo = open_repo(make_repo)
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    fs.materialize(T0, T0 + 3 * H)
    served = ["tags", "meta", "doc", "history", "trips", "grid"]
    pushed = {
        "tags": {"b": "2", "a": None},
        "meta": {"only": "one"},
        "doc": '{"pushed": true}',
        "history": [{"x": 5}],
        "trips": [{"km": 0.5, "ok": True}],
        "grid": [[3, 4]],
    }
    _, secret = fs.model_registry.tokens.create("pusher", ["push"])
    with TestClient(create_app(fs, refresh_seconds=0)) as http:
        sent = http.post(
            "/push",
            headers={"Authorization": f"Bearer {secret}"},
            json={
                "feature_view": "profiles",
                "df": {
                    "driver_id": [5],
                    "event_timestamp": ["2026-01-01T00:00:00Z"],
                    "created": ["2026-01-01T00:00:00Z"],
                    "rates": [{"r": 1.5}],
                    "profile": [{"name": "Eve", "born": None, "seen": {}}],
                    **{name: [value] for name, value in pushed.items()},
                },
            },
        )
        assert sent.status_code == 200, sent.text
        answer = http.post(
            "/get-online-features",
            json={
                "features": [f"profiles:{n}" for n in served],
                "entities": {"driver_id": [1, 5, 4]},
            },
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    values = {
        name: result["values"]
        for name, result in zip(body["metadata"]["feature_names"], body["results"], strict=True)
    }
    for name in served:
        assert values[name] == [NEW[name], pushed[name], None], name
