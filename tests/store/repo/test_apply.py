"""plan and apply through the FeatureStore facade: declarative, versioned, all-or-nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from store import FeatureStore, ObjectNotFoundError, RepoValidationError
from store.online.backends import sqlite as sqlite_backend
from store.online.layout import TableLayout
from store.types import Int64
from tests.conftest import GOLDEN


def online_tables(repo: Path) -> dict[str, str]:
    path = repo / "data" / "online_store.db"
    if not path.exists():
        return {}
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name: sql for name, sql in rows if not name.startswith("__silage")}


def snapshot(store: FeatureStore) -> list[tuple[str, str, str, int | None]]:
    return [(o.kind, o.name, o.content_hash, o.version) for o in store.catalog_objects()]


def test_apply_records_the_repository_and_creates_online_tables(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo("basic")
    with FeatureStore(repo_path=repo) as fs:
        done = fs.apply()
        assert [(o.kind, o.name, o.action) for o in done.objects] == [
            ("entity", "driver", "create"),
            ("data_source", "driver_stats_source", "create"),
            ("feature_view", "driver_hourly_stats", "create"),
            ("feature_service", "driver_activity", "create"),
        ]
        assert list(online_tables(repo)) == ["basic__driver_hourly_stats"]
        view = fs.get_feature_view("driver_hourly_stats")
        # the join key's type came from the Parquet schema
        assert [(f.name, f.dtype) for f in view.entity_columns] == [("driver_id", Int64)]
        assert [e.name for e in fs.list_entities()] == ["driver"]
        assert [s.name for s in fs.list_data_sources()] == ["driver_stats_source"]
        assert [s.feature_refs for s in fs.list_feature_services()] == [
            [
                "driver_hourly_stats:conv_rate",
                "driver_hourly_stats:acc_rate",
                "driver_hourly_stats:avg_daily_trips",
            ]
        ]


def test_applying_twice_changes_nothing(make_repo: Callable[..., Path]) -> None:
    repo = make_repo("basic")
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        before = snapshot(fs)
        assert not fs.plan().has_changes
        again = fs.apply()
        assert not again.has_changes
        assert snapshot(fs) == before


def test_plan_golden_output_for_a_changed_repository(make_repo: Callable[..., Path]) -> None:
    repo = make_repo("basic")
    with FeatureStore(repo_path=repo) as fs:
        assert fs.plan().render() == (GOLDEN / "plan_basic_new.txt").read_text()
        fs.apply()
    make_repo("basic_v2", into=repo)
    with FeatureStore(repo_path=repo) as fs:
        assert fs.plan().render() == (GOLDEN / "plan_basic_v2.txt").read_text()


def test_changed_view_gets_a_new_version_and_removed_objects_are_deleted(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo("basic")
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        fs.registry.catalog.record_materialization(
            "basic",
            "driver_hourly_stats",
            start=datetime(2026, 1, 1, tzinfo=UTC),
            end=datetime(2026, 1, 2, tzinfo=UTC),
            rows_written=3,
        )
    make_repo("basic_v2", into=repo)
    with FeatureStore(repo_path=repo) as fs:
        done = fs.apply()
        assert [(o.kind, o.name, o.action) for o in done.objects] == [
            ("feature_view", "driver_city", "create"),
            ("feature_view", "driver_hourly_stats", "update"),
            ("feature_service", "driver_activity", "delete"),
        ]
        assert [(t.feature_view, t.action) for t in done.online_tables] == [
            ("driver_hourly_stats", "rebuild")
        ]
        versions = fs.registry.catalog.feature_view_versions("basic", "driver_hourly_stats")
        assert [v.version for v in versions] == [1, 2]
        assert versions[0].spec["ttl_seconds"] == 86400
        assert versions[1].spec["ttl_seconds"] == 172800
        # the rebuilt table lost its rows, so its recorded interval went with them
        assert fs.registry.catalog.materialization_intervals("basic", "driver_hourly_stats") == []
        assert "REAL" in online_tables(repo)["basic__driver_hourly_stats"]
        assert "basic__driver_city" not in online_tables(repo)  # offline view
        with pytest.raises(ObjectNotFoundError, match="no feature service named 'driver_activity'"):
            fs.get_feature_service("driver_activity")


def test_upsert_of_objects_deletes_nothing(make_repo: Callable[..., Path]) -> None:
    repo = make_repo("basic")
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
    from store.repo.loader import load_repo

    v2 = load_repo(make_repo("basic_v2"))
    with FeatureStore(repo_path=repo) as fs:
        city = next(v for v in v2.feature_views if v.name == "driver_city")
        done = fs.apply([city])
        assert [(o.name, o.action) for o in done.objects] == [("driver_city", "create")]
        names = {o.name for o in fs.catalog_objects()}
        assert {"driver_activity", "driver_hourly_stats", "driver_city"} <= names


def test_teardown_removes_catalog_and_online_tables(make_repo: Callable[..., Path]) -> None:
    repo = make_repo("basic")
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        fs.teardown()
        assert fs.catalog_objects() == []
        assert online_tables(repo) == {}
        # versions stay for lineage
        assert len(fs.registry.catalog.feature_view_versions("basic", "driver_hourly_stats")) == 1


@pytest.mark.parametrize(
    ("fixture", "messages"),
    [
        (
            "missing_column",
            [
                "definitions.py: feature view 'stats': created_timestamp_column 'written_at' is "
                "not a column of source 'driver_stats' (data/driver_stats.parquet)",
                "definitions.py: feature view 'stats': feature 'no_such_column' is not a column",
            ],
        ),
        (
            "dtype_mismatch",
            [
                "definitions.py: feature view 'stats': feature 'avg_daily_trips' is declared "
                "String but is int64 in source 'driver_stats' (data/driver_stats.parquet); "
                "declare it as Int64, or cast the column in the data"
            ],
        ),
    ],
)
def test_views_are_checked_against_their_parquet_schema_and_nothing_is_written(
    make_repo: Callable[..., Path], fixture: str, messages: list[str]
) -> None:
    repo = make_repo(fixture)
    with FeatureStore(repo_path=repo) as fs:
        with pytest.raises(RepoValidationError) as info:
            fs.apply()
        for message in messages:
            assert message in str(info.value)
        assert fs.catalog_objects() == []
    assert online_tables(repo) == {}


def test_missing_source_file_is_reported(make_repo: Callable[..., Path]) -> None:
    repo = make_repo("basic", data=False)
    with (
        FeatureStore(repo_path=repo) as fs,
        pytest.raises(
            RepoValidationError,
            match=r"definitions.py: data source 'driver_stats_source': no Parquet",
        ),
    ):
        fs.plan()


def test_failed_online_table_change_rolls_back_the_catalog(
    make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo("basic")
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        before, tables_before = snapshot(fs), online_tables(repo)
    make_repo("basic_v2", into=repo)
    original = sqlite_backend.create_table_sql

    def broken(layout: TableLayout) -> str:
        # The rebuild drops the old table, then fails to create the new one: the rollback
        # must bring the old table back along with the catalog.
        return (
            "CREATE TABLE oops ("
            if layout.feature_view == "driver_hourly_stats"
            else original(layout)
        )

    monkeypatch.setattr(sqlite_backend, "create_table_sql", broken)
    with FeatureStore(repo_path=repo) as fs:
        with pytest.raises(sqlite3.OperationalError):
            fs.apply()
        assert snapshot(fs) == before
    assert online_tables(repo) == tables_before


def test_source_paths_resolve_against_the_repository_not_the_working_directory(
    make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = make_repo("basic")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with FeatureStore(repo_path=repo) as fs:
        assert fs.plan().has_changes
