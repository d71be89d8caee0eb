"""The web UI in process on a seeded registry: every page answers, every link under /ui
leads somewhere (also behind a proxy prefix), every page has its JSON twin, SVGs are
well-formed, user text is escaped, and pages spend a bounded number of SQL queries."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import event

from registry.card_render import format_value
from store import FeatureStore
from store.serving.server import create_app
from tests.store.ui.conftest import HOSTILE, client

MODEL = "trip_completion"
MAX_QUERIES = 20


class _Page(HTMLParser):
    """Collects the URLs a page links to: hrefs, sources and (GET) form actions."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.svgs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for key in ("href", "src", "action"):
            if found.get(key):
                self.links.append(str(found[key]))


def links_of(html: str) -> list[str]:
    parser = _Page()
    parser.feed(html)
    return parser.links


def svgs_of(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.S)


def crawl(app: Any, root_path: str) -> dict[str, Any]:
    """Every page reachable from the home page under ``root_path + /ui``, by URL."""
    web = client(app, root_path=root_path)
    prefix = f"{root_path}/ui"
    start = f"{prefix}/"
    seen: dict[str, Any] = {}
    queue = [start]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        # The client's requests carry the prefix, as a proxy that keeps the path would.
        response = web.get(url)
        seen[url] = response
        assert len(seen) < 2000, "the crawl does not end"
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        for link in links_of(response.text):
            absolute = urljoin(url, link)
            parts = urlsplit(absolute)
            if parts.scheme or parts.netloc:
                continue
            assert parts.path.startswith(prefix), f"{url} links outside {prefix}: {link}"
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen:
                queue.append(target)
    return seen


@pytest.fixture(scope="module")
def app(seeded: FeatureStore) -> Any:
    return create_app(seeded)


@pytest.fixture(scope="module")
def pages(app: Any) -> dict[str, Any]:
    return crawl(app, "")


def test_the_crawl_reaches_every_kind_of_page(pages: dict[str, Any]) -> None:
    paths = {urlsplit(u).path for u in pages}
    for expected in (
        "/ui/",
        "/ui/models",
        f"/ui/models/{MODEL}",
        f"/ui/models/{MODEL}/versions/3",
        f"/ui/models/{MODEL}/versions/3/card",
        f"/ui/models/{MODEL}/versions/3/lineage",
        f"/ui/models/{MODEL}/compare",
        "/ui/deployments",
        f"/ui/deployments/{MODEL}/production",
        "/ui/training-sets",
        "/ui/training-sets/compare",
        "/ui/feature-views",
        "/ui/feature-views/driver_hourly_stats",
        "/ui/features",
        "/ui/feature-services/trip_completion",
        "/ui/entities/driver",
        "/ui/sources/driver_stats_source",
        "/ui/monitoring",
        f"/ui/monitoring/{MODEL}",
        "/ui/search",
    ):
        assert expected in paths, expected


def test_no_broken_link(pages: dict[str, Any]) -> None:
    broken = {u: r.status_code for u, r in pages.items() if r.status_code != 200}
    assert broken == {}


def test_no_broken_link_behind_a_proxy_prefix(app: Any) -> None:
    pages = crawl(app, "/tools/silage")
    assert {u: r.status_code for u, r in pages.items() if r.status_code != 200} == {}
    home = pages["/tools/silage/ui/"]
    assert 'href="/tools/silage/ui/static/ui.css"' in home.text
    assert (
        home.headers["link"]
        == '</tools/silage/ui/index.json>; rel="alternate"; type="application/json"'
    )


def test_every_html_page_has_a_json_twin(app: Any, pages: dict[str, Any]) -> None:
    web = client(app)
    for url, response in pages.items():
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        twin = re.fullmatch(
            r'<([^>]+)>; rel="alternate"; type="application/json"', response.headers["link"]
        )
        assert twin, url
        assert (
            f'<link rel="alternate" type="application/json" href="{twin[1].replace("&", "&amp;")}">'
            in response.text
        )
        answer = web.get(twin[1])
        assert answer.status_code == 200, twin[1]
        assert isinstance(answer.json(), dict)


def test_html_and_json_come_from_one_context(app: Any) -> None:
    web = client(app)
    page = web.get(f"/ui/models/{MODEL}/versions/3.json").json()
    assert page["version"]["version"] == 3
    assert page["version"]["aliases"] == ["champion"]
    assert page["deployments"][0]["environment"] == "production"
    html = web.get(f"/ui/models/{MODEL}/versions/3").text
    assert "champion" in html
    assert f">{page['version']['card_status']} (revision" in html


