"""Silage's registry: the metadata system of record.

It holds the feature catalog (entities, sources, versioned feature views, services and
materialization intervals) in any SQLAlchemy database, SQLite by default, with its schema
managed by Alembic. It never imports ``store``: it stores specs, not Python objects.

Example:
    >>> from registry import Registry
    >>> reg = Registry("sqlite://")
    >>> reg.catalog.objects("demo")
    []
"""

from __future__ import annotations

from registry.catalog import (
    KINDS,
    Catalog,
    CatalogChange,
    CatalogObject,
    DeclaredObject,
    Kind,
    MaterializationInterval,
)
from registry.errors import (
    RegistryError,
    RegistryNotFoundError,
    RegistryOutdatedError,
    RegistrySchemaError,
    RegistryTooNewError,
)
from registry.service import Registry

__all__ = [
    "KINDS",
    "Catalog",
    "CatalogChange",
    "CatalogObject",
    "DeclaredObject",
    "Kind",
    "MaterializationInterval",
    "Registry",
    "RegistryError",
    "RegistryNotFoundError",
    "RegistryOutdatedError",
    "RegistrySchemaError",
    "RegistryTooNewError",
]
