"""The offline suite's store: the basic repository, applied, on each engine in turn."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from store import FeatureStore
from tests.backends import configure_offline


@pytest.fixture
def store(make_repo: Callable[..., Path], engine: str) -> FeatureStore:
    repo = make_repo("basic")
    configure_offline(repo, engine)
    fs = FeatureStore(repo_path=repo)
    fs.apply()
    return fs