def test_svgs_are_well_formed_and_labelled(pages: dict[str, Any]) -> None:
    count = 0
    for url, response in pages.items():
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        for svg in svgs_of(response.text):
            root = ET.fromstring(svg)
            assert root.tag == "{http://www.w3.org/2000/svg}svg", url
            links = root.iter("{http://www.w3.org/2000/svg}a")
            assert root.get("role") == ("group" if any(True for _ in links) else "img"), url
            assert root.get("aria-label"), url
            count += 1
    assert count >= 10


def test_user_text_is_escaped_everywhere(pages: dict[str, Any], app: Any) -> None:
    html = [r.text for r in pages.values() if "text/html" in r.headers["content-type"]]
    assert HOSTILE not in "".join(html)
    page = client(app).get("/ui/models/hostile.model/versions/1")
    assert page.status_code == 200
    assert "&lt;script&gt;" in page.text
    assert "<script" not in page.text


def test_numbers_are_formatted_and_the_card_has_no_json_dumps(app: Any) -> None:
    card = client(app).get(f"/ui/models/{MODEL}/versions/1/card").text
    assert "<pre>" not in card
    assert "4,000" in card  # test_rows 4000.0
    # no unrounded number (times' seconds, after a colon, are not numbers)
    assert not re.search(r"(?<![\d:.])\d+\.\d{6,}", card.split('<section class="noprint">')[0])
    assert "approved" in card


def test_lineage_marks_deleted_versions_and_links_its_nodes(app: Any) -> None:
    web = client(app)
    deleted = web.get(f"/ui/models/{MODEL}/versions/2/lineage")
    assert deleted.status_code == 200
    assert "(deleted)" in deleted.text
    graph = web.get(f"/ui/models/{MODEL}/versions/3/lineage.json").json()
    tree = graph["tree"]
    assert tree["kind"] == "model_version"
    training = next(c for c in tree["children"] if c["kind"] == "training_set")
    sources = [s["name"] for s in training["children"]]
    assert len(sources) == len(set(sources)) == 4  # each source once
    assert "on demand from driver_hourly_stats, request trip_request" in sources
    assert 'href="/ui/training-sets/' in web.get(f"/ui/models/{MODEL}/versions/3/lineage").text


def test_what_served_at_a_time(app: Any, seeded: FeatureStore) -> None:
    history = seeded.registry.browse.deployment_history(seeded.project, MODEL, "production")
    first = history[0]
    at = first.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")
    page = client(app).get(f"/ui/deployments/{MODEL}/production.json", params={"at": at}).json()
    assert page["served_at"]["revision"] == first.revision
    early = client(app).get(
        f"/ui/deployments/{MODEL}/production", params={"at": "2000-01-01T00:00"}
    )
    assert "nothing served" in early.text


def test_lists_sort_filter_and_page_in_the_url(app: Any) -> None:
    web = client(app)
    page = web.get("/ui/features.json", params={"limit": 3, "sort": "-name"}).json()
    names = [f["name"] for f in page["features"]]
    assert names == sorted(names, reverse=True)
    assert len(names) == 3
    assert page["paging"]["next_offset"] == 3
    rest = web.get("/ui/features.json", params={"limit": 3, "offset": 3, "sort": "-name"}).json()
    assert not {f["name"] for f in rest["features"]} & set(names)
    only = web.get("/ui/features.json", params={"q": "RATE"}).json()
    assert only["features"]
    assert all("rate" in f["name"] for f in only["features"])
    by_auc = web.get(f"/ui/models/{MODEL}.json", params={"sort": "-metric:auc"}).json()
    aucs = [v["metrics"].get("auc") for v in by_auc["versions"]]
    known = [a for a in aucs if a is not None]
    assert len(known) >= 1
    assert known == sorted(known, reverse=True)
    assert aucs[: len(known)] == known  # versions without the metric come last


@pytest.mark.parametrize("path", ["/ui/feature-views", "/ui/entities", "/ui/sources"])
def test_catalog_lists_sort_filter_and_page_in_the_url(app: Any, path: str) -> None:
    web = client(app)
    everything = web.get(f"{path}.json", params={"limit": 500}).json()
    names = [o["name"] for o in everything["objects"]]
    assert len(names) >= 2
    assert names == sorted(names)
    assert everything["paging"]["total"] == len(names)
    first = web.get(f"{path}.json", params={"limit": 1, "sort": "-name"}).json()
    assert [o["name"] for o in first["objects"]] == [max(names)]
    assert first["paging"]["next_offset"] == 1
    second = web.get(f"{path}.json", params={"limit": 1, "offset": 1, "sort": "-name"}).json()
    assert [o["name"] for o in second["objects"]] == [sorted(names)[-2]]
    wanted = names[0][:5].upper()
    only = web.get(f"{path}.json", params={"q": wanted}).json()
    assert only["objects"]
    assert all(
        wanted.casefold() in (o["name"] + str(o["spec"].get("description") or "")).casefold()
        for o in only["objects"]
    )
    html = web.get(path, params={"limit": 1}).text
    assert 'rel="next"' in html
    assert "aria-sort" in html
    nothing = web.get(path, params={"q": "no-such-object"}).text
    assert "None named or described like" in nothing


