"""Definitions: Feast-compatible construction, validation, specs and content hashes."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store import (
    DefinitionError,
    Entity,
    FeatureService,
    FeatureView,
    FeatureViewProjection,
    Field,
    FileSource,
)
from store.types import Array, Float32, Float64, Int64, String, parse_dtype

DRIVER = Entity(name="driver", join_keys=["driver_id"])
SOURCE = FileSource(
    name="stats_source",
    path="data/stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)


def make_view(**overrides: object) -> FeatureView:
    args: dict[str, object] = {
        "name": "stats",
        "entities": [DRIVER],
        "schema": [Field(name="conv_rate", dtype=Float32), Field(name="trips", dtype=Int64)],
        "source": SOURCE,
        "ttl": timedelta(days=1),
    }
    args.update(overrides)
    return FeatureView(**args)  # type: ignore[arg-type]


def test_entity_defaults_join_key_to_its_name_and_needs_exactly_one() -> None:
    assert Entity(name="driver").join_key == "driver"
    with pytest.raises(DefinitionError, match="exactly one column"):
        Entity(name="trip", join_keys=["driver_id", "rider_id"])


def test_feast_style_view_with_join_key_in_schema() -> None:
    view = make_view(schema=[Field(name="driver_id", dtype=Int64), Field(name="x", dtype=Float64)])
    assert [f.name for f in view.features] == ["x"]
    assert [f.name for f in view.entity_columns] == ["driver_id"]
    assert view.join_keys == ["driver_id"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ttl": timedelta(hours=-1)}, "ttl -1 day, 23:00:00 is negative"),
        ({"ttl": 3600}, r"ttl must be a datetime\.timedelta"),
        ({"ttl": timedelta(seconds=1.5)}, "fraction of a second"),
        ({"entities": ["driver"]}, "entities must be Entity objects"),
        ({"entities": []}, "at least one entity"),
        ({"entities": [DRIVER, DRIVER]}, "entity 'driver' is listed twice"),
        ({"schema": []}, "declares no features"),
        ({"schema": [Field(name="a", dtype=Int64), Field(name="a", dtype=Int64)]}, "listed twice"),
        ({"schema": [Field(name="created", dtype=Int64)]}, "timestamp column"),
        ({"name": "bad name"}, "feature view name 'bad name' is not valid"),
        ({"name": "__internal"}, "reserved"),
        ({"source": "data/stats.parquet"}, "source must be a FileSource"),
    ],
)
def test_bad_view_definitions_name_the_view_and_the_fix(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        make_view(**overrides)


def test_zero_ttl_means_unbounded() -> None:
    assert make_view(ttl=timedelta(0)).ttl is None
    assert make_view(ttl=None).ttl_seconds is None


def test_unknown_dtype_lists_the_valid_ones() -> None:
    with pytest.raises(DefinitionError, match=r"use one of store\.types"):
        Field(name="x", dtype="float32")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="valid dtypes are Int32, Int64"):
        parse_dtype("Decimal")


def test_source_validation_and_default_name() -> None:
    assert FileSource(path="data/driver-stats.parquet", timestamp_field="ts").name == "driver_stats"
    with pytest.raises(DefinitionError, match="both 'ts'"):
        FileSource(path="a.parquet", timestamp_field="ts", created_timestamp_column="ts")
    with pytest.raises(DefinitionError, match="maps two columns to one name"):
        FileSource(path="a.parquet", timestamp_field="ts", field_mapping={"a": "x", "b": "x"})
    # Feast writes "" for "no created column".
    assert (
        FileSource(
            path="a.parquet", timestamp_field="ts", created_timestamp_column=""
        ).created_timestamp_column
        is None
    )


def test_definitions_are_immutable() -> None:
    view = make_view()
    with pytest.raises(AttributeError):
        view.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        view.tags["team"] = "x"  # type: ignore[index]


def test_projection_selects_features_and_rejects_unknown_ones() -> None:
    view = make_view()
    assert view[["trips"]] == FeatureViewProjection("stats", ("trips",))
    with pytest.raises(DefinitionError, match="has no feature 'nope'; its features are conv_rate"):
        view[["nope"]]


def test_feature_service_refs_and_validation() -> None:
    view = make_view()
    service = FeatureService(name="svc", features=[view[["trips"]]])
    assert service.feature_refs == ["stats:trips"]
    with pytest.raises(DefinitionError, match="appears twice"):
        FeatureService(name="svc", features=[view, view[["trips"]]])
    with pytest.raises(DefinitionError, match="at least one feature view"):
        FeatureService(name="svc", features=[])


def test_specs_round_trip() -> None:
    view = make_view(tags={"team": "ml"}, schema=[Field(name="v", dtype=Array(String))])
    assert FeatureView.from_spec(view.to_spec()) == view
    assert Entity.from_spec(DRIVER.to_spec()) == DRIVER
    assert FileSource.from_spec(SOURCE.to_spec()) == SOURCE
    service = FeatureService(name="svc", features=[view], tags={"a": "b"})
    assert FeatureService.from_spec(service.to_spec()) == service


def test_content_hash_is_pinned_and_stable_across_processes() -> None:
    # Pinned: a change here changes every stored hash, which creates new view versions.
    expected = make_view().content_hash
    code = (
        "from datetime import timedelta\n"
        "from store import Entity, FeatureView, Field, FileSource\n"
        "from store.types import Float32, Int64\n"
        "v = FeatureView(name='stats', entities=[Entity(name='driver', join_keys=['driver_id'])],"
        " schema=[Field(name='conv_rate', dtype=Float32), Field(name='trips', dtype=Int64)],"
        " source=FileSource(name='stats_source', path='data/stats.parquet',"
        " timestamp_field='event_timestamp', created_timestamp_column='created'),"
        " ttl=timedelta(days=1))\n"
        "print(v.content_hash)\n"
    )
    env = {"PYTHONHASHSEED": "123"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    assert out == expected
    assert expected == "23ded36d78c487c7936943eb2be1c268e7bdfa172380695b220f6529a986b7af"


def test_hash_changes_with_content_but_not_with_tag_order() -> None:
    a = make_view(tags={"a": "1", "b": "2"})
    b = make_view(tags={"b": "2", "a": "1"})
    assert a.content_hash == b.content_hash
    assert make_view(ttl=timedelta(days=2)).content_hash != a.content_hash
    moved = FileSource(
        name="stats_source", path="data/other.parquet", timestamp_field="event_timestamp"
    )
    assert make_view(source=moved).content_hash != make_view().content_hash


names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@given(
    name=names,
    features=st.lists(names, min_size=1, max_size=5, unique=True),
    ttl=st.one_of(st.none(), st.integers(min_value=1, max_value=10**7)),
    online=st.booleans(),
    description=st.text(max_size=20),
)
def test_any_valid_view_round_trips_through_its_spec(
    name: str, features: list[str], ttl: int | None, online: bool, description: str
) -> None:
    schema = [Field(name=f, dtype=Float64) for f in features if f != "driver_id"] or [
        Field(name="x", dtype=Float64)
    ]
    view = FeatureView(
        name=name,
        entities=[DRIVER],
        schema=schema,
        source=FileSource(path="s.parquet", timestamp_field="ts_"),
        ttl=timedelta(seconds=ttl) if ttl else None,
        online=online,
        description=description,
    )
    again = FeatureView.from_spec(view.to_spec())
    assert again == view
    assert again.content_hash == view.content_hash
