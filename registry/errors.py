"""Exceptions raised by the registry.

::

    RegistryError
    ├── RegistrySchemaError               the database is not at the revision this Silage expects
    │   ├── RegistryOutdatedError         older: run `silage registry upgrade`
    │   └── RegistryTooNewError           newer: upgrade Silage
    ├── RegistryNotFoundError (LookupError) no such object in the registry
    ├── RegistryUnavailableError (ConnectionError) the registry's database cannot be reached
    ├── ArtifactIntegrityError             a stored file (model artifact, training set) is
    │                                      missing or not the one registered
    └── TokenRefusedError                  no token, an unknown or revoked one, or out of scope
"""

from __future__ import annotations

__all__ = [
    "ArtifactIntegrityError",
    "RegistryError",
    "RegistryNotFoundError",
    "RegistryOutdatedError",
    "RegistrySchemaError",
    "RegistryTooNewError",
    "RegistryUnavailableError",
    "TokenRefusedError",
]


class RegistryError(Exception):
    """Root of every error the registry raises on purpose."""


class RegistrySchemaError(RegistryError):
    """The registry database's schema is not the one this version of Silage works with."""


class RegistryOutdatedError(RegistrySchemaError):
    """The database was created by an older Silage; ``silage registry upgrade`` migrates it."""

    def __init__(self, url: str, current: str, head: str) -> None:
        self.url, self.current, self.head = url, current, head
        super().__init__(
            f"the registry at {url} is at schema revision {current}, older than this Silage's "
            f"{head}; run `silage registry upgrade` to migrate it (back it up first)"
        )


class RegistryTooNewError(RegistrySchemaError):
    """The database was migrated by a newer Silage than this one."""

    def __init__(self, url: str, current: str) -> None:
        self.url, self.current = url, current
        super().__init__(
            f"the registry at {url} is at schema revision {current}, which this Silage does "
            f"not know; upgrade Silage (pip install -U silage)"
        )


class RegistryNotFoundError(RegistryError, LookupError):
    """No object of this kind and name in the registry."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind, self.name = kind, name
        super().__init__(f"no {kind} named {name!r} in the registry")


class ArtifactIntegrityError(RegistryError):
    """A stored file (a model artifact, a training set's data) is missing, or its bytes are
    not the ones registered.

    ``location`` is where it was looked for; ``expected_sha256``/``expected_size`` what was
    registered; ``found_sha256``/``found_size`` what is there (both None: missing), so a
    caller can word its own fix.
    """

    def __init__(
        self,
        message: str,
        *,
        location: str,
        expected_sha256: str,
        expected_size: int | None,
        found_sha256: str | None = None,
        found_size: int | None = None,
    ) -> None:
        self.location = location
        self.expected_sha256, self.expected_size = expected_sha256, expected_size
        self.found_sha256, self.found_size = found_sha256, found_size
        super().__init__(message)

    @property
    def missing(self) -> bool:
        """True when nothing is there at all."""
        return self.found_sha256 is None


class TokenRefusedError(RegistryError):
    """A request's bearer token does not allow what it asks for. ``status`` is the HTTP
    answer: 401 when there is no valid token (none, unknown or revoked), 403 when the token
    is valid but lacks the scope."""

    def __init__(self, message: str, *, status: int) -> None:
        self.status = status
        super().__init__(message)


class RegistryUnavailableError(RegistryError, ConnectionError):
    """The registry's database server cannot be reached (down, wrong host, refused login)."""

    def __init__(self, url: str, cause: str) -> None:
        self.url, self.cause = url, cause
        super().__init__(
            f"cannot connect to the registry at {url}: {cause}; check that the server is "
            f"running and that `registry:` in feature_store.yaml names it correctly"
        )
