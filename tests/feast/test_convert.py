"""Feast objects converted to Silage definitions: each converts to what the same declaration
in Silage's own classes gives (compared spec by spec), what has no counterpart is refused by
name and file, and ``feast`` is imported only by repositories that import it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from datetime import timedelta
from pathlib import Path

import pytest

from store import (
    ConflictPolicy,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    LabelView,
    RepoValidationError,
    RequestSource,
    SparkSource,
    on_demand_feature_view,
)
from store.feast.convert import VALUE_TYPES
from store.repo.config import load_config
from store.repo.loader import RepoContents, load_repo
from store.types import (
    Array,
    Bool,
    Bytes,
    DType,
    Float32,
    Float64,
    Int64,
    Json,
    Map,
    String,
    Struct,
    UnixTimestamp,
)
from tests.conftest import FIXTURES

pytestmark = [
    pytest.mark.feast,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

YAML = "project: conv\nregistry: data/registry.db\nprovider: local\n"

HEADER = """\
from datetime import timedelta

import pandas as pd

from feast import Entity, FeatureService, FeatureView, Field, FileSource, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Array, Float32, Float64, Int64, String
from feast.value_type import ValueType

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64,
                description="a driver", tags={"team": "x"}, owner="a@b.c")
stats_source = FileSource(name="stats_source", path="data/stats.parquet",
                          timestamp_field="ts", created_timestamp_column="created",
                          field_mapping={"rate": "conv_rate"})
stats = FeatureView(
    name="stats", entities=[driver], ttl=timedelta(hours=2), source=stats_source,
    schema=[Field(name="conv_rate", dtype=Float32), Field(name="trips", dtype=Int64),
            Field(name="cities", dtype=Array(String), description="visited")],
    tags={"team": "x"},
)
vals = RequestSource(name="vals", schema=[Field(name="add", dtype=Int64)])
"""


def repo_with(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "feature_store.yaml").write_text(YAML, encoding="utf-8")
    (repo / "definitions.py").write_text(header + textwrap.dedent(body), encoding="utf-8")
    return repo


def load(repo: Path) -> RepoContents:
    with warnings.catch_warnings():
        # What Feast's constructors warn while the files run (deprecations, "alpha").
        warnings.simplefilter("ignore")
        return load_repo(repo)


def refusal(repo: Path) -> str:
    with pytest.raises(RepoValidationError) as caught:
        load(repo)
    return str(caught.value)


def silage_stats() -> tuple[Entity, FeatureView]:
    driver = Entity(
        name="driver",
        join_keys=["driver_id"],
        description="a driver",
        tags={"team": "x"},
        owner="a@b.c",
    )
    source = FileSource(
        name="stats_source",
        path="data/stats.parquet",
        timestamp_field="ts",
        created_timestamp_column="created",
        field_mapping={"rate": "conv_rate"},
    )
    view = FeatureView(
        name="stats",
        entities=[driver],
        ttl=timedelta(hours=2),
        source=source,
        schema=[
            Field(name="driver_id", dtype=Int64),  # from the entity's value_type
            Field(name="conv_rate", dtype=Float32),
            Field(name="trips", dtype=Int64),
            Field(name="cities", dtype=Array(String), description="visited"),
        ],
        tags={"team": "x"},
    )
    return driver, view


def test_entity_source_and_view_convert_to_their_silage_twins(tmp_path: Path) -> None:
    contents = load(repo_with(tmp_path, ""))
    driver, view = silage_stats()
    assert [e.to_spec() for e in contents.entities] == [driver.to_spec()]
    assert [s.to_spec() for s in contents.data_sources] == [view.source.to_spec()]
    assert [v.to_spec() for v in contents.feature_views] == [view.to_spec()]
    assert [r.to_spec() for r in contents.request_sources] == [
        RequestSource(name="vals", schema=[Field(name="add", dtype=Int64)]).to_spec()
    ]
    assert contents.where("feature_view", "stats") == "definitions.py: feature view 'stats'"


def test_spark_sources_convert_to_their_silage_twins(tmp_path: Path) -> None:
    """Feast's SparkSource, by table, query or path: the same location and columns."""
    body = """
    from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
    by_table = SparkSource(name="by_table", table="db.stats", timestamp_field="ts",
                           created_timestamp_column="created", field_mapping={"r": "rate"},
                           description="d", tags={"team": "x"}, owner="a@b.c")
    by_query = SparkSource(name="by_query", query="SELECT * FROM db.stats",
                           timestamp_field="ts")
    by_path = SparkSource(name="by_path", path="data/stats", file_format="json",
                          timestamp_field="ts")
    """
    contents = load(repo_with(tmp_path, body))
    expected = [
        SparkSource(
            name="by_table",
            table="db.stats",
            timestamp_field="ts",
            created_timestamp_column="created",
            field_mapping={"r": "rate"},
            description="d",
            tags={"team": "x"},
            owner="a@b.c",
        ),
        SparkSource(name="by_query", query="SELECT * FROM db.stats", timestamp_field="ts"),
        SparkSource(name="by_path", path="data/stats", file_format="json", timestamp_field="ts"),
    ]
    converted = {s.name: s for s in contents.data_sources if isinstance(s, SparkSource)}
    assert [converted[s.name].to_spec() for s in expected] == [s.to_spec() for s in expected]


