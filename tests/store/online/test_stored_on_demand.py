"""On-demand views with ``write_to_online_store=True``: computed when their source rows are
written online (materialization, pushes), stored in their own table, served from it without
running the function; training sets still compute them after the join."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from store import (
    Entity,
    FeatureView,
    Field,
    FileSource,
    OnlineStoreError,
    RequestSource,
    on_demand_feature_view,
)
from store.errors import DefinitionError
from store.online.layout import stored_layout_of
from store.online.read import PRESENT
from store.types import Float64, Int64
from tests.backends import OnlineUnderTest
from tests.conftest import T0
from tests.store.online.test_push import FRESH, open_push_store, rows

H = timedelta(hours=1)
DOUBLED = ["trips_doubled:trips_doubled"]


def test_apply_creates_the_table_and_reads_before_any_write_say_what_to_do(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_push_store(make_repo, backend)
    assert "trips_doubled" in fs.online_store.tables(fs.project)
    assert "rate_plus_bonus" not in fs.online_store.tables(fs.project)  # computed when read
    with pytest.raises(OnlineStoreError, match="materialize or push rows to driver_stats_fresh"):
        fs.get_online_features(DOUBLED, [{"driver_id": 1001}])


def test_a_push_computes_and_stores_the_outputs(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_push_store(make_repo, backend)
    fs.push("stats_push", rows([1001, 1002], T0 + 5 * H, [50, 51]))
    response = fs.get_online_features(DOUBLED, [{"driver_id": 1002}, {"driver_id": 1001}])
    assert response.to_dict()["trips_doubled"] == [102.0, 100.0]
    assert response.statuses["trips_doubled"] == [PRESENT, PRESENT]
    # stored values carry the event time of the rows they were computed from
    assert response.event_timestamps["trips_doubled"] == [T0 + 5 * H] * 2
    # a newer push recomputes; an entity never pushed is not found
    fs.push("stats_push", rows([1001], T0 + 6 * H, [60]))
    assert fs.get_online_features(DOUBLED, [{"driver_id": 1001}, {"driver_id": 9}]).to_dict()[
        "trips_doubled"
    ] == [120.0, None]


def test_materialization_computes_and_stores_the_outputs(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_push_store(make_repo, backend)
    fs.materialize(T0, T0 + 10 * H, feature_views=[FRESH])
    # the newest hour is 3: avg_daily_trips = 10 * driver + 3
    response = fs.get_online_features(DOUBLED, [{"driver_id": 1001}, {"driver_id": 1003}])
    assert response.to_dict()["trips_doubled"] == [6.0, 46.0]


def test_stored_values_are_served_not_recomputed(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_push_store(make_repo, backend)
    fs.push("stats_push", rows([1001], T0 + 5 * H, [50]))
    # Overwrite the stored output with a value the function never returns: it is served.
    odfv = fs.get_on_demand_feature_view("trips_doubled")
    layout = stored_layout_of(fs.project, odfv, {FRESH: fs.get_feature_view(FRESH)})
    later = int((T0 + 6 * H).timestamp() * 1_000_000)
    sentinel = pa.RecordBatch.from_arrays(
        [
            pa.array([1001], pa.int64()),
            pa.array([-1.0]),
            pa.array([later], pa.int64()),
            pa.nulls(1, pa.int64()),
        ],
        names=layout.columns,
    )
    fs.online_store.write(layout, [sentinel])
    assert fs.get_online_features(DOUBLED, [{"driver_id": 1001}]).to_dict()["trips_doubled"] == [
        -1.0
    ]
    # beside features computed at read time and stored features, in one request
    both = fs.get_online_features(
        [*DOUBLED, "rate_plus_bonus:rate_plus_bonus", f"{FRESH}:avg_daily_trips"],
        [{"driver_id": 1001, "bonus": 1.0}],
    ).to_dict()
    assert both["trips_doubled"] == [-1.0]
    assert both["avg_daily_trips"] == [50]
    assert both["rate_plus_bonus"] == [pytest.approx(1.9)]


def test_training_sets_still_compute_them_after_the_join(
    make_repo: Callable[..., Path], backend: OnlineUnderTest
) -> None:
    fs = open_push_store(make_repo, backend)
    entity_df = pd.DataFrame({"driver_id": [1001, 1002], "event_timestamp": [T0 + H] * 2})
    training = fs.get_historical_features(entity_df, DOUBLED).to_df()
    assert training["trips_doubled"].tolist() == [2.0, 22.0]


def test_stored_outputs_cannot_read_requests_or_mix_keys() -> None:
    driver = Entity(name="driver", join_keys=["driver_id"])
    rider = Entity(name="rider", join_keys=["rider_id"])

    def view(name: str, entity: Entity) -> FeatureView:
        return FeatureView(
            name=name,
            entities=[entity],
            schema=[Field(name=f"{name}_x", dtype=Int64)],
            source=FileSource(path=f"{name}.parquet", timestamp_field="ts"),
        )

    def y(inputs: pd.DataFrame) -> pd.DataFrame:
        return inputs

    asked = RequestSource(name="asked", schema=[Field(name="a", dtype=Float64)])
    with pytest.raises(DefinitionError, match="cannot read request source 'asked'"):
        on_demand_feature_view(
            sources=[view("d", driver), asked],
            schema=[Field(name="y", dtype=Float64)],
            write_to_online_store=True,
        )(y)
    quiet = dataclasses.replace(view("q", driver), online=False)
    with pytest.raises(DefinitionError, match="'q' is not online"):
        on_demand_feature_view(
            sources=[quiet], schema=[Field(name="y", dtype=Float64)], write_to_online_store=True
        )(y)
    with pytest.raises(DefinitionError, match="keyed differently"):
        on_demand_feature_view(
            sources=[view("d", driver), view("r", rider)],
            schema=[Field(name="y", dtype=Float64)],
            write_to_online_store=True,
        )(y)


def test_transform_on_write_false_leaves_stored_outputs_alone(
    make_repo: Callable[..., Path],
) -> None:
    fs = open_push_store(make_repo)
    fs.push("stats_push", rows([1001], T0 + 5 * H, [50]))
    fs.push("stats_push", rows([1001], T0 + 6 * H, [60]), transform_on_write=False)
    assert fs.get_online_features(DOUBLED, [{"driver_id": 1001}]).to_dict()["trips_doubled"] == [
        100.0
    ]
