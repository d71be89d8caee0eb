"""Deployments: which model versions serve in which environment, with what share of traffic.

Every change is a new numbered revision of a model's deployment in an environment; the
newest revision is live, and the history says who changed what, when and why. A revision's
targets are model versions with a role:

- ``primary``: serves its share of traffic (normally all of it);
- ``canary``: serves a share beside the primary, until ``promote`` makes it primary;
- ``ab``: an arm of an A/B test (named by ``arm``), serving its share;
- ``shadow``: gets a copy of the traffic; its predictions are logged, never served.

Served shares (primary, canary, ab) must sum to 100; anything else is refused with nothing
changed. An environment may require an approved model card before a version becomes
primary there, and a promotion gate: evidence from an experiment that the challenger beats
(or is not worse than) the champion, recorded on the promoting revision.

A revision's ``mode`` says how its shares behave:

- ``fixed``: as deployed, until the next deployment;
- ``bandit``: A/B arms whose shares a bandit recomputes from their outcomes on an interval
  (:meth:`Deployments.reweight`); each reweighting is a revision carrying its evidence, so
  the history shows why traffic moved. ``policy`` holds the bandit's settings;
- ``interleave``: two A/B arms that rank the same candidates, their rankings interleaved
  into one list per request (shares are unused).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from registry.cards import record_online_evidence
from registry.catalog import lock_project
from registry.database import Database
from registry.errors import RegistryError, RegistryNotFoundError
from registry.models import whoami
from registry.tables import (
    DeploymentRevisionRow,
    DeploymentTargetRow,
    EnvironmentRow,
    ModelCardRow,
    ModelRow,
    ModelVersionRow,
    ProjectRow,
    utc_now,
)

__all__ = [
    "MODES",
    "ROLES",
    "DeploymentRevision",
    "Deployments",
    "Target",
    "live_revision_join",
]

ROLES = ("primary", "canary", "ab", "shadow")
MODES = ("fixed", "bandit", "interleave")
_SERVED = ("primary", "canary", "ab")


@dataclass(frozen=True, slots=True)
class Target:
    """A version in a deployment. ``Target(3)`` is version 3 as primary; a primary without a
    share takes what the canaries and arms leave (all of it when alone); shadows take none.
    """

    version: int
    role: str = "primary"
    share: float | None = None
    arm: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentRevision:
    """One revision of a model's deployment in an environment."""

    model: str
    environment: str
    revision: int
    action: str
    created_by: str
    created_at: datetime
    reason: str
    targets: tuple[Target, ...] = field(default_factory=tuple)
    mode: str = "fixed"
    policy: dict[str, Any] | None = None
    evidence: dict[str, Any] | None = None

    def versions(self, *roles: str) -> list[int]:
        """Versions in the given roles (all roles when none are named)."""
        return [t.version for t in self.targets if not roles or t.role in roles]


