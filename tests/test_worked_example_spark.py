"""The worked example's training set on Spark, with one line of ``feature_store.yaml``
changed, equals DuckDB's row for row."""

from __future__ import annotations

import importlib.util
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from store import FeatureStore

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _generate(repo: Path, end: datetime) -> None:
    spec = importlib.util.spec_from_file_location("_worked_example_data", repo / "generate_data.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(repo / "data", end, days=14)


def test_the_worked_example_training_set_is_the_same_on_spark(tmp_path: Path) -> None:
    repo = tmp_path / "feature_repo"
    shutil.copytree(ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("data"))
    _generate(repo, datetime(2026, 6, 1, tzinfo=UTC))
    trips = pd.read_parquet(repo / "data" / "trips.parquet")

    def training_set() -> pd.DataFrame:
        store = FeatureStore(repo_path=repo)
        store.apply()
        service = store.get_feature_service("trip_completion")
        frame: pd.DataFrame = store.get_historical_features(trips, service).to_df()
        store.close()
        return frame

    on_duckdb = training_set()
    config = repo / "feature_store.yaml"
    text = config.read_text(encoding="utf-8")
    assert "  type: duckdb\n" in text
    # The one-line change (the session's settings are the test suite's, already running).
    config.write_text(text.replace("  type: duckdb\n", "  type: spark\n", 1), encoding="utf-8")
    on_spark = training_set()
    assert len(on_duckdb) == len(trips) > 1000
    pd.testing.assert_frame_equal(on_spark, on_duckdb)
