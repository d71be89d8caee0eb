"""File stores (a folder, S3 through a moto server on localhost, the registry database on
SQLite and PostgreSQL): one conformance suite, then models registered through each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier

from registry import ArtifactIntegrityError, Registry, RegistryError, RegistryNotFoundError
from registry.storage import FileStore, open_file_store
from tests.object_storage import fresh_bucket, storage_options
from tests.registries import new_registry_url

STORES = ["folder", "s3", "registry-sqlite", "registry-postgresql"]


@pytest.fixture(params=STORES)
def registry_and_files(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Registry, FileStore]]:
    """A registry and a file store of each kind (the registry on SQLite unless the store is
    the registry database itself)."""
    kind: str = request.param
    database = kind.removeprefix("registry-") if kind.startswith("registry-") else "sqlite"
    with new_registry_url(database, tmp_path) as url, Registry(url) as registry:
        if kind == "s3":
            endpoint = request.getfixturevalue("s3_endpoint")
            with fresh_bucket(endpoint) as uri:
                yield registry, registry.file_store(uri, storage_options=storage_options(endpoint))
        elif kind == "folder":
            yield registry, registry.file_store("artifacts", base=tmp_path)
        else:
            yield registry, registry.file_store("registry")


def test_bytes_come_back_only_when_they_are_the_ones_written(
    registry_and_files: tuple[Registry, FileStore],
) -> None:
    _, files = registry_and_files
    digest, size = files.put("p/m/v1.bin", b"weights")
    assert (len(digest), size) == (64, 7)
    assert files.get("p/m/v1.bin", digest, size) == b"weights"
    files.put("p/m/v2.bin", b"other")
    assert files.keys() == ["p/m/v1.bin", "p/m/v2.bin"]
    assert files.keys("p/m/v2") == ["p/m/v2.bin"]
    files.put("p/m/v1.bin", b"weightz")  # replaced behind the registry's back
    with pytest.raises(ArtifactIntegrityError, match="changed since it was registered"):
        files.get("p/m/v1.bin", digest, size)
    files.delete("p/m/v1.bin")
    files.delete("p/m/v1.bin")  # deleting what is gone is no error
    with pytest.raises(ArtifactIntegrityError, match="is missing"):
        files.get("p/m/v1.bin", digest, size)
    with pytest.raises(RegistryError, match="relative path"):
        files.put("../escape.bin", b"x")


def test_models_register_and_load_through_each_store(
    registry_and_files: tuple[Registry, FileStore],
) -> None:
    registry, files = registry_and_files
    models = registry.models("demo", files)
    model = DummyClassifier(strategy="constant", constant=1).fit([[0], [1]], [0, 1])
    v = models.register_model("churn", model)
    assert files.keys() == ["demo/churn/v1.skops"]
    assert v.artifact_path == "demo/churn/v1.skops"
    assert models.load_model("churn").predict([[5]]).tolist() == [1]
    # Another process (another host) with only the registry's address and the store's.
    assert registry.models("demo", files).get_version("churn").artifact_sha256 == v.artifact_sha256


def test_a_version_that_cannot_be_recorded_leaves_no_artifact(
    registry_and_files: tuple[Registry, FileStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, files = registry_and_files
    models = registry.models("demo", files)

    def fail(**_: object) -> None:
        assert files.keys() != [] or files.transactional  # the artifact was written first
        raise RuntimeError("the database went away")

    monkeypatch.setattr("registry.models.ModelVersionRow", fail)
    with pytest.raises(RuntimeError, match="went away"):
        models.register_model("churn", DummyClassifier())
    monkeypatch.undo()
    assert files.keys() == []
    with pytest.raises(RegistryNotFoundError):
        models.list_versions("churn")


def test_an_unknown_scheme_names_the_forms_that_work() -> None:
    with pytest.raises(RegistryError, match="s3://bucket/prefix or `registry`"):
        open_file_store("ftp://host/artifacts")
    with pytest.raises(RegistryError, match="needs the registry database"):
        open_file_store("registry")
