"""The UI's URLs: a Starlette app that ``silage serve`` mounts at ``/ui``.

Each page is a row of :data:`PAGES`: a path, the builder that makes its context, the
template that renders it. Every path also answers with ``.json`` appended (``/`` as
``/index.json``): the same context as JSON. HTML responses carry
``Link: <twin>; rel="alternate"; type="application/json"``.

A URL naming something the registry does not hold gets a 404 page that says what was not
found and links back (JSON: ``{"error": ..., "status": 404}``); so does any other URL
under ``/ui``. Only GET: the UI reads.

Note: ``.json`` at the end of a path always asks for the twin, so a model literally named
``x.json`` is reached through the search page's JSON rather than its own URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry import RegistryNotFoundError
from store.errors import ObjectNotFoundError
from store.ui import cards, catalog, deployments, home, lineage, models, monitoring, training
from store.ui.context import NotFound, to_json
from store.ui.links import Links
from store.ui.templates import render, stylesheet

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from store.feature_store import FeatureStore

__all__ = ["PAGES", "create_ui"]


@dataclass(frozen=True, slots=True)
class Call:
    """What a builder gets: the store, the path's parameters, the query, the links."""

    store: FeatureStore
    params: Mapping[str, Any]
    query: Mapping[str, str]
    query_all: Callable[[str], list[str]]
    links: Links


Builder = Callable[[Call], Any]

PAGES: list[tuple[str, str, Builder]] = [
    ("/", "home.html", lambda c: home.home_page(c.store)),
    ("/search", "search.html", lambda c: home.search_page(c.store, c.query)),
    ("/entities", "entities.html", lambda c: catalog.entities_page(c.store, c.query)),
    ("/entities/{name}", "entity.html", lambda c: catalog.entity_page(c.store, c.params["name"])),
    ("/sources", "sources.html", lambda c: catalog.sources_page(c.store, c.query)),
    ("/sources/{name}", "source.html", lambda c: catalog.source_page(c.store, c.params["name"])),
    ("/feature-views", "views.html", lambda c: catalog.views_page(c.store, c.query)),
    (
        "/feature-views/{name}",
        "view.html",
        lambda c: catalog.view_page(c.store, c.params["name"], c.query),
    ),
    ("/features", "features.html", lambda c: catalog.features_page(c.store, c.query)),
    ("/feature-services", "services.html", lambda c: catalog.services_page(c.store, c.query)),
    (
        "/feature-services/{name}",
        "service.html",
        lambda c: catalog.service_page(c.store, c.params["name"]),
    ),
    (
        "/training-sets",
        "training_sets.html",
        lambda c: training.training_sets_page(c.store, c.query),
    ),
    (
        "/training-sets/compare",
        "training_sets_compare.html",
        lambda c: training.compare_page(c.store, c.query),
    ),
    (
        "/training-sets/{name}",
        "training_set.html",
        lambda c: training.training_set_page(c.store, c.params["name"]),
    ),
    ("/models", "models.html", lambda c: models.models_page(c.store, c.query)),
    (
        "/models/{name}",
        "model.html",
        lambda c: models.model_page(c.store, c.params["name"], c.query),
    ),
    (
        "/models/{name}/compare",
        "compare.html",
        lambda c: models.compare_page(c.store, c.params["name"], c.query_all("v")),
    ),
    (
        "/models/{name}/versions/{number:int}",
        "version.html",
        lambda c: models.version_page(c.store, c.params["name"], c.params["number"]),
    ),
    (
        "/models/{name}/versions/{number:int}/card",
        "card.html",
        lambda c: cards.card_page(c.store, c.params["name"], c.params["number"], c.query),
    ),
    (
        "/models/{name}/versions/{number:int}/lineage",
        "lineage.html",
        lambda c: lineage.lineage_page(c.store, c.params["name"], c.params["number"], c.links),
    ),
    ("/deployments", "deployments.html", lambda c: deployments.deployments_page(c.store, c.query)),
    (
        "/deployments/{model}/{environment}",
        "deployment.html",
        lambda c: deployments.deployment_page(
            c.store, c.params["model"], c.params["environment"], c.query
        ),
    ),
    ("/monitoring", "monitoring.html", lambda c: monitoring.monitoring_page(c.store)),
    (
        "/monitoring/{model}",
        "drift.html",
        lambda c: monitoring.model_monitoring_page(c.store, c.params["model"], c.query),
    ),
]


def create_ui(store: FeatureStore) -> Starlette:
    """The UI as an ASGI app; mount it at ``/ui``."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import Response
    from starlette.routing import Route

    css = stylesheet()

    def static(_: Request) -> Response:
        return Response(
            css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    routes = [Route("/static/ui.css", static, methods=["GET"])]
    # The .json routes first: `/models/{name}` would otherwise take `/models/x.json` whole.
    for path, template, build in PAGES:
        twin = "/index.json" if path == "/" else f"{path}.json"
        routes.append(Route(twin, _endpoint(store, template, build, as_json=True), methods=["GET"]))
    for path, template, build in PAGES:
        routes.append(
            Route(path, _endpoint(store, template, build, as_json=False), methods=["GET"])
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        return _missing(request, "page", request.url.path, "", status=status)

    return Starlette(routes=routes, exception_handlers={HTTPException: not_found})


def _endpoint(
    store: FeatureStore, template: str, build: Builder, *, as_json: bool
) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        from starlette.responses import HTMLResponse, Response

        links = _links(request)
        call = Call(
            store=store,
            params=dict(request.path_params),
            query=dict(request.query_params),
            query_all=request.query_params.getlist,
            links=links,
        )
        try:
            context = build(call)
        except NotFound as exc:
            return _missing(request, exc.what, exc.name, exc.back, as_json=as_json)
        except (RegistryNotFoundError, ObjectNotFoundError) as exc:
            return _missing(request, "object", str(exc), "", as_json=as_json)
        if as_json:
            return Response(
                json.dumps(to_json(context), indent=2, allow_nan=False),
                media_type="application/json",
            )
        url = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        twin = links.twin(url)
        page = render(template, page=context, u=links, twin=twin, here=url)
        return HTMLResponse(
            page, headers={"Link": f'<{twin}>; rel="alternate"; type="application/json"'}
        )

    return endpoint


def _links(request: Request) -> Links:
    """Links under the prefix this request came through (the proxy's and the mount's)."""
    return Links(str(request.scope.get("root_path", "")))


def _missing(
    request: Request, what: str, name: str, back: str, *, as_json: bool = False, status: int = 404
) -> Response:
    from starlette.responses import HTMLResponse, JSONResponse

    message = f"No {what} named {name!r}." if status == 404 else f"HTTP {status}."
    if as_json or request.url.path.endswith(".json"):
        return JSONResponse({"error": message, "status": status}, status_code=status)
    links = _links(request)
    page = render(
        "missing.html",
        page={"title": "Not found", "message": message},
        u=links,
        back=links.path(back) if back else links.home(),
        twin=None,
        here=str(request.url.path),
    )
    return HTMLResponse(page, status_code=status)
