"""The HTTP server: ``silage serve`` (FastAPI on uvicorn).

Endpoints:

- ``POST /get-online-features``: Feast's request and response shape. The request names
  ``features`` (a list of ``view:feature``) or a ``feature_service``, and ``entities`` as
  columns (``{"driver_id": [1001, 1002]}``); the response has ``metadata.feature_names``
  and one result per column (entity columns first) with ``values``, ``statuses`` and
  ``event_timestamps``.
- ``POST /predict/{model}``: ``{"entity_rows": [...], "environment": "production"}``;
  returns ``{"predictions": [...]}``, routed through the live deployment, each with its
  ``prediction_id``.
- ``POST /outcomes``: ``{"outcomes": [{"prediction_id": ..., "value": ..., "at": ...}]}``;
  records the ground truth when it arrives; returns ``{"recorded": n, "unknown": [...]}``.
- ``POST /push``: ``{"feature_view": "driver_hourly_stats", "df": {"driver_id": [1001],
  "event_timestamp": ["2026-11-27T10:00:00Z"], ...}}`` writes fresh rows to the online store,
  newest wins (``/write-to-online-store`` takes Feast's ``feature_view_name`` too); returns
  ``{"written": n}``.
- ``GET /health``.

Bad input answers with a JSON ``{"error": ...}`` and status 400 (404 for unknown objects).
Every answer names the process that served it in the ``X-Silage-Worker`` header.

Several processes (``silage serve --workers N``) each build the app with
:func:`app_from_environment`; each polls the registry for changes (see
:mod:`.freshness`), so an apply made anywhere reaches all of them within about
``refresh_seconds``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry import RegistryError, RegistryNotFoundError
from store.errors import ObjectNotFoundError, StoreError
from store.serving.freshness import ChangeWatcher, catalog_token
from store.types import UnixTimestamp

if TYPE_CHECKING:
    from fastapi import FastAPI

    from store.feature_store import FeatureStore

__all__ = ["REPO_VARIABLE", "app_from_environment", "create_app"]

#: The environment variables through which ``silage serve --workers N`` tells each worker
#: process which repository to serve and how often to poll the registry.
REPO_VARIABLE = "SILAGE_SERVE_REPO"
REFRESH_VARIABLE = "SILAGE_SERVE_REFRESH_SECONDS"

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
    return create_app(FeatureStore(repo_path=Path(repo)), refresh_seconds=refresh, owns_store=True)


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
    store: FeatureStore, *, refresh_seconds: float = 1.0, owns_store: bool = False
) -> FastAPI:
    """The ASGI application serving ``store``.

    While it runs, a thread polls the registry every ``refresh_seconds`` (0: never) and
    drops cached definitions when another process changed them. With ``owns_store`` the
    store is closed when the app stops.
    """
    from fastapi import Body, FastAPI, Request
    from fastapi.responses import JSONResponse

    lifespan = _lifespan(store, refresh_seconds, owns_store)
    app = FastAPI(title="Silage", version="0.1.0", lifespan=lifespan)
    app.add_middleware(_WorkerHeader)

    @app.exception_handler(StoreError)
    @app.exception_handler(RegistryError)
    async def user_error(_: Request, exc: Exception) -> JSONResponse:
        missing = isinstance(exc, ObjectNotFoundError | RegistryNotFoundError)
        return JSONResponse({"error": str(exc)}, status_code=404 if missing else 400)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "project": store.project}

    @app.post("/get-online-features")
    def get_online_features(request: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        features: Any = request.get("features")
        if request.get("feature_service"):
            features = store.get_feature_service(str(request["feature_service"]))
        if not features:
            raise _bad("give `features` (a list of 'view:feature') or a `feature_service`")
        entities = request.get("entities")
        if not isinstance(entities, dict) or not entities:
            raise _bad('give `entities` as columns, e.g. {"driver_id": [1001, 1002]}')
        response = store.get_online_features(
            features, entities, full_feature_names=bool(request.get("full_feature_names"))
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

    @app.post("/predict/{model}")
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

    def push(view_name: Any, df: Any) -> dict[str, Any]:
        if not isinstance(view_name, str) or not view_name:
            raise _bad('name the view: {"feature_view": "driver_hourly_stats", "df": {...}}')
        if not isinstance(df, dict) or not df:
            raise _bad(
                'give `df` as columns, e.g. {"driver_id": [1001], "event_timestamp": '
                '["2026-11-27T10:00:00Z"], "conv_rate": [0.5]}'
            )
        view = store.get_feature_view(view_name)
        times = {view.source.timestamp_field, view.source.created_timestamp_column}
        times |= {f.name for f in view.features if f.dtype == UnixTimestamp}
        return {"written": store.push(view, _pushed_frame(df, times))}

    @app.post("/push")
    def push_rows(request: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        return push(request.get("feature_view"), request.get("df"))

    @app.post("/write-to-online-store")
    def write_rows(request: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        return push(request.get("feature_view_name"), request.get("df"))

    @app.post("/outcomes")
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

    return app


def _lifespan(
    store: FeatureStore, refresh_seconds: float, owns_store: bool
) -> Callable[[Any], Any]:
    """What runs while the app serves: the registry watcher (and closing an owned store)."""

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        watcher = ChangeWatcher(
            lambda: catalog_token(store.registry, store.project),
            store.refresh_registry,
            interval=refresh_seconds,
        )
        if refresh_seconds > 0:
            watcher.start()
        try:
            yield
        finally:
            watcher.stop()
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
