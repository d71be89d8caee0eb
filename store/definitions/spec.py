"""Canonical specs and content hashes of definitions.

A spec is a JSON-ready dict of plain values. Its canonical text (sorted keys, no
whitespace, ASCII only) is the same in every process and Python version, so its
sha256 identifies a definition's content: the registry makes a new version of a
feature view exactly when this hash changes.

Example:
    >>> content_hash({"b": 1, "a": [1, 2]}) == content_hash({"a": [1, 2], "b": 1})
    True
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from store.errors import DefinitionError

__all__ = ["KIND_LABEL", "canonical_json", "check_name", "content_hash", "frozen_tags"]

Spec = dict[str, Any]

# How messages and plans name each kind of catalog object.
KIND_LABEL = {
    "entity": "entity",
    "data_source": "data source",
    "feature_view": "feature view",
    "feature_service": "feature service",
}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def canonical_json(spec: Mapping[str, Any]) -> str:
    """The one text form of a spec that hashing and storage use."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def content_hash(spec: Mapping[str, Any]) -> str:
    """Hex sha256 of a spec's canonical JSON."""
    return hashlib.sha256(canonical_json(spec).encode("ascii")).hexdigest()


def check_name(kind: str, name: object) -> str:
    """Validate an object or column name: letters, digits and underscores, not a digit first.

    Names become SQL identifiers and column names (``view__feature``), so they are
    kept to a portable alphabet.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise DefinitionError(
            f"{kind} name {name!r} is not valid: use letters, digits and underscores, "
            f"starting with a letter or underscore (for example 'driver_stats')"
        )
    if name.startswith("__"):
        raise DefinitionError(
            f"{kind} name {name!r} is not valid: names starting with '__' are reserved "
            f"for Silage's own columns"
        )
    return name


def frozen_tags(kind: str, name: str, tags: Mapping[str, str] | None) -> Mapping[str, str]:
    """Copy tags into a read-only mapping, checking that keys and values are strings."""
    if tags is None:
        return MappingProxyType({})
    if not isinstance(tags, Mapping):
        raise DefinitionError(f"{kind} {name!r}: tags must be a dict of str to str, got {tags!r}")
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise DefinitionError(
                f"{kind} {name!r}: tag {key!r}: {value!r} is not str to str; "
                f"convert tag keys and values to strings"
            )
    return MappingProxyType(dict(sorted(tags.items())))
