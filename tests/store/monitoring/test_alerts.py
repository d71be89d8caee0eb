"""Alert rules: declared or added, evaluated on completed windows, a run of windows before
firing, recorded once per window (idempotent runs), posted to a webhook; the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from store import AlertRule, DefinitionError, FeatureStore
from store.cli import main
from tests.store.monitoring.test_drift_runs import DAY, T0, log_window, store

__all__ = ["store"]  # the fixture, shared with the drift tests

DRIFT_RULE = AlertRule(
    name="spend_drifts",
    model="upsell",
    metric="drift:spend",
    op=">",
    threshold=0,
    window="1d",
    for_windows=2,
    description="Riders spend differently from the training data",
    runbook="https://wiki.local/upsell/drift",
)


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[Any]]]:
    """A local HTTP server that keeps every JSON body posted to it."""
    received: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/alerts", received
    finally:
        server.shutdown()
        server.server_close()


def test_a_rule_fires_after_its_run_of_windows_once_and_posts_it(
    store: FeatureStore, webhook: tuple[str, list[Any]]
) -> None:
    for day, shift in enumerate([0.0, 0.0, 0.5, 0.5, 0.5]):
        log_window(store, day, 600, shift=shift, seed=day + 1)
    store.add_alert_rule(DRIFT_RULE)
    url, received = webhook
    # Day 4 is still running at 12:00 on day 4: days 0 to 3 are the completed windows.
    events = store.run_monitoring(T0 + 4 * DAY + timedelta(hours=12), lookback=4, webhook=url)
    # spend drifts from day 2; two windows in a row first happen on day 3
    assert [(e.rule, e.window_start, e.value) for e in events] == [
        ("spend_drifts", T0 + 3 * DAY, 1.0)
    ]
    assert events[0].condition == "upsell drift:spend > 0 over 1d windows, 2 in a row"
    (body,) = received
    assert body["project"] == "drifting"
    assert body["alerts"][0]["runbook"] == "https://wiki.local/upsell/drift"
    assert body["alerts"][0]["window_start"] == (T0 + 3 * DAY).isoformat()
    # the same windows again: nothing new, nothing posted
    assert store.run_monitoring(T0 + 4 * DAY + timedelta(hours=13), lookback=4, webhook=url) == []
    assert len(received) == 1
    # a day later, day 4 completes and still drifts: a new alert for it
    later = store.run_monitoring(T0 + 5 * DAY, webhook=url)
    assert [e.window_start for e in later] == [T0 + 4 * DAY]
    assert [e.window_start for e in store.alerts()] == [T0 + 4 * DAY, T0 + 3 * DAY]


def test_quality_rules_and_windows_without_data(store: FeatureStore) -> None:
    log_window(store, 0, 300, shift=0.0, seed=1)
    log = store.prediction_log()
    ids = log["prediction_id"].tolist()
    # every outcome wrong: the model's accuracy is 0
    wrong = [1 - int(p["prediction"]) for p in log["prediction"]]
    store.record_outcomes(ids, wrong)
    store.add_alert_rule(
        AlertRule(name="accuracy_low", model="upsell", metric="accuracy", op="<", threshold=0.6)
    )
    store.add_alert_rule(
        AlertRule(name="no_outcomes", model="upsell", metric="outcome_share", op="<", threshold=0.5)
    )
    events = store.run_monitoring(T0 + 2 * DAY, lookback=2)
    assert [(e.rule, e.window_start, e.value) for e in events] == [("accuracy_low", T0, 0.0)]
    # day 1 had no predictions: no value, no breach


def test_rules_declared_in_the_repository_and_the_cli(
    store: FeatureStore, capsys: pytest.CaptureFixture[str]
) -> None:
    (store.repo_path / "alerts.py").write_text(
        "from store import AlertRule\n"
        "drift = AlertRule(name='spend_drifts', model='upsell', metric='drift:spend',\n"
        "                  op='>', threshold=0, window='1d')\n"
    )
    store.add_alert_rule(DRIFT_RULE)  # the declared rule of the same name wins
    assert [r.for_windows for r in store.alert_rules()] == [1]
    for day, shift in enumerate([0.0, 1.0]):
        log_window(store, day, 400, shift=shift, seed=day + 1)
    repo = str(store.repo_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", repo, "monitor", "run", "--lookback", "3000"])
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "ALERT spend_drifts: upsell drift:spend > 0 over 1d windows: 1 in 2026-03-02" in out
    assert "1 rule(s) evaluated, 1 new alert(s)." in out
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", repo, "monitor", "run", "--lookback", "3000"])
    assert exit_info.value.code == 0  # already recorded
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", repo, "monitor", "alerts"])
    assert "spend_drifts  2026-03-02 00:00  1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric": "speed"}, "metric 'speed' is not monitored"),
        ({"op": "=="}, "op '=='"),
        ({"window": "1y"}, "window '1y'"),
        ({"for_windows": 0}, "for_windows=0; use 1 or more"),
        ({"threshold": "high"}, "threshold 'high' must be a number"),
        ({"role": "boss"}, "role 'boss'"),
    ],
)
def test_bad_rules_are_refused(fields: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {
        "name": "r",
        "model": "m",
        "metric": "auc",
        "op": "<",
        "threshold": 0.5,
    }
    with pytest.raises(DefinitionError, match=message):
        AlertRule(**(base | fields))