def test_zero_ttl_is_no_limit_a_declared_key_keeps_its_type_timestamps_go_to_the_source(
    tmp_path: Path,
) -> None:
    body = """
    from feast.types import UnixTimestamp
    forever = FeatureView(name="forever", entities=[driver], ttl=timedelta(0),
                          source=stats_source,
                          schema=[Field(name="driver_id", dtype=Int64),
                                  Field(name="ts", dtype=UnixTimestamp),
                                  Field(name="trips", dtype=Int64)])
    """
    view = {v.name: v for v in load(repo_with(tmp_path, body)).feature_views}["forever"]
    assert view.ttl is None
    assert [(f.name, f.dtype) for f in view.schema] == [("driver_id", Int64), ("trips", Int64)]


def test_label_view_converts_with_its_policy(tmp_path: Path) -> None:
    body = """
    from feast import ConflictPolicy, Entity, LabelView
    anyone = Entity(name="anyone", join_keys=["person_id"])  # no value type: Feast says String
    quality = LabelView(
        name="quality", entities=[driver, anyone], source=stats_source,
        schema=[Field(name="trips", dtype=Int64), Field(name="labeler", dtype=String)],
        conflict_policy=ConflictPolicy.MAJORITY_VOTE, reference_feature_view="stats",
        ttl=timedelta(0), description="reviews",
    )
    """
    views = {v.name: v for v in load(repo_with(tmp_path, body)).feature_views}
    driver, view = silage_stats()
    expected = LabelView(
        name="quality",
        entities=[driver, Entity(name="anyone", join_keys=["person_id"])],
        source=view.source,
        schema=[
            Field(name="driver_id", dtype=Int64),
            Field(name="trips", dtype=Int64),
            Field(name="labeler", dtype=String),
        ],
        conflict_policy=ConflictPolicy.MAJORITY_VOTE,
        reference_feature_view="stats",
        description="reviews",
    )
    assert views["quality"].to_spec() == expected.to_spec()


def test_on_demand_view_and_service_convert(tmp_path: Path) -> None:
    body = """
    SCALE = 2.0

    @on_demand_feature_view(sources=[stats[["conv_rate"]], vals],
                            schema=[Field(name="plus", dtype=Float64)])
    def plus(inputs: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame()
        out["plus"] = inputs["conv_rate"] * SCALE + inputs["add"]
        return out

    service = FeatureService(name="svc", features=[stats[["trips"]], plus],
                             description="for the ranker")
    by_reference = FeatureService(name="by_ref", features=["stats:trips", "plus"])
    """
    contents = load(repo_with(tmp_path, body))
    _, view = silage_stats()
    vals = RequestSource(name="vals", schema=[Field(name="add", dtype=Int64)])
    [odfv] = contents.on_demand_feature_views
    assert odfv.name == "plus"
    assert [(s.view.name, [f.name for f in s.features]) for s in odfv.feature_sources] == [
        ("stats", ["conv_rate"])
    ]
    assert odfv.feature_sources[0].view.to_spec() == view.to_spec()
    assert odfv.request_sources == [vals]
    assert odfv.schema == (Field(name="plus", dtype=Float64),)
    assert odfv.function is not None
    assert "SCALE = 2.0" in odfv.function.source  # recorded as Silage records its own
    assert "import pandas as pd" in odfv.function.source
    import pandas as pd

    out = odfv.function.compile()(pd.DataFrame({"conv_rate": [0.5], "add": [1]}))
    assert list(out["plus"]) == [2.0]

    @on_demand_feature_view(sources=[view[["conv_rate"]], vals], schema=odfv.schema)
    def twin(inputs: pd.DataFrame) -> pd.DataFrame:
        return inputs

    assert {k: v for k, v in odfv.to_spec().items() if k not in ("function", "name")} == {
        k: v for k, v in twin.to_spec().items() if k not in ("function", "name")
    }
    services = {s.name: s for s in contents.feature_services}
    expected = FeatureService(
        name="svc", features=[view[["trips"]], odfv], description="for the ranker"
    )
    assert services["svc"].to_spec() == expected.to_spec()
    assert services["by_ref"].feature_refs == ["stats:trips", "plus:plus"]


