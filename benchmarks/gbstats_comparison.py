"""Silage's experiment statistics side by side with GrowthBook's stats engine (gbstats).

    make bench-gbstats      # builds benchmarks/.venv-gbstats (gbstats 0.8.0) first

Both are handed the same sufficient statistics (count, sum, sum of squares per arm) for a
handful of seeded scenarios: conversions at the planned size and at a large size, a skewed
revenue-like metric, a small continuous sample, and three sample-ratio checks. For each it
prints the absolute difference's interval and p-value, the relative lift's interval, the
anytime-valid (sequential) interval with the same tuning (gbstats' ``N*`` is Silage's
``2 * horizon``: both tune to the total units) and the sample-ratio p-value, then the
largest gap per quantity as a share of the interval's width.

Where they differ by design: for a 0/1 metric Silage runs the two-proportion z-test (pooled
standard error for the p-value, normal quantiles) and gbstats Welch's t-test on the 0/1
values (unpooled, t quantiles); for large samples the two agree to a few parts in a
thousand. For other metrics both run Welch's t-test. The lift's interval is the same delta
method (Silage normal, gbstats t quantiles); the confidence sequence and the sample-ratio
chi-square are the same formulas.

gbstats needs pandas < 2 and numpy < 2, so it runs in its own virtualenv, fed JSON
(``benchmarks/gbstats_driver.py``).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from store.experiments.statistics import (
    Comparison,
    Sample,
    compare_means,
    compare_proportions,
    relative_lift,
    sample_ratio_mismatch,
)

HERE = Path(__file__).parent
ALPHA = 0.05


def sample(values: np.ndarray) -> Sample:
    return Sample(len(values), float(values.sum()), float((values * values).sum()))


def scenarios() -> list[dict[str, Any]]:
    rng = np.random.default_rng(11)
    made: list[dict[str, Any]] = []

    def add(name: str, control: np.ndarray, treatment: np.ndarray, binary: bool) -> None:
        c, t = sample(control), sample(treatment)
        tuned = 2 * max(len(control), len(treatment))
        made.append({"name": name, "binary": binary, "c": c, "t": t, "tuned_units": tuned})

    add(
        "10% vs 12%, 3,841 per arm (the planned size)",
        (rng.uniform(size=3_841) < 0.10).astype(float),
        (rng.uniform(size=3_841) < 0.12).astype(float),
        True,
    )
    add(
        "5.0% vs 5.3%, 50,000 per arm",
        (rng.uniform(size=50_000) < 0.050).astype(float),
        (rng.uniform(size=50_000) < 0.053).astype(float),
        True,
    )
    add(
        "A/A 20%, 1,000 per arm",
        (rng.uniform(size=1_000) < 0.2).astype(float),
        (rng.uniform(size=1_000) < 0.2).astype(float),
        True,
    )
    add(
        "revenue (lognormal, +5%), 5,000 per arm",
        rng.lognormal(3.0, 1.0, 5_000),
        1.05 * rng.lognormal(3.0, 1.0, 5_000),
        False,
    )
    add(
        "latency-like, 30 vs 40 units",
        rng.normal(100, 15, 30),
        rng.normal(108, 25, 40),
        False,
    )
    return made


SRM = [
    {"name": "52/48 of 10,000 for 50/50", "observed": [5_200, 4_800], "shares": [50, 50]},
    {"name": "50.2/49.8 of 10,000 for 50/50", "observed": [5_020, 4_980], "shares": [50, 50]},
    {
        "name": "3 arms 3,400/3,300/3,300 for 1/3 each",
        "observed": [3_400, 3_300, 3_300],
        "shares": [1, 1, 1],
    },
]


def silage(s: dict[str, Any]) -> dict[str, Any]:
    compare = compare_proportions if s["binary"] else compare_means
    result: Comparison = compare(s["c"], s["t"], alpha=ALPHA, horizon=s["tuned_units"] // 2)
    lift = relative_lift(s["c"], s["t"], alpha=ALPHA)
    assert lift is not None
    return {
        "difference": result.difference,
        "interval": [result.low, result.high],
        "p_value": result.p_value,
        "lift": lift[0],
        "lift_interval": [lift[1], lift[2]],
        "sequential": [result.sequential_low, result.sequential_high],
    }


def gbstats(made: list[dict[str, Any]], python: Path) -> dict[str, Any]:
    payload = {
        "comparisons": [
            {
                "binary": s["binary"],
                "alpha": ALPHA,
                "tuned_units": s["tuned_units"],
                "control": _arm(s["c"]),
                "treatment": _arm(s["t"]),
            }
            for s in made
        ],
        "srm": [{"observed": s["observed"], "shares": s["shares"]} for s in SRM],
    }
    answer = subprocess.run(
        [str(python), str(HERE / "gbstats_driver.py")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, Any] = json.loads(answer.stdout)
    return found


def _arm(s: Sample) -> dict[str, float]:
    return {"n": s.n, "total": s.total, "total_squares": s.total_squares}


def _interval(values: list[float]) -> str:
    return f"[{values[0]:+.5f}, {values[1]:+.5f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--gbstats-python",
        type=Path,
        default=HERE / ".venv-gbstats" / "bin" / "python",
        help="a Python with gbstats installed (make bench-gbstats builds it)",
    )
    args = parser.parse_args()
    made = scenarios()
    theirs = gbstats(made, args.gbstats_python)
    gaps: dict[str, list[float]] = {}
    print(f"alpha {ALPHA}; gaps are |Silage - gbstats| / width of gbstats' interval\n")
    print("| scenario | quantity | Silage | gbstats | gap |\n|---|---|---|---|---|")
    for s, them in zip(made, theirs["comparisons"], strict=True):
        ours = silage(s)
        for key, label in (
            ("interval", "difference, fixed-horizon interval"),
            ("lift_interval", "relative lift, interval"),
            ("sequential", "difference, sequential interval"),
        ):
            width = them[key][1] - them[key][0]
            gap = max(abs(a - b) for a, b in zip(ours[key], them[key], strict=True)) / width
            gaps.setdefault(key, []).append(gap)
            print(
                f"| {s['name']} | {label} | {_interval(ours[key])} | {_interval(them[key])} "
                f"| {gap:.2%} |"
            )
        p_gap = abs(math.log10(ours["p_value"]) - math.log10(them["p_value"]))
        gaps.setdefault("p_value", []).append(p_gap)
        print(
            f"| {s['name']} | p-value ({'z' if s['binary'] else 'Welch t'} / Welch t) | "
            f"{ours['p_value']:.4g} | {them['p_value']:.4g} | {p_gap:.3f} in log10 |"
        )
    for s, them_p in zip(SRM, theirs["srm"], strict=True):
        ours_p = sample_ratio_mismatch(s["observed"], s["shares"]).p_value
        gaps.setdefault("srm", []).append(abs(ours_p - them_p))
        print(
            f"| {s['name']} | sample-ratio p-value | {ours_p:.4g} | {them_p:.4g} | "
            f"{abs(ours_p - them_p):.1e} |"
        )
    print("\nlargest gap per quantity:")
    for key, values in gaps.items():
        print(f"  {key}: {max(values):.4g}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
