r"""Searching model versions with a small filter language, compiled to SQL.

::

    metrics.auc > 0.9 AND (tags.team = 'growth' OR deployed_in = 'production')
    uses_feature = 'driver_hourly_stats:conv_rate' AND created_at >= '2026-01-01'

Fields: ``name``, ``version``, ``model_type``, ``training_set``, ``description``,
``created_by``, ``created_at``, ``tags.<key>``, ``metrics.<key>``, ``params.<key>``, and the
set-valued ``uses_feature`` (``'view:feature'``), ``uses_view``, ``deployed_in``
(environments where the version is live, in any role) and ``alias``. Operators: ``=``,
``!=``, ``<``, ``<=``, ``>``, ``>=``, ``LIKE`` (``%`` and ``_`` wildcards, case-sensitive).
On set-valued fields ``=`` means "contains", ``!=`` "does not contain" and ``LIKE`` "has a
member like". Values are single-quoted strings or numbers. ``AND`` binds tighter than
``OR``; parentheses group. (MLflow's language has AND only.)

What a comparison means:

- ``version`` compares with numbers, ``created_at`` with ISO dates (``'2026-01-31'``,
  naive means UTC); the other named fields are text, compared by code point with the
  value's text (``name = 5`` compares with ``'5'``).
- A tag, metric or parameter holding a number compares numerically with a number; one
  holding a string (or a boolean, as ``'true'``/``'false'``) compares as text with the
  value's text, and is what ``LIKE`` matches. A missing key, a null, a list or an object
  makes every comparison false, ``!=`` included; so does a number against a quoted value.

The filter becomes one SQL condition (:func:`where_clause`) and the sort keys one ORDER BY
(:func:`order_clause`), so a search reads one page of rows however many versions exist.

Example:
    >>> parse_filter("metrics.auc > 0.9 AND (tags.team = 'a' OR alias = 'champion')")
    And(left=Compare(field='metrics.auc', op='>', value=0.9), right=Or(left=Compare(field='tags.team', op='=', value='a'), right=Compare(field='alias', op='=', value='champion')))
"""  # noqa: E501

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, String, and_, case, cast, false, func, literal, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from registry.deployments import live_revision_join
from registry.errors import RegistryError
from registry.tables import (
    DeploymentRevisionRow,
    DeploymentTargetRow,
    EnvironmentRow,
    FeatureViewRow,
    FeatureViewVersionRow,
    ModelAliasRow,
    ModelRow,
    ModelVersionRow,
    TrainingSetFeatureRow,
    TrainingSetRow,
)

__all__ = ["And", "Compare", "Or", "order_clause", "parse_filter", "where_clause"]

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?(?:[eE]-?\d+)?)"
    r"|(?P<op><=|>=|!=|=|<|>)|(?P<paren>[()])|(?P<word>[A-Za-z_][A-Za-z0-9_.:-]*))"
)
FIELDS = {
    "name",
    "version",
    "model_type",
    "training_set",
    "description",
    "created_by",
    "created_at",
    "uses_feature",
    "uses_view",
    "deployed_in",
    "alias",
}
SET_FIELDS = {"uses_feature", "uses_view", "deployed_in", "alias"}
PREFIXES = ("tags.", "metrics.", "params.")


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class And:
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class Or:
    left: Any
    right: Any


def parse_filter(text: str) -> Any:
    """Parse a filter into a tree of Compare, And and Or (an empty filter matches all)."""
    tokens = _tokenize(text)
    if not tokens:
        return None
    tree, position = _or(tokens, 0)
    if position != len(tokens):
        raise _error(text, f"unexpected {tokens[position][1]!r}")
    return tree


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise _error(text, f"cannot read {text[position:].strip()[:20]!r}")
        kind = found.lastgroup
        assert kind is not None
        tokens.append((kind, found.group(kind)))
        position = found.end()
    return tokens


def _or(tokens: list[tuple[str, str]], i: int) -> tuple[Any, int]:
    left, i = _and(tokens, i)
    while i < len(tokens) and tokens[i] == ("word", tokens[i][1]) and tokens[i][1].upper() == "OR":
        right, i = _and(tokens, i + 1)
        left = Or(left, right)
    return left, i


def _and(tokens: list[tuple[str, str]], i: int) -> tuple[Any, int]:
    left, i = _atom(tokens, i)
    while i < len(tokens) and tokens[i][0] == "word" and tokens[i][1].upper() == "AND":
        right, i = _atom(tokens, i + 1)
        left = And(left, right)
    return left, i