def test_maps_json_structs_and_their_arrays_convert(tmp_path: Path) -> None:
    """The types of ``feast init``'s template (``Map``, ``Json``, ``Struct``) and the arrays
    Feast allows of them, by the new ``dtype`` and by the older ``ValueType``."""
    repo = repo_with(
        tmp_path,
        """
        from feast.types import Bool, Bytes, Json, Map, Struct, UnixTimestamp
        profile = Struct({"name": String, "age": String})
        rich = FeatureView(
            name="rich", entities=[driver], source=stats_source,
            schema=[
                Field(name="driver_metadata", dtype=Map),
                Field(name="driver_config", dtype=Json),
                Field(name="driver_profile", dtype=profile),
                Field(name="maps", dtype=Array(Map)),
                Field(name="docs", dtype=Array(Json)),
                Field(name="profiles", dtype=Array(profile)),
                Field(name="grid", dtype=Array(Array(Int64))),
                Field(name="nested", dtype=Struct({"seen": Array(UnixTimestamp),
                                                  "inner": Struct({"ok": Bool, "raw": Bytes})})),
            ],
        )
        """,
    )
    view = load(repo).feature_views[1]
    assert view.name == "rich"
    profile = Struct({"name": String, "age": String})
    assert {f.name: f.dtype for f in view.features} == {
        "driver_metadata": Map,
        "driver_config": Json,
        "driver_profile": profile,
        "maps": Array(Map),
        "docs": Array(Json),
        "profiles": Array(profile),
        "grid": Array(Array(Int64)),
        "nested": Struct(
            {
                "seen": Array(UnixTimestamp),
                "inner": Struct({"ok": Bool, "raw": Bytes}),
            }
        ),
    }
    assert [n for n, _ in view.features[2].dtype.fields] == ["name", "age"]  # type: ignore[attr-defined]