class Deployments:
    """Deploy, promote and roll back the models of one project."""

    def __init__(self, db: Database, *, project: str) -> None:
        self._db = db
        self.project = project

    def create_environment(self, name: str, *, require_approved_card: bool = False) -> None:
        """Create an environment, or change whether it requires approved model cards."""
        with self._db.write() as session:
            project = lock_project(session, self.project)
            row = _environment(session, project.id, name, create=True)
            row.require_approved_card = require_approved_card

    def deploy(
        self,
        model: str,
        environment: str,
        targets: Sequence[Target] | None = None,
        *,
        version: int | None = None,
        mode: str = "fixed",
        policy: dict[str, Any] | None = None,
        by: str | None = None,
        reason: str = "",
        expected_revision: int | None = None,
    ) -> DeploymentRevision:
        """Make ``targets`` (or ``version`` alone, as primary) the live deployment.

        ``expected_revision`` makes it conditional: refused when the live revision is not
        that number any more (0: never deployed), so a deployment computed from what was
        live cannot undo a change made meanwhile. A promotion gate governs promotions;
        deploying a new primary directly is an explicit act, recorded with who and why.

        ``mode="bandit"`` (A/B arms, with the bandit's ``policy``) lets
        :meth:`reweight` move the arms' shares; ``mode="interleave"`` takes exactly two A/B
        arms whose rankings are interleaved.

        Raises:
            RegistryError: shares that do not sum to 100, bad roles, two primaries, a canary
                without a primary, a mode its targets do not fit, or a primary without the
                approved card the environment requires; nothing is changed.
            RegistryNotFoundError: an unknown model or version.
        """
        if (targets is None) == (version is None):
            raise RegistryError("pass either targets=[Target(...), ...] or version=N")
        chosen = list(targets) if targets is not None else [Target(version or 0)]
        _check_mode(f"deployment of {model} in {environment}", mode, chosen)
        return self._write(
            model,
            environment,
            "deploy",
            lambda _: (chosen, mode, policy),
            by=by,
            reason=reason,
            expected_revision=expected_revision,
        )

    def promote(
        self,
        model: str,
        environment: str,
        *,
        version: int | None = None,
        evidence: dict[str, Any] | None = None,
        by: str | None = None,
        reason: str = "",
    ) -> DeploymentRevision:
        """A challenger becomes the primary with all served traffic; shadows stay.

        The challenger is the live canary, or ``version`` (a canary or an A/B arm). Where
        the environment has a promotion gate, ``evidence`` from the experiment must say it
        ``passed`` (``store.promote(..., if_better=True)`` reads the experiment and passes
        it); it is kept on the new revision.

        Raises:
            RegistryError: nothing to promote, or a gate without passing evidence.
        """

        def promoted(live: DeploymentRevision | None) -> _Plan:
            served = [t for t in (live.targets if live else ()) if t.role in ("canary", "ab")]
            if version is not None:
                served = [t for t in served if t.version == version]
            if live is None:
                raise RegistryError(
                    f"{model} is not deployed in environment {environment!r}, so nothing "
                    f"there can be promoted; deploy it first (`silage deploy {model} "
                    f"{environment} VERSION`, or deployments.deploy(...) in Python)"
                )
            if len(served) != 1:
                which = f"v{version} as a canary or A/B arm" if version else "one canary"
                raise RegistryError(
                    f"{model} in {environment} has no challenger to promote (needs {which}); "
                    f"deploy one beside the primary (`silage deploy {model} {environment} "
                    f"PRIMARY --canary VERSION:SHARE`, or Target(version, 'canary', share) "
                    f"in Python), or name an A/B arm's version"
                )
            shadows = [t for t in live.targets if t.role == "shadow"]
            return [Target(served[0].version), *shadows], "fixed", None

        return self._write(
            model,
            environment,
            "promote",
            promoted,
            by=by,
            reason=reason,
            evidence=evidence,
            gated=True,
        )

    def reweight(
        self,
        model: str,
        environment: str,
        shares: dict[str, float],
        *,
        evidence: dict[str, Any],
        by: str | None = None,
        reason: str = "",
    ) -> DeploymentRevision:
        """A bandit's new shares (percent per arm name) as a revision with its evidence.

        Raises:
            RegistryError: the live deployment is not a bandit, or the arms differ from its.
        """

        def reweighted(live: DeploymentRevision | None) -> _Plan:
            if live is None or live.mode != "bandit":
                raise RegistryError(
                    f"{model} in {environment} is not a bandit deployment; deploy its A/B "
                    f"arms with mode='bandit' first"
                )
            arms = {t.arm for t in live.targets if t.role == "ab"}
            if set(shares) != arms:
                raise RegistryError(
                    f"{model} in {environment}: new shares name arms {sorted(shares)}, the "
                    f"live bandit has {sorted(arms)}"
                )
            targets = [
                Target(t.version, t.role, shares[t.arm], t.arm) if t.role == "ab" else t
                for t in live.targets
            ]
            return targets, "bandit", live.policy

        return self._write(
            model,
            environment,
            "reweight",
            reweighted,
            by=by,
            reason=reason,
            evidence=evidence,
        )

    def set_promotion_gate(self, environment: str, gate: dict[str, Any] | None) -> None:
        """Require evidence before promotions in ``environment`` (None lifts the gate). The
        gate is JSON the store interprets: the metric, the margin, the guardrails."""
        with self._db.write() as session:
            project = lock_project(session, self.project)
            _environment(session, project.id, environment, create=True).promotion_gate = gate

    def promotion_gate(self, environment: str) -> dict[str, Any] | None:
        """The environment's promotion gate, None when promotions need no evidence."""
        with self._db.read() as session:
            project_id = session.scalar(
                select(ProjectRow.id).where(ProjectRow.name == self.project)
            )
            if project_id is None:
                return None
            row = session.scalars(
                select(EnvironmentRow).where(
                    EnvironmentRow.project_id == project_id, EnvironmentRow.name == environment
                )
            ).one_or_none()
            return None if row is None else row.promotion_gate

    def rollback(
        self, model: str, environment: str, *, by: str | None = None, reason: str = ""
    ) -> DeploymentRevision:
        """A new revision equal to the one before the live one."""
        history = self.history(model, environment)
        if len(history) < 2:
            raise RegistryError(f"{model} in {environment} has no earlier revision to roll back to")
        earlier = history[-2]
        previous = list(earlier.targets)
        return self._write(
            model,
            environment,
            "rollback",
            lambda _: (previous, earlier.mode, earlier.policy),
            by=by,
            reason=reason,
        )

    def history(self, model: str, environment: str) -> list[DeploymentRevision]:
        """Every revision, oldest first."""
        with self._db.read() as session:
            model_row, env = self._pair(session, model, environment)
            rows = session.scalars(
                select(DeploymentRevisionRow)
                .where(
                    DeploymentRevisionRow.model_id == model_row.id,
                    DeploymentRevisionRow.environment_id == env.id,
                )
                .order_by(DeploymentRevisionRow.revision)
            ).all()
            return [_revision(session, model, environment, row) for row in rows]

    def live(self, model: str, environment: str) -> DeploymentRevision:
        """The live revision (the newest only is read: a bandit's history grows every
        interval, and serving asks on every request). Raises
        :class:`RegistryNotFoundError` when never deployed."""
        with self._db.read() as session:
            model_row, env = self._pair(session, model, environment)
            row = session.scalars(
                select(DeploymentRevisionRow)
                .where(
                    DeploymentRevisionRow.model_id == model_row.id,
                    DeploymentRevisionRow.environment_id == env.id,
                )
                .order_by(DeploymentRevisionRow.revision.desc())
                .limit(1)
            ).one_or_none()
            if row is None:
                raise RegistryNotFoundError("deployment", f"{model} in {environment}")
            return _revision(session, model, environment, row)

    def served_at(self, model: str, environment: str, when: datetime) -> DeploymentRevision:
        """The revision that was live at ``when``."""
        earlier = [r for r in self.history(model, environment) if r.created_at <= when]
        if not earlier:
            raise RegistryNotFoundError("deployment", f"{model} in {environment} at {when}")
        return earlier[-1]

    def list_live(self) -> list[DeploymentRevision]:
        """The live revision of every model in every environment of the project."""
        with self._db.read() as session:
            rows = session.execute(
                select(DeploymentRevisionRow, ModelRow.name, EnvironmentRow.name)
                .join(*live_revision_join())
                .join(ModelRow, ModelRow.id == DeploymentRevisionRow.model_id)
                .join(EnvironmentRow, EnvironmentRow.id == DeploymentRevisionRow.environment_id)
                .join(ProjectRow, ProjectRow.id == ModelRow.project_id)
                .where(ProjectRow.name == self.project)
                .order_by(EnvironmentRow.name, ModelRow.name)
            ).all()
            targets = _targets(session, [row.id for row, _, _ in rows])
            return [_revision(session, m, e, row, targets[row.id]) for row, m, e in rows]

    # --- internals -------------------------------------------------------------------------

    def _write(
        self,
        model: str,
        environment: str,
        action: str,
        plan: Callable[[DeploymentRevision | None], _Plan],
        *,
        by: str | None,
        reason: str,
        evidence: dict[str, Any] | None = None,
        gated: bool = False,
        expected_revision: int | None = None,
    ) -> DeploymentRevision:
        with self._db.write() as session:
            project = lock_project(session, self.project)
            model_row = session.scalars(
                select(ModelRow).where(ModelRow.project_id == project.id, ModelRow.name == model)
            ).one_or_none()
            if model_row is None:
                raise RegistryNotFoundError("model", model)
            env = _environment(session, project.id, environment, create=True)
            number = session.scalar(
                select(func.max(DeploymentRevisionRow.revision)).where(
                    DeploymentRevisionRow.model_id == model_row.id,
                    DeploymentRevisionRow.environment_id == env.id,
                )
            )
            live = None
            if number is not None:
                live_row = session.scalars(
                    select(DeploymentRevisionRow).where(
                        DeploymentRevisionRow.model_id == model_row.id,
                        DeploymentRevisionRow.environment_id == env.id,
                        DeploymentRevisionRow.revision == number,
                    )
                ).one()
                live = _revision(session, model, environment, live_row)
            chosen, mode, policy = plan(live)
            if gated and env.promotion_gate and not (evidence or {}).get("passed"):
                raise RegistryError(
                    f"{environment} promotes only on evidence that the challenger is better "
                    f"({_describe_gate(env.promotion_gate)}); run `silage promote --if-better`"
                    f" (store.promote(..., if_better=True)), which reads the experiment"
                )
            if gated and evidence is not None:
                _check_evidence(model, environment, evidence, live, chosen[0].version)
            if expected_revision is not None and (number or 0) != expected_revision:
                raise RegistryError(
                    f"{model} in {environment} changed while this deployment was prepared "
                    f"(now revision {number}, expected {expected_revision}); read it again"
                )
            targets = _with_shares(model, environment, chosen)
            version_ids = {}
            for target in targets:
                row = session.scalars(
                    select(ModelVersionRow).where(
                        ModelVersionRow.model_id == model_row.id,
                        ModelVersionRow.version == target.version,
                    )
                ).one_or_none()
                if row is None:
                    raise RegistryNotFoundError("model version", f"{model} v{target.version}")
                version_ids[target.version] = row.id
                if target.role == "primary" and env.require_approved_card:
                    _require_approved_card(session, row.id, model, target.version, environment)
            revision = DeploymentRevisionRow(
                environment_id=env.id,
                model_id=model_row.id,
                revision=(number or 0) + 1,
                action=action,
                created_by=by or whoami(),
                created_at=utc_now(),
                reason=reason,
                mode=mode,
                policy=policy,
                evidence=evidence,
            )
            session.add(revision)
            session.flush()
            if gated and evidence is not None:
                promoted = targets[0].version  # the new primary
                record_online_evidence(
                    session, version_ids[promoted], evidence, revision.created_by
                )
            session.add_all(
                DeploymentTargetRow(
                    revision_id=revision.id,
                    model_version_id=version_ids[t.version],
                    role=t.role,
                    share=float(t.share or 0.0),
                    arm=t.arm,
                )
                for t in targets
            )
            session.flush()
            return _revision(session, model, environment, revision)

    def _pair(
        self, session: Session, model: str, environment: str
    ) -> tuple[ModelRow, EnvironmentRow]:
        model_row = session.scalars(
            select(ModelRow)
            .join(ProjectRow, ProjectRow.id == ModelRow.project_id)
            .where(ProjectRow.name == self.project, ModelRow.name == model)
        ).one_or_none()
        if model_row is None:
            raise RegistryNotFoundError("model", model)
        env = _environment(session, model_row.project_id, environment, create=False)
        return model_row, env