def _atom(tokens: list[tuple[str, str]], i: int) -> tuple[Any, int]:
    text = " ".join(t for _, t in tokens)
    if i >= len(tokens):
        raise _error(text, "the filter ends too early")
    kind, value = tokens[i]
    if (kind, value) == ("paren", "("):
        tree, i = _or(tokens, i + 1)
        if i >= len(tokens) or tokens[i] != ("paren", ")"):
            raise _error(text, "a '(' is not closed")
        return tree, i + 1
    if kind != "word" or not (value in FIELDS or value.startswith(PREFIXES)):
        raise _error(
            text,
            f"{value!r} is not a field; use {', '.join(sorted(FIELDS))}, tags.<key>, "
            f"metrics.<key> or params.<key>",
        )
    op_kind, op = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
    if op_kind == "word" and op.upper() == "LIKE":
        op = "LIKE"
    elif op_kind != "op":
        raise _error(text, f"{value} needs an operator such as = or >")
    if i + 2 >= len(tokens):
        raise _error(text, f"{value} {op} needs a value")
    value_kind, raw = tokens[i + 2]
    if value_kind == "string":
        parsed: Any = raw[1:-1].replace("''", "'")
    elif value_kind == "number":
        parsed = float(raw) if any(c in raw for c in ".eE") else int(raw)
    else:
        raise _error(text, f"the value after {value} {op} must be 'quoted' or a number")
    return _checked(Compare(value, op, parsed), text), i + 3


def _checked(node: Compare, text: str) -> Compare:
    """Refuse comparisons that can never mean anything, when the filter is read."""
    if node.field in SET_FIELDS and node.op not in {"=", "!=", "LIKE"}:
        raise _error(text, f"{node.field} is a set: use =, != or LIKE, not {node.op}")
    if node.field in {"version", "created_at"} and node.op == "LIKE":
        raise _error(text, f"{node.field} is not text: compare it with =, <, <=, > or >=")
    if node.field == "created_at":
        return Compare(node.field, node.op, _time(str(node.value)))
    return node


# --- SQL ------------------------------------------------------------------------------------
#
# The search query selects from ``model_versions`` joined to ``models`` and outer-joined to
# ``training_sets`` (see ``ProjectRegistry.search_model_versions``); the expressions below
# refer to those three tables. Set-valued fields become ``IN`` subqueries that the database
# evaluates once, not once per version.

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TEXT_COLUMNS: dict[str, Any] = {
    "name": ModelRow.name,
    "model_type": ModelVersionRow.model_type,
    "training_set": TrainingSetRow.name,
    "description": ModelVersionRow.description,
    "created_by": ModelVersionRow.created_by,
}
_JSON_COLUMNS: dict[str, Any] = {
    "tags.": ModelVersionRow.tags,
    "metrics.": ModelVersionRow.metrics,
    "params.": ModelVersionRow.params,
}


def where_clause(tree: Any, dialect: str) -> ColumnElement[bool]:
    """The filter as one SQL condition for ``dialect`` (``sqlite`` or ``postgresql``)."""
    if tree is None:
        return true()
    if isinstance(tree, And):
        return and_(where_clause(tree.left, dialect), where_clause(tree.right, dialect))
    if isinstance(tree, Or):
        return or_(where_clause(tree.left, dialect), where_clause(tree.right, dialect))
    node: Compare = tree
    if node.field in SET_FIELDS:
        return _member(node, dialect)
    if node.field in {"version", "created_at"}:
        column = ModelVersionRow.version if node.field == "version" else ModelVersionRow.created_at
        if node.field == "version" and not _is_number(node.value):
            return false()
        return _COMPARE[node.op](column, node.value)  # type: ignore[no-any-return]
    if node.field in _TEXT_COLUMNS:
        return _text_compare(_TEXT_COLUMNS[node.field], node, dialect)
    number, text = _json_value(node.field, dialect)
    if node.op != "LIKE" and _is_number(node.value):
        return or_(_COMPARE[node.op](number, node.value), _text_compare(text, node, dialect))
    return _text_compare(text, node, dialect)


def order_clause(order_by: Sequence[str], dialect: str) -> list[Any]:
    """ORDER BY terms for items such as ``metrics.auc DESC``: versions missing a key come
    last; a tag, metric or parameter sorts its numbers before its texts; ties fall back to
    the model's name and the version number, so pages never overlap."""
    terms: list[Any] = []
    for item in order_by:
        field, _, direction = item.strip().partition(" ")
        direction = direction.strip().upper() or "ASC"
        if direction not in {"ASC", "DESC"}:
            raise RegistryError(f"cannot sort by {item!r}: the direction must be ASC or DESC")
        if field in SET_FIELDS or not (field in FIELDS or field.startswith(PREFIXES)):
            raise RegistryError(
                f"cannot sort by {field!r}: sort by name, version, model_type, training_set, "
                f"description, created_by, created_at, tags.<key>, metrics.<key> or "
                f"params.<key>"
            )
        if field in {"version", "created_at"}:
            keys = [ModelVersionRow.version if field == "version" else ModelVersionRow.created_at]
        elif field in _TEXT_COLUMNS:
            keys = [_collated(_TEXT_COLUMNS[field], dialect)]
        else:
            number, text = _json_value(field, dialect)
            keys = [number, _collated(text, dialect)]
        for key in keys:
            terms += [key.is_(None), key.desc() if direction == "DESC" else key]
    return [*terms, _collated(ModelRow.name, dialect), ModelVersionRow.version]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text_compare(column: Any, node: Compare, dialect: str) -> ColumnElement[bool]:
    text = node.value if isinstance(node.value, str) else str(node.value)
    if node.op == "LIKE":
        return _like(column, text, dialect)
    return _COMPARE[node.op](_collated(column, dialect), text)  # type: ignore[no-any-return]


