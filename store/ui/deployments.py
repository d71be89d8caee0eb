"""Context builders for deployments: what is live where, a deployment's revisions, and
what served at a given time.

``/ui/deployments/<model>/<environment>?at=2026-11-27T10:00Z`` answers MLflow users' most
asked question, which version was in production when: the revision live at that instant
(the newest made at or before it), times read as UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from registry import DeploymentRevision
from store.ui.context import NotFound, Paging, page_args

if TYPE_CHECKING:
    from store.feature_store import FeatureStore

__all__ = ["DeploymentPage", "DeploymentsPage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentsPage:
    """``/ui/deployments``: the live revision of every model in every environment."""

    title: str
    live: tuple[DeploymentRevision, ...]
    paging: Paging


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentPage:
    """``/ui/deployments/<model>/<environment>``: its revisions newest first (who, when,
    why, targets and shares), the live one, and ``served_at`` for ``?at=``."""

    title: str
    model: str
    environment: str
    live: DeploymentRevision
    revisions: tuple[DeploymentRevision, ...]
    at: datetime | None
    at_error: str
    served_at: DeploymentRevision | None


def deployments_page(store: FeatureStore, query: Mapping[str, str]) -> DeploymentsPage:
    offset, limit, sort, text = page_args(query, "model")
    page = store.registry.browse.live_deployment_page(
        store.project, contains=text, sort=sort, offset=offset, limit=limit
    )
    return DeploymentsPage(
        title="Deployments",
        live=page.rows,
        paging=Paging(offset=offset, limit=limit, total=page.total, sort=sort, filter=text),
    )


def deployment_page(
    store: FeatureStore, model: str, environment: str, query: Mapping[str, str]
) -> DeploymentPage:
    history = store.registry.browse.deployment_history(store.project, model, environment)
    if not history:
        raise NotFound("deployment", f"{model} in {environment}", "/deployments")
    at, error = _time(query.get("at", ""))
    served = None
    if at is not None:
        earlier = [r for r in history if r.created_at <= at]
        served = earlier[-1] if earlier else None
        if served is None:
            error = f"nothing served {model} in {environment} at {at:%Y-%m-%d %H:%M:%S} UTC"
    return DeploymentPage(
        title=f"{model} in {environment}",
        model=model,
        environment=environment,
        live=history[-1],
        revisions=tuple(reversed(history)),
        at=at,
        at_error=error,
        served_at=served,
    )


def _time(text: str) -> tuple[datetime | None, str]:
    text = text.strip()
    if not text:
        return None, ""
    try:
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, f"{text!r} is not a time; write it as 2026-11-27T10:00 (UTC)"
    return (found if found.tzinfo else found.replace(tzinfo=UTC)).astimezone(UTC), ""