_Plan = tuple[list[Target], str, dict[str, Any] | None]


def _check_mode(where: str, mode: str, targets: Sequence[Target]) -> None:
    if mode not in MODES:
        raise RegistryError(f"{where}: mode {mode!r} is unknown; use one of {MODES}")
    arms = [t for t in targets if t.role == "ab"]
    if mode == "bandit" and len(arms) < 2:
        raise RegistryError(f"{where}: a bandit needs at least two A/B arms to move traffic")
    if mode == "interleave" and len(arms) != 2:
        raise RegistryError(f"{where}: interleaving compares exactly two A/B arms")


def _check_evidence(
    model: str,
    environment: str,
    evidence: dict[str, Any],
    live: DeploymentRevision | None,
    promoted: int,
) -> None:
    """Evidence must be about this challenger in the live revision, not an earlier one."""
    if live is None or evidence.get("revision") != live.revision:
        raise RegistryError(
            f"the evidence for {model} in {environment} was read at revision "
            f"{evidence.get('revision')}, but revision {live.revision if live else 0} is live; "
            f"read the experiment again"
        )
    if evidence.get("challenger") != promoted:
        raise RegistryError(
            f"the evidence for {model} in {environment} is about "
            f"v{evidence.get('challenger')}, not v{promoted}"
        )


