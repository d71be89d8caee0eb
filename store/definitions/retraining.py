"""Retraining policies: when a deployed model is retrained, on what, and how the new version
goes out (continual learning).

A policy is declared in the feature repository beside the alert rules (a module-level
value), with a plain Python training function of the repository. ``silage monitor run``
evaluates every policy after the alert rules; one fires on the first of its triggers:

- ``on_alerts``: one of these alert rules fired since the policy's last run. A rule on
  ``drift:<feature>`` makes the trigger drift-based; a rule on a live metric
  (``accuracy < 0.7``) makes it performance-based;
- ``new_outcomes``: at least this many outcomes were recorded for the model since the last
  run (volume-based);
- ``every``: this long has passed since the last run, or since the live primary version was
  registered (time-based).

A fired policy builds a fresh training set by the point-in-time join: the labelled entity
rows of ``labels`` (a Parquet :class:`~store.definitions.source.FileSource` with the
entity keys, its timestamp field and the label), up to now (within ``lookback``), joined
with ``features`` (default: the live primary's training-set features). It calls
``train(context)`` (:class:`RetrainingContext` in :mod:`store.experiments.retraining`),
registers the estimator it returns with lineage to the training set and the run, and
deploys it beside the live primary as a ``shadow`` or a ``canary`` of ``canary_share``
percent, where an experiment (and a promotion gate) decides its fate.

Example:
    >>> def train(context): ...
    >>> policy = RetrainingPolicy(name="weekly", model="churn", train=train,
    ...     labels=FileSource(name="churn_labels", path="data/labels.parquet",
    ...                       timestamp_field="event_timestamp"),
    ...     every="7d", on_alerts=["churn_drift"])
    >>> policy.describe()
    'churn: on alert churn_drift, or every 7d; deployed as a canary of 10%'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from store.definitions.source import FileSource
from store.definitions.spec import check_name
from store.errors import DefinitionError

__all__ = ["RetrainingPolicy"]

_DURATION = re.compile(r"^[1-9][0-9]*[mhdw]$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrainingPolicy:
    """When and how a deployed model is retrained.

    Args:
        name: unique among the project's policies.
        model: the deployed model; ``environment`` where it serves (default production).
        train: ``train(context) -> estimator``, a function of the repository.
        labels: the labelled entity rows a fresh training set is built from.
        label: the label column in ``labels`` (default ``label``).
        features: feature references (``view:feature``) to join; default: the live
            primary's training-set features.
        lookback: only label rows this recent (``"90d"``); default all up to now.
        every, new_outcomes, on_alerts: the triggers (at least one).
        deploy_as: ``canary`` (with ``canary_share`` percent) or ``shadow``.
    """

    name: str
    model: str
    train: Callable[[Any], Any]
    labels: FileSource
    label: str = "label"
    features: Sequence[str] = ()
    lookback: str | None = None
    every: str | None = None
    new_outcomes: int | None = None
    on_alerts: Sequence[str] = field(default_factory=tuple)
    deploy_as: str = "canary"
    canary_share: float = 10.0
    environment: str = "production"

    def __post_init__(self) -> None:
        check_name("retraining policy", self.name)
        where = f"retraining policy {self.name!r}"
        if not callable(self.train):
            raise DefinitionError(f"{where}: train must be a function train(context) -> model")
        if not isinstance(self.labels, FileSource):
            raise DefinitionError(
                f"{where}: labels must be a FileSource of labelled entity rows (entity keys, "
                f"its timestamp field and the label column)"
            )
        for name in ("every", "lookback"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not _DURATION.match(value)):
                raise DefinitionError(
                    f"{where}: {name}={value!r}; write a whole number and a unit: 30m, 12h, "
                    f"7d or 2w"
                )
        if self.new_outcomes is not None and (
            isinstance(self.new_outcomes, bool)
            or not isinstance(self.new_outcomes, int)
            or self.new_outcomes < 1
        ):
            raise DefinitionError(f"{where}: new_outcomes must be a whole number, 1 or more")
        object.__setattr__(self, "on_alerts", tuple(self.on_alerts))
        object.__setattr__(self, "features", tuple(self.features))
        if self.every is None and self.new_outcomes is None and not self.on_alerts:
            raise DefinitionError(
                f"{where}: give at least one trigger: every='7d', new_outcomes=10_000 or "
                f"on_alerts=['<alert rule>']"
            )
        if self.deploy_as not in ("canary", "shadow"):
            raise DefinitionError(f"{where}: deploy_as={self.deploy_as!r}; use canary or shadow")
        if not 0 < self.canary_share < 100:
            raise DefinitionError(f"{where}: canary_share={self.canary_share}; use 0 < share < 100")

    @staticmethod
    def duration(text: str) -> timedelta:
        return timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])

    def describe(self) -> str:
        """One line: the triggers and how the new version goes out."""
        triggers = [f"on alert {a}" for a in self.on_alerts]
        if self.new_outcomes is not None:
            triggers.append(f"after {self.new_outcomes:,} new outcomes")
        if self.every is not None:
            triggers.append(f"every {self.every}")
        out = f"a canary of {self.canary_share:g}%" if self.deploy_as == "canary" else "a shadow"
        return f"{self.model}: {', or '.join(triggers)}; deployed as {out}"
