"""Push sources: ``FeatureStore.push(name, df, to=...)`` online, offline and both; the
offline append is atomic and read back by training sets; bad pushes write nothing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from store import (
    FeatureStore,
    FeatureView,
    Field,
    FileSource,
    ObjectNotFoundError,
    PushMode,
    PushSource,
    RequestError,
)
from store.errors import DefinitionError
from store.types import Float32
from tests.backends import OnlineUnderTest
from tests.conftest import T0

H = timedelta(hours=1)
FRESH = "driver_stats_fresh"


def open_push_store(
    make_repo: Callable[..., Path], backend: OnlineUnderTest | None = None
) -> FeatureStore:
    """The push fixture repository, its folder source seeded with the basic data, applied
    (on ``backend``'s online store, SQLite by default). The data is months old: no ttl."""
    repo = make_repo("push")
    folder = repo / "data" / "stats_folder"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(repo / "data" / "driver_stats.parquet", folder / "part-0.parquet")
    if backend is None:
        (repo / "feature_store.yaml").write_text(
            (repo / "feature_store.yaml").read_text() + "  enforce_ttl: false\n"
        )
    else:
        backend.configure(repo, enforce_ttl=False)
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    return fs


def rows(drivers: list[int], at: object, trips: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": drivers,
            "event_timestamp": [at] * len(drivers),
            "created": [at] * len(drivers),
            "conv_rate": [0.9] * len(drivers),
            "acc_rate": [0.8] * len(drivers),
            "avg_daily_trips": trips,
        }
    )


def online_trips(fs: FeatureStore, drivers: list[int]) -> list[object]:
    response = fs.get_online_features(
        [f"{FRESH}:avg_daily_trips"], [{"driver_id": d} for d in drivers]
    )
    return response.to_dict()["avg_daily_trips"]


def folder_files(fs: FeatureStore) -> list[str]:
    return sorted(os.listdir(fs.repo_path / "data" / "stats_folder"))


def test_a_view_declared_on_a_push_source_reads_its_batch_source() -> None:
    batch = FileSource(path="data/s", timestamp_field="ts")
    push = PushSource(name="s_push", batch_source=batch)
    from store import Entity

    view = FeatureView(
        name="v",
        entities=[Entity(name="d", join_keys=["d"])],
        schema=[Field(name="x", dtype=Float32)],
        source=push,  # type: ignore[arg-type]  # Feast's form
    )
    assert view.source == batch
    assert view.push_source == push
    assert FeatureView.from_spec(view.to_spec()) == view
    assert view.to_spec()["push_source"]["batch_source"]["name"] == "s"
    # a view without a push source keeps the spec (and hash) it always had
    plain = FeatureView(name="v", entities=view.entities, schema=view.schema, source=batch)
    assert "push_source" not in plain.to_spec()
    with pytest.raises(DefinitionError, match="batch_source must be a FileSource"):
        PushSource(name="p", batch_source="data/x.parquet")  # type: ignore[arg-type]


def test_push_modes_parse_from_strings_enums_and_feast_names() -> None:
    assert PushMode.parse("online_and_offline") is PushMode.ONLINE_AND_OFFLINE
    assert PushMode.parse(PushMode.OFFLINE) is PushMode.OFFLINE

    class FeastLike:  # Feast's PushMode members are matched by name
        name = "ONLINE"

    assert PushMode.parse(FeastLike()) is PushMode.ONLINE
    with pytest.raises(DefinitionError, match="'online', 'offline' or 'online_and_offline'"):
        PushMode.parse("sideways")


def test_push_online_writes_newest_wins_and_nothing_offline(
    make_repo: Callable[..., Path],
    backend: OnlineUnderTest,
) -> None:
    fs = open_push_store(make_repo, backend)
    before = folder_files(fs)
    assert fs.push("stats_push", rows([1001, 1002], T0 + 5 * H, [50, 51])) == 2
    assert online_trips(fs, [1001, 1002]) == [50, 51]
    # an older row never replaces a newer one
    fs.push("stats_push", rows([1001], T0 + 4 * H, [7]), to="online")
    assert online_trips(fs, [1001]) == [50]
    assert folder_files(fs) == before


def test_push_offline_appends_one_file_read_by_training_sets(
    make_repo: Callable[..., Path],
) -> None:
    fs = open_push_store(make_repo)
    before = folder_files(fs)
    fs.push("stats_push", rows([1001, 1009], T0 + 6 * H, [60, 69]), to=PushMode.OFFLINE)
    added = sorted(set(folder_files(fs)) - set(before))
    assert len(added) == 1
    assert added[0].startswith("push-")
    assert added[0].endswith(".parquet")
    assert not [n for n in folder_files(fs) if n.endswith(".tmp")]
    # the new file has the folder's schema (created column and all) and the pushed rows
    written = pq.read_table(fs.repo_path / "data" / "stats_folder" / added[0])
    old = pq.read_schema(fs.repo_path / "data" / "stats_folder" / "part-0.parquet")
    assert written.schema.names == old.names
    assert written.num_rows == 2
    # nothing online
    with pytest.raises(Exception, match="never been materialized"):
        online_trips(fs, [1001])
    entity_df = pd.DataFrame({"driver_id": [1001, 1009, 1002], "event_timestamp": [T0 + 7 * H] * 3})
    training = fs.get_historical_features(entity_df, [f"{FRESH}:avg_daily_trips"]).to_df()
    # 1002 keeps its newest original row (hour 3: 10 * 1 + 3)
    assert training["avg_daily_trips"].tolist() == [60, 69, 13]


