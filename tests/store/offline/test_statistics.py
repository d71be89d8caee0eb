"""Column statistics per time window, compiled once and run by each engine, against pandas,
NumPy and SciPy computing the same thing row by row."""

from __future__ import annotations

import math
import tempfile
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from store.offline.compiler.query import SourceTable
from store.offline.compiler.statistics import TOP_VALUES, equal_width_edges
from store.offline.statistics import compute_statistics
from store.types import Bool, DType, Float64, Int64, String
from tests.backends import OFFLINE_ENGINES, examples, offline_engine

COLUMNS: list[tuple[str, DType]] = [
    ("rate", Float64),
    ("trips", Int64),
    ("city", String),
    ("flag", Bool),
]
BASE = datetime(1969, 12, 31, 22, tzinfo=UTC)  # windows on both sides of 1970
HOUR_US = 3_600_000_000
EDGES = {"rate": (-10.0, 0.0, 2.5, 1e6)}


def bins_of(values: np.ndarray, edges: tuple[float, ...]) -> list[int]:
    """Counts per bin: ``edges[b] <= v < edges[b + 1]``, the outer bins open ended."""
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    return np.bincount(index, minlength=len(edges) - 1).tolist()


def reference(frame: pd.DataFrame, edges: dict[str, tuple[float, ...]]) -> dict[str, Any]:
    """The statistics of one window, the obvious way."""
    out: dict[str, Any] = {}
    for name, dtype in COLUMNS:
        values = frame[name].dropna()
        entry: dict[str, Any] = {"count": len(values), "nulls": int(frame[name].isna().sum())}
        if dtype in (Float64, Int64):
            x = values.astype("float64").to_numpy()
            n = len(x)
            percentiles = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95]) if n else [None] * 5
            entry |= {
                "min": float(x.min()) if n else None,
                "max": float(x.max()) if n else None,
                "mean": float(x.mean()) if n else None,
                "variance": float(x.var(ddof=1)) if n > 1 else None,
                "quantiles": dict(
                    zip(("p5", "p25", "p50", "p75", "p95"), percentiles, strict=True)
                ),
                "skewness": _moment(stats.skew, x) if n > 2 else None,
                "kurtosis": _moment(stats.kurtosis, x) if n > 3 else None,
                "histogram": {"edges": list(edges[name]), "counts": bins_of(x, edges[name])},
            }
        else:
            text = values.map(lambda v: str(v).lower() if isinstance(v, bool) else str(v))
            counts = sorted(text.value_counts().items(), key=lambda kv: (-kv[1], kv[0]))
            entry["top_values"] = [{"value": v, "count": n} for v, n in counts[:TOP_VALUES]]
        out[name] = entry
    return out


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


ANY = object()  # an ill-conditioned value: any answer is as good as the reference's


def _moment(function: Any, x: np.ndarray) -> Any:
    """SciPy's bias-corrected skewness or kurtosis; None where it is undefined (constant
    data, about which SciPy warns and returns NaN); ANY when the values barely differ, where
    the moment is dominated by rounding in either implementation."""
    spread = float(x.std())
    if 0 < spread <= 1e-6 * max(1.0, abs(float(x.mean()))):
        return ANY
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _finite(function(x, bias=False))


def close(a: Any, b: Any) -> bool:
    if a is ANY or b is ANY:
        return True
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-9)
    return bool(a == b)


rows = st.lists(
    st.fixed_dictionaries(
        {
            "hour": st.integers(0, 4),
            "rate": st.one_of(st.none(), st.floats(-1e3, 1e3, allow_nan=False)),
            "trips": st.one_of(st.none(), st.integers(-1000, 1000)),
            "city": st.one_of(
                st.none(), st.sampled_from(["Oslo", "Lima", "Pune", "Accra", "a", "b", "c"])
            ),
            "flag": st.one_of(st.none(), st.booleans()),
        }
    ),
    min_size=1,
    max_size=40,
)


@pytest.mark.parametrize("engine", OFFLINE_ENGINES)
def test_hourly_statistics_match_pandas_numpy_and_scipy(engine: str) -> None:
    run = settings(
        max_examples=examples(engine, 40),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )(given(data=rows)(lambda data: check_statistics(engine, data)))
    run()


def check_statistics(engine: str, data: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(data)
    frame["ts"] = [BASE + timedelta(hours=h, minutes=7) for h in frame["hour"]]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.parquet"
        schema = pa.schema(
            [
                ("ts", pa.timestamp("us", tz="UTC")),
                ("rate", pa.float64()),
                ("trips", pa.int64()),
                ("city", pa.string()),
                ("flag", pa.bool_()),
            ]
        )
        records = frame[schema.names].astype(object).where(frame[schema.names].notna(), None)
        pq.write_table(pa.Table.from_pylist(records.to_dict("records"), schema=schema), path)
        runner = offline_engine(engine, Path(tmp))
        source = SourceTable("t", (str(path),))
        start_us = int(BASE.timestamp() * 1_000_000) + HOUR_US  # the first hour is left out
        windows = compute_statistics(
            runner,
            source,
            COLUMNS,
            time_column="ts",
            window_us=HOUR_US,
            start_us=start_us,
            edges=EDGES,
        )
        whole = compute_statistics(runner, source, COLUMNS)  # edges from the data's range
    kept = frame[frame["hour"] >= 1]
    assert [w.start_us for w in windows] == [
        start_us + (h - 1) * HOUR_US for h in sorted(kept["hour"].unique())
    ]
    for window in windows:
        assert window.end_us == window.start_us + HOUR_US  # type: ignore[operator]
        hour = (window.start_us - start_us) // HOUR_US + 1  # type: ignore[operator]
        want = reference(kept[kept["hour"] == hour], _edges(frame) | {"rate": EDGES["rate"]})
        got = window.columns
        got["trips"].pop("histogram")  # its edges come from the whole table: checked below
        want["trips"].pop("histogram")
        assert close(got, want), (got, want)
    (single,) = whole
    assert (single.start_us, single.end_us) == (None, None)
    assert close(single.columns, reference(frame, _edges(frame))), single.columns


def _edges(frame: pd.DataFrame) -> dict[str, tuple[float, ...]]:
    """The default edges: ten equal-width bins over the column's range."""
    return {
        name: equal_width_edges(
            None if frame[name].isna().all() else float(frame[name].min()),
            None if frame[name].isna().all() else float(frame[name].max()),
        )
        for name in ("rate", "trips")
    }