def _describe_gate(gate: dict[str, Any]) -> str:
    metric = gate.get("metric", "the primary metric")
    margin = float(gate.get("margin", 0.0))
    return f"{metric}, not worse by {margin:g}" if margin else f"better on {metric}"


def _environment(session: Session, project_id: int, name: str, *, create: bool) -> EnvironmentRow:
    row = session.scalars(
        select(EnvironmentRow).where(
            EnvironmentRow.project_id == project_id, EnvironmentRow.name == name
        )
    ).one_or_none()
    if row is None:
        if not create:
            raise RegistryNotFoundError("environment", name)
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise RegistryError(f"environment name {name!r} is not valid")
        row = EnvironmentRow(project_id=project_id, name=name, created_at=utc_now())
        session.add(row)
        session.flush()
    return row


def _with_shares(model: str, environment: str, targets: Sequence[Target]) -> list[Target]:
    """The targets with every share filled in, checked; raises on anything invalid."""
    where = f"deployment of {model} in {environment}"
    if not targets:
        raise RegistryError(f"{where}: no targets")
    for t in targets:
        if t.role not in ROLES:
            raise RegistryError(f"{where}: role {t.role!r} is unknown; use one of {ROLES}")
        if t.share is None and t.role in ("canary", "ab"):
            raise RegistryError(f"{where}: give the {t.role} v{t.version} its share of traffic")
        if t.share is not None and (math.isnan(t.share) or not 0 <= t.share <= 100):
            raise RegistryError(f"{where}: share {t.share} of v{t.version} is not in 0..100")
    given = sum(t.share or 0.0 for t in targets if t.role in _SERVED)
    filled = [
        Target(
            t.version,
            t.role,
            0.0 if t.role == "shadow" else (t.share if t.share is not None else 100.0 - given),
            t.arm,
        )
        for t in targets
    ]
    _check_targets(where, filled)
    return filled


