"""Column statistics, compiled once and run by each engine, against pandas and NumPy."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.offline.compiler.query import SourceTable
from store.offline.compiler.statistics import TOP_VALUES, compile_statistics
from store.types import Bool, DType, Float64, Int64, String
from tests.backends import OFFLINE_ENGINES, offline_engine

COLUMNS: list[tuple[str, DType]] = [
    ("rate", Float64),
    ("trips", Int64),
    ("city", String),
    ("flag", Bool),
]


def reference(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The statistics, the obvious way."""
    out: dict[str, dict[str, Any]] = {}
    for name, dtype in COLUMNS:
        values = frame[name].dropna()
        entry: dict[str, Any] = {"count": len(values), "nulls": int(frame[name].isna().sum())}
        if dtype in (Float64, Int64):
            numbers = values.astype("float64").to_numpy()
            empty = len(numbers) == 0
            quartiles = [None] * 3 if empty else np.quantile(numbers, [0.25, 0.5, 0.75])
            entry |= {
                "min": None if empty else float(numbers.min()),
                "max": None if empty else float(numbers.max()),
                "mean": None if empty else float(numbers.mean()),
                "quantiles": dict(zip(("p25", "p50", "p75"), quartiles, strict=True)),
            }
        else:
            text = values.map(lambda v: str(v).lower() if isinstance(v, bool) else str(v))
            counts = sorted(text.value_counts().items(), key=lambda kv: (-kv[1], kv[0]))
            entry["top_values"] = [{"value": v, "count": n} for v, n in counts[:TOP_VALUES]]
        out[name] = entry
    return out


def close(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


rows = st.lists(
    st.fixed_dictionaries(
        {
            "rate": st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)),
            "trips": st.one_of(st.none(), st.integers(-1000, 1000)),
            "city": st.one_of(
                st.none(), st.sampled_from(["Oslo", "Lima", "Pune", "Accra", "a", "b", "c", "d"])
            ),
            "flag": st.one_of(st.none(), st.booleans()),
        }
    ),
    min_size=1,
    max_size=40,
)


@pytest.mark.parametrize("engine", OFFLINE_ENGINES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=rows)
def test_statistics_match_pandas(engine: str, data: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        check(engine, Path(tmp), data)


def check(engine: str, folder: Path, data: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(data, columns=[name for name, _ in COLUMNS])
    schema = pa.schema(
        [("rate", pa.float64()), ("trips", pa.int64()), ("city", pa.string()), ("flag", pa.bool_())]
    )
    path = folder / "t.parquet"
    pq.write_table(pa.Table.from_pylist(data, schema=schema), path)
    runner = offline_engine(engine, folder)
    query = compile_statistics(SourceTable("t", (str(path),)), COLUMNS, dialect=runner.dialect)
    summary = runner.to_arrow(query.summary).to_pylist()[0]
    assert query.top_values is not None
    top = runner.to_arrow(query.top_values).to_pylist()
    got = query.collect(summary, top)
    want = reference(frame)
    assert close(got, want), (got, want)
