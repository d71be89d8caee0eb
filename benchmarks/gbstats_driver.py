"""Runs inside ``benchmarks/.venv-gbstats`` (GrowthBook's gbstats needs pandas < 2 and
numpy < 2, which Silage's own environment cannot hold): reads the scenarios of
``gbstats_comparison.py`` as JSON on stdin and prints gbstats' numbers for each as JSON."""

from __future__ import annotations

import json
import sys

from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic
from gbstats.utils import check_srm


def statistic(arm: dict[str, float], binary: bool) -> object:
    if binary:
        return ProportionStatistic(n=int(arm["n"]), sum=arm["total"])
    return SampleMeanStatistic(n=int(arm["n"]), sum=arm["total"], sum_squares=arm["total_squares"])


def compare(scenario: dict[str, object]) -> dict[str, object]:
    binary = bool(scenario["binary"])
    a = statistic(scenario["control"], binary)  # type: ignore[arg-type]
    b = statistic(scenario["treatment"], binary)  # type: ignore[arg-type]
    alpha = float(scenario["alpha"])  # type: ignore[arg-type]
    absolute = TwoSidedTTest(a, b, FrequentistConfig(alpha=alpha, difference_type="absolute"))
    relative = TwoSidedTTest(a, b, FrequentistConfig(alpha=alpha, difference_type="relative"))
    sequential = SequentialTwoSidedTTest(
        a,
        b,
        SequentialConfig(
            alpha=alpha,
            difference_type="absolute",
            sequential_tuning_parameter=float(scenario["tuned_units"]),  # type: ignore[arg-type]
        ),
    )
    return {
        "difference": absolute.point_estimate,
        "interval": list(absolute.confidence_interval),
        "p_value": absolute.p_value,
        "lift": relative.point_estimate,
        "lift_interval": list(relative.confidence_interval),
        "sequential": list(sequential.confidence_interval),
    }


def main() -> None:
    scenarios = json.load(sys.stdin)
    out = {
        "comparisons": [compare(s) for s in scenarios["comparisons"]],
        "srm": [check_srm(s["observed"], s["shares"]) for s in scenarios["srm"]],
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
