"""Offline engines, one module each, chosen by ``offline_store: {type: ...}``.

:data:`ENGINES` maps each ``type`` to its class, by import path, so that reading the table
(to check ``feature_store.yaml``) imports no engine. Adding an engine is a module here with a
class satisfying :class:`~store.offline.engine.OfflineEngine` and one entry below; it passes
when the shared point-in-time suite passes for it.

May import: the foundation modules, the compilers' output types
(:mod:`store.offline.compiler.query`) and the engine protocol; an engine never imports
another engine, and nothing outside this folder imports an engine by name.

Example:
    >>> engine_class("duckdb").__name__
    'DuckDBEngine'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from store.offline.engine import OfflineEngine

__all__ = ["ALIASES", "ENGINES", "engine_class"]

ENGINES: dict[str, str] = {
    "duckdb": "store.offline.engines.duckdb:DuckDBEngine",
    "spark": "store.offline.engines.spark:SparkEngine",
}
# Feast's ``file`` offline store reads Parquet with pandas; here DuckDB reads the same files.
ALIASES: dict[str, str] = {"file": "duckdb"}


def engine_class(kind: str) -> type[OfflineEngine]:
    """The engine class of an ``offline_store`` type (an alias is resolved first).

    Raises:
        KeyError: no engine of that type; the config loader turns it into a ConfigError.
    """
    module, _, name = ENGINES[ALIASES.get(kind, kind)].partition(":")
    cls: type[OfflineEngine] = getattr(import_module(module), name)
    return cls
