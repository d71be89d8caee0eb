r"""Searching model versions with a small filter language.

::

    metrics.auc > 0.9 AND (tags.team = 'growth' OR deployed_in = 'production')
    uses_feature = 'driver_hourly_stats:conv_rate' AND created_at >= '2026-01-01'

Fields: ``name``, ``version``, ``model_type``, ``training_set``, ``description``,
``created_by``, ``created_at``, ``tags.<key>``, ``metrics.<key>``, ``params.<key>``, and the
set-valued ``uses_feature`` (``'view:feature'``), ``uses_view``, ``deployed_in``
(environments where the version is live) and ``alias``. Operators: ``=``, ``!=``, ``<``,
``<=``, ``>``, ``>=``, ``LIKE`` (``%`` and ``_`` wildcards). On set-valued fields ``=``
means "contains" and ``!=`` "does not contain". Values are single-quoted strings or
numbers. ``AND`` binds tighter than ``OR``; parentheses group. (MLflow's language has AND
only.) A missing tag, metric or parameter makes its comparison false.

Example:
    >>> parse_filter("metrics.auc > 0.9 AND (tags.team = 'a' OR alias = 'champion')")
    And(left=Compare(field='metrics.auc', op='>', value=0.9), right=Or(left=Compare(field='tags.team', op='=', value='a'), right=Compare(field='alias', op='=', value='champion')))
"""  # noqa: E501

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry.errors import RegistryError

__all__ = ["And", "Compare", "Or", "lookup", "matches", "parse_filter"]

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


def matches(tree: Any, facts: Mapping[str, Any]) -> bool:
    """Whether a version's facts satisfy the filter."""
    if tree is None:
        return True
    if isinstance(tree, And):
        return matches(tree.left, facts) and matches(tree.right, facts)
    if isinstance(tree, Or):
        return matches(tree.left, facts) or matches(tree.right, facts)
    return _compare(tree, facts)


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
    value_kind, literal = tokens[i + 2]
    if value_kind == "string":
        parsed: Any = literal[1:-1].replace("''", "'")
    elif value_kind == "number":
        parsed = float(literal) if any(c in literal for c in ".eE") else int(literal)
    else:
        raise _error(text, f"the value after {value} {op} must be 'quoted' or a number")
    return Compare(value, op, parsed), i + 3


def _compare(node: Compare, facts: Mapping[str, Any]) -> bool:
    actual = lookup(node.field, facts)
    if node.field in SET_FIELDS:
        members = set(actual or ())
        if node.op == "=":
            return node.value in members
        if node.op == "!=":
            return node.value not in members
        if node.op == "LIKE":
            return any(_like(str(m), str(node.value)) for m in members)
        raise RegistryError(f"{node.field} is a set: use =, != or LIKE")
    if actual is None:
        return False
    expected = node.value
    if node.field == "created_at":
        expected = _time(str(expected))
    elif isinstance(actual, int | float) and not isinstance(actual, bool):
        if not isinstance(expected, int | float):
            return False
    else:
        actual, expected = str(actual), str(expected)
    if node.op == "LIKE":
        return _like(str(actual), str(expected))
    try:
        return bool(
            {
                "=": actual == expected,
                "!=": actual != expected,
                "<": actual < expected,
                "<=": actual <= expected,
                ">": actual > expected,
                ">=": actual >= expected,
            }[node.op]
        )
    except TypeError:
        return False


def lookup(field: str, facts: Mapping[str, Any]) -> Any:
    for prefix in PREFIXES:
        if field.startswith(prefix):
            return facts.get(prefix[:-1], {}).get(field[len(prefix) :])
    return facts.get(field)


def _like(text: str, pattern: str) -> bool:
    glob = pattern.replace("*", "[*]").replace("?", "[?]").replace("%", "*").replace("_", "?")
    return fnmatch.fnmatchcase(text, glob)


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