def test_the_deployments_list_sorts_filters_and_pages_in_the_url(app: Any) -> None:
    web = client(app)
    everything = web.get("/ui/deployments.json", params={"limit": 500}).json()
    live = [(d["model"], d["environment"]) for d in everything["live"]]
    assert len(live) >= 2
    assert live == sorted(live)
    assert everything["paging"]["total"] == len(live)
    by_environment = web.get("/ui/deployments.json", params={"sort": "-environment"}).json()
    environments = [d["environment"] for d in by_environment["live"]]
    assert environments == sorted(environments, reverse=True)
    first = web.get("/ui/deployments.json", params={"limit": 1}).json()
    second = web.get("/ui/deployments.json", params={"limit": 1, "offset": 1}).json()
    assert [(d["model"], d["environment"]) for d in first["live"] + second["live"]] == live[:2]
    assert first["paging"]["next_offset"] == 1
    model = live[0][0]
    only = web.get("/ui/deployments.json", params={"q": model.upper()}).json()
    assert {d["model"] for d in only["live"]} == {model}
    html = web.get("/ui/deployments", params={"limit": 1}).text
    assert 'rel="next"' in html
    assert 'aria-sort="ascending"' in html
    assert "No live deployment named like" in web.get("/ui/deployments?q=nowhere").text


def test_search_finds_every_kind(app: Any) -> None:
    hits = client(app).get("/ui/search.json", params={"q": "trip"}).json()["hits"]
    kinds = {h["kind"] for h in hits}
    assert {"model", "feature_service", "training_set", "feature"} <= kinds


@pytest.mark.parametrize(
    "path",
    [
        "/ui/models/nope",
        "/ui/models/trip_completion/versions/99",
        "/ui/models/trip_completion/versions/99/card",
        "/ui/feature-views/nope",
        "/ui/training-sets/nope",
        "/ui/deployments/trip_completion/nowhere",
        "/ui/entities/%3Cb%3E",
        "/ui/no/such/page",
    ],
)
def test_unknown_objects_get_a_404_page_naming_them(app: Any, path: str) -> None:
    response = client(app).get(path)
    assert response.status_code == 404
    assert "Back" in response.text or "Home" in response.text
    assert "<b>" not in response.text
    assert client(app).get(path + ".json").status_code == 404


@pytest.fixture
def queries(seeded: FeatureStore) -> Iterator[list[str]]:
    found: list[str] = []

    def count(*args: Any) -> None:
        if str(args[2]) != "BEGIN":  # SQLite's transaction start, not a query
            found.append(str(args[2]))

    engine = seeded.registry.db.engine
    event.listen(engine, "before_cursor_execute", count)
    yield found
    event.remove(engine, "before_cursor_execute", count)


def test_pages_spend_a_bounded_number_of_queries(
    app: Any, pages: dict[str, Any], queries: list[str]
) -> None:
    web = client(app)
    spent = {}
    for url in pages:
        queries.clear()
        web.get(url)
        spent[url] = len(queries)
    assert {u: n for u, n in spent.items() if n > MAX_QUERIES} == {}


def test_monitoring_lists_every_model_by_name(app: Any) -> None:
    page = client(app).get("/ui/monitoring.json").json()
    assert page["models"] == sorted(page["models"])
    assert {MODEL, "hostile.model"} <= set(page["models"])


def test_model_monitoring_draws_the_newest_window_beside_the_reference(app: Any) -> None:
    page = client(app).get(f"/ui/monitoring/{MODEL}.json").json()
    numeric = [f for f in page["features"] if f["window_svg"]]
    assert numeric, "no feature has its newest window drawn"
    for f in numeric:
        newest = f["windows"][0]["histogram"]
        assert sum(newest["current"]) == f["windows"][0]["n_current"]
        assert "reference (grey) and current (blue)" in f["window_svg"]
    html = client(app).get(f"/ui/monitoring/{MODEL}").text
    assert "The newest window" in html


def test_a_training_set_page_says_where_its_data_is(app: Any, seeded: FeatureStore) -> None:
    saved = seeded.list_training_sets()[0]
    assert saved.record.storage_key is not None
    web = client(app)
    page = web.get(f"/ui/training-sets/{saved.name}")
    assert saved.location in page.text
    assert f"({format_value(saved.record.size_bytes)} bytes)" in page.text
    assert web.get(f"/ui/training-sets/{saved.name}.json").json()["location"] == saved.location