def _collated(column: Any, dialect: str) -> Any:
    """Text ordered by code point: SQLite's BINARY collation does that; PostgreSQL's
    default follows the locale (``'B' < 'a'`` or not), so ask for ``"C"``."""
    return column.collate("C") if dialect == "postgresql" else column


def _like(column: Any, pattern: str, dialect: str) -> ColumnElement[bool]:
    """``LIKE`` with ``%`` and ``_`` wildcards, case-sensitive on every database (SQLite's
    LIKE ignores ASCII case, so it gets the same pattern as a GLOB)."""
    if dialect == "sqlite":
        glob = "".join(
            {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}.get(c, c) for c in pattern
        )
        return column.op("GLOB")(literal(glob, String))  # type: ignore[no-any-return]
    return column.like(pattern.replace("\\", "\\\\"))  # type: ignore[no-any-return]


def _json_value(field: str, dialect: str) -> tuple[Any, Any]:
    """A tag's, metric's or parameter's value as (number or NULL, text or NULL)."""
    prefix = next(p for p in PREFIXES if field.startswith(p))
    column, key = _JSON_COLUMNS[prefix], field[len(prefix) :]
    if dialect == "sqlite":
        path = literal(f'$."{key}"', String)  # keys are words: no quote to escape
        kind = func.json_type(column, path)
        value = func.json_extract(column, path)
        number = case((kind.in_(["integer", "real"]), value))
        text = case((kind == "text", value), (kind.in_(["true", "false"]), kind))
        return number, text
    member = column.op("->>", return_type=String)(literal(key, String))
    kind = func.json_typeof(column.op("->")(literal(key, String)))
    number = case((kind == "number", cast(member, Float)))
    text = case((kind.in_(["string", "boolean"]), member))
    return number, text


def _member(node: Compare, dialect: str) -> ColumnElement[bool]:
    """``=``, ``!=`` and ``LIKE`` on a set-valued field, as ``IN`` over a subquery."""
    value = str(node.value)

    def matching(column: Any) -> ColumnElement[bool]:
        if node.op == "LIKE":
            return _like(column, value, dialect)
        return column == value  # type: ignore[no-any-return]

    if node.field in {"uses_feature", "uses_view"}:
        named = (
            FeatureViewRow.name + ":" + TrainingSetFeatureRow.feature
            if node.field == "uses_feature"
            else FeatureViewRow.name
        )
        found = (
            select(TrainingSetFeatureRow.training_set_id)
            .join(
                FeatureViewVersionRow,
                FeatureViewVersionRow.id == TrainingSetFeatureRow.feature_view_version_id,
            )
            .join(FeatureViewRow, FeatureViewRow.id == FeatureViewVersionRow.feature_view_id)
            .where(matching(named))
        )
        if node.op == "!=":
            return or_(
                ModelVersionRow.training_set_id.is_(None),
                ModelVersionRow.training_set_id.not_in(found),
            )
        return ModelVersionRow.training_set_id.in_(found)
    if node.field == "alias":
        found = select(ModelAliasRow.model_version_id).where(matching(ModelAliasRow.alias))
    else:
        found = _live_versions().where(matching(EnvironmentRow.name))
    if node.op == "!=":
        return ModelVersionRow.id.not_in(found)
    return ModelVersionRow.id.in_(found)


def _live_versions() -> Any:
    """Versions targeted by the newest revision of each model in each environment."""
    return (
        select(DeploymentTargetRow.model_version_id)
        .join(DeploymentRevisionRow, DeploymentRevisionRow.id == DeploymentTargetRow.revision_id)
        .join(*live_revision_join())
        .join(EnvironmentRow, EnvironmentRow.id == DeploymentRevisionRow.environment_id)
    )


def _time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RegistryError(
            f"created_at needs an ISO date such as '2026-01-31', got {text!r}"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _error(text: str, problem: str) -> RegistryError:
    return RegistryError(f"cannot parse the filter {text!r}: {problem}")
