"""The HTTP server: ``silage serve`` (FastAPI on uvicorn).

Endpoints:

- ``POST /get-online-features``: Feast's request and response shape. The request names
  ``features`` (a list of ``view:feature``) or a ``feature_service``, and ``entities`` as
  columns (``{"driver_id": [1001, 1002]}``); the response has ``metadata.feature_names``
  and one result per column (entity columns first) with ``values``, ``statuses`` and
  ``event_timestamps``. A service with a ``logging_config`` logs what it served, under the
  request's ``request_id`` when it gives one.
- ``POST /predict/{model}``: ``{"entity_rows": [...], "environment": "production"}``;
  returns ``{"predictions": [...]}``, routed through the live deployment, each with its
  ``prediction_id``.
- ``POST /outcomes``: ``{"outcomes": [{"prediction_id": ..., "value": ..., "at": ...}]}``;
  records the ground truth when it arrives; returns ``{"recorded": n, "unknown": [...]}``.
- ``POST /push``: Feast's body, ``{"push_source_name": "driver_stats_push", "df":
  {"driver_id": [1001], "event_timestamp": ["2026-11-27T10:00:00Z"], ...}, "to": "online"}``
  pushes rows to every view on the push source: ``to`` is ``"online"`` (the default; newest
  wins), ``"offline"`` (a new Parquet file in the batch source) or ``"online_and_offline"``.
  ``"feature_view": name`` in place of the push source pushes to that view alone. Returns
  ``{"written": n}``.
- ``POST /write-to-online-store``: Feast's ``{"feature_view_name": ..., "df": {...}}``,
  fresh rows into one view's online table, newest wins; returns ``{"written": n}``.
- ``POST /deployments/{model}/{environment}``: ``{"targets": [{"version": 3}, {"version": 4,
  "role": "canary", "share": 10}], "reason": ...}`` deploys; ``.../promote`` (``{"version":
  ..., "if_better": true, "reason": ...}``) and ``.../rollback`` change it. Each answers with
  the new deployment revision.
- ``POST /models/{model}/versions/{version}/card/approve``: approves the model card.
- ``GET /health``: always open, for load balancers.
- ``GET /ui/...``: the web UI (:mod:`store.ui`), each page also as ``.json`` (behind the
  ``read`` scope under ``read_token``).

Tokens. Reads are open unless the server runs with ``read_token=True`` (``silage serve
--read-token``), then they need a token with scope ``read``. Every write needs a bearer
token (``Authorization: Bearer slg_...``, from ``silage tokens create``) with its scope:
``push``, ``outcomes``, ``deploy`` (deploy, promote, rollback) or ``approve``; the token's name is
recorded as who made the change. No valid token answers 401, a token without the scope 403,
and nothing changes.

Bad input answers with a JSON ``{"error": ...}`` and status 400 (404 for unknown objects).
Every answer names the process that served it in the ``X-Silage-Worker`` header.

Several processes (``silage serve --workers N``) each build the app with
:func:`app_from_environment`; each store polls the registry's change counter at most every
``refresh_seconds`` as requests arrive (:meth:`FeatureStore.poll_registry_every`), so an
apply made anywhere reaches all of them within about ``refresh_seconds``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry import (
    ApiToken,
    DeploymentRevision,
    RegistryError,
    RegistryNotFoundError,
    RegistryUnavailableError,
    TokenRefusedError,
)
from store.errors import ObjectNotFoundError, StoreError
from store.types import UnixTimestamp

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI

    from store.feature_store import FeatureStore

__all__ = [
    "READ_TOKEN_VARIABLE",
    "REFRESH_VARIABLE",
    "REPO_VARIABLE",
    "app_from_environment",
    "create_app",
]

#: The environment variables through which ``silage serve --workers N`` tells each worker
#: process which repository to serve and how often to poll the registry.
REPO_VARIABLE = "SILAGE_SERVE_REPO"
REFRESH_VARIABLE = "SILAGE_SERVE_REFRESH_SECONDS"
READ_TOKEN_VARIABLE = "SILAGE_SERVE_READ_TOKEN"

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_ASGI = Callable[
    [_Scope, Callable[[], Awaitable[_Message]], Callable[[_Message], Awaitable[None]]],
    Awaitable[None],
]


def app_from_environment() -> FastAPI:
    """The app of one worker process: the repository named by ``SILAGE_SERVE_REPO``."""
    from store.feature_store import FeatureStore

    repo = os.environ.get(REPO_VARIABLE)
    if not repo:
        raise RuntimeError(f"{REPO_VARIABLE} is not set; start workers with `silage serve`")
    refresh = float(os.environ.get(REFRESH_VARIABLE, "1.0"))
    read_token = os.environ.get(READ_TOKEN_VARIABLE) == "1"
    return create_app(
        FeatureStore(repo_path=Path(repo)),
        refresh_seconds=refresh,
        owns_store=True,
        read_token=read_token,
    )


class _ReadGate:
    """Lets a request through to ``app`` only with a token of scope ``read`` (the UI under
    ``read_token``: it is a mounted app, outside FastAPI's dependencies)."""

    def __init__(self, app: _ASGI, tokens: Any) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(
        self,
        scope: _Scope,
        receive: Callable[[], Awaitable[_Message]],
        send: Callable[[_Message], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers", []))
            kind, _, secret = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
            try:
                from fastapi.concurrency import run_in_threadpool

                await run_in_threadpool(  # a database read: off the event loop
                    self.tokens.authenticate,
                    secret.strip() if kind.lower() == "bearer" else None,
                    "read",
                )
            except TokenRefusedError as exc:
                from fastapi.responses import JSONResponse

                answer = JSONResponse(
                    {"error": str(exc)},
                    status_code=exc.status,
                    headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None,
                )
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _WorkerHeader:
    """Adds ``X-Silage-Worker: <process id>`` to every answer (a plain ASGI wrapper: it costs
    one list append per response)."""

    def __init__(self, app: _ASGI) -> None:
        self.app = app
        self.header = (b"x-silage-worker", str(os.getpid()).encode())

    async def __call__(
        self,
        scope: _Scope,
        receive: Callable[[], Awaitable[_Message]],
        send: Callable[[_Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: _Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, sending)


def create_app(
    store: FeatureStore,
    *,
    refresh_seconds: float = 1.0,
    owns_store: bool = False,
    read_token: bool = False,
) -> FastAPI:
    """The ASGI application serving ``store``.

    The store looks for registry changes made by other processes at most every
    ``refresh_seconds`` (0: before every request) and drops cached definitions when it
    finds one. With ``owns_store`` the store is closed when the app stops. With
    ``read_token``, reads need a token too.
    """
    from fastapi import Body, Depends, FastAPI, Header, Request
    from fastapi.responses import JSONResponse

    store.poll_registry_every(refresh_seconds)
    lifespan = _lifespan(store, owns_store)
    app = FastAPI(title="Silage", version="0.1.0", lifespan=lifespan)
    app.add_middleware(_WorkerHeader)
    tokens = store.model_registry.tokens

    def needs(scope: str) -> Callable[..., ApiToken | None]:
        """A dependency: the request's token, which must have ``scope``."""

        def check(authorization: str | None = Header(default=None)) -> ApiToken | None:
            if scope == "read" and not read_token:
                return None
            kind, _, secret = (authorization or "").partition(" ")
            return tokens.authenticate(secret.strip() if kind.lower() == "bearer" else None, scope)

        return check

    @app.exception_handler(TokenRefusedError)
    async def refused(_: Request, exc: Exception) -> JSONResponse:
        status = exc.status if isinstance(exc, TokenRefusedError) else 401
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": str(exc)}, status_code=status, headers=headers)

    from store.ui.routes import create_ui

    ui = create_ui(store)  # the web UI: pages and their JSON twins
    app.mount("/ui", _ReadGate(ui, tokens) if read_token else ui)

    @app.exception_handler(StoreError)
    @app.exception_handler(RegistryError)
    async def user_error(_: Request, exc: Exception) -> JSONResponse:
        # 503: the registry is down (an outage, not the client's mistake); 404: not found
        return JSONResponse({"error": str(exc)}, status_code=_status(exc))

    read, write = Depends(needs("read")), {s: Depends(needs(s)) for s in SCOPES_WRITTEN}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "project": store.project}

    @app.post("/get-online-features", dependencies=[read])
    def get_online_features(request: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        features: Any = request.get("features")
        if request.get("feature_service"):
            features = store.get_feature_service(str(request["feature_service"]))
        if not features:
            raise _bad("give `features` (a list of 'view:feature') or a `feature_service`")
        entities = request.get("entities")
        if not isinstance(entities, dict) or not entities:
            raise _bad('give `entities` as columns, e.g. {"driver_id": [1001, 1002]}')
        request_id = request.get("request_id")
        response = store.get_online_features(
            features,
            entities,
            full_feature_names=bool(request.get("full_feature_names")),
            request_id=None if request_id is None else str(request_id),
        )
        names = [*response.entities, *response.features]
        results = [
            {
                "values": values,
                "statuses": ["PRESENT"] * len(values),
                "event_timestamps": ["1970-01-01T00:00:00Z"] * len(values),
            }
            for values in response.entities.values()
        ]
        for name, values in response.features.items():
            results.append(
                {
                    "values": values,
                    "statuses": response.statuses[name],
                    "event_timestamps": [
                        t.isoformat().replace("+00:00", "Z") if t else None
                        for t in response.event_timestamps[name]
                    ],
                }
            )
        return {"metadata": {"feature_names": names}, "results": results}

    @app.post("/predict/{model}", dependencies=[read])
    def predict(model: str, request: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        rows = request.get("entity_rows")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise _bad('give `entity_rows` as a list of objects, e.g. [{"driver_id": 1001}]')
        predictions = store.predict(
            model,
            rows,
            str(request.get("environment", "production")),
            missing=str(request.get("missing", "error")),
        )
        return {"model": model, "predictions": predictions}

    _add_push(app, store, write)

    @app.post("/outcomes", dependencies=[write["outcomes"]])
    def outcomes(request: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        given = request.get("outcomes")
        if not isinstance(given, list) or not all(
            isinstance(o, dict) and "prediction_id" in o and "value" in o for o in given
        ):
            raise _bad(
                'give `outcomes` as a list of objects, e.g. [{"prediction_id": "3f2a...", '
                '"value": 1, "at": "2026-11-27T10:00:00Z"}]'
            )
        now = datetime.now(UTC)
        times = [_time(o.get("at")) or now for o in given]
        receipt = store.record_outcomes(
            [str(o["prediction_id"]) for o in given], [o["value"] for o in given], times
        )
        return {"recorded": receipt.recorded, "unknown": list(receipt.unknown)}

    _add_registry_writes(app, store, write)
    return app


def _add_push(app: FastAPI, store: FeatureStore, write: dict[str, Any]) -> None:
    """``POST /push`` and Feast's ``/write-to-online-store`` (scope ``push``)."""
    from fastapi import Body

    def frame(views: list[Any], df: Any) -> Any:
        """The pushed columns as a DataFrame, the time columns of ``views`` (the feature
        views reached) parsed from ISO text."""
        if not isinstance(df, dict) or not df:
            raise _bad(
                'give `df` as columns, e.g. {"driver_id": [1001], "event_timestamp": '
                '["2026-11-27T10:00:00Z"], "conv_rate": [0.5]}'
            )
        times: set[str | None] = set()
        for view in views:
            times |= {view.source.timestamp_field, view.source.created_timestamp_column}
            times |= {f.name for f in view.features if f.dtype == UnixTimestamp}
        return _pushed_frame(df, times)

    @app.post("/push", dependencies=[write["push"]])
    def push_rows(request: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        name = request.get("push_source_name") or request.get("feature_view")
        if not isinstance(name, str) or not name:
            raise _bad(
                'name the push source: {"push_source_name": "driver_stats_push", "df": {...}, '
                '"to": "online"}'
            )
        rows = frame(store.views_pushed_to(name), request.get("df"))
        return {"written": store.push(name, rows, to=request.get("to") or "online")}

    @app.post("/write-to-online-store", dependencies=[write["push"]])
    def write_rows(request: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        name = request.get("feature_view_name")
        if not isinstance(name, str) or not name:
            raise _bad('name the view: {"feature_view_name": "driver_hourly_stats", "df": {...}}')
        view = store.get_feature_view(name)
        return {"written": store.write_to_online_store(view, frame([view], request.get("df")))}


def _add_registry_writes(app: FastAPI, store: FeatureStore, write: dict[str, Any]) -> None:
    """Deployments and card approvals over HTTP: each needs its token scope and records the
    token's name as who made the change."""
    from fastapi import Body

    @app.post("/deployments/{model}/{environment}")
    def deploy(
        model: str,
        environment: str,
        request: dict[str, Any] = Body(...),  # noqa: B008
        token: ApiToken = write["deploy"],
    ) -> dict[str, Any]:
        from registry import Target

        given = request.get("targets")
        if not isinstance(given, list) or not given or not all(isinstance(t, dict) for t in given):
            raise _bad(
                'give `targets`, e.g. [{"version": 3}, {"version": 4, "role": "canary", '
                '"share": 10}]'
            )
        try:
            targets = [
                Target(
                    int(t["version"]),
                    str(t.get("role", "primary")),
                    None if t.get("share") is None else float(t["share"]),
                    str(t.get("arm", "")),
                )
                for t in given
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad(
                f"a target needs an integer `version` and a numeric `share`: {exc}"
            ) from None
        revision = store.model_registry.deployments.deploy(
            model, environment, targets, by=token.name, reason=str(request.get("reason", ""))
        )
        return _revision(revision)

    @app.post("/deployments/{model}/{environment}/promote")
    def promote(
        model: str,
        environment: str,
        request: dict[str, Any] = Body(default={}),  # noqa: B008
        token: ApiToken = write["deploy"],
    ) -> dict[str, Any]:
        version = request.get("version")
        if version is not None and not (isinstance(version, int) and not isinstance(version, bool)):
            raise _bad(f"`version` {version!r} is not a version number")
        revision = store.promote(
            model,
            environment,
            version=version,
            if_better=bool(request.get("if_better", False)),
            reason=str(request.get("reason", "")),
            by=token.name,
        )
        return _revision(revision)

    @app.post("/deployments/{model}/{environment}/rollback")
    def rollback(
        model: str,
        environment: str,
        request: dict[str, Any] = Body(default={}),  # noqa: B008
        token: ApiToken = write["deploy"],
    ) -> dict[str, Any]:
        revision = store.model_registry.deployments.rollback(
            model, environment, by=token.name, reason=str(request.get("reason", ""))
        )
        return _revision(revision)

    @app.post("/models/{model}/versions/{version}/card/approve")
    def approve_card(
        model: str, version: int, token: ApiToken = write["approve"]
    ) -> dict[str, Any]:
        card = store.model_registry.cards.approve(model, version, by=token.name)
        return {
            "model": model,
            "version": version,
            "revision": card.revision,
            "status": card.status,
            "approved_by": token.name,
        }


# The scopes the server's writes need (``read`` guards reads under ``read_token``).
SCOPES_WRITTEN = ("outcomes", "deploy", "approve", "push")


def _revision(revision: DeploymentRevision) -> dict[str, Any]:
    """A deployment revision as JSON."""
    return {
        "model": revision.model,
        "environment": revision.environment,
        "revision": revision.revision,
        "action": revision.action,
        "created_by": revision.created_by,
        "created_at": revision.created_at.isoformat(),
        "reason": revision.reason,
        "targets": [
            {"version": t.version, "role": t.role, "share": t.share, "arm": t.arm}
            for t in revision.targets
        ],
    }


def _lifespan(store: FeatureStore, owns_store: bool) -> Callable[[Any], Any]:
    """What runs when the app stops: closing an owned store."""

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owns_store:
                store.close()

    return lifespan


def _pushed_frame(df: dict[str, Any], times: set[str | None]) -> Any:
    """Pushed JSON columns as a DataFrame, the columns ``times`` (a view's event, created and
    timestamp columns) parsed from ISO text, naive meaning UTC."""
    import pandas as pd

    lengths = {len(v) if isinstance(v, list) else -1 for v in df.values()}
    if len(lengths) != 1 or -1 in lengths:
        raise _bad("`df` columns must be lists of the same length")
    frame = pd.DataFrame(df)
    for column in times & set(frame.columns):
        try:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        except (ValueError, TypeError):
            raise _bad(f"`df` column {column!r} holds values that are not ISO times") from None
    return frame


def _status(exc: Exception) -> int:
    """The HTTP status of a user error."""
    if isinstance(exc, RegistryUnavailableError):
        return 503
    return 404 if isinstance(exc, ObjectNotFoundError | RegistryNotFoundError) else 400


def _time(value: Any) -> datetime | None:
    """An ISO time from a request (naive means UTC), or None when absent."""
    if value is None:
        return None
    try:
        found = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _bad(f"`at` {value!r} is not an ISO time such as 2026-11-27T10:00:00Z") from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _bad(message: str) -> StoreError:
    from store.errors import RequestError

    return RequestError(message)
