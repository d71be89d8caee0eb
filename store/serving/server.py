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
- ``GET /health``.
- ``GET /ui/...``: the web UI (:mod:`store.ui`), each page also as ``.json``.

Bad input answers with a JSON ``{"error": ...}`` and status 400 (404 for unknown objects).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from registry import RegistryError, RegistryNotFoundError
from store.errors import ObjectNotFoundError, StoreError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from store.feature_store import FeatureStore

__all__ = ["create_app"]


def create_app(store: FeatureStore) -> FastAPI:
    """The ASGI application serving ``store``."""
    from fastapi import Body, FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI(title="Silage", version="0.1.0")
    from store.ui.routes import create_ui

    app.mount("/ui", create_ui(store))  # the web UI: pages and their JSON twins

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
