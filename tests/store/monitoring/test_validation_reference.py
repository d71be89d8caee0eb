"""Expectations checked by each engine's one SQL pass, against the obvious Python reading.

Generated rows (nulls, ties, duplicates, strings) and generated expectations of every kind:
the engine's observed values and verdicts must equal a row-by-row reference.
"""

from __future__ import annotations

import math
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import (
    AllowedValues,
    Compare,
    Entity,
    FeatureView,
    Field,
    FileSource,
    Freshness,
    Matches,
    NullShare,
    QuantileRange,
    RowCount,
    UniqueKeys,
    ValueRange,
)
from store.definitions.expectations import Expectation
from store.monitoring.validation import check_rows, check_window
from store.types import Float64, Int64, String
from tests.backends import OFFLINE_ENGINES, examples, offline_engine

BASE = datetime(2026, 5, 1, tzinfo=UTC)
DRIVER = Entity(name="driver", join_keys=["driver_id"])

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "driver_id": st.integers(1, 3),
            "ts": st.integers(0, 6).map(lambda h: BASE + timedelta(hours=h)),
            # Few distinct values, so that ties, equal pairs and boundaries come up often.
            "rate": st.one_of(st.none(), st.sampled_from([-1.0, 0.0, 0.25, 1.0, 2.0])),
            "trips": st.one_of(st.none(), st.integers(-1, 3)),
            "city": st.one_of(st.none(), st.sampled_from(["Oslo", "Lima", "pune", "X-9"])),
        }
    ),
    max_size=25,
)
bounds = st.one_of(st.none(), st.sampled_from([-1, 0, 0.25, 1, 5]))


@st.composite
def expectations(draw: st.DrawFn) -> list[Expectation]:
    low, high = draw(bounds), draw(bounds)
    if low is None and high is None:
        high = 1
    if low is not None and high is not None and low > high:
        low, high = high, low
    mostly = draw(st.sampled_from([1.0, 0.75, 0.5]))
    return [
        ValueRange("rate", min=low, max=high, mostly=mostly),
        ValueRange("trips", min=0, max=2, mostly=mostly),
        QuantileRange("rate", min=low, max=high, quantile=draw(st.sampled_from([0.0, 0.5, 0.9]))),
        NullShare("city", at_most=draw(st.sampled_from([0.0, 0.2, 0.5]))),
        AllowedValues("city", values=["Oslo", "Lima"], mostly=mostly),
        Matches(
            "city", pattern=draw(st.sampled_from(["^[A-Z]", "[0-9]", "^Oslo$"])), mostly=mostly
        ),
        Compare("rate", draw(st.sampled_from([">=", "<", "==", "!="])), "trips", mostly=mostly),
        UniqueKeys(),
        Freshness(max_age=timedelta(hours=draw(st.integers(1, 8)))),
        RowCount(min=draw(st.sampled_from([0, 3])), max=draw(st.sampled_from([None, 10]))),
    ]


def reference(
    expectation: Expectation, rows: list[dict[str, Any]], as_of: datetime
) -> tuple[dict[str, Any], bool]:
    """Each expectation read row by row, the obvious way."""
    if isinstance(expectation, ValueRange | AllowedValues | Matches | Compare):
        if isinstance(expectation, Compare):
            pairs = [
                (r[expectation.left], r[expectation.right])
                for r in rows
                if r[expectation.left] is not None and r[expectation.right] is not None
            ]
            ops = {
                "<": lambda a, b: a < b,
                "<=": lambda a, b: a <= b,
                ">": lambda a, b: a > b,
                ">=": lambda a, b: a >= b,
                "==": lambda a, b: a == b,
                "!=": lambda a, b: a != b,
            }
            good = sum(ops[expectation.op](a, b) for a, b in pairs)
            n = len(pairs)
        else:
            values = [r[expectation.feature] for r in rows if r[expectation.feature] is not None]
            n = len(values)
            if isinstance(expectation, ValueRange):
                good = sum(
                    (expectation.min is None or v >= expectation.min)
                    and (expectation.max is None or v <= expectation.max)
                    for v in values
                )
            elif isinstance(expectation, AllowedValues):
                good = sum(v in expectation.values for v in values)
            else:
                good = sum(re.search(expectation.pattern, v) is not None for v in values)
        share = good / n if n else None
        observed: dict[str, Any] = {"share": share, "n": n}
        if isinstance(expectation, ValueRange):
            values = [r[expectation.feature] for r in rows if r[expectation.feature] is not None]
            observed |= {"min": min(values, default=None), "max": max(values, default=None)}
        return observed, share is None or share >= expectation.mostly
    if isinstance(expectation, QuantileRange):
        values = sorted(r[expectation.feature] for r in rows if r[expectation.feature] is not None)
        if not values:
            return {"value": None, "n": 0}, True
        value = _quantile(values, expectation.quantile)
        low, high = expectation.min, expectation.max
        passed = (low is None or value >= low) and (high is None or value <= high)
        return {"value": value, "n": len(values)}, passed
    if isinstance(expectation, NullShare):
        if not rows:
            return {"share": None, "n": 0}, True
        share = sum(r[expectation.feature] is None for r in rows) / len(rows)
        return {"share": share, "n": len(rows)}, share <= expectation.at_most
    if isinstance(expectation, UniqueKeys):
        duplicates = len(rows) - len({(r["driver_id"], r["ts"]) for r in rows})
        return {"duplicates": duplicates, "n": len(rows)}, duplicates == 0
    if isinstance(expectation, Freshness):
        if not rows:
            return {"age_seconds": None, "n": 0}, False
        age = (as_of - max(r["ts"] for r in rows)).total_seconds()
        return {"age_seconds": age, "n": len(rows)}, age <= expectation.max_age.total_seconds()
    assert isinstance(expectation, RowCount)
    n = len(rows)
    passed = (expectation.min is None or n >= expectation.min) and (
        expectation.max is None or n <= expectation.max
    )
    return {"rows": n}, passed


