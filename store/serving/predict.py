"""Predictions through deployments: route, fetch features online, run the model, log.

For a request to a model in an environment, each entity row is routed to one served target
of the live deployment (primary, canary or A/B arm) by its traffic shares, using a hash of
the model, environment and the row's join keys (:func:`routing_key`): the same entity always
lands on the same arm while the deployment stays the same, whatever request values (a trip's
distance, say) come with it. The serving version gets exactly the features its
training set had, in that order, from the online store. Shadow targets run on the same
features; their predictions are logged, never returned.

Missing features: by default a row with a missing (None) feature value is refused with an
error naming the entity and the feature, never filled with zero. ``missing="model"`` passes
NaN to the model instead, for models that handle missing values themselves (such as
scikit-learn's histogram gradient boosting).

Every prediction, shadows included, is appended to the predictions log
(:mod:`store.serving.prediction_log`).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from registry import DeploymentRevision, ProjectRegistry, Target
from store.errors import RequestError
from store.serving.prediction_log import LoggedPrediction, PredictionLog, canonical

if TYPE_CHECKING:
    import pandas as pd

    from store.online.read import OnlineResponse

__all__ = ["PredictionError", "Predictor", "model_outputs", "route", "routing_key"]


class PredictionError(RequestError):
    """A prediction cannot be made as asked (for example, a feature value is missing)."""


def routing_key(row: Mapping[str, Any], join_keys: Collection[str]) -> str:
    """What routing hashes for a row: its entity join keys, without request values.

    A row with none of the project's join keys (a model served on request values alone)
    is routed by all of its values.

    >>> routing_key({"driver_id": 7, "trip_km": 3.5}, {"driver_id", "customer_id"})
    '{"driver_id": 7}'
    """
    keys = {k: v for k, v in row.items() if k in join_keys} or dict(row)
    return json.dumps(keys, sort_keys=True, default=str)


def route(model: str, environment: str, key: str, targets: Sequence[Target]) -> Target:
    """The served target for an entity: a stable hash of it picks a point in 0..100, and the
    targets' shares, in order, divide that range."""
    served = [t for t in targets if t.role != "shadow"]
    digest = hashlib.sha256(f"{model}\x1f{environment}\x1f{key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * 100.0
    total = 0.0
    for target in served:
        total += target.share or 0.0
        if point < total:
            return target
    return served[-1]


@dataclass(frozen=True, slots=True)
class _Serving:
    version: int
    refs: tuple[str, ...]
    columns: tuple[str, ...]
    full_names: bool
    model: Any


class Predictor:
    """Serves ``FeatureStore.predict``; models and their feature lists are cached."""

    def __init__(
        self,
        registry: ProjectRegistry,
        online: Callable[[Sequence[str], Sequence[Mapping[str, Any]], bool], OnlineResponse],
        log: PredictionLog,
        *,
        join_keys: Callable[[], Collection[str]] = frozenset,
        trusted_types: Sequence[str] = (),
    ) -> None:
        self._registry = registry
        self._online = online
        self._log = log
        self.join_keys = join_keys
        self._trusted = list(trusted_types)
        self._loaded: dict[tuple[str, int], _Serving] = {}

    def predict(
        self,
        model: str,
        entity_rows: Sequence[Mapping[str, Any]],
        environment: str = "production",
        *,
        missing: str = "error",
    ) -> list[dict[str, Any]]:
        """One result per entity row: the entity, ``prediction`` (and ``probability`` for binary
        classifiers), ``model_version`` and ``role``."""
        if missing not in ("error", "model"):
            raise RequestError(f"missing={missing!r}; use 'error' or 'model'")
        rows = list(entity_rows)
        if not rows:
            raise RequestError("entity_rows is empty; pass at least one row")
        live: DeploymentRevision = self._registry.deployments.live(model, environment)
        if live.mode == "interleave":
            raise RequestError(
                f"{model} in {environment} interleaves two rankers: rank candidates with "
                f"store.rank(...) (POST /rank), not predict"
            )
        request_id = uuid.uuid4().hex
        keys = [json.dumps(dict(row), sort_keys=True, default=str) for row in rows]
        join_keys = self.join_keys()
        chosen = [
            route(model, environment, routing_key(row, join_keys), live.targets) for row in rows
        ]
        results: list[dict[str, Any]] = [{} for _ in rows]
        served_ids: list[str] = ["" for _ in rows]
        log: list[LoggedPrediction] = []
        shadows = [t for t in live.targets if t.role == "shadow"]
        failure: Exception | None = None
        for target in [*{(t.version, t.role): t for t in chosen}.values(), *shadows]:
            indexes = (
                [i for i in range(len(rows)) if served_ids[i]]  # rows served without error
                if target.role == "shadow"
                else [i for i, t in enumerate(chosen) if t == target]
            )
            if not indexes:
                continue
            started = time.perf_counter()
            subset = [rows[i] for i in indexes]
            try:
                serving = self._serving(model, target.version)
                frame, missing_counts = self._features(serving, subset, missing)
                predictions = model_outputs(serving.model, frame)
            except Exception as error:
                # Logged against its target (the error rate is a guardrail). Every target
                # still runs, so the log keeps every arm's traffic; a served target's
                # failure is then raised, a shadow's never reaches the caller.
                log += self._failed(request_id, environment, model, target, keys, indexes, error)
                if target.role != "shadow" and failure is None:
                    failure = error
                continue
            latency = (time.perf_counter() - started) * 1000 / max(len(subset), 1)
            now = datetime.now(UTC).isoformat()
            features = frame.to_dict(orient="records")
            for position, i in enumerate(indexes):
                if target.role == "shadow":
                    # A shadow's id names the served prediction it shadows, whose outcome
                    # scores it too.
                    prediction_id = f"{served_ids[i]}.shadow.v{target.version}"
                else:
                    prediction_id = served_ids[i] = uuid.uuid4().hex
                    results[i] = {
                        **rows[i],
                        **predictions[position],
                        "model_version": target.version,
                        "role": target.role,
                        "prediction_id": prediction_id,
                    }
                label, number = canonical(predictions[position]["prediction"])
                log.append(
                    LoggedPrediction(
                        request_id=request_id,
                        predicted_at=now,
                        environment=environment,
                        model=model,
                        version=target.version,
                        role=target.role,
                        entity=keys[i],
                        features=json.dumps(features[position], default=str),
                        prediction=json.dumps(predictions[position], default=str),
                        latency_ms=latency,
                        prediction_id=prediction_id,
                        arm=target.arm,
                        propensity=None if target.role == "shadow" else (target.share or 0) / 100,
                        missing=missing_counts[position],
                        label=label,
                        predicted=number,
                    )
                )
        self._log.append(log)
        if failure is not None:
            raise failure
        return results

    def score(
        self,
        model: str,
        version: int,
        rows: Sequence[Mapping[str, Any]],
        *,
        missing: str = "error",
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[int]]:
        """One version's outputs for entity rows, without routing or logging (rankings use
        it): the outputs, the features as served and how many each row lacked."""
        serving = self._serving(model, version)
        frame, missing_counts = self._features(serving, rows, missing)
        features = [{str(k): v for k, v in r.items()} for r in frame.to_dict(orient="records")]
        return model_outputs(serving.model, frame), features, missing_counts

    @staticmethod
    def _failed(  # noqa: PLR0917 (one call site, all positional)
        request_id: str,
        environment: str,
        model: str,
        target: Target,
        keys: Sequence[str],
        indexes: Sequence[int],
        error: Exception,
    ) -> list[LoggedPrediction]:
        now = datetime.now(UTC).isoformat()
        return [
            LoggedPrediction(
                request_id=request_id,
                predicted_at=now,
                environment=environment,
                model=model,
                version=target.version,
                role=target.role,
                entity=keys[i],
                features="{}",
                prediction="{}",
                latency_ms=0.0,
                prediction_id=uuid.uuid4().hex,
                arm=target.arm,
                propensity=None if target.role == "shadow" else (target.share or 0) / 100,
                error=f"{type(error).__name__}: {error}"[:2000],
            )
            for i in indexes
        ]

    def _serving(self, model: str, version: int) -> _Serving:
        cached = self._loaded.get((model, version))
        if cached is not None:
            return cached
        found = self._registry.models.get_version(model, version=version)
        if found.training_set is None:
            raise PredictionError(
                f"{model} v{version} has no training set, so Silage does not know its features; "
                f"register it with training_set=..."
            )
        record = self._registry.training_sets.get(self._registry.project, found.training_set)
        full_names = bool(record.manifest.get("point_in_time", {}).get("full_feature_names"))
        columns = tuple(found.input_features) or tuple(f.column for f in record.features)
        by_column = {f.column: f"{f.feature_view}:{f.feature}" for f in record.features}
        unknown = [c for c in columns if c not in by_column]
        if unknown:
            raise PredictionError(
                f"{model} v{version} takes inputs {', '.join(unknown)} that its training set "
                f"{record.name!r} has no feature for; train it on feature columns only"
            )
        serving = _Serving(
            version=version,
            refs=tuple(by_column[c] for c in columns),
            columns=columns,
            full_names=full_names,
            model=self._registry.load_model(model, version=version, trusted=self._trusted),
        )
        self._loaded[(model, version)] = serving
        return serving

    def _features(
        self, serving: _Serving, rows: Sequence[Mapping[str, Any]], missing: str
    ) -> tuple[pd.DataFrame, list[int]]:
        """The model's input frame, and per row how many features were missing."""
        import pandas as pd

        response = self._online(serving.refs, rows, serving.full_names)
        values = response.to_dict()
        frame = pd.DataFrame({c: values[c] for c in serving.columns})
        missing_counts = [
            sum(values[c][i] is None for c in serving.columns) for i in range(len(rows))
        ]
        if missing == "error":
            for column in serving.columns:
                for i, value in enumerate(values[column]):
                    if value is None:
                        status = response.statuses[column][i]
                        raise PredictionError(
                            f"entity {dict(rows[i])} has no value for feature {column} "
                            f"({status}); materialize or push it, or pass missing='model' if "
                            f"the model handles missing values"
                        )
        return frame.astype("float64", errors="ignore"), missing_counts


def model_outputs(model: Any, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``prediction`` from ``predict``, and for binary classifiers the ``probability`` of the
    positive class."""
    labels = [v.item() if hasattr(v, "item") else v for v in list(model.predict(frame))]
    classes = getattr(model, "classes_", None)
    if (
        callable(getattr(model, "predict_proba", None))
        and classes is not None
        and len(classes) == 2
    ):
        positive = [float(p) for p in model.predict_proba(frame)[:, 1]]
        return [{"prediction": v, "probability": p} for v, p in zip(labels, positive, strict=True)]
    return [{"prediction": v} for v in labels]
