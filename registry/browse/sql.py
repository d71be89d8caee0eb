"""What every browse query shares: the project as a subquery, filters, sort keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, select

from registry.database import Database
from registry.tables import ProjectRow

__all__ = ["Reads", "name_contains", "project_id_of", "sort_order"]


class Reads:
    """Base of the browse classes: they read through one :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db


def project_id_of(project: str) -> Any:
    """The project's id as a scalar subquery, so no query is spent looking it up."""
    return select(ProjectRow.id).where(ProjectRow.name == project).scalar_subquery()


def name_contains(column: Any, text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match, with the user's ``%`` and ``_`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return result


def sort_order(keys: Mapping[str, Any], sort: str, default: str) -> Any:
    """``sort`` (a key, ``-`` for descending) as an ORDER BY item; unknown keys fall back."""
    key = sort.lstrip("-")
    if key not in keys:
        sort, key = default, default.lstrip("-")
    column = keys[key]
    return column.desc() if sort.startswith("-") else column.asc()