def test_value_types_of_maps_json_and_lists_have_silage_twins() -> None:
    from feast.value_type import ValueType

    for name, dtype in VALUE_TYPES.items():
        assert ValueType[name].name == name
        assert isinstance(dtype, DType)
    assert VALUE_TYPES["MAP_LIST"] == Array(Map)
    assert VALUE_TYPES["JSON"] == Json
    assert VALUE_TYPES["DOUBLE_LIST"] == Array(Float64)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            """
            from feast import KafkaSource
            from feast.data_format import JsonFormat
            events = KafkaSource(name="events", timestamp_field="ts",
                                 kafka_bootstrap_servers="localhost:9092", topic="t",
                                 message_format=JsonFormat(schema_json="x int"),
                                 batch_source=stats_source)
            """,
            "definitions.py: Feast KafkaSource 'events' has no Silage counterpart yet; "
            "Silage converts these Feast objects: Entity, FeatureService, FeatureView, "
            "FileSource, LabelView, OnDemandFeatureView, Project, PushSource, RequestSource, "
            "SparkSource",
            id="stream source",
        ),
        pytest.param(
            """
            from feast.data_format import DeltaFormat
            delta_source = FileSource(path="data/stats", timestamp_field="ts",
                                      file_format=DeltaFormat())
            """,
            "definitions.py: Feast FileSource 'data/stats' reads Delta files; Silage's "
            "FileSource reads Parquet (a file, a folder or a glob): convert the data to Parquet",
            id="Delta files",
        ),
        pytest.param(
            """
            from feast import BigQuerySource
            warehouse = FeatureView(
                name="warehouse", entities=[driver],
                source=BigQuerySource(name="bq", table="p.d.t", timestamp_field="ts"),
                schema=[Field(name="trips", dtype=Int64)])
            """,
            "definitions.py: Feast FeatureView 'warehouse': Feast BigQuerySource 'bq' has no "
            "Silage counterpart yet; Silage converts these Feast objects: Entity,",
            id="BigQuery source",
        ),
        pytest.param(
            """
            from feast import KafkaSource, StreamFeatureView
            from feast.data_format import JsonFormat
            events = KafkaSource(name="events", timestamp_field="ts",
                                 kafka_bootstrap_servers="localhost:9092", topic="t",
                                 message_format=JsonFormat(schema_json="x int"),
                                 batch_source=stats_source)
            def per_event(df):
                return df
            streamed = StreamFeatureView(name="streamed", entities=[driver], source=events,
                                         schema=[Field(name="trips", dtype=Int64)],
                                         mode="pandas", udf=per_event)
            """,
            "definitions.py: Feast StreamFeatureView 'streamed' has no Silage counterpart yet",
            id="stream feature view",
        ),
        pytest.param(
            """
            derived = FeatureView(name="derived", entities=[driver], source=stats,
                                  sink_source=stats_source,
                                  schema=[Field(name="trips", dtype=Int64)])
            """,
            "Feast FeatureView 'derived' sets source=['stats']: feature views computed from "
            "other feature views are not supported",
            id="derived view",
        ),
        pytest.param(
            """
            from feast.types import Set
            tagged = FeatureView(name="tagged", entities=[driver], source=stats_source,
                                 schema=[Field(name="tags", dtype=Set(String))])
            """,
            "definitions.py: Feast FeatureView 'tagged', field 'tags', has type Set(String), "
            "which Silage does not support yet; supported Feast types: Array, BOOL, BYTES, "
            "FLOAT32, FLOAT64, INT32, INT64, JSON, MAP, STRING, Struct, UNIX_TIMESTAMP",
            id="unsupported type",
        ),
        pytest.param(
            """
            from feast.types import Struct, Uuid
            ids = FeatureView(name="ids", entities=[driver], source=stats_source,
                              schema=[Field(name="who", dtype=Struct({"id": Uuid}))])
            """,
            "Feast FeatureView 'ids', field 'who', struct field 'id' has type",
            id="unsupported type inside a struct",
        ),
        pytest.param(
            """
            keyless = FeatureView(name="keyless", source=stats_source,
                                  schema=[Field(name="trips", dtype=Int64)])
            """,
            "Feast FeatureView 'keyless' has no entities",
            id="no entities",
        ),
        pytest.param(
            """
            renamed = FeatureService(name="renamed", features=[stats.with_name("other")])
            """,
            "renaming a view with with_name() is not supported",
            id="aliased selection",
        ),
        pytest.param(
            """
            @on_demand_feature_view(sources=[stats, vals], write_to_online_store=True,
                                    schema=[Field(name="x", dtype=Float64)])
            def stored(inputs: pd.DataFrame) -> pd.DataFrame:
                return inputs
            """,
            "definitions.py: Feast OnDemandFeatureView 'stored': on-demand feature view "
            "'stored': write_to_online_store=True computes the outputs when rows are written, "
            "before any request, so they cannot read request source 'vals'",
            id="write_to_online_store with a request source",
        ),
    ],
)
def test_objects_without_a_counterpart_are_refused_by_name_and_file(
    tmp_path: Path, body: str, expected: str
) -> None:
    assert expected in refusal(repo_with(tmp_path, body))


def test_every_refusal_is_reported_in_one_pass(tmp_path: Path) -> None:
    body = """
    from feast.data_format import DeltaFormat
    delta = FileSource(name="delta", path="data/delta", timestamp_field="ts",
                       file_format=DeltaFormat())
    fresh = FeatureView(name="fresh", entities=[driver], source=delta,
                        schema=[Field(name="trips", dtype=Int64)])
    keyless = FeatureView(name="keyless", source=stats_source,
                          schema=[Field(name="trips", dtype=Int64)])
    """
    text = refusal(repo_with(tmp_path, body))
    assert "2 problems" in text  # the Delta source (once, not again for `fresh`), `keyless`
    assert "Feast FileSource 'delta'" in text
    assert "Feast FeatureView 'keyless'" in text


