"""Sources over a file, a folder or a glob; field_mapping; key types from the data."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from store import Entity, FeatureView, Field, FileSource
from store.errors import SourceDataError
from store.offline.sources import parquet_files
from store.repo.apply import check_against_data
from store.repo.loader import RepoContents
from store.types import Float64, Int64, String


def write(path: Path, **columns: pa.Array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def contents_for(source: FileSource, *schema: Field, key: str = "driver_id") -> RepoContents:
    entity = Entity(name="driver", join_keys=[key])
    view = FeatureView(name="v", entities=[entity], schema=list(schema), source=source)
    return RepoContents(entities=(entity,), data_sources=(source,), feature_views=(view,))


def ts(n: int) -> pa.Array:
    return pa.array([0] * n, pa.timestamp("us", tz="UTC"))


def test_folder_and_glob_sources_list_their_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write(tmp_path / "data" / "part" / f"{name}.parquet", x=pa.array([1]))
    (tmp_path / "data" / "part" / "README.txt").write_text("not data")
    folder = FileSource(path="data/part", timestamp_field="ts")
    glob = FileSource(path="data/part/*.parquet", timestamp_field="ts")
    assert [p.name for p in parquet_files(folder, tmp_path)] == ["a.parquet", "b.parquet"]
    assert [p.name for p in parquet_files(glob, tmp_path)] == ["a.parquet", "b.parquet"]
    with pytest.raises(SourceDataError, match="no Parquet file at"):
        parquet_files(FileSource(path="data/none/*.parquet", timestamp_field="ts"), tmp_path)


def test_field_mapping_renames_before_checks_and_key_type_comes_from_data(tmp_path: Path) -> None:
    write(
        tmp_path / "s.parquet",
        id=pa.array(["a", "b"]),
        event_ts=ts(2),
        rate_raw=pa.array([0.1, 0.2]),
    )
    source = FileSource(
        path="s.parquet",
        timestamp_field="event_ts",
        field_mapping={"id": "driver_id", "rate_raw": "rate"},
    )
    resolved, problems = check_against_data(
        contents_for(source, Field(name="rate", dtype=Float64)), tmp_path
    )
    assert problems == []
    (view,) = resolved.feature_views
    assert [(f.name, f.dtype) for f in view.schema] == [("driver_id", String), ("rate", Float64)]


@pytest.mark.parametrize(
    ("columns", "schema", "problem"),
    [
        (
            {"event_ts": ts(1), "x": pa.array([1])},
            [Field(name="x", dtype=Int64)],
            "join key 'driver_id' is not a column of source 's' (s.parquet); its columns are "
            "event_ts, x",
        ),
        (
            {"driver_id": pa.array([1]), "x": pa.array([1])},
            [Field(name="x", dtype=Int64)],
            "timestamp_field 'event_ts' is not a column",
        ),
        (
            {"driver_id": pa.array([1]), "event_ts": pa.array([1]), "x": pa.array([1])},
            [Field(name="x", dtype=Int64)],
            "timestamp_field 'event_ts' of source 's' (s.parquet) is int64, not a timestamp",
        ),
        (
            {"driver_id": pa.array([1.5]), "event_ts": ts(1), "x": pa.array([1])},
            [Field(name="x", dtype=Int64)],
            "join keys must be integers or strings",
        ),
        (
            {"driver_id": pa.array([1]), "event_ts": ts(1), "x": pa.array([1])},
            [Field(name="driver_id", dtype=String), Field(name="x", dtype=Int64)],
            "join key 'driver_id' is declared String but is int64",
        ),
    ],
)
def test_problems_name_the_column_and_the_fix(
    tmp_path: Path, columns: dict[str, pa.Array], schema: list[Field], problem: str
) -> None:
    write(tmp_path / "s.parquet", **columns)
    source = FileSource(path="s.parquet", timestamp_field="event_ts")
    _, problems = check_against_data(contents_for(source, *schema), tmp_path)
    assert len(problems) == 1
    assert problem in problems[0]


def test_hot_keys_are_estimated_from_footers_and_a_sample_of_key_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For planning only: no data read when the footers say no key can be hot; exact counts
    when every row fits the sample; else whole row groups spread over the files, counts
    scaled up, a key hot above half the threshold."""
    from store.offline import sources

    small = tmp_path / "small.parquet"
    pq.write_table(pa.table({"k": [1, 1, 1]}), small)
    assert sources.hot_key_estimate([small], ["k"], 3) == ()
    assert sources.hot_key_estimate([small], ["k"], 2) == ((1,),)

    # Composite keys, nulls ignored, exact: (1, "a") has 5 rows, (2, "b") 3, (3, "c") 1.
    pairs = tmp_path / "pairs.parquet"
    ks = [1] * 5 + [2] * 3 + [3, None]
    names = ["a"] * 5 + ["b"] * 3 + ["c", "d"]
    pq.write_table(pa.table({"k": ks, "n": names}), pairs)
    assert sources.hot_key_estimate([pairs], ["k", "n"], 2) == ((1, "a"), (2, "b"))
    assert sources.hot_key_estimate([pairs], ["k", "missing"], 2) is None

    # Ten row groups of 100 rows over two files, a sample of two groups: key 0 holds every
    # fifth row (200 in all), key 1 one row in each group (10 in all).
    monkeypatch.setattr(sources, "HOT_KEY_SAMPLE_ROWS", 200)
    files = []
    for f in range(2):
        keys = [0 if i % 5 == 0 else (1 if i % 100 == 1 else 2 + f * 1000 + i) for i in range(500)]
        files.append(tmp_path / f"part{f}.parquet")
        pq.write_table(pa.table({"k": keys}), files[-1], row_group_size=100)
    assert sources.hot_key_estimate(files, ["k"], 150) == ((0,),)  # 40 sampled x 5 > 75
    assert sources.hot_key_estimate(files, ["k"], 1000) == ()  # 200 estimated: below 500
    assert sources.hot_key_estimate([tmp_path / "none.parquet"], ["k"], 1) is None
