"""The converter rows for Feast's PushSource, LoggingConfig/FileLoggingDestination and
``write_to_online_store``, exercised with stand-ins for Feast's classes (recognised, as the
converter recognises Feast's own, by class name and a ``feast.*`` module), so they run
where Feast is not installed; ``tests/feast`` runs the same against Feast itself."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from store.definitions.feature_logging import LoggingConfig
from store.definitions.push_source import PushSource
from store.feast import FeastObject, convert_feast_objects


def feast_class(name: str, module: str) -> type:
    """A class named like Feast's, defined in a module named like Feast's."""
    return type(name, (SimpleNamespace,), {"__module__": module})


FileSource = feast_class("FileSource", "feast.infra.offline_stores.file_source")
PushSourceF = feast_class("PushSource", "feast.data_source")
LoggingConfigF = feast_class("LoggingConfig", "feast.feature_logging")
Destination = feast_class("FileLoggingDestination", "feast.infra.offline_stores.file_source")


def documented(**attributes: Any) -> dict[str, Any]:
    return {"description": "", "tags": {}, "owner": "", **attributes}


def test_a_push_source_converts_with_its_batch_source() -> None:
    batch = FileSource(
        **documented(
            name="stats",
            path="data/stats",
            timestamp_field="ts",
            created_timestamp_column="",
            field_mapping={},
            file_format=None,
        )
    )
    push = PushSourceF(**documented(name="stats_push", batch_source=batch))
    problems: list[str] = []
    found = convert_feast_objects([FeastObject(push, Path("defs.py"), "push")], problems)
    assert problems == []
    ((converted, _),) = found
    assert isinstance(converted, PushSource)
    assert (converted.name, converted.batch_source.path) == ("stats_push", "data/stats")


def test_logging_settings_are_parts_of_a_service_not_definitions() -> None:
    from store.feast.convert import Conversion

    config = LoggingConfigF(
        destination=Destination(path="data/logs", s3_endpoint_override="", partition_by=None),
        sample_rate=0.25,
    )
    converted = Conversion().convert(config, "defs.py")
    assert isinstance(converted, LoggingConfig)
    assert converted.to_spec()["sample_rate"] == 0.25
    # at module level it is not collected as a definition of its own
    problems: list[str] = []
    assert convert_feast_objects([FeastObject(config, Path("d.py"), "c")], problems) == []
    assert problems == []


def test_an_s3_logging_destination_keeps_its_endpoint() -> None:
    from store.feast.convert import Conversion

    destination = Destination(
        path="s3://b/logs/", s3_endpoint_override="http://x", partition_by=None
    )
    converted = Conversion().convert(destination, "defs.py")
    assert converted.to_spec() == {
        "type": "file",
        "path": "s3://b/logs",
        "s3_endpoint_override": "http://x",
    }
    assert LoggingConfig.from_spec({"destination": converted.to_spec(), "sample_rate": 1.0}) == (
        LoggingConfig(destination=converted)
    )
