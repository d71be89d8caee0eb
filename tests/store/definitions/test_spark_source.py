"""SparkSource as a declaration: exactly one location, Feast's defaults for its name, and a
spec that rebuilds the same source (through the feature views that read it too)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store import DefinitionError, Entity, FeatureView, Field, FileSource, SparkSource
from store.definitions.data_source import data_source_from_spec
from store.types import Float64


def test_name_defaults_to_the_table_or_the_file() -> None:
    assert SparkSource(table="warehouse.driver_stats", timestamp_field="ts").name == "driver_stats"
    assert SparkSource(table="trips", timestamp_field="ts").name == "trips"
    source = SparkSource(
        path="s3a://bucket/data/trips.orc", file_format="orc", timestamp_field="ts"
    )
    assert (source.name, source.path) == ("trips", "s3a://bucket/data/trips.orc")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"exactly one of table=, query= or path= \(got none\)"),
        ({"table": "a", "query": "SELECT 1"}, r"exactly one .* \(got table, query\)"),
        ({"path": "data/x"}, r"path= needs file_format=, one of avro, csv"),
        ({"table": "a", "file_format": "csv"}, "file_format goes with path= only"),
        ({"path": "x", "file_format": "xlsx"}, "'xlsx' is not one Spark reads by name"),
        ({"query": "SELECT * FROM t"}, "query=: give it a name="),
    ],
)
def test_bad_locations_are_refused_with_the_fix(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        SparkSource(timestamp_field="ts", **kwargs)


def test_columns_are_checked_like_a_file_source() -> None:
    with pytest.raises(DefinitionError, match="both 'ts'"):
        SparkSource(table="t", timestamp_field="ts", created_timestamp_column="ts")
    with pytest.raises(DefinitionError, match="maps two columns to one name"):
        SparkSource(table="t", timestamp_field="ts", field_mapping={"a": "x", "b": "x"})


@pytest.mark.parametrize(
    "source",
    [
        SparkSource(
            table="db.stats",
            timestamp_field="ts",
            created_timestamp_column="created",
            field_mapping={"r": "rate"},
            description="stats",
            tags={"team": "ml"},
            owner="a@b.c",
        ),
        SparkSource(name="stats", query="SELECT * FROM db.stats", timestamp_field="ts"),
        SparkSource(path="data/stats", file_format="parquet", timestamp_field="ts"),
    ],
)
def test_the_spec_rebuilds_the_source_and_its_view(source: SparkSource) -> None:
    rebuilt = data_source_from_spec(source.to_spec())
    assert rebuilt == source
    assert rebuilt.content_hash == source.content_hash
    view = FeatureView(
        name="stats_view",
        entities=[Entity(name="driver", join_keys=["driver_id"])],
        schema=[Field(name="rate", dtype=Float64)],
        source=source,
        ttl=timedelta(hours=1),
    )
    assert FeatureView.from_spec(view.to_spec()) == view


def test_a_spark_source_differs_from_a_file_source_of_the_same_path() -> None:
    spark = SparkSource(path="data/s.parquet", file_format="parquet", timestamp_field="ts")
    file = FileSource(path="data/s.parquet", timestamp_field="ts")
    assert spark.name == file.name == "s"
    assert spark.content_hash != file.content_hash
    assert data_source_from_spec(file.to_spec()) == file
