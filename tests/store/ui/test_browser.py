"""The web UI in a real browser (Debian's Chromium driven by Playwright), over the seeded
registry served by uvicorn on localhost.

Each key page, with JavaScript on and with it off, must open without console errors or
failed requests and without serious or critical accessibility violations (axe-core, which
ships inside axe-playwright-python). axe runs as a script, so for the JavaScript-off pass it
checks the DOM a script-less browser built, loaded into a page that may run axe. Key pages
keep an ARIA snapshot (``tests/golden/aria``; numbers, hashes and relative times
normalized, since the seeded registry is rebuilt on every run); screenshots of every page
checked are written to ``build/screenshots`` for people to look at.

Rewrite the snapshots after a deliberate change with
``SILAGE_WRITE_ARIA=1 pytest tests/store/ui/test_browser.py``.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store import FeatureStore
from store.serving.server import create_app
from tests.services import chromium

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden" / "aria"
SCREENSHOTS = ROOT / "build" / "screenshots"
MODEL = "trip_completion"

# (name, path): one page of every kind a person clicks through.
PAGES = [
    ("home", "/ui/"),
    ("models", "/ui/models"),
    ("model", f"/ui/models/{MODEL}"),
    ("version", f"/ui/models/{MODEL}/versions/3"),
    ("card", f"/ui/models/{MODEL}/versions/3/card"),
    ("lineage", f"/ui/models/{MODEL}/versions/3/lineage"),
    ("compare_versions", f"/ui/models/{MODEL}/compare"),
    ("deployments", "/ui/deployments"),
    ("deployment", f"/ui/deployments/{MODEL}/production"),
    ("training_sets", "/ui/training-sets"),
    ("compare_training_sets", "/ui/training-sets/compare"),
    ("feature_views", "/ui/feature-views"),
    ("feature_view", "/ui/feature-views/driver_hourly_stats"),
    ("features", "/ui/features"),
    ("feature_service", f"/ui/feature-services/{MODEL}"),
    ("entity", "/ui/entities/driver"),
    ("source", "/ui/sources/driver_stats_source"),
    ("monitoring", "/ui/monitoring"),
    ("model_monitoring", f"/ui/monitoring/{MODEL}"),
    ("search", "/ui/search?q=driver"),
    ("missing", "/ui/models/no_such_model"),
]
# Pages whose structure does not depend on the generated data's values (the card and the
# home page's activity list carry statistics and counts that vary with the hour the worked
# example runs in, so their shape is checked by axe and the fast tier instead).
ARIA = ("version", "lineage", "deployment", "feature_view")
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="module")
def base_url(seeded: FeatureStore) -> Iterator[str]:
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(seeded), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 30 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


class _Visit:
    """A page opened in a fresh context, with what went wrong while it loaded."""

    def __init__(self, browser: Any, url: str, *, javascript: bool) -> None:
        self.context = browser.new_context(
            java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") and not _own_status(m, url)
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.on(
            "response",
            lambda r: (
                self.problems.append(f"HTTP {r.status}: {r.url}")
                if r.status >= 400 and r.url != url
                else None
            ),
        )
        self.response = self.page.goto(url, wait_until="load")

    def close(self) -> None:
        self.context.close()


def _own_status(message: Any, url: str) -> bool:
    """The browser's report of the page's own error status (checked on the response)."""
    return bool(
        message.text.startswith("Failed to load resource") and message.location.get("url") == url
    )


def _violations(browser: Any, html: str | None, page: Any) -> list[str]:
    """Serious and critical axe violations of ``page``, or of ``html`` (a DOM built without
    JavaScript) loaded into a page that may run axe."""
    from axe_playwright_python.sync_playwright import Axe

    context = None
    if html is not None:
        context = browser.new_context()
        page = context.new_page()
        page.set_content(html, wait_until="load")
    try:
        found = Axe().run(page).response["violations"]
    finally:
        if context is not None:
            context.close()
    return [
        f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['target']})"
        for v in found
        if v.get("impact") in SERIOUS
    ]


@pytest.mark.slow
@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
@pytest.mark.parametrize(("name", "path"), PAGES, ids=[n for n, _ in PAGES])
def test_a_page_opens_cleanly_and_accessibly(
    browser: Any, base_url: str, name: str, path: str, javascript: bool
) -> None:
    visit = _Visit(browser, base_url + path, javascript=javascript)
    try:
        assert visit.response is not None
        assert visit.response.status == (404 if name == "missing" else 200)
        assert visit.page.title().endswith("Silage")
        assert visit.problems == []
        html = None if javascript else visit.page.content()
        assert _violations(browser, html, visit.page) == []
        if javascript:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            visit.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        visit.close()


def normalized(snapshot: str) -> str:
    """An ARIA snapshot without what changes from one seeding to the next: relative times,
    hexadecimal ids and hashes, and numbers (sign, separators and decimals included)."""
    snapshot = re.sub(r"\b(just now|\d+ (second|minute|hour|day)s? ago)\b", "<when>", snapshot)
    snapshot = re.sub(r"\b[0-9a-f]{8,}\b", "<hex>", snapshot)
    return re.sub(r"-?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?", "0", snapshot)


@pytest.mark.slow
@pytest.mark.parametrize("name", ARIA)
def test_key_pages_keep_their_aria_snapshot(browser: Any, base_url: str, name: str) -> None:
    path = dict(PAGES)[name]
    visit = _Visit(browser, base_url + path, javascript=False)
    try:
        snapshot = normalized(visit.page.locator("body").aria_snapshot())
    finally:
        visit.close()
    golden = GOLDEN / f"{name}.yaml"
    if os.environ.get("SILAGE_WRITE_ARIA"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(snapshot + "\n", encoding="utf-8")
    assert snapshot + "\n" == golden.read_text(encoding="utf-8")