def test_push_online_and_offline_does_both(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_push_store(make_repo, backend)
    before = folder_files(fs)
    fs.push("stats_push", rows([1003], T0 + 8 * H, [80]), to="online_and_offline")
    assert online_trips(fs, [1003]) == [80]
    assert len(folder_files(fs)) == len(before) + 1


def test_push_offline_to_a_one_file_source_writes_its_new_version(
    make_repo: Callable[..., Path],
) -> None:
    fs = open_push_store(make_repo)
    path = fs.repo_path / "data" / "driver_stats.parquet"
    count = pq.read_metadata(path).num_rows
    pushed = rows([1001], T0 + 9 * H, [90])[["driver_id", "event_timestamp", "avg_daily_trips"]]
    fs.push("file_push", pushed, to="offline")
    table = pq.read_table(path)
    assert table.num_rows == count + 1
    assert table.column("avg_daily_trips").to_pylist()[-1] == 90
    assert table.column("created").to_pylist()[-1] is None  # the push had none
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_failing_offline_write_leaves_the_folder_and_online_store_unchanged(
    make_repo: Callable[..., Path], backend: OnlineUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = open_push_store(make_repo, backend)
    fs.push("stats_push", rows([1001], T0 + 5 * H, [50]))
    before = folder_files(fs)

    def broken_rename(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("store.offline.append.os.replace", broken_rename)
    with pytest.raises(OSError, match="disk full"):
        fs.push("stats_push", rows([1001], T0 + 6 * H, [60]), to="online_and_offline")
    assert folder_files(fs) == before  # no new file, no temporary file left behind
    assert online_trips(fs, [1001]) == [50]  # offline first: online untouched


def test_pushes_that_do_not_fit_write_nothing(make_repo: Callable[..., Path]) -> None:
    fs = open_push_store(make_repo)
    before = folder_files(fs)
    with pytest.raises(RequestError, match=r"push source 'stats_push'.*lack column.*acc_rate"):
        fs.push("stats_push", rows([1001], T0, [1]).drop(columns=["acc_rate"]), to="offline")
    with pytest.raises(RequestError, match=r"push source 'stats_push'.*'avg_daily_trips'"):
        fs.push("stats_push", rows([1001], T0, [1]).assign(avg_daily_trips=["x"]), to="offline")
    with pytest.raises(RequestError, match="column 'surprise' is not a column of batch source"):
        fs.push("stats_push", rows([1001], T0, [1]).assign(surprise=1), to="offline")
    with pytest.raises(ObjectNotFoundError, match="no push source named 'nope'"):
        fs.push("nope", rows([1001], T0, [1]))
    with pytest.raises(DefinitionError, match="not a push mode"):
        fs.push("stats_push", rows([1001], T0, [1]), to="everywhere")
    assert folder_files(fs) == before


def test_a_push_source_without_views_is_a_clear_error(make_repo: Callable[..., Path]) -> None:
    fs = FeatureStore(repo_path=make_repo("basic"))
    fs.apply()
    lonely = PushSource(name="lonely", batch_source=fs.get_data_source("driver_stats_source"))
    fs.apply([lonely])
    assert fs.plan().objects  # the repository's files do not declare it
    with pytest.raises(RequestError, match="push source 'lonely' feeds no feature view"):
        fs.push("lonely", rows([1001], T0, [1]))


def test_a_push_source_applied_alone_into_a_repository_with_on_demand_views(
    make_repo: Callable[..., Path],
) -> None:
    # The on-demand views embed their source view as declared (join key untyped), the
    # registry holds it resolved: an upsert must see them as the same view.
    fs = open_push_store(make_repo)
    extra = PushSource(name="extra_push", batch_source=fs.get_data_source("stats_folder"))
    fs.apply([extra])
    assert fs.views_pushed_to(FRESH)[0].name == FRESH
    with pytest.raises(RequestError, match="push source 'extra_push' feeds no feature view"):
        fs.push("extra_push", rows([1001], T0, [1]))


def test_pushing_by_view_name_still_works(make_repo: Callable[..., Path]) -> None:
    fs = open_push_store(make_repo)
    assert fs.push(FRESH, rows([1002], T0 + H, [11]), to="online") == 1
    assert online_trips(fs, [1002]) == [11]


def test_feasts_write_calls(make_repo: Callable[..., Path]) -> None:
    fs = open_push_store(make_repo)
    before = folder_files(fs)
    assert fs.write_to_offline_store(FRESH, rows([1005], T0 + 2 * H, [55])) == 1
    assert len(folder_files(fs)) == len(before) + 1
    assert fs.write_to_online_store(FRESH, rows([1005], T0 + 2 * H, [55]), True) == 1
    assert online_trips(fs, [1005]) == [55]
