"""Bearer tokens for ``silage serve``: who may write, and to what.

Reads are open by default; every write over HTTP (pushing features, recording outcomes,
deploying and promoting, approving a model card) needs a token with that write's scope, and
``silage serve --read-token`` closes reads too (scope ``read``). A token is created once,
shown once (``silage tokens create NAME --scope push --scope outcomes``) and kept only as the
SHA-256 of its secret: a copy of the registry gives no usable token. Secrets are 256 random
bits, so a plain hash is as strong as a slow one here. Revoking keeps the row, so what a
token did stays attributable: writes record the token's name as who made them.

Example:
    >>> from registry import Registry
    >>> from pathlib import Path
    >>> tokens = Registry("sqlite://").project("demo", Path("artifacts")).tokens
    >>> token, secret = tokens.create("ci", ["push"])
    >>> secret.startswith("slg_"), token.scopes
    (True, ('push',))
    >>> tokens.authenticate(secret, "push").name
    'ci'
    >>> tokens.authenticate(secret, "deploy")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    registry.errors.TokenRefusedError: token 'ci' may not deploy (its scopes: push); ...
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from registry.catalog import lock_project
from registry.database import Database
from registry.errors import RegistryError, RegistryNotFoundError, TokenRefusedError
from registry.models import whoami
from registry.tables import ApiTokenRow, ProjectRow, utc_now

__all__ = ["SCOPES", "ApiToken", "Tokens"]

# What a token may do; each write endpoint of the server names the one it needs.
SCOPES = ("push", "outcomes", "deploy", "approve", "read")


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiToken:
    """A token as the registry keeps it: never its secret."""

    name: str
    scopes: tuple[str, ...]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class Tokens:
    """The tokens of one project."""

    def __init__(self, db: Database, *, project: str) -> None:
        self._db = db
        self.project = project

    def create(
        self, name: str, scopes: Sequence[str], *, by: str | None = None
    ) -> tuple[ApiToken, str]:
        """A new token and its secret (shown this once; only its hash is kept).

        Raises:
            RegistryError: an unknown scope, no scope, or a token of that name exists
                (revoked ones too: names stay attributable).
        """
        chosen = tuple(dict.fromkeys(scopes))
        unknown = [s for s in chosen if s not in SCOPES]
        if unknown or not chosen:
            raise RegistryError(
                f"token {name!r}: scopes {list(chosen)} are not among {list(SCOPES)}; "
                f"give at least one, e.g. --scope push"
            )
        if not name or len(name) > 200:
            raise RegistryError("a token needs a name of 1 to 200 characters")
        secret = "slg_" + secrets.token_urlsafe(32)
        try:
            with self._db.write() as session:
                project = lock_project(session, self.project)
                row = ApiTokenRow(
                    project_id=project.id,
                    name=name,
                    secret_sha256=_digest(secret),
                    scopes=list(chosen),
                    created_by=by or whoami(),
                    created_at=utc_now(),
                )
                session.add(row)
                session.flush()
                token = _token(row)
        except IntegrityError:
            raise RegistryError(
                f"a token named {name!r} exists in project {self.project!r}; pick another "
                f"name (revoked names stay taken so that their writes stay attributable)"
            ) from None
        return token, secret

    def revoke(self, name: str) -> ApiToken:
        """Revoke a token now; its row (and what it did) stays.

        Raises:
            RegistryNotFoundError: no token of that name.
        """
        with self._db.write() as session:
            row = session.scalars(self._query().where(ApiTokenRow.name == name)).first()
            if row is None:
                raise RegistryNotFoundError("token", name)
            if row.revoked_at is None:
                row.revoked_at = utc_now()
            return _token(row)

    def list(self) -> list[ApiToken]:
        """Every token of the project, revoked ones included, by name."""
        with self._db.read() as session:
            rows = session.scalars(self._query().order_by(ApiTokenRow.name)).all()
            return [_token(r) for r in rows]

    def authenticate(self, secret: str | None, scope: str) -> ApiToken:
        """The token whose secret this is, if it is active and has ``scope``.

        Raises:
            TokenRefusedError: status 401 for no token or an unknown or revoked one; 403 for
                a valid token without ``scope``.
        """
        if not secret:
            raise TokenRefusedError(
                f"this needs a bearer token with scope {scope!r} "
                f"(header `Authorization: Bearer slg_...`; `silage tokens create NAME "
                f"--scope {scope}` makes one)",
                status=401,
            )
        with self._db.read() as session:
            row = session.scalars(
                self._query().where(ApiTokenRow.secret_sha256 == _digest(secret))
            ).first()
            token = None if row is None else _token(row)
        if token is None or not token.active:
            raise TokenRefusedError(
                "the bearer token is unknown or revoked; ask for a new one "
                "(`silage tokens create NAME --scope ...`)",
                status=401,
            )
        if scope not in token.scopes:
            raise TokenRefusedError(
                f"token {token.name!r} may not {scope} (its scopes: "
                f"{', '.join(token.scopes)}); create one with `silage tokens create NAME "
                f"--scope {scope}`",
                status=403,
            )
        return token

    def _query(self) -> Select[ApiTokenRow]:
        return (
            select(ApiTokenRow)
            .join(ProjectRow, ProjectRow.id == ApiTokenRow.project_id)
            .where(ProjectRow.name == self.project)
        )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        name=row.name,
        scopes=tuple(row.scopes),
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