def _quantile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (``quantile_cont``, NumPy's default)."""
    position = q * (len(values) - 1)
    below = math.floor(position)
    above = min(below + 1, len(values) - 1)
    return values[below] + (values[above] - values[below]) * (position - below)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, abs_tol=1e-9)
    return bool(a == b)


def view_of(folder: Path, checks: list[Expectation]) -> FeatureView:
    return FeatureView(
        name="stats",
        entities=[DRIVER],
        schema=[
            Field(name="driver_id", dtype=Int64),
            Field(name="rate", dtype=Float64),
            Field(name="trips", dtype=Int64),
            Field(name="city", dtype=String),
        ],
        source=FileSource(path=str(folder / "stats.parquet"), timestamp_field="ts"),
        expectations=checks,
    )


SCHEMA = pa.schema(
    [
        ("driver_id", pa.int64()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("rate", pa.float64()),
        ("trips", pa.int64()),
        ("city", pa.string()),
    ]
)


@pytest.mark.parametrize("engine", OFFLINE_ENGINES)
def test_a_window_is_judged_as_the_reference_judges_it(engine: str) -> None:
    run = settings(
        max_examples=examples(engine, 60),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )(
        given(
            rows=rows_strategy,
            checks=expectations(),
            window=st.tuples(st.integers(0, 3), st.integers(2, 7)),
        )(lambda **drawn: check_window_example(engine, **drawn))
    )
    run()


def check_window_example(
    engine: str, rows: list[dict[str, Any]], checks: list[Expectation], window: tuple[int, int]
) -> None:
    start, end = (BASE + timedelta(hours=h) for h in window)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), folder / "stats.parquet")
        view = view_of(folder, checks)
        report = check_window(
            view,
            1,
            engine=offline_engine(engine, folder),
            repo_root=folder,
            start=start,
            end=end,
            trigger="on_demand",
        )
    inside = [r for r in rows if start <= r["ts"] <= end]
    assert report.row_count == len(inside)
    for outcome in report.outcomes:
        observed, passed = reference(outcome.expectation, inside, end)
        assert observed.keys() == outcome.observed.keys(), outcome.expectation
        for key, value in observed.items():
            assert same(outcome.observed[key], value), (outcome.expectation, key, outcome.observed)
        assert outcome.passed is passed, (outcome.expectation, outcome.observed)


@pytest.mark.parametrize("engine", OFFLINE_ENGINES)
def test_pushed_rows_are_judged_as_the_reference_judges_them(engine: str) -> None:
    run = settings(
        max_examples=examples(engine, 30),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )(
        given(rows=rows_strategy.filter(bool), checks=expectations())(
            lambda **drawn: check_pushed_example(engine, **drawn)
        )
    )
    run()


def check_pushed_example(
    engine: str, rows: list[dict[str, Any]], checks: list[Expectation]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        view = view_of(folder, checks)
        # Pushed rows in their own zone and unit: naive nanoseconds mean UTC.
        naive = [{**r, "ts": r["ts"].replace(tzinfo=None)} for r in rows]
        table = pa.Table.from_pylist(
            naive, schema=SCHEMA.set(1, pa.field("ts", pa.timestamp("ns")))
        )
        report = check_rows(view, 1, table, engine=offline_engine(engine, folder))
    assert (report.window_start, report.window_end) == (
        min(r["ts"] for r in rows),
        max(r["ts"] for r in rows),
    )
    for outcome in report.outcomes:
        if isinstance(outcome.expectation, Freshness):
            continue  # judged against the clock: covered by the window test
        observed, passed = reference(outcome.expectation, rows, BASE)
        for key, value in observed.items():
            assert same(outcome.observed[key], value), (outcome.expectation, key, outcome.observed)
        assert outcome.passed is passed, (outcome.expectation, outcome.observed)