def test_push_sources_logging_and_stored_on_demand_views_convert(tmp_path: Path) -> None:
    body = """
    from feast import FeatureService, PushSource
    from feast.feature_logging import LoggingConfig
    from feast.infra.offline_stores.file_source import FileLoggingDestination
    pushed = PushSource(name="pushed", batch_source=stats_source)
    fresh = FeatureView(name="fresh", entities=[driver], source=pushed,
                        schema=[Field(name="trips", dtype=Int64)])

    @on_demand_feature_view(sources=[fresh], write_to_online_store=True,
                            schema=[Field(name="doubled", dtype=Float64)])
    def doubled(inputs: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"doubled": inputs["trips"] * 2.0})

    logged = FeatureService(name="logged", features=[fresh, doubled], logging_config=
                            LoggingConfig(destination=FileLoggingDestination(path="data/logs"),
                                          sample_rate=0.5))
    """
    contents = load(repo_with(tmp_path, body))
    (push,) = contents.push_sources
    assert (push.name, push.batch_source.name) == ("pushed", "stats_source")
    fresh = next(v for v in contents.feature_views if v.name == "fresh")
    assert fresh.push_source == push
    assert fresh.source.name == "stats_source"
    (odfv,) = contents.on_demand_feature_views
    assert odfv.write_to_online_store
    (service,) = contents.feature_services
    assert service.logging_config is not None
    assert service.logging_config.to_spec() == {
        "destination": {"type": "file", "path": "data/logs"},
        "sample_rate": 0.5,
    }


def test_a_feast_yaml_loads_with_one_warning_per_feast_only_key(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, "")
    (repo / "feature_store.yaml").write_text(
        YAML
        + "online_store:\n    type: sqlite\n    path: data/online_store.db\n"
        + "offline_store:\n    type: file\n"
        + "entity_key_serialization_version: 3\n"
        + "auth:\n    type: no_auth\n",
        encoding="utf-8",
    )
    with pytest.warns(UserWarning, match=r"unknown keys ignored: auth$") as caught:
        config = load_config(repo)
    assert len(caught) == 1
    assert config.offline_store.type == "file"
    assert config.online_store.values["path"] == "data/online_store.db"


def _modules_after(code: str, cwd: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return set(done.stdout.split())


def test_feast_is_imported_only_by_repositories_that_import_it(tmp_path: Path) -> None:
    """``import feast`` takes seconds: not on ``silage --help``, not for a Silage-only
    repository (nor this package's converter), only where a file imports it."""
    help_modules = _modules_after(
        "from store.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
        tmp_path,
    )
    assert "store.cli" in help_modules
    assert "feast" not in help_modules
    silage_only = _modules_after(
        f"from store.repo.loader import load_repo\nload_repo(__import__('pathlib')."
        f"Path({str(FIXTURES / 'on_demand')!r}))",
        tmp_path,
    )
    assert "store.repo.loader" in silage_only
    assert not {"feast", "store.feast"} & silage_only
    feast_repo = repo_with(tmp_path, "")
    with_feast = _modules_after(
        f"from store.repo.loader import load_repo\nload_repo(__import__('pathlib')."
        f"Path({str(feast_repo)!r}))",
        tmp_path,
    )
    assert {"feast", "store.feast"} <= with_feast


def test_a_refused_object_writes_nothing(tmp_path: Path) -> None:
    """A repository with one object Silage cannot honour applies nothing, not the rest."""
    from store import FeatureStore

    body = """
    keyless = FeatureView(name="keyless", source=stats_source,
                          schema=[Field(name="trips", dtype=Int64)])
    """
    repo = repo_with(tmp_path, body)
    store = FeatureStore(repo_path=repo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(RepoValidationError, match="Feast FeatureView 'keyless'"):
            store.apply()
    assert (store.list_entities(), store.list_feature_views()) == ([], [])


def test_objects_shared_between_files_convert_once(tmp_path: Path) -> None:
    """A Feast layout of several files: entities in one, views importing them in another."""
    repo = repo_with(tmp_path, "")
    (repo / "services.py").write_text(
        "from feast import FeatureService\n"
        "from definitions import stats\n\n"
        "ranker = FeatureService(name='ranker', features=[stats])\n",
        encoding="utf-8",
    )
    contents = load(repo)
    _, view = silage_stats()
    assert [v.to_spec() for v in contents.feature_views] == [view.to_spec()]
    assert [s.feature_refs for s in contents.feature_services] == [
        ["stats:conv_rate", "stats:trips", "stats:cities"]
    ]
    assert contents.where("feature_service", "ranker") == "services.py: feature service 'ranker'"
