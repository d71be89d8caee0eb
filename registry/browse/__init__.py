"""Browsing the registry: paged listings, counts, recent activity and name search, in SQL.

The other registry classes answer one object at a time and read what surrounds each row
with a query of its own, which is right for the CLI and for serving. A web page listing a
thousand models cannot do that: every method here reads a page of rows, and what belongs
to those rows (aliases, card status, deployment targets), in a fixed number of queries
whatever the page holds. Sorting, filtering and paging run in the database.

Filters are case-insensitive substring matches (``LIKE`` with ``%`` and ``_`` escaped);
sorting by a metric reads it from the JSON column (``metrics[key]`` cast to a number),
which SQLite and PostgreSQL both support; versions missing the metric sort last.

The reads are grouped by what they read, one module each: ``activity`` (counts and the
recent-activity feed), ``models`` (models, versions, aliases, cards), ``deployments``
(revision histories, what is live), ``catalog`` (the feature catalogue, training sets, the
name search); ``values`` holds what they return and ``sql`` what their queries share.
:class:`Browse` is all of them over one database.

Example:
    >>> from registry import Registry
    >>> browse = Registry("sqlite://").browse
    >>> browse.models("demo").total
    0
"""

from __future__ import annotations

from registry.browse.activity import ActivityReads
from registry.browse.catalog import CatalogReads
from registry.browse.deployments import DeploymentReads
from registry.browse.models import ModelReads
from registry.browse.values import (
    Activity,
    AliasChange,
    CardRevision,
    CatalogFeature,
    ModelSummary,
    Page,
    SearchHit,
    TrainingSetSummary,
    VersionSummary,
)

__all__ = [
    "Activity",
    "AliasChange",
    "Browse",
    "CardRevision",
    "CatalogFeature",
    "ModelSummary",
    "Page",
    "SearchHit",
    "TrainingSetSummary",
    "VersionSummary",
]


class Browse(ActivityReads, ModelReads, DeploymentReads, CatalogReads):
    """Paged, batched reads over any project of one registry database."""
