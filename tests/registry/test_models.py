"""Models: versions without races, artifacts checked on load, aliases with history."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from registry import (
    ArtifactIntegrityError,
    ModelRegistry,
    Registry,
    RegistryError,
    RegistryNotFoundError,
)


@pytest.fixture
def models(registry_url: str, tmp_path: Path) -> Iterator[ModelRegistry]:
    with Registry(registry_url) as registry:
        yield registry.models("demo", tmp_path / "artifacts")


def fitted() -> LogisticRegression:
    import pandas as pd

    x = pd.DataFrame({"conv_rate": [0.1, 0.9, 0.2, 0.8], "trips": [1, 9, 2, 8]})
    return LogisticRegression(C=0.5).fit(x, np.array([0, 1, 0, 1]))


def test_register_records_what_the_estimator_says_and_loads_it_back(
    models: ModelRegistry,
) -> None:
    model = fitted()
    v = models.register_model("churn", model, metrics={"auc": 0.91}, tags={"team": "growth"})
    assert (v.model, v.version, v.artifact_format) == ("churn", 1, "skops")
    assert v.model_type == "sklearn.linear_model._logistic.LogisticRegression"
    assert v.params["C"] == 0.5
    assert v.input_features == ("conv_rate", "trips")
    assert v.classes == (0, 1)
    assert v.metrics == {"auc": 0.91}
    loaded = models.load_model("churn")
    x = np.array([[0.3, 3.0]])
    import pandas as pd

    frame = pd.DataFrame(x, columns=["conv_rate", "trips"])
    assert loaded.predict_proba(frame).tolist() == model.predict_proba(frame).tolist()
    assert models.register_model("churn", model).version == 2
    assert [m.version for m in models.list_versions("churn")] == [1, 2]
    assert models.list_models() == ["churn"]


def test_a_changed_artifact_is_refused(models: ModelRegistry) -> None:
    v = models.register_model("churn", fitted())
    path = models.artifact_root / v.artifact_path
    path.write_bytes(path.read_bytes()[:-1] + b"x")
    with pytest.raises(ArtifactIntegrityError, match="changed since it was registered"):
        models.load_model("churn", version=1)
    path.unlink()
    with pytest.raises(ArtifactIntegrityError, match="is missing"):
        models.load_model("churn")


def test_pickle_needs_an_explicit_opt_in(models: ModelRegistry) -> None:
    models.register_model("custom", {"weights": [1, 2]}, serializer="pickle")
    with pytest.raises(RegistryError, match="allow_pickle=True"):
        models.load_model("custom")
    assert models.load_model("custom", allow_pickle=True) == {"weights": [1, 2]}


def test_aliases_move_and_keep_their_history(models: ModelRegistry) -> None:
    for _ in range(3):
        models.register_model("churn", fitted())
    models.set_alias("churn", "champion", 1, by="ana", reason="first")
    models.set_alias("churn", "champion", 3, by="bo", reason="better auc")
    assert models.get_version("churn", alias="champion").version == 3
    assert models.get_version("churn", version=3).aliases == ("champion",)
    models.delete_alias("churn", "champion", by="cy", reason="retired")
    history = models.alias_history("churn", "champion")
    assert [(m.from_version, m.to_version, m.changed_by, m.reason) for m in history] == [
        (None, 1, "ana", "first"),
        (1, 3, "bo", "better auc"),
        (3, None, "cy", "retired"),
    ]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m: m.get_version("nope"), RegistryNotFoundError, "no model named 'nope'"),
        (lambda m: m.get_version("churn", version=9), RegistryNotFoundError, "churn v9"),
        (lambda m: m.load_model("churn", alias="gold"), RegistryNotFoundError, "churn@gold"),
        (lambda m: m.set_alias("churn", "champion", 9), RegistryNotFoundError, "churn v9"),
        (lambda m: m.set_alias("churn", "7", 1), RegistryError, "alias '7' is not valid"),
        (
            lambda m: m.register_model("churn", 1, metrics={"auc": "high"}),
            RegistryError,
            "metric 'auc' is 'high', not a number",
        ),
        (lambda m: m.register_model("9 lives", 1), RegistryError, "model name '9 lives'"),
        (
            lambda m: m.register_model("churn", 1, training_set="missing"),
            RegistryNotFoundError,
            "no training set named 'missing'",
        ),
    ],
)
def test_bad_requests_change_nothing(
    models: ModelRegistry, call: object, error: type[Exception], message: str
) -> None:
    models.register_model("churn", fitted())
    with pytest.raises(error, match=message):
        call(models)  # type: ignore[operator]
    assert [v.version for v in models.list_versions("churn")] == [1]
    files = sorted(p.name for p in models.artifact_root.rglob("*") if p.is_file())
    assert files == ["v1.skops"]


REGISTER = """
import sys
from collections.abc import Iterator
from pathlib import Path
from registry import Registry
from sklearn.dummy import DummyClassifier
models = Registry(sys.argv[1]).models("demo", Path(sys.argv[2]))
for _ in range(25):
    models.register_model("racy", DummyClassifier())
"""


@pytest.mark.slow
def test_eight_processes_register_two_hundred_versions_without_gaps(
    registry_url: str, tmp_path: Path
) -> None:
    url = registry_url
    Registry(url).close()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", REGISTER, url, str(tmp_path / "artifacts")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    with Registry(url) as registry:
        versions = [v.version for v in registry.models("demo", tmp_path).list_versions("racy")]
    assert versions == list(range(1, 201))
    assert len(list((tmp_path / "artifacts" / "demo" / "racy").glob("v*.skops"))) == 200
