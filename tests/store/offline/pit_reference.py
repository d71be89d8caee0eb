"""An obviously correct point-in-time join, row by row, to check the engine against.

For each entity row and view: the candidates are the source rows with equal keys whose
event time is at or before the entity time and, with a ttl, at or after the entity time
minus the ttl. The winners are the candidates with the greatest (event time, created
time), a missing created time counting as older than any. When several rows win (equal
in both times), any of their values is a correct answer, so the reference returns the set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from store.offline.retrieval import RetrievalJob


@dataclass(frozen=True)
class RefView:
    keys: tuple[str, ...]
    rows: Sequence[dict[str, Any]]  # each has the keys, "ts", "created" (or None) and features
    features: tuple[str, ...]
    ttl: timedelta | None


def acceptable_values(entity: dict[str, Any], view: RefView) -> dict[str, set[Any]]:
    """Per feature, the set of values a correct join may return for this entity row."""
    t: datetime = entity["event_timestamp"]
    candidates = [
        r
        for r in view.rows
        if all(r[k] == entity[k] for k in view.keys)
        and r["ts"] <= t
        and (view.ttl is None or r["ts"] >= t - view.ttl)
    ]
    if not candidates:
        return {f: {None} for f in view.features}

    def rank(r: dict[str, Any]) -> tuple[datetime, int, datetime | None]:
        created = r["created"]
        return (r["ts"], 0 if created is None else 1, created or datetime.min)

    best = max(rank(r) for r in candidates)
    winners = [r for r in candidates if rank(r) == best]
    return {f: {r[f] for r in winners} for f in view.features}


def every_plan(job: RetrievalJob) -> list[RetrievalJob]:
    """The job as each rendering its engine runs, and bucketed with the ASOF rendering, and
    for the carry rendering with hot keys counted by the query as well as estimated before
    it: the plans every correctness test checks."""
    jobs = [job.using(rendering) for rendering in job.engine.renderings]
    if "carry" in job.engine.renderings and any(s.hot_keys is not None for s in job.scans):
        scans = tuple(dataclasses.replace(s, hot_keys=None) for s in job.scans)
        jobs.append(dataclasses.replace(job.using("carry"), scans=scans))
    if "asof" in job.engine.renderings:
        scans = tuple(dataclasses.replace(s, bucketed=True) for s in job.scans)
        jobs.append(dataclasses.replace(job.using("asof"), scans=scans))
    return jobs