def _check_targets(where: str, targets: Sequence[Target]) -> None:
    for t in targets:
        assert t.share is not None
        if not 0 <= t.share <= 100:
            raise RegistryError(f"{where}: share {t.share:g} of v{t.version} is not in 0..100")
    roles = [t.role for t in targets]
    if roles.count("primary") > 1:
        raise RegistryError(f"{where}: two primaries; keep one and make the other a canary")
    if "canary" in roles and "primary" not in roles:
        raise RegistryError(f"{where}: a canary needs a primary beside it")
    if "ab" in roles and ({"primary", "canary"} & set(roles)):
        raise RegistryError(
            f"{where}: A/B arms take the place of a primary and canary; deploy arms (and "
            f"shadows) only"
        )
    served_versions = [t.version for t in targets if t.role in _SERVED]
    if len(set(served_versions)) != len(served_versions):
        raise RegistryError(f"{where}: a version serves in two roles; give it one")
    arms = [t.arm for t in targets if t.role == "ab"]
    if any(not a for a in arms) or len(set(arms)) != len(arms):
        raise RegistryError(f"{where}: each A/B target needs its own arm name")
    served = sum(t.share or 0.0 for t in targets if t.role in _SERVED)
    if not math.isclose(served, 100.0, abs_tol=1e-9):
        shares = ", ".join(
            f"v{t.version} {t.role} {t.share:g}%" for t in targets if t.role in _SERVED
        )
        raise RegistryError(
            f"{where}: served traffic shares sum to {served:g}%, not 100% ({shares or 'none'}); "
            f"shadows take no share"
        )


