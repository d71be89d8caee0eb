"""A seeded registry for the UI's tests, built once per session: the worked example's main
job run on a copy of ``feature_repo/`` (training sets, three model versions with cards,
deployments, drift, alerts, an experiment and a promotion), then a few things it does not
do: an alias moved twice, a version deleted, and a model whose text tries to inject
markup."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store import FeatureStore

ROOT = Path(__file__).resolve().parents[3]
HOSTILE = "<script>alert('x')</script>"


def client(app: Any, root_path: str = "") -> Any:
    """Starlette's in-process client (its httpx deprecation warning silenced here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    return TestClient(app, root_path=root_path)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeatureStore]:
    repo = tmp_path_factory.mktemp("ui") / "feature_repo"
    shutil.copytree(ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("data"))
    result = subprocess.run(
        [sys.executable, "main_job.py"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    store = FeatureStore(repo_path=repo)
    project = store.model_registry
    model = "trip_completion"
    project.models.set_alias(model, "champion", 1, by="alice", reason="first in production")
    project.models.set_alias(model, "champion", 3, by="bob", reason="won the experiment")
    project.delete_version(model, 2)
    estimator = project.load_model(model, 1, trusted=["numpy.dtype"])
    hostile = project.register_model(
        "hostile.model",
        estimator,
        training_set=project.models.get_version(model, 1).training_set,
        metrics={"auc": 0.5},
        tags={"note": HOSTILE},
        description=HOSTILE,
    )
    project.cards.update("hostile.model", hostile.version, {"intended_use": HOSTILE})
    project.deployments.deploy("hostile.model", "staging", version=hostile.version, reason=HOSTILE)
    yield store
    store.close()
