"""Online backends, one module each, chosen by ``online_store: {type: ...}``.

:data:`BACKENDS` maps each ``type`` to its class, by import path, so that reading the table
(to check ``feature_store.yaml``) imports no backend. Adding a backend is a module here with
a class satisfying :class:`~store.online.backend.OnlineBackend` and one entry below; it
passes when the shared online conformance suite passes for it.

May import: the foundation modules, :mod:`store.online.layout` and the backend protocol;
a backend never imports another backend, and nothing outside this folder imports a
backend by name.

Example:
    >>> backend_class("sqlite").__name__
    'SQLiteBackend'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from store.online.backend import OnlineBackend

__all__ = ["BACKENDS", "backend_class"]

BACKENDS: dict[str, str] = {
    "sqlite": "store.online.backends.sqlite:SQLiteBackend",
    "redis": "store.online.backends.redis:RedisBackend",
    "postgres": "store.online.backends.postgres:PostgresBackend",
}


def backend_class(kind: str) -> type[OnlineBackend]:
    """The backend class of an ``online_store`` type.

    Raises:
        KeyError: no backend of that type; the config loader turns it into a ConfigError.
    """
    module, _, name = BACKENDS[kind].partition(":")
    cls: type[OnlineBackend] = getattr(import_module(module), name)
    return cls
