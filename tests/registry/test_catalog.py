"""The catalog service: versions, deletes, reactivation, hooks and rollbacks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from registry import DeclaredObject, Registry, RegistryError, RegistryNotFoundError


def view(spec_value: int, name: str = "stats") -> DeclaredObject:
    return DeclaredObject(
        kind="feature_view",
        name=name,
        spec={"value": spec_value},
        content_hash=f"hash-{spec_value}",
        features=(("a", "Int64"), ("b", "String")),
    )


@pytest.fixture
def reg(registry_url: str) -> Iterator[Registry]:
    with Registry(registry_url) as registry:
        yield registry


def test_versions_only_when_the_hash_changes(reg: Registry) -> None:
    assert [c.action for c in reg.catalog.apply("p", [view(1)], delete_missing=True)] == ["create"]
    assert reg.catalog.apply("p", [view(1)], delete_missing=True) == []
    (change,) = reg.catalog.apply("p", [view(2)], delete_missing=True)
    assert (change.action, change.version_before, change.version_after) == ("update", 1, 2)
    assert [v.spec for v in reg.catalog.feature_view_versions("p", "stats")] == [
        {"value": 1},
        {"value": 2},
    ]


def test_deleted_view_keeps_versions_and_returns_unchanged(reg: Registry) -> None:
    reg.catalog.apply("p", [view(1)], delete_missing=True)
    (deleted,) = reg.catalog.apply("p", [], delete_missing=True)
    assert deleted.action == "delete"
    assert reg.catalog.objects("p") == []
    assert len(reg.catalog.feature_view_versions("p", "stats")) == 1
    (back,) = reg.catalog.apply("p", [view(1)], delete_missing=True)
    assert (back.action, back.version_after) == ("create", 1)


def test_features_are_rows_that_sql_clients_can_query(reg: Registry) -> None:
    reg.catalog.apply("p", [view(1)], delete_missing=True)
    with reg.db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT v.name, f.name, f.dtype FROM feature_view_features f "
                "JOIN feature_view_versions vv ON vv.id = f.feature_view_version_id "
                "JOIN feature_views v ON v.id = vv.feature_view_id ORDER BY f.position"
            )
        ).all()
    assert [tuple(r) for r in rows] == [("stats", "a", "Int64"), ("stats", "b", "String")]


def test_projects_are_separate(reg: Registry) -> None:
    reg.catalog.apply("p", [view(1)], delete_missing=True)
    reg.catalog.apply("q", [view(5)], delete_missing=True)
    assert reg.catalog.get("p", "feature_view", "stats").spec == {"value": 1}
    assert reg.catalog.get("q", "feature_view", "stats").spec == {"value": 5}
    with pytest.raises(RegistryNotFoundError):
        reg.catalog.get("r", "feature_view", "stats")


def test_hook_failure_rolls_everything_back(reg: Registry) -> None:
    reg.catalog.apply("p", [view(1)], delete_missing=True)

    def fail(_: object) -> None:
        raise RuntimeError("online store is broken")

    with pytest.raises(RuntimeError):
        reg.catalog.apply("p", [view(2, "other")], delete_missing=True, before_commit=fail)
    assert [(o.name, o.version) for o in reg.catalog.objects("p")] == [("stats", 1)]


def test_materialization_intervals_are_recorded_and_reset(reg: Registry) -> None:
    reg.catalog.apply("p", [view(1)], delete_missing=True)
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    reg.catalog.record_materialization("p", "stats", start=start, end=end, rows_written=7)
    (interval,) = reg.catalog.materialization_intervals("p", "stats")
    assert (interval.start, interval.end, interval.rows_written, interval.version) == (
        start,
        end,
        7,
        1,
    )
    assert interval.start.tzinfo is not None
    with pytest.raises(RegistryError, match="ends"):
        reg.catalog.record_materialization("p", "stats", start=end, end=start, rows_written=0)
    reg.catalog.apply(
        "p", [view(2)], delete_missing=True, reset_materialization=lambda _: ["stats"]
    )
    assert reg.catalog.materialization_intervals("p", "stats") == []


def test_naive_timestamps_are_refused(reg: Registry) -> None:
    reg.catalog.apply("p", [view(1)], delete_missing=True)
    with pytest.raises(Exception, match="naive datetime"):
        reg.catalog.record_materialization(
            "p", "stats", start=datetime(2026, 1, 1), end=datetime(2026, 1, 2), rows_written=0
        )
