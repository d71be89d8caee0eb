"""Monitoring reports: the histograms side by side are the reference's and the current
window's (checked against NumPy), the verdicts are the drift run's, validation runs and
alerts appear; the three renderings and the CLI."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from store import FeatureStore, RequestError
from store.cli import main
from tests.store.monitoring.test_alerts import DRIFT_RULE
from tests.store.monitoring.test_drift_runs import DAY, T0, log_window, store

__all__ = ["store"]  # the fixture, shared with the drift tests


@pytest.fixture
def shifted(store: FeatureStore) -> FeatureStore:
    """Four days served; from day 2 riders spend half a standard deviation more."""
    for day, shift in enumerate([0.0, 0.0, 0.5, 0.5]):
        log_window(store, day, 600, shift=shift, seed=day + 1)
    return store


def report(fs: FeatureStore, **kwargs: Any) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(fs.monitoring_report("upsell", format="json", **kwargs))
    return found


def test_histograms_are_the_reference_and_the_current_window(shifted: FeatureStore) -> None:
    context = report(shifted)
    assert context["current_window"] == {
        "start": (T0 + 3 * DAY).isoformat(),
        "end": (T0 + 4 * DAY).isoformat(),
    }
    features = {f["feature"]: f for f in context["features"]}
    assert set(features) == {"spend", "score", "tier", "prediction", "probability"}
    log = shifted.prediction_log()
    current = log[log["predicted_at"] >= T0 + 3 * DAY]
    training = shifted.get_training_set("riders_v1").to_df()

    spend = features["spend"]["histogram"]
    edges = np.asarray(spend["edges"])
    values = np.asarray([f["spend"] for f in current["features"]])
    # values beyond the outer edges count in the outer bins
    expected = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)[0] / len(values)
    np.testing.assert_allclose(spend["current"], expected, atol=1e-12)
    reference = np.histogram(np.clip(training["spend"], edges[0], edges[-1]), bins=edges)[0]
    # read from the stored quantiles: exact to a few quantile steps (1/1000 each)
    np.testing.assert_allclose(spend["reference"], reference / len(training), atol=0.004)
    assert sum(spend["reference"]) == pytest.approx(1.0)
    # the shift shows: the current window's mean bin sits to the right
    middles = (edges[:-1] + edges[1:]) / 2
    assert middles @ spend["current"] > middles @ spend["reference"] + 3

    tier = features["tier"]["histogram"]
    assert tier["kind"] == "categorical"
    shares = dict(zip(tier["labels"], tier["current"], strict=True))
    counts = pd.Series([f["tier"] for f in current["features"]]).value_counts(normalize=True)
    assert shares == pytest.approx(counts.to_dict())
    ref = dict(zip(tier["labels"], tier["reference"], strict=True))
    assert ref == pytest.approx(training["tier"].value_counts(normalize=True).to_dict())


def test_verdicts_validation_and_alerts(shifted: FeatureStore) -> None:
    shifted.add_alert_rule(DRIFT_RULE)
    shifted.run_monitoring(T0 + 4 * DAY, lookback=4)
    context = report(shifted)
    drift = shifted.drift("upsell")
    assert [d["feature"] for d in context["drifting"]] == [f for f, _, _ in drift.drifted()]
    drifting = {d["feature"]: d["since"] for d in context["drifting"]}
    assert drifting["spend"] == (T0 + 2 * DAY).isoformat()
    assert {"score", "tier"}.isdisjoint(drifting)
    spend = next(f for f in context["features"] if f["feature"] == "spend")
    assert [w["verdict"] for w in spend["windows"]] == ["no_drift", "no_drift", "drift", "drift"]
    assert set(spend["windows"][0]["tests"]) == {"ks", "psi", "wasserstein"}
    assert [w["window_start"] for w in context["joint"]] == [
        (T0 + d * DAY).isoformat() for d in range(4)
    ]
    # the training set's build checked the view: that run is listed
    (run,) = context["validation"]
    assert (run["feature_view"], run["trigger"], run["passed"]) == (
        "rider_profile",
        "training_set",
        True,
    )
    assert [(a["rule"], a["window_start"]) for a in context["alerts"]] == [
        ("spend_drifts", (T0 + 3 * DAY).isoformat())
    ]
    # no outcomes yet: the quality lines count predictions only
    assert {q["outcomes"] for q in context["quality"]} == {0}


def test_whole_numbers_get_whole_bins() -> None:
    from store.monitoring import drift
    from store.monitoring.report import _histogram, _labels

    rng = np.random.default_rng(3)
    reference = rng.poisson(12, 50_000)
    current = rng.poisson(14, 2_000)
    histogram = _histogram(drift.profile(reference), current)
    assert histogram["kind"] == "integer"
    edges = np.asarray(histogram["edges"])
    assert np.all(edges % 1 == 0.5)  # no edge sits on a value
    expected = np.histogram(np.clip(reference, edges[0], edges[-1]), bins=edges)[0]
    np.testing.assert_allclose(histogram["reference"], expected / len(reference), atol=0.002)
    assert np.ptp(np.diff(edges)) == 0  # equal whole widths: 2 values a bin here
    assert _labels(histogram)[1] == f"{edges[1] + 0.5:.0f} to {edges[2] - 0.5:.0f}"
    binary = _histogram(drift.profile(rng.integers(0, 2, 1_000)), rng.integers(0, 2, 100))
    assert (binary["edges"], _labels(binary)) == ([-0.5, 0.5, 1.5], ["0", "1"])


class _Tags(HTMLParser):
    """Counts the tags of a page and checks they nest."""

    VOID = frozenset({"meta", "br", "rect"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.seen: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen[tag] = self.seen.get(tag, 0) + 1
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen[tag] = self.seen.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        assert self.open.pop() == tag


def test_html_and_markdown(shifted: FeatureStore) -> None:
    page = shifted.monitoring_report("upsell")
    parser = _Tags()
    parser.feed(page)
    assert parser.open == []
    assert parser.seen["svg"] == 5  # one figure per feature and prediction column
    # 20 bins for spend, score and probability, 2 for the 0/1 prediction, 3 tiers
    assert parser.seen["rect"] == 2 * (3 * 20 + 2 + 3)
    assert "<li class='drift'>spend since 2026-03-03" in page
    text = shifted.monitoring_report("upsell", format="markdown")
    assert "- **spend** since 2026-03-03T00:00:00+00:00" in text
    assert "### tier" in text
    assert "| 2026-03-03T00:00:00+00:00 | drift |" in text
    with pytest.raises(RequestError, match="choose one of html, markdown, json"):
        shifted.monitoring_report("upsell", format="pdf")


def silage(*args: str) -> int | str | None:
    """Run the CLI; its exit status."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code


def test_the_cli_writes_the_report(
    shifted: FeatureStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "upsell.html"
    repo = ["--repo", str(shifted.repo_path), "monitor", "report"]
    assert silage(*repo, "upsell", "--window", "2d", "--output", str(target)) == 0
    assert "Wrote the html report on upsell" in capsys.readouterr().out
    assert target.read_text().startswith("<!doctype html>")
    assert silage(*repo, "upsell", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["window"] == "1d"
    # an unknown model: a clear error, no traceback
    assert silage(*repo, "nobody") == 1
    assert "nobody" in capsys.readouterr().err
