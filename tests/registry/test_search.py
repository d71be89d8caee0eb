"""Model-version search compiled to SQL, against a brute-force reference, on SQLite and
PostgreSQL.

The reference below reads every version through the registry's per-version API and
evaluates the filter in plain Python, the slow and obvious way; hypothesis writes filters
(as text, so the parser is exercised too) and sort orders over a registry whose tags,
metrics and parameters mix numbers, strings, booleans, nulls, lists and letters of both
cases, and the SQL search must return exactly the reference's versions in its order.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from registry import ProjectRegistry, Registry, RegistryError, Target
from registry.catalog import DeclaredObject
from registry.search import SET_FIELDS, And, Compare, Or, parse_filter
from registry.training_sets import TrainingSetFeature

TEXTS = ["growth", "Growth", "risk", "5", "", "é", "a_b", "a%b", "A"]
NUMBERS = [0, 1, 2.5, 3, 5, 0.75, -1, 0.9]
FIELDS = [
    "name",
    "version",
    "model_type",
    "training_set",
    "description",
    "created_by",
    "created_at",
    "tags.team",
    "tags.flag",
    "tags.n",
    "tags.absent",
    "metrics.auc",
    "params.depth",
    "params.label",
    *sorted(SET_FIELDS),
]
PATTERNS = ["%", "g%", "G%", "%a%", "a_b", "a\\%", "view_a:%", "%:x", "champ_on", "prod%", "_"]


@pytest.fixture
def project(registry_url: str, tmp_path: Path) -> Iterator[ProjectRegistry]:
    with Registry(registry_url) as reg:
        yield _seeded(reg, tmp_path)


def _seeded(reg: Registry, tmp_path: Path) -> ProjectRegistry:
    rng = random.Random(7)
    reg.catalog.apply(
        "demo",
        [
            DeclaredObject(
                kind="feature_view",
                name=view,
                spec={"name": view},
                content_hash=view,
                features=tuple((f, "double") for f in features),
            )
            for view, features in (("view_a", ("x", "y")), ("view_b", ("x", "z")))
        ],
        delete_missing=False,
    )
    files = reg.file_store(tmp_path / "files")
    sets = [
        reg.training_sets.record(
            "demo",
            name=name,
            fingerprint=name,
            data=name.encode(),
            files=files,
            row_count=1,
            schema={},
            statistics={},
            manifest={},
            entity_time_min=None,
            entity_time_max=None,
            features=[TrainingSetFeature(v, 1, f, f"{v}_{f}") for v, f in features],
        )
        for name, features in (
            ("Set_one", [("view_a", "x"), ("view_b", "z")]),
            ("set_two", [("view_a", "y")]),
        )
    ]
    project = reg.project("demo", tmp_path / "artifacts")
    for i in range(18):
        model = ["churn", "Churn", "eta", "a_b"][i % 4]
        tags: dict[str, Any] = {
            "team": rng.choice(TEXTS),
            "flag": rng.choice([True, False]),
            "n": rng.choice(["5", 5, 2.5, None, [1], {"a": 1}, "x"]),
        }
        params = {"depth": rng.choice([3, "3", None, True, 2.5]), "label": rng.choice(TEXTS)}
        project.register_model(
            model,
            {"i": i},
            training_set=rng.choice([*sets, None]),
            metrics={} if i % 5 == 0 else {"auc": rng.choice([0.5, 0.75, 0.9, 1.0])},
            params=params,
            tags={k: v for k, v in tags.items() if rng.random() < 0.8},
            description=rng.choice(TEXTS),
            serializer="pickle",
            created_by=rng.choice(["ana", "Bo"]),
        )
    project.models.set_alias("churn", "champion", 1)
    project.models.set_alias("churn", "champion", 2)
    project.models.set_alias("eta", "Champion", 1)
    project.deployments.deploy("churn", "production", [Target(1), Target(3, "shadow", 0)])
    project.deployments.deploy("churn", "production", [Target(2), Target(4, "canary", 10)])
    project.deployments.deploy("eta", "staging", version=2)
    project.delete_version("a_b", 1)
    return project


# --- the reference: every version's facts read one by one, the filter evaluated in Python --


def _facts(project: ProjectRegistry) -> list[dict[str, Any]]:
    live = project.deployments.list_live()
    facts = []
    for name in project.models.list_models():
        for v in project.models.list_versions(name):
            features = project.lineage.of_version(name, v.version).features
            facts.append(
                {
                    "name": name,
                    "version": v.version,
                    "model_type": v.model_type,
                    "training_set": v.training_set,
                    "description": v.description,
                    "created_by": v.created_by,
                    "created_at": v.created_at,
                    "tags": v.tags,
                    "metrics": v.metrics,
                    "params": v.params,
                    "uses_feature": {f"{f.feature_view}:{f.feature}" for f in features},
                    "uses_view": {f.feature_view for f in features},
                    "deployed_in": {
                        r.environment for r in live if r.model == name and v.version in r.versions()
                    },
                    "alias": set(v.aliases),
                }
            )
    return facts


def _like(text: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def _holds(op: str, actual: Any, expected: Any) -> bool:
    if op == "LIKE":
        return _like(actual, expected)
    return {
        "=": actual == expected,
        "!=": actual != expected,
        "<": actual < expected,
        "<=": actual <= expected,
        ">": actual > expected,
        ">=": actual >= expected,
    }[op]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else None


def _json(field: str, facts: Mapping[str, Any]) -> tuple[Any, bool]:
    prefix, _, key = field.partition(".")
    values = facts[prefix]
    return values.get(key), key in values


def _matches(tree: Any, facts: Mapping[str, Any]) -> bool:
    if tree is None:
        return True
    if isinstance(tree, And):
        return _matches(tree.left, facts) and _matches(tree.right, facts)
    if isinstance(tree, Or):
        return _matches(tree.left, facts) or _matches(tree.right, facts)
    field, op, value = tree.field, tree.op, tree.value
    if field in SET_FIELDS:
        members = facts[field]
        if op == "LIKE":
            return any(_like(m, str(value)) for m in members)
        return (str(value) in members) == (op == "=")
    if field == "version":
        return _number(value) and _holds(op, facts["version"], value)
    if field == "created_at":
        return _holds(op, facts["created_at"], value)
    if "." not in field:
        actual = facts[field]
        return actual is not None and _holds(op, actual, str(value))
    actual, _ = _json(field, facts)
    if _number(actual):
        return op != "LIKE" and _number(value) and _holds(op, actual, value)
    text = _text(actual)
    return text is not None and _holds(op, text, str(value))


def _sort_keys(field: str, facts: Mapping[str, Any]) -> list[Any]:
    if "." not in field:
        return [facts[field]]
    actual, _ = _json(field, facts)
    return [actual if _number(actual) else None, _text(actual)]


def _reference(
    facts: list[dict[str, Any]], tree: Any, order_by: list[str]
) -> list[tuple[str, int]]:
    def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
        for item in order_by:
            field, _, direction = item.partition(" ")
            for x, y in zip(_sort_keys(field, a), _sort_keys(field, b), strict=True):
                if (x is None) != (y is None):
                    return 1 if x is None else -1  # missing last, either direction
                if x is not None and x != y:
                    return (1 if x > y else -1) * (-1 if direction == "DESC" else 1)
        return 1 if (a["name"], a["version"]) > (b["name"], b["version"]) else -1

    found = [f for f in facts if _matches(tree, f)]
    return [(f["name"], f["version"]) for f in sorted(found, key=functools.cmp_to_key(compare))]


# --- filters as text, so the parser takes part ----------------------------------------------


def _literal(value: Any) -> str:
    return "'" + value.replace("'", "''") + "'" if isinstance(value, str) else repr(value)


def _render(tree: Any) -> str:
    if isinstance(tree, And | Or):
        word = "AND" if isinstance(tree, And) else "OR"
        return f"({_render(tree.left)} {word} {_render(tree.right)})"
    return f"{tree.field} {tree.op} {_literal(tree.value)}"


def _compares(times: list[str]) -> st.SearchStrategy[Compare]:
    @st.composite
    def build(draw: Callable[..., Any]) -> Compare:
        field = draw(st.sampled_from(FIELDS))
        if field in SET_FIELDS:
            op = draw(st.sampled_from(["=", "!=", "LIKE"]))
            members = [
                "view_a:x",
                "view_a:y",
                "view_b:z",
                "view_a",
                "view_b",
                "production",
                "staging",
                "champion",
                "Champion",
            ]
            values = PATTERNS if op == "LIKE" else members
            return Compare(field, op, draw(st.sampled_from(values)))
        ops = ["=", "!=", "<", "<=", ">", ">="]
        op = draw(st.sampled_from(ops if field in {"version", "created_at"} else [*ops, "LIKE"]))
        if field == "created_at":
            return Compare(field, op, draw(st.sampled_from(times)))
        if op == "LIKE":
            return Compare(field, op, draw(st.sampled_from(PATTERNS)))
        pool = [*TEXTS, *NUMBERS, "churn", "Churn", "eta", "Set_one", "true", "3", "ana"]
        return Compare(field, op, draw(st.sampled_from(pool)))

    return build()


def _trees(times: list[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        _compares(times),
        lambda inner: st.builds(And, inner, inner) | st.builds(Or, inner, inner),
        max_leaves=4,
    )


ORDERS = st.lists(
    st.sampled_from(
        ["name", "version", "created_at", "tags.team", "tags.n", "metrics.auc", "params.depth"]
    ).flatmap(lambda f: st.sampled_from([f, f"{f} ASC", f"{f} DESC"])),
    max_size=3,
)


def test_search_returns_what_the_reference_returns(project: ProjectRegistry) -> None:
    facts = _facts(project)
    assert len(facts) == 17  # one of 18 deleted
    stamps = sorted({f["created_at"] for f in facts})
    times = [
        t.isoformat()
        for s in stamps[::3]
        for t in (s, s - timedelta(microseconds=1), s.replace(tzinfo=None))
    ]

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_trees(times), ORDERS)
    def check(tree: Any, order_by: list[str]) -> None:
        parsed = parse_filter(_render(tree))
        expected = _reference(facts, parsed, order_by)
        page = project.search_model_versions(_render(tree), order_by=order_by, max_results=100)
        assert [(v.model, v.version) for v in page.versions] == expected
        assert page.next_page_token is None

    check()


def test_search_examples_read_as_documented(project: ProjectRegistry) -> None:
    def found(text: str, **kwargs: Any) -> set[tuple[str, int]]:
        page = project.search_model_versions(text, max_results=100, **kwargs)
        return {(v.model, v.version) for v in page.versions}

    facts = _facts(project)
    everything = {(f["name"], f["version"]) for f in facts}
    # A string never equals a number; a missing or null tag matches nothing, != included.
    assert found("tags.n = 5") == {
        (f["name"], f["version"]) for f in facts if f["tags"].get("n") in (5, "5")
    }
    assert found("tags.absent != 'x'") == set()
    assert found("tags.flag = 'true'") == {
        (f["name"], f["version"]) for f in facts if f["tags"].get("flag") is True
    }
    # LIKE is case-sensitive on both databases; a set's != is "does not contain".
    assert found("name LIKE 'c%'") == {(n, v) for n, v in everything if n == "churn"}
    assert found("deployed_in = 'production'") == {("churn", 2), ("churn", 4)}
    assert found("deployed_in != 'production'") == everything - {("churn", 2), ("churn", 4)}
    assert found("alias = 'champion' OR alias = 'Champion'") == {("churn", 2), ("eta", 1)}


def test_pages_follow_one_another_without_overlap(project: ProjectRegistry) -> None:
    whole = project.search_model_versions("", order_by=["metrics.auc DESC"], max_results=100)
    seen: list[tuple[str, int]] = []
    token = None
    while True:
        page = project.search_model_versions(
            "", order_by=["metrics.auc DESC"], max_results=4, page_token=token
        )
        seen += [(v.model, v.version) for v in page.versions]
        token = page.next_page_token
        if token is None:
            break
    assert seen == [(v.model, v.version) for v in whole.versions]
    assert len(seen) == 17


def test_a_search_is_two_queries_however_many_versions(
    project: ProjectRegistry, registry_url: str
) -> None:
    statements: list[str] = []
    engine = project._db.engine

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        page = project.search_model_versions(
            "metrics.auc > 0.6 AND (uses_view = 'view_a' OR deployed_in = 'production')",
            order_by=["tags.team DESC"],
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.versions
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2  # the page, then its versions' aliases


@pytest.mark.parametrize(
    ("text", "order_by", "message"),
    [
        ("accuracy > 1", [], "is not a field"),
        ("alias > 'a'", [], "alias is a set: use =, != or LIKE"),
        ("version LIKE '1%'", [], "version is not text"),
        ("created_at > 'yesterday'", [], "created_at needs an ISO date"),
        ("", ["alias"], "cannot sort by 'alias'"),
        ("", ["metrics.auc DOWN"], "must be ASC or DESC"),
        ("", ["accuracy"], "cannot sort by 'accuracy'"),
    ],
)
def test_bad_searches_say_what_to_write(
    project: ProjectRegistry, text: str, order_by: list[str], message: str
) -> None:
    with pytest.raises(RegistryError, match=message):
        project.search_model_versions(text, order_by=order_by)
    with pytest.raises(RegistryError, match="page_token"):
        project.search_model_versions("", page_token="-3")


def test_metrics_must_be_finite_and_nan_parameters_are_kept_as_text(
    project: ProjectRegistry,
) -> None:
    with pytest.raises(RegistryError, match="finite numbers"):
        project.register_model("eta", {}, serializer="pickle", metrics={"loss": float("nan")})
    version = project.register_model(
        "eta", {}, serializer="pickle", params={"missing_values": float("nan")}
    )
    assert version.params == {"missing_values": "nan"}
    page = project.search_model_versions("params.missing_values = 'nan'")
    assert [(v.model, v.version) for v in page.versions] == [("eta", version.version)]
