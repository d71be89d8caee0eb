"""On-demand feature views and request sources: the same function in training sets,
online reads, predictions and over HTTP; outputs checked against the schema; lineage.

The reference for every computed value is the function applied by hand (plain Python
arithmetic) to the stored features the same request returns, so a transformation that
ran on the wrong rows, the wrong columns or not at all fails the comparison.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from store import (
    DefinitionError,
    Entity,
    FeatureStore,
    FeatureView,
    Field,
    FileSource,
    OnDemandFeatureView,
    RepoValidationError,
    RequestError,
    RequestSource,
    TransformationError,
    on_demand_feature_view,
)
from store.online.read import PRESENT
from store.types import Array, Float64, Int64, Json, Map, String, Struct
from tests.conftest import T0, serve_stale_values

H = timedelta(hours=1)


@pytest.fixture
def fs(make_repo: Callable[..., Path]) -> FeatureStore:
    repo = make_repo("on_demand")
    serve_stale_values(repo)
    store = FeatureStore(repo_path=repo)
    store.apply()
    return store


def entity_df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": [1001, 1002, 1003, 1001, 9999],
            "event_timestamp": [T0 + 2 * H, T0 + H, T0 + 3 * H, T0 + 30 * H, T0 + H],
            "val_to_add": [1, 2, 3, 4, 5],
            "val_to_add_2": [10, 20, 30, 40, 50],
            "label": [1, 0, 1, 0, 1],
        }
    )


def close(a: object, b: object) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return (a is None or (isinstance(a, float) and math.isnan(a))) and (
            b is None or (isinstance(b, float) and math.isnan(b))
        )
    return math.isclose(float(a), float(b), rel_tol=1e-6)  # type: ignore[arg-type]


def test_historical_features_run_the_function_after_the_join(fs: FeatureStore) -> None:
    refs = [
        "driver_hourly_stats:conv_rate",
        "transformed_conv_rate:conv_rate_plus_val1",
        "transformed_conv_rate:conv_rate_plus_val2",
        "trips_python:trips_scaled",
        "trips_python:trips_label",
        "acc_singleton:acc_times_val",
    ]
    out = fs.get_historical_features(entity_df(), refs).to_df()
    stored = fs.get_historical_features(
        entity_df(),
        [
            "driver_hourly_stats:conv_rate",
            "driver_hourly_stats:acc_rate",
            "driver_hourly_stats:avg_daily_trips",
        ],
    ).to_df()
    assert list(out.columns) == [
        "driver_id",
        "event_timestamp",
        "val_to_add",
        "val_to_add_2",
        "label",
        "conv_rate",
        "conv_rate_plus_val1",
        "conv_rate_plus_val2",
        "trips_scaled",
        "trips_label",
        "acc_times_val",
    ]
    for i in range(len(out)):
        conv, acc, trips = (stored.loc[i, c] for c in ("conv_rate", "acc_rate", "avg_daily_trips"))
        missing = pd.isna(conv)
        v1, v2 = entity_df().loc[i, "val_to_add"], entity_df().loc[i, "val_to_add_2"]
        assert close(out.loc[i, "conv_rate_plus_val1"], None if missing else conv + v1)
        assert close(out.loc[i, "conv_rate_plus_val2"], None if missing else conv + v2)
        assert close(out.loc[i, "trips_scaled"], None if missing else trips * 10.0)
        expected_label = None if missing else f"{trips}+{v1}"
        assert (None if pd.isna(out.loc[i, "trips_label"]) else out.loc[i, "trips_label"]) == (
            expected_label
        )
        assert close(out.loc[i, "acc_times_val"], None if missing else acc * v1)
    # rows 0..3 find features; the unknown driver 9999 and the row past the ttl find none
    assert out["conv_rate_plus_val1"].notna().tolist() == [True, True, True, False, False]


def test_full_feature_names_and_a_service(fs: FeatureStore) -> None:
    service = fs.get_feature_service("driver_activity")
    out = fs.get_historical_features(entity_df(), service, full_feature_names=True).to_df()
    assert "transformed_conv_rate__conv_rate_plus_val1" in out.columns
    assert "trips_python__trips_label" in out.columns
    assert "driver_hourly_stats__avg_daily_trips" not in out.columns  # read, not requested
    assert out["transformed_conv_rate__conv_rate_plus_val1"][0] == pytest.approx(
        out["driver_hourly_stats__conv_rate"][0] + 1
    )


def test_a_missing_request_field_is_a_clear_error(fs: FeatureStore) -> None:
    with pytest.raises(RequestError, match=r"transformed_conv_rate.*'val_to_add_2'"):
        fs.get_historical_features(
            entity_df().drop(columns=["val_to_add_2"]),
            ["transformed_conv_rate:conv_rate_plus_val2"],
        )
    fs.materialize(T0, T0 + 4 * H)
    with pytest.raises(RequestError, match=r"'val_to_add'.*entity rows"):
        fs.get_online_features(["trips_python:trips_scaled"], [{"driver_id": 1001}])


def test_online_features_run_the_same_function(fs: FeatureStore) -> None:
    fs.materialize(T0, T0 + 4 * H)
    rows = [
        {"driver_id": 1001, "val_to_add": 1, "val_to_add_2": 10},
        {"driver_id": 1003, "val_to_add": 2, "val_to_add_2": 20},
        {"driver_id": 4242, "val_to_add": 3, "val_to_add_2": 30},
    ]
    response = fs.get_online_features(
        [
            "transformed_conv_rate:conv_rate_plus_val1",
            "driver_hourly_stats:conv_rate",
            "trips_python:trips_label",
            "acc_singleton:acc_times_val",
        ],
        rows,
    )
    values = response.to_dict()
    assert list(response.features) == [
        "conv_rate_plus_val1",
        "conv_rate",
        "trips_label",
        "acc_times_val",
    ]
    stored = fs.get_online_features(
        [
            "driver_hourly_stats:conv_rate",
            "driver_hourly_stats:avg_daily_trips",
            "driver_hourly_stats:acc_rate",
        ],
        [{"driver_id": r["driver_id"]} for r in rows],
    ).to_dict()
    for i, row in enumerate(rows):
        conv = stored["conv_rate"][i]
        assert close(
            values["conv_rate_plus_val1"][i], None if conv is None else conv + row["val_to_add"]
        )
        trips = stored["avg_daily_trips"][i]
        assert values["trips_label"][i] == (
            None if trips is None else f"{trips}+{row['val_to_add']}"
        )
        acc = stored["acc_rate"][i]
        assert close(values["acc_times_val"][i], None if acc is None else acc * row["val_to_add"])
    assert response.statuses["conv_rate_plus_val1"] == [PRESENT, PRESENT, "NOT_FOUND"]


def test_online_and_offline_agree(fs: FeatureStore) -> None:
    """Training-serving consistency: as of the newest hour, both paths give the same values."""
    fs.materialize(T0, T0 + 3 * H)
    refs = ["transformed_conv_rate:conv_rate_plus_val1", "trips_python:trips_label"]
    frame = pd.DataFrame(
        {
            "driver_id": [1001, 1002],
            "event_timestamp": [T0 + 3 * H] * 2,
            "val_to_add": [7, 8],
            "val_to_add_2": [0, 0],
        }
    )
    offline = fs.get_historical_features(frame, refs).to_df()
    online = fs.get_online_features(
        refs, frame[["driver_id", "val_to_add", "val_to_add_2"]].to_dict(orient="records")
    ).to_dict()
    assert offline["trips_label"].tolist() == online["trips_label"]
    assert offline["conv_rate_plus_val1"].tolist() == pytest.approx(online["conv_rate_plus_val1"])


def test_registry_keeps_the_function_as_text_and_versions_it(
    fs: FeatureStore, make_repo: Callable[..., Path]
) -> None:
    odfv = fs.get_on_demand_feature_view("transformed_conv_rate")
    assert isinstance(odfv, OnDemandFeatureView)
    assert odfv.function is not None
    assert odfv.function.source.startswith("import pandas as pd")
    assert "@on_demand_feature_view" not in odfv.function.source
    trips = fs.get_on_demand_feature_view("trips_python").function
    assert trips is not None
    assert "SCALE = 10.0" in trips.source
    assert "def scaled" in trips.source
    assert [v.name for v in fs.list_feature_views()] == ["driver_hourly_stats"]
    before = fs.registry.catalog.feature_view_versions("on_demand", "transformed_conv_rate")
    path = fs.repo_path / "definitions.py"
    path.write_text(
        path.read_text().replace(
            'inputs["conv_rate"] + inputs["val_to_add"]',
            'inputs["conv_rate"] + 2 * inputs["val_to_add"]',
        )
    )
    plan = fs.apply()
    assert [(o.name, o.action) for o in plan.objects] == [("transformed_conv_rate", "update")]
    after = fs.registry.catalog.feature_view_versions("on_demand", "transformed_conv_rate")
    assert len(after) == len(before) + 1
    out = fs.get_historical_features(
        entity_df()[:1],
        ["transformed_conv_rate:conv_rate_plus_val1", "driver_hourly_stats:conv_rate"],
    ).to_df()
    assert out["conv_rate_plus_val1"][0] == pytest.approx(out["conv_rate"][0] + 2)


def test_a_training_set_records_the_on_demand_view_version(fs: FeatureStore) -> None:
    saved = fs.get_historical_features(
        entity_df(), ["transformed_conv_rate:conv_rate_plus_val1", "driver_hourly_stats:conv_rate"]
    ).save("with_odfv")
    recorded = {(f.feature_view, f.feature, f.version) for f in saved.record.features}
    assert ("transformed_conv_rate", "conv_rate_plus_val1", 1) in recorded
    back = saved.to_df()
    assert back["conv_rate_plus_val1"][0] == pytest.approx(back["conv_rate"][0] + 1)


# --- bad input ------------------------------------------------------------------------------

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(
    name="stats",
    entities=[driver],
    schema=[Field(name="rate", dtype=Float64)],
    source=FileSource(path="data/driver_stats.parquet", timestamp_field="event_timestamp"),
)
vals = RequestSource(name="vals", schema=[Field(name="add", dtype=Int64)])


def run(view: OnDemandFeatureView, **columns: list[object]) -> list[object]:
    from store.transformation import run_on_demand

    rows = len(next(iter(columns.values())))
    return [a.to_pylist() for a in run_on_demand(view, columns, rows)]


def test_outputs_are_checked_against_the_schema() -> None:
    @on_demand_feature_view(sources=[stats, vals], schema=[Field(name="out", dtype=Float64)])
    def lacks(inputs: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"other": inputs["rate"]})

    with pytest.raises(TransformationError, match=r"'lacks'.*no column 'out'.*returned other"):
        run(lacks, rate=[1.0], add=[1])

    @on_demand_feature_view(sources=[stats], schema=[Field(name="out", dtype=Int64)])
    def wrong_type(inputs: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"out": inputs["rate"] * 2})

    with pytest.raises(TransformationError, match=r"'wrong_type'.*'out' is double.*Int64"):
        run(wrong_type, rate=[1.5])

    @on_demand_feature_view(
        sources=[stats], schema=[Field(name="out", dtype=String)], mode="python"
    )
    def short(inputs: dict) -> dict:
        return {"out": ["a"]}

    with pytest.raises(TransformationError, match=r"'short'.*1 values for 2 rows"):
        run(short, rate=[1.0, 2.0])

    @on_demand_feature_view(sources=[stats], schema=[Field(name="out", dtype=Float64)])
    def raises(inputs: pd.DataFrame) -> pd.DataFrame:
        raise KeyError("nope")

    with pytest.raises(TransformationError, match=r"'raises'.*raised KeyError"):
        run(raises, rate=[1.0])

    # integers fill a float field
    @on_demand_feature_view(
        sources=[stats], schema=[Field(name="out", dtype=Float64)], mode="python"
    )
    def ints(inputs: dict) -> dict:
        return {"out": [1, None]}

    assert run(ints, rate=[1.0, 2.0]) == [[1.0, None]]


NESTED_SCHEMA = [
    Field(name="tags", dtype=Map(Float64)),
    Field(name="who", dtype=Struct({"name": String, "n": Int64})),
    Field(name="doc", dtype=Json),
    Field(name="many", dtype=Array(Map)),
]
NESTED_OUTPUTS = [
    {"tags": {"a": 1.0}, "who": {"name": "Zoë", "n": 1}, "doc": "{}", "many": [{"k": "v"}]},
    {"tags": {}, "who": None, "doc": None, "many": [{}, None]},
]


def test_outputs_of_maps_structs_and_json_keep_their_declared_types() -> None:
    """Dicts returned for a Map are built as a map (not inferred as one struct of every
    key), in both modes; a value that does not fit is a clear error."""
    expected = [
        [[("a", 1.0)], []],
        [{"name": "Zoë", "n": 1}, None],
        ["{}", None],
        [[[("k", "v")]], [[], None]],
    ]

    @on_demand_feature_view(sources=[stats], schema=NESTED_SCHEMA)
    def in_pandas(inputs: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(NESTED_OUTPUTS)

    @on_demand_feature_view(sources=[stats], schema=NESTED_SCHEMA, mode="python")
    def in_python(inputs: dict) -> dict:
        return {name: [r[name] for r in NESTED_OUTPUTS] for name in NESTED_OUTPUTS[0]}

    assert run(in_pandas, rate=[1.0, 2.0]) == expected
    assert run(in_python, rate=[1.0, 2.0]) == expected

    @on_demand_feature_view(sources=[stats], schema=NESTED_SCHEMA[:1], mode="python")
    def not_numbers(inputs: dict) -> dict:
        return {"tags": [{"a": "x"}]}

    with pytest.raises(TransformationError, match=r"'tags' cannot be read as Map\(Float64\)"):
        run(not_numbers, rate=[1.0])


def test_declarations_are_checked() -> None:
    with pytest.raises(DefinitionError, match="mode='spark'"):
        OnDemandFeatureView(
            name="x", sources=[stats], schema=[Field(name="o", dtype=Int64)], udf=run, mode="spark"
        )
    with pytest.raises(DefinitionError, match="list its sources"):
        OnDemandFeatureView(name="x", schema=[Field(name="o", dtype=Int64)], udf=run)
    with pytest.raises(DefinitionError, match="lambda"):
        OnDemandFeatureView(
            name="x", sources=[stats], schema=[Field(name="o", dtype=Int64)], udf=lambda df: df
        )
    frame = pd.DataFrame({"a": [1]})

    def closure(inputs: pd.DataFrame) -> pd.DataFrame:
        return frame

    with pytest.raises(DefinitionError, match=r"'closure' is defined inside.*\(frame\)"):
        OnDemandFeatureView(
            name="x", sources=[stats], schema=[Field(name="o", dtype=Int64)], udf=closure
        )
    with pytest.raises(DefinitionError, match=r"global 'FRAME' \(DataFrame\)"):
        OnDemandFeatureView(
            name="x", sources=[stats], schema=[Field(name="o", dtype=Int64)], udf=uses_a_frame
        )


FRAME = pd.DataFrame({"a": [1]})


def uses_a_frame(inputs: pd.DataFrame) -> pd.DataFrame:
    return FRAME


def test_an_on_demand_view_over_an_undeclared_view_is_refused(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo("on_demand")
    path = repo / "definitions.py"
    text = path.read_text()
    text = text.replace("driver_hourly_stats = FeatureView(", "driver_hourly_stats = FeatureView(")
    text += (
        "\nother = FeatureView(name='other', entities=[driver], source=driver_stats_source,\n"
        "                    schema=[Field(name='conv_rate', dtype=Float32)])\n"
        "del other\n"
        "@on_demand_feature_view(sources=[FeatureView(name='ghost', entities=[driver],\n"
        "    source=driver_stats_source, schema=[Field(name='conv_rate', dtype=Float32)])],\n"
        "    schema=[Field(name='x', dtype=Float64)])\n"
        "def over_ghost(inputs):\n"
        "    return inputs[['conv_rate']].rename(columns={'conv_rate': 'x'})\n"
    )
    path.write_text(text)
    with pytest.raises(
        RepoValidationError,
        match=r"definitions.py: feature view 'over_ghost' reads feature view 'ghost'",
    ):
        FeatureStore(repo_path=repo).apply()


def test_inputs_are_found_in_the_registered_views_and_stale_ones_are_refused() -> None:
    from store.transformation import source_features

    driver = Entity(name="driver", join_keys=["driver_id"])
    source = FileSource(path="data/d.parquet", timestamp_field="event_timestamp")
    declared = FeatureView(
        name="stats",
        entities=[driver],
        source=source,
        schema=[Field(name="a", dtype=Float64), Field(name="b", dtype=Float64)],
    )

    @on_demand_feature_view(sources=[declared[["b"]]], schema=[Field(name="c", dtype=Float64)])
    def doubled(inputs: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"c": inputs["b"] * 2})

    # The registered view (here with b declared as Int64) is what is read, not the declared one.
    registered = FeatureView(
        name="stats",
        entities=[driver],
        source=source,
        schema=[Field(name="b", dtype=Int64), Field(name="a", dtype=Float64)],
    )
    found = list(source_features(doubled, {"stats": registered}.__getitem__))
    assert [(v.name, f.name, f.dtype) for v, f in found] == [("stats", "b", Int64)]
    assert found[0][0] is registered

    narrowed = FeatureView(
        name="stats", entities=[driver], source=source, schema=[Field(name="a", dtype=Float64)]
    )
    with pytest.raises(RequestError, match=r"'doubled' reads stats:b, which the registered"):
        list(source_features(doubled, {"stats": narrowed}.__getitem__))
    with pytest.raises(RequestError, match=r"'doubled' reads 'stats', which is not a stored"):
        list(source_features(doubled, {"stats": doubled}.__getitem__))


# --- predictions and HTTP ---------------------------------------------------------------------


def test_predict_and_http_compute_on_demand_features_from_request_values(
    fs: FeatureStore,
) -> None:
    from sklearn.linear_model import LinearRegression

    from registry import Target
    from store.serving.server import create_app

    frame = entity_df()[:3]
    saved = fs.get_historical_features(
        frame, ["transformed_conv_rate:conv_rate_plus_val1", "trips_python:trips_scaled"]
    ).save("odfv_model")
    data = saved.to_df()
    # y = x1 + 0.5 x2, fitted exactly: predictions reveal the features the model was given
    x = data[["conv_rate_plus_val1", "trips_scaled"]]
    model = LinearRegression().fit(x, x["conv_rate_plus_val1"] + 0.5 * x["trips_scaled"])
    fs.model_registry.register_model("odfv", model, training_set=saved.record)
    fs.model_registry.deployments.deploy("odfv", "production", [Target(1)])
    fs.materialize(T0, T0 + 4 * H)
    stored = fs.get_online_features(
        ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"],
        [{"driver_id": 1002}],
    ).to_dict()
    expected = stored["conv_rate"][0] + 5 + 0.5 * stored["avg_daily_trips"][0] * 10
    (result,) = fs.predict("odfv", [{"driver_id": 1002, "val_to_add": 5, "val_to_add_2": 0}])
    assert result["prediction"] == pytest.approx(expected)
    with pytest.raises(RequestError, match="val_to_add"):
        fs.predict("odfv", [{"driver_id": 1002}])

    client = AsgiClient(create_app(fs))
    body = {
        "features": ["transformed_conv_rate:conv_rate_plus_val1", "trips_python:trips_label"],
        "entities": {"driver_id": [1002], "val_to_add": [5], "val_to_add_2": [0]},
    }
    answer = client.post("/get-online-features", json=body).json()
    names = answer["metadata"]["feature_names"]
    values = {n: r["values"] for n, r in zip(names, answer["results"], strict=True)}
    assert values["conv_rate_plus_val1"] == [pytest.approx(stored["conv_rate"][0] + 5)]
    assert values["trips_label"] == [f"{stored['avg_daily_trips'][0]}+5"]
    missing = client.post("/get-online-features", json={**body, "entities": {"driver_id": [1002]}})
    assert missing.status_code == 400
    assert "val_to_add" in missing.json()["error"]
    predicted = client.post(
        "/predict/odfv",
        json={"entity_rows": [{"driver_id": 1002, "val_to_add": 5, "val_to_add_2": 0}]},
    ).json()
    assert predicted["predictions"][0]["prediction"] == pytest.approx(expected)


class AsgiClient:
    """Calls an ASGI app in process with httpx (its ASGI transport is async only)."""

    def __init__(self, app: object) -> None:
        self.app = app

    def post(self, path: str, json: object) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://silage") as c:
                return await c.post(path, json=json)

        return asyncio.run(call())


def test_silage_list_shows_on_demand_views_and_request_sources(fs: FeatureStore) -> None:
    from store.repo.describe import list_rows

    views = list_rows(fs.catalog_objects("feature_view"), "feature_view")
    assert ("transformed_conv_rate", "1", "driver", "2", "on demand", "computed") in views
    sources = list_rows(fs.catalog_objects("data_source"), "data_source")
    assert ("vals_to_add", "(request: val_to_add,val_to_add_2)", "-", "-") in sources


def test_an_arrow_entity_table_supplies_request_fields_too(fs: FeatureStore) -> None:
    import pyarrow as pa

    refs = ["transformed_conv_rate:conv_rate_plus_val1", "driver_hourly_stats:conv_rate"]
    from_frame = fs.get_historical_features(entity_df(), refs).to_df()
    from_arrow = fs.get_historical_features(pa.Table.from_pandas(entity_df()), refs).to_arrow()
    assert from_arrow.column("conv_rate_plus_val1").to_pylist() == pytest.approx(
        from_frame["conv_rate_plus_val1"]
        .astype(object)
        .where(from_frame["conv_rate_plus_val1"].notna(), None)
        .tolist(),
        nan_ok=True,
    )
