"""A team's setup: two checkouts of one repository (two hosts) sharing a registry on
PostgreSQL (or SQLite) and artifacts in S3; a model registered on one loads on the other."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import yaml
from sklearn.dummy import DummyClassifier

from store import FeatureStore
from store.repo.config import load_config
from tests.object_storage import fresh_bucket, storage_options
from tests.registries import use_registry


def test_a_model_registered_on_one_host_loads_on_another(
    make_repo: Callable[..., Path], registry_url: str, s3_endpoint: str, tmp_path: Path
) -> None:
    first = make_repo("basic")
    with fresh_bucket(s3_endpoint) as bucket:
        use_registry(first, registry_url)
        path = first / "feature_store.yaml"
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        config["artifact_store"] = {"uri": bucket, "storage_options": storage_options(s3_endpoint)}
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        second = shutil.copytree(first, tmp_path / "elsewhere")
        model = DummyClassifier(strategy="constant", constant=1).fit([[0], [1]], [0, 1])
        with FeatureStore(repo_path=first) as fs:
            fs.apply()
            version = fs.model_registry.register_model("churn", model)
        assert not list(first.rglob("*.skops"))  # nothing kept on the first host's disk
        with FeatureStore(repo_path=second) as fs:
            loaded = fs.model_registry.load_model("churn", version=version.version)
            assert loaded.predict([[3]]).tolist() == [1]
            assert fs.artifact_store.keys() == ["basic/churn/v1.skops"]


def test_artifact_store_uri_forms(tmp_path: Path) -> None:
    path = tmp_path / "feature_store.yaml"
    for uri, expected in [
        ("models", (tmp_path / "models").as_posix()),
        ("s3://bucket/team", "s3://bucket/team"),
        ("registry", "registry"),
    ]:
        path.write_text(f"project: p\nartifact_store: {{uri: '{uri}'}}\n", encoding="utf-8")
        assert load_config(tmp_path).artifact_uri == expected
    path.write_text("project: p\n", encoding="utf-8")
    assert load_config(tmp_path).artifact_uri == (tmp_path / "data" / "artifacts").as_posix()
