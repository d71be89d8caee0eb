"""The worked example's main job runs end to end on a copy of feature_repo/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_main_job_runs_the_whole_path(tmp_path: Path) -> None:
    repo = tmp_path / "feature_repo"
    shutil.copytree(ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("data"))
    result = subprocess.run(
        [sys.executable, "main_job.py"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in range(1, 13):
        assert f"== {step}." in out
    served = [line for line in out.splitlines() if "p(completed)=" in line]
    assert len(served) == 8
    assert all(("(primary)" in line) or ("(canary)" in line) for line in served)
    assert "8 predictions in the log" in out
    # an on-demand feature with a request value, end to end: applied, trained on (the
    # model's inputs), served from each request's distance (no skew in steps 8 and 10)
    assert "+ created feature view trip_load" in out
    assert '"km_per_daily_trip"]' in out
    # monitoring: quiet before the injected bug, catches it, quiet again after the rollback
    calm, broken, repaired = (out.split(f"== {n}.")[1].split("==")[0] for n in (8, 9, 10))
    for part in (calm, repaired):
        assert "nothing drifts" in part
        assert "training-serving skew: none" in part
    assert "conv_rate (" in broken.split("drift against")[1].splitlines()[0]
    assert "training-serving skew: conv_rate 600/600" in broken
    # continual learning: the shift costs the old model its accuracy, an alert fires and with
    # it a retraining, whose canary wins the experiment and is promoted on that evidence
    shifted, tested = (out.split(f"== {n}.")[1].split("==")[0] for n in (11, 12))
    assert "alert accuracy_drops at " in shifted
    assert (
        "retraining run 1 (performance: alert accuracy_drops fired: trip_completion accuracy "
        "< 0.62 over 1h windows): registered v3" in shifted
    )
    assert "now serving: v1 primary 50%, v3 canary 50%" in shifted
    assert "Verdict: BETTER: v3 canary beats v1 primary on accuracy" in tested
    assert "Guardrails: all intact" in tested
    assert "promoted v3: revision 3" in tested
    page = (repo / "data" / "monitoring_report.html").read_text()
    assert "<li class='drift'>conv_rate since" in page
    # a second run reuses the same training set and adds versions and a revision
    again = subprocess.run(
        [sys.executable, "main_job.py"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert again.returncode == 0, again.stderr
    assert "revision 4:" in again.stdout  # after the first run's deploy, canary and promotion
