"""Rankings through deployments, and interleaving two rankers on the same request.

A ranking model scores each candidate for a context (a user, a query): a classifier by its
probability of the positive class, a regressor by its prediction; the candidates are
shown best first. :meth:`Ranking.rank` serves a model's live deployment in an environment:

- deployed with ``mode="interleave"`` (two A/B arms), both versions rank the candidates and
  :func:`~store.experiments.interleaving.team_draft` merges their rankings into the one list
  returned; each item says which version contributed it;
- otherwise the version the context routes to (by the deployment's shares) ranks alone.

Every item shown is logged as a prediction of the version that contributed it, with the
request's id, so a click is an outcome recorded on the item's ``prediction_id``
(``FeatureStore.record_outcomes``). :meth:`Ranking.report` credits the clicks of each
request to the versions (a request whose items got no click says nothing and is left
out) and tests the preference over requests with a two-sided binomial (sign) test.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from registry import DeploymentRevision, ProjectRegistry, Target
from store.errors import RequestError
from store.experiments.analysis import experiment_start
from store.experiments.interleaving import Preference, Slot, preference, team_draft
from store.serving.predict import Predictor, route, routing_key
from store.serving.prediction_log import LoggedPrediction, PredictionLog, canonical

__all__ = ["InterleavingReport", "Ranking"]


class InterleavingReport:
    """Which of two interleaved versions users preferred, request by request."""

    def __init__(
        self,
        model: str,
        environment: str,
        teams: dict[str, Target],
        credits: dict[str, tuple[int, int]],
        result: Preference,
    ) -> None:
        self.model = model
        self.environment = environment
        self.teams = teams
        self.credits = credits
        self.preference = result

    @property
    def winner(self) -> int | None:
        """The preferred version, None while there is no evidence."""
        team = self.preference.winner
        return None if team is None else self.teams[team].version

    def render(self) -> str:
        a, b = self.teams["a"], self.teams["b"]
        return (
            f"Interleaving {self.model} in {self.environment}: a = v{a.version} ({a.arm}), "
            f"b = v{b.version} ({b.arm}) over {len(self.credits):,} requests with clicks\n"
            f"{self.preference.render()}\n"
        )


class Ranking:
    """Serves ``FeatureStore.rank`` and reads interleaving experiments."""

    def __init__(self, registry: ProjectRegistry, predictor: Predictor, log: PredictionLog):
        self._registry = registry
        self._predictor = predictor
        self._log = log

    def rank(
        self,
        model: str,
        environment: str,
        context: Mapping[str, Any],
        candidates: Sequence[Mapping[str, Any]],
        *,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The candidates ranked for ``context``, best first: each item is the candidate
        with ``rank``, ``score``, ``model_version`` (the version that placed it) and
        ``prediction_id`` (record a click on it as an outcome)."""
        if not candidates:
            raise RequestError("candidates is empty; pass at least one candidate to rank")
        live = self._registry.deployments.live(model, environment)
        request_id = uuid.uuid4().hex
        rows = [{**context, **c} for c in candidates]
        items = [json.dumps(dict(c), sort_keys=True, default=str) for c in candidates]
        if len(set(items)) != len(items):
            raise RequestError("candidates repeat; pass each candidate once")
        if live.mode == "interleave":
            teams = _teams(live)
            started = time.perf_counter()
            scored = {team: self._scored(model, t.version, rows) for team, t in teams.items()}
            order = {
                team: [items[i] for i in _best_first(scores)]
                for team, (scores, _, _) in scored.items()
            }
            slots = team_draft(order["a"], order["b"], key=request_id, length=limit)
            latency = (time.perf_counter() - started) * 1000 / max(len(rows), 1)
        else:
            key = routing_key(context, self._predictor.join_keys())
            target = route(model, environment, key, live.targets)
            teams = {"a": target}
            started = time.perf_counter()
            scored = {"a": self._scored(model, target.version, rows)}
            ranked = [items[i] for i in _best_first(scored["a"][0])][:limit]
            slots = [Slot(item, "a", rank) for rank, item in enumerate(ranked)]
            latency = (time.perf_counter() - started) * 1000 / max(len(rows), 1)
        position = {item: i for i, item in enumerate(items)}
        now = datetime.now(UTC).isoformat()
        results, logged = [], []
        for slot in slots:
            i = position[slot.item]
            target = teams[slot.team]
            scores, features, missing = scored[slot.team]
            prediction_id = uuid.uuid4().hex
            results.append(
                {
                    **candidates[i],
                    "rank": slot.rank,
                    "score": scores[i],
                    "model_version": target.version,
                    "prediction_id": prediction_id,
                }
            )
            label, number = canonical(scores[i])
            logged.append(
                LoggedPrediction(
                    request_id=request_id,
                    predicted_at=now,
                    environment=environment,
                    model=model,
                    version=target.version,
                    role=target.role,
                    entity=json.dumps(rows[i], sort_keys=True, default=str),
                    features=json.dumps(features[i], default=str),
                    prediction=json.dumps({"prediction": scores[i], "rank": slot.rank}),
                    latency_ms=latency,
                    prediction_id=prediction_id,
                    arm=target.arm,
                    # interleaved items were not routed by shares; a routed ranking was
                    propensity=None if live.mode == "interleave" else (target.share or 0) / 100,
                    missing=missing[i],
                    label=label,
                    predicted=number,
                )
            )
        self._log.append(logged)
        return results

    def report(self, model: str, environment: str, *, alpha: float = 0.05) -> InterleavingReport:
        """Credit each request's clicks (outcomes above 0) to the versions and test which
        one users prefer."""
        history = self._registry.deployments.history(model, environment)
        if not history or history[-1].mode != "interleave":
            raise RequestError(
                f"{model} in {environment} is not interleaving; deploy two A/B arms with "
                f"mode='interleave' first"
            )
        teams = _teams(history[-1])
        team_of = {(t.version, t.arm): name for name, t in teams.items()}
        since = experiment_start(history).created_at
        credits: dict[str, list[int]] = {}
        for request, version, arm, clicks in self._log.clicks(
            model, environment=environment, start=since
        ):
            team = team_of.get((version, arm))
            if team is not None and clicks:
                credits.setdefault(request, [0, 0])[0 if team == "a" else 1] += clicks
        pairs = {r: (c[0], c[1]) for r, c in credits.items()}
        return InterleavingReport(
            model, environment, teams, pairs, preference(pairs.values(), alpha=alpha)
        )

    def _scored(
        self, model: str, version: int, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[list[float], list[dict[str, Any]], list[int]]:
        outputs, features, missing = self._predictor.score(model, version, rows)
        scores = [float(o.get("probability", o["prediction"])) for o in outputs]
        return scores, features, missing


def _teams(live: DeploymentRevision) -> dict[str, Target]:
    arms = [t for t in live.targets if t.role == "ab"]
    return {"a": arms[0], "b": arms[1]}


def _best_first(scores: Sequence[float]) -> list[int]:
    """Indexes by score, best first; ties keep the candidates' order."""
    return sorted(range(len(scores)), key=lambda i: -scores[i])