def _require_approved_card(
    session: Session, version_id: int, model: str, version: int, environment: str
) -> None:
    status = session.scalar(
        select(ModelCardRow.status)
        .where(ModelCardRow.model_version_id == version_id)
        .order_by(ModelCardRow.revision.desc())
        .limit(1)
    )
    if status != "approved":
        raise RegistryError(
            f"{environment} requires an approved model card before a version becomes primary; "
            f"{model} v{version}'s card is {status or 'missing'}: fill it and approve it first"
        )


def live_revision_join() -> tuple[Any, Any]:
    """``(table, on)`` to join to ``deployment_revisions`` so that only the live revision of
    each model in each environment (its newest) remains: ``query.join(*live_revision_join())``.
    """
    newest = (
        select(
            DeploymentRevisionRow.environment_id,
            DeploymentRevisionRow.model_id,
            func.max(DeploymentRevisionRow.revision).label("revision"),
        )
        .group_by(DeploymentRevisionRow.environment_id, DeploymentRevisionRow.model_id)
        .subquery()
    )
    on = and_(
        newest.c.environment_id == DeploymentRevisionRow.environment_id,
        newest.c.model_id == DeploymentRevisionRow.model_id,
        newest.c.revision == DeploymentRevisionRow.revision,
    )
    return newest, on


def _targets(session: Session, revision_ids: Sequence[int]) -> dict[int, list[Target]]:
    """The targets of several revisions in one query (in chunks that every database's
    parameter limit admits), each revision's in the order they were written."""
    found: dict[int, list[Target]] = {i: [] for i in revision_ids}
    ids = list(found)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(DeploymentTargetRow, ModelVersionRow.version)
            .join(ModelVersionRow, ModelVersionRow.id == DeploymentTargetRow.model_version_id)
            .where(DeploymentTargetRow.revision_id.in_(ids[start : start + 500]))
            .order_by(DeploymentTargetRow.id)
        ).all()
        for t, v in rows:
            found[t.revision_id].append(Target(v, t.role, t.share, t.arm))
    return found


def _revision(
    session: Session,
    model: str,
    environment: str,
    row: DeploymentRevisionRow,
    targets: Sequence[Target] | None = None,
) -> DeploymentRevision:
    """A revision as a value; its targets read here unless the caller read them in bulk."""
    if targets is None:
        targets = _targets(session, [row.id])[row.id]
    return DeploymentRevision(
        model=model,
        environment=environment,
        revision=row.revision,
        action=row.action,
        created_by=row.created_by,
        created_at=row.created_at,
        reason=row.reason,
        targets=tuple(targets),
        mode=row.mode,
        policy=row.policy,
        evidence=row.evidence,
    )
