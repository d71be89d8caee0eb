"""Feast repositories applied unchanged: Feast's objects converted to Silage's definitions.

A repository file that imports from ``feast`` declares Feast objects (``feast.Entity``,
``feast.FeatureView``, ``@feast.on_demand_feature_view``, ...). The loader finds them at
module level and hands them here; :func:`convert_feast_objects` reads each one's public
attributes and builds the Silage definition with the same meaning, so ``silage plan`` and
``silage apply`` then proceed exactly as for Silage's own classes.

Nothing here imports ``feast``: the objects arrive already built by the user's files, and
are recognised by their class names (``import feast`` takes seconds, and a Silage-only
repository must never pay for it). What converts is listed in two tables in
:mod:`store.feast.convert`: one row per Feast class, one row per Feast type. A Feast object
with no row is refused with its name, its file and the list of what is supported.

May import: the foundation modules and ``store.definitions``; never ``feast`` itself.
Imported by ``store.repo.loader`` only when a repository file holds Feast objects.
"""

from __future__ import annotations

from store.feast.convert import (
    CONVERTERS,
    TYPES,
    FeastObject,
    convert_feast_objects,
    is_feast_value,
)

__all__ = ["CONVERTERS", "TYPES", "FeastObject", "convert_feast_objects", "is_feast_value"]
