"""Drift benchmark: Silage's drift checks against Evidently 0.7's data-drift preset and SciPy.

    python benchmarks/drift_benchmark.py [--runs 3] [--rows 1000000]
                                         [--engines silage-profile,silage-raw,scipy,evidently]

Generates (once, seeded NumPy) a reference frame and a current frame of ``--rows`` rows each
with 20 features, 15 numeric (normal, lognormal, integer counts, rounded values) and 5
categorical (strings, 3 to 20 categories, skewed shares), and plants known shifts in ten of
the current frame's features (the table is printed first); the other ten are unchanged, so
that false alarms show. Both frames are Parquet files under ``benchmarks/.data/drift_r<rows>``.

Engines, run ``--runs`` times each in turns, every run in a fresh process so that its peak
memory (max RSS) is its own:

- ``silage-profile``, the monitoring path. One process profiles the reference
  (``drift.profile`` of every column, then JSON, as the registry stores it): timed and
  reported apart. A second process reads only the current frame and that JSON and times
  reading the profiles back, ``drift.compare`` of every column and ``drift.adjust_family``:
  this time and this process's peak are the engine's.
- ``silage-raw``: ``drift.compare`` with both samples at hand (exact two-sample statistics),
  then ``drift.adjust_family``.
- ``scipy``: a plain loop, ``ks_2samp`` and ``wasserstein_distance`` on each numeric column,
  ``chi2_contingency`` on each categorical column's frequency table; drift where the p-value
  is below 0.05 (SciPy gives no verdicts; 0.05 is the conventional default).
- ``evidently``: ``Report([DataDriftPreset()])`` on the two pandas frames at its defaults
  (column types inferred, default tests and thresholds), from its own virtualenv
  ``benchmarks/.venv-evidently`` (``make bench-drift-env``). ``include_tests=True`` only
  exposes each column's verdict; it changes no test.

Every process reads its frames from Parquet (pyarrow, pandas) before its clock starts: times
exclude reading; peaks include the frames (the "data MB" column is the peak after reading).
Before the times, the statistics are checked to agree: Silage's exact KS, W1 and chi-square
with SciPy's, Evidently's normed W1 with Silage's, and the profile-based figures with the
exact ones within the profile's bounds. This file is also each engine's entry point (``run``
sub-command), so it imports neither Silage nor Evidently at the top.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
EVIDENTLY_PYTHON = HERE / ".venv-evidently" / "bin" / "python"
ENGINES = ("silage-profile", "silage-raw", "scipy", "evidently")
SEED = 20260101
SCIPY_ALPHA = 0.05
GOAL_SECONDS = 1.5  # the monitoring issue's target for 1M rows x 20 features
Draw = Callable[[np.random.Generator, int, bool], np.ndarray]


@dataclass(frozen=True, slots=True, kw_only=True)
class Feature:
    """A generated column: how its reference is drawn and what changes in the current frame."""

    name: str
    source: str
    planted: str  # "" when the current frame is drawn like the reference
    draw: Draw  # (rng, rows, current) -> values

    @property
    def categorical(self) -> bool:
        return self.source.startswith("category")


def _normal(shift_sd: float = 0.0, scale: float = 1.0) -> Draw:
    return lambda rng, n, now: rng.normal(50 + 10 * shift_sd * now, 10 * scale**now, n)


def _choice(names: list[str], shares: list[float], now_shares: list[float] | None = None) -> Draw:
    def draw(rng: np.random.Generator, n: int, now: bool) -> np.ndarray:
        p = np.array(now_shares if now and now_shares else shares)
        return rng.choice(np.array(names[: len(p)]), p=p / p.sum(), size=n)

    return draw


_COUNTRIES = [f"C{i:02d}" for i in range(20)]
_ZIPF = [1 / (k + 1) ** 1.1 for k in range(20)]
_CHANNELS = ["search", "direct", "social", "email", "referral", "display", "video", "affiliate"]
_BROWSERS = ["chrome", "safari", "edge", "firefox", "samsung", "opera", "brave"]
_BROWSER_SHARES = [0.45, 0.25, 0.12, 0.08, 0.06, 0.04]

FEATURES = (
    Feature(name="shift_001", source="normal(50, 10)", planted="mean +0.01 SD", draw=_normal(0.01)),
    Feature(name="shift_005", source="normal(50, 10)", planted="mean +0.05 SD", draw=_normal(0.05)),
    Feature(name="shift_010", source="normal(50, 10)", planted="mean +0.1 SD", draw=_normal(0.1)),
    Feature(name="shift_020", source="normal(50, 10)", planted="mean +0.2 SD", draw=_normal(0.2)),
    Feature(name="shift_050", source="normal(50, 10)", planted="mean +0.5 SD", draw=_normal(0.5)),
    Feature(name="spread", source="normal(50, 10)", planted="SD x1.2", draw=_normal(scale=1.2)),
    Feature(
        name="amount",
        source="lognormal(3, 0.8)",
        planted="every value x1.1",
        draw=lambda rng, n, now: rng.lognormal(3, 0.8, n) * (1.1 if now else 1.0),
    ),
    Feature(
        name="income",
        source="lognormal(10, 0.5), cents",
        planted="",
        draw=lambda rng, n, now: rng.lognormal(10, 0.5, n).round(2),
    ),
    Feature(
        name="age",
        source="int normal(40, 12) in 18..90",
        planted="",
        draw=lambda rng, n, now: np.clip(np.rint(rng.normal(40, 12, n)), 18, 90).astype(np.int64),
    ),
    Feature(
        name="rating",
        source="normal(3.5, 0.8) to 0.1 in 1..5",
        planted="",
        draw=lambda rng, n, now: np.clip(rng.normal(3.5, 0.8, n).round(1), 1, 5),
    ),
    Feature(
        name="visits",
        source="poisson(4)",
        planted="",
        draw=lambda rng, n, now: rng.poisson(4, n).astype(np.int64),
    ),
    Feature(
        name="household",
        source="1 + poisson(1.5), at most 9",
        planted="",
        draw=lambda rng, n, now: np.minimum(1 + rng.poisson(1.5, n), 9).astype(np.int64),
    ),
    Feature(
        name="latency_ms",
        source="int lognormal(4, 0.6)",
        planted="",
        draw=lambda rng, n, now: np.rint(rng.lognormal(4, 0.6, n)).astype(np.int64),
    ),
    Feature(
        name="temperature",
        source="normal(15, 8) to 0.5",
        planted="",
        draw=lambda rng, n, now: np.round(rng.normal(15, 8, n) * 2) / 2,
    ),
    Feature(
        name="tenure_days",
        source="int uniform 0..3650",
        planted="",
        draw=lambda rng, n, now: rng.integers(0, 3651, n, dtype=np.int64),
    ),
    Feature(
        name="device",
        source="category, 3 (60/30/10%)",
        planted="",
        draw=_choice(["mobile", "desktop", "tablet"], [0.6, 0.3, 0.1]),
    ),
    Feature(
        name="country",
        source="category, 20 (Zipf)",
        planted="",
        draw=_choice(_COUNTRIES, _ZIPF),
    ),
    Feature(
        name="plan",
        source="category, 5 (40/25/15/12/8%)",
        planted="2 points free -> basic",
        draw=_choice(
            ["free", "basic", "plus", "pro", "team"],
            [0.40, 0.25, 0.15, 0.12, 0.08],
            [0.38, 0.27, 0.15, 0.12, 0.08],
        ),
    ),
    Feature(
        name="channel",
        source="category, 8 (30/20/15/10/..%)",
        planted="10 points search -> social",
        draw=_choice(
            _CHANNELS,
            [0.30, 0.20, 0.15, 0.10, 0.10, 0.06, 0.05, 0.04],
            [0.20, 0.20, 0.25, 0.10, 0.10, 0.06, 0.05, 0.04],
        ),
    ),
    Feature(
        name="browser",
        source="category, 6 (45/25/12/8/6/4%)",
        planted="new category at 1%",
        draw=_choice(_BROWSERS, _BROWSER_SHARES, [s * 0.99 for s in _BROWSER_SHARES] + [0.01]),
    ),
)
NAMES = [f.name for f in FEATURES]


# --- data ---------------------------------------------------------------------------------


def generate(rows: int) -> Path:
    """Write reference.parquet and current.parquet (skipped when present for this size)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = DATA / f"drift_r{rows}"
    if (folder / "current.parquet").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for side, rng in zip(
        ("reference", "current"), np.random.default_rng(SEED).spawn(2), strict=True
    ):
        now = side == "current"
        table = pa.table({f.name: f.draw(rng, rows, now) for f in FEATURES})
        pq.write_table(table, folder / f"{side}.parquet")
    return folder


# --- one measured run (in its own process) -------------------------------------------------


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _read(folder: Path, *sides: str) -> list[Any]:
    import pandas as pd

    return [pd.read_parquet(folder / f"{side}.parquet") for side in sides]


def _silage_answers(results: list[Any]) -> dict[str, Any]:
    return {
        r.feature: {
            "drift": r.verdict == "drift",
            "p": r.p_value,
            "p_adjusted": r.p_adjusted,
            "tests": {t.test: [t.statistic, t.effect, t.threshold] for t in r.tests},
        }
        for r in results
    }


def measure(engine: str, phase: str, folder: Path) -> dict[str, Any]:
    """One run of one engine (or of the profiling phase of ``silage-profile``)."""
    answers: dict[str, Any] = {}
    if engine == "silage-profile" and phase == "profile":
        from store.monitoring import drift

        (reference,) = _read(folder, "reference")
        data_mb = _peak_mb()
        started = time.perf_counter()
        stored = json.dumps({c: drift.profile(reference[c].to_numpy()).to_dict() for c in NAMES})
        seconds = time.perf_counter() - started
        (folder / "profiles.json").write_text(stored)
    elif engine == "silage-profile":
        from store.monitoring import drift

        (current,) = _read(folder, "current")
        stored = (folder / "profiles.json").read_text()
        data_mb = _peak_mb()
        started = time.perf_counter()
        profiles = {c: drift.profile_from_dict(d) for c, d in json.loads(stored).items()}
        results = [drift.compare(profiles[c], current[c].to_numpy(), feature=c) for c in NAMES]
        results = drift.adjust_family(results)
        seconds = time.perf_counter() - started
        answers = _silage_answers(results)
    elif engine == "silage-raw":
        from store.monitoring import drift

        reference, current = _read(folder, "reference", "current")
        data_mb = _peak_mb()
        started = time.perf_counter()
        results = [
            drift.compare(reference[c].to_numpy(), current[c].to_numpy(), feature=c) for c in NAMES
        ]
        results = drift.adjust_family(results)
        seconds = time.perf_counter() - started
        answers = _silage_answers(results)
    elif engine == "scipy":
        reference, current = _read(folder, "reference", "current")
        data_mb = _peak_mb()
        started = time.perf_counter()
        answers = run_scipy(reference, current)
        seconds = time.perf_counter() - started
    else:
        reference, current = _read(folder, "reference", "current")
        data_mb = _peak_mb()
        started = time.perf_counter()
        answers = run_evidently(reference, current)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": _peak_mb(), "data_mb": data_mb, "features": answers}


def run_scipy(reference: Any, current: Any) -> dict[str, Any]:
    """The plain SciPy loop: KS and W1 for numbers, a chi-square on categories' counts."""
    import pandas as pd
    from scipy import stats

    answers = {}
    for f in FEATURES:
        r, x = reference[f.name], current[f.name]
        if f.categorical:
            table = pd.concat([r.value_counts(), x.value_counts()], axis=1).fillna(0)
            chi2, p, _, _ = stats.chi2_contingency(table.to_numpy().T)
            answers[f.name] = {"drift": bool(p < SCIPY_ALPHA), "p": float(p), "chi2": float(chi2)}
        else:
            r, x = r.to_numpy(), x.to_numpy()
            ks = stats.ks_2samp(r, x)
            w1 = stats.wasserstein_distance(r, x)
            answers[f.name] = {
                "drift": bool(ks.pvalue < SCIPY_ALPHA),
                "p": float(ks.pvalue),
                "ks": float(ks.statistic),
                "w1": float(w1),
            }
    return answers


def run_evidently(reference: Any, current: Any) -> dict[str, Any]:
    """Evidently's data-drift preset at its defaults; each column's method, score, verdict."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference)
    result = snapshot.dict()
    answers: dict[str, Any] = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            answers[config["column"]] = {
                "method": config["method"],
                "threshold": config["threshold"],
                "score": float(metric["value"]),
            }
    for test in result["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith(":ValueDrift"):
            answers[params["column"]]["drift"] = test["status"] == "FAIL"
    return answers


# --- driver ------------------------------------------------------------------------------


def spawn(engine: str, phase: str, folder: Path) -> dict[str, Any]:
    python = str(EVIDENTLY_PYTHON) if engine == "evidently" else sys.executable
    command = [python, __file__, "run", engine, phase, str(folder)]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{engine} ({phase}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_engine(engine: str, folder: Path) -> dict[str, Any]:
    if engine != "silage-profile":
        return spawn(engine, "all", folder)
    profiled = spawn(engine, "profile", folder)
    compared = spawn(engine, "compare", folder)
    return compared | {
        "profile_seconds": profiled["seconds"],
        "profile_peak_mb": profiled["peak_mb"],
    }


def _p(p: float | None) -> str:
    return "p=n/a" if p is None else f"p={p:.0e}" if p < 1e-3 else f"p={p:.3f}"


_SHORT = {"Wasserstein distance (normed)": "wass", "Jensen-Shannon distance": "js"}


def cell(engine: str, answer: dict[str, Any]) -> str:
    """One verdict with the figure that decided it, e.g. ``DRIFT wass 0.201``."""
    mark = "DRIFT" if answer["drift"] else "-    "
    if engine.startswith("silage"):
        name, (_, effect, _) = max(answer["tests"].items(), key=lambda kv: kv[1][1] / kv[1][2])
        return f"{mark} {name[:4]} {effect:.3f}"
    if engine == "scipy":
        return f"{mark} {_p(answer['p'])}"
    method = answer["method"]
    return f"{mark} {_SHORT.get(method, method[:4])} {answer['score']:.3f}"


def print_flags(answers: dict[str, dict[str, Any]]) -> None:
    engines = list(answers)
    print("\nverdicts at each tool's defaults (DRIFT: flagged), with the deciding figure")
    print(f"{'feature':12} {'planted':27} " + " ".join(f"{e:17}" for e in engines))
    for f in FEATURES:
        cells = " ".join(f"{cell(e, answers[e][f.name]):17}" for e in engines)
        print(f"{f.name:12} {f.planted or '(unchanged)':27} {cells}")
    planted = [f.name for f in FEATURES if f.planted]
    unchanged = [f.name for f in FEATURES if not f.planted]
    for e in engines:
        hits = [n for n in planted if answers[e][n]["drift"]]
        alarms = [n for n in unchanged if answers[e][n]["drift"]]
        missed = [n for n in planted if n not in hits]
        print(
            f"{e:15} planted flagged {len(hits)}/{len(planted)} (missed: "
            f"{', '.join(missed) or 'none'}); false alarms {len(alarms)}/{len(unchanged)}"
            f"{': ' + ', '.join(alarms) if alarms else ''}"
        )


def checks(answers: dict[str, dict[str, Any]]) -> list[str]:
    """Do the engines compute the same statistics where they claim to?"""
    notes = []
    raw, prof = answers.get("silage-raw"), answers.get("silage-profile")
    numeric = [f.name for f in FEATURES if not f.categorical]
    categorical = [f.name for f in FEATURES if f.categorical]

    def worst(pairs: list[tuple[float, float]]) -> float:
        return max((abs(a - b) / max(abs(b), 1e-12) for a, b in pairs), default=0.0)

    if raw and "scipy" in answers:
        sp = answers["scipy"]
        ks = worst([(raw[c]["tests"]["ks"][0], sp[c]["ks"]) for c in numeric])
        w1 = worst([(raw[c]["tests"]["wasserstein"][0], sp[c]["w1"]) for c in numeric])
        chi = worst([(raw[c]["tests"]["chi2"][0], sp[c]["chi2"]) for c in categorical])
        ok = max(ks, w1, chi) < 1e-6
        notes.append(
            f"silage-raw vs scipy: KS, W1, chi2 {'agree' if ok else 'DIFFER'} "
            f"(largest relative differences {ks:.1e}, {w1:.1e}, {chi:.1e})"
        )
    if raw and "evidently" in answers:
        ev = answers["evidently"]
        same = [c for c in numeric if ev[c]["method"] == "Wasserstein distance (normed)"]
        w1 = worst([(ev[c]["score"], raw[c]["tests"]["wasserstein"][1]) for c in same])
        notes.append(
            f"evidently vs silage-raw: normed W1 {'agrees' if w1 < 1e-6 else 'DIFFERS'} on "
            f"the {len(same)} columns Evidently tests with it (largest relative difference "
            f"{w1:.1e}); other columns: Evidently's choice of test"
        )
    if raw and prof:
        from store.monitoring.drift import QUANTILES

        ks = max(abs(prof[c]["tests"]["ks"][0] - raw[c]["tests"]["ks"][0]) for c in numeric)
        psi = worst([(prof[c]["tests"]["psi"][0], raw[c]["tests"]["psi"][0]) for c in numeric])
        w1 = max(
            abs(prof[c]["tests"]["wasserstein"][1] - raw[c]["tests"]["wasserstein"][1])
            for c in numeric
        )
        chi = worst(
            [(prof[c]["tests"]["chi2"][0], raw[c]["tests"]["chi2"][0]) for c in categorical]
        )
        verdicts = [c for c in NAMES if prof[c]["drift"] != raw[c]["drift"]]
        ok = ks <= 1 / (2 * QUANTILES) + 1e-12 and psi < 1e-9 and chi < 1e-9 and not verdicts
        notes.append(
            f"silage-profile vs silage-raw: {'agree' if ok else 'DIFFER'} (KS within "
            f"{ks:.1e}, bound {1 / (2 * QUANTILES):.0e}; PSI, chi2 relative {psi:.0e}, "
            f"{chi:.0e}; W1/SD within {w1:.1e}; verdicts differ on {verdicts or 'none'})"
        )
    return notes


def print_times(runs: dict[str, list[dict[str, Any]]], rows: int) -> dict[str, tuple[float, float]]:
    print(f"\ntimes: {rows:,} current rows x 20 features against {rows:,} reference rows")
    print(f"{'engine':15} {'median s':>9} {'min s':>8} {'peak MB':>8} {'data MB':>8}  runs (s)")
    medians = {}
    for engine, results in runs.items():
        seconds = [r["seconds"] for r in results]
        peak = statistics.median(r["peak_mb"] for r in results)
        data = statistics.median(r["data_mb"] for r in results)
        medians[engine] = (statistics.median(seconds), peak)
        print(
            f"{engine:15} {medians[engine][0]:9.2f} {min(seconds):8.2f} {peak:8.0f} {data:8.0f}"
            f"  {', '.join(f'{s:.2f}' for s in seconds)}"
        )
        if engine == "silage-profile":
            prof = [r["profile_seconds"] for r in results]
            prof_peak = statistics.median(r["profile_peak_mb"] for r in results)
            print(
                f"{'  (profiling)':15} {statistics.median(prof):9.2f} {min(prof):8.2f} "
                f"{prof_peak:8.0f} {'':8}  {', '.join(f'{s:.2f}' for s in prof)}"
                "  once per reference, not per window"
            )
    return medians


def print_ratios(medians: dict[str, tuple[float, float]]) -> None:
    pairs = [
        ("evidently", "silage-profile"),
        ("evidently", "silage-raw"),
        ("scipy", "silage-raw"),
        ("scipy", "silage-profile"),
    ]
    times = [
        f"{a}/{b} {medians[a][0] / medians[b][0]:.1f}x"
        for a, b in pairs
        if {a, b} <= medians.keys()
    ]
    memory = [
        f"{a}/evidently {medians[a][1] / medians['evidently'][1]:.2f}x"
        for a in ("silage-profile", "silage-raw", "scipy")
        if {a, "evidently"} <= medians.keys()
    ]
    if times:
        print(f"time ratios (above 1: Silage faster): {'; '.join(times)}")
    if memory:
        print(f"peak memory ratios: {'; '.join(memory)}")
    if {"silage-profile", "evidently", "scipy"} <= medians.keys():
        s, e, sp = medians["silage-profile"], medians["evidently"], medians["scipy"]
        goals = [
            ("compare < 1.5 s", s[0] < GOAL_SECONDS),
            (">= 20x faster than evidently", e[0] / s[0] >= 20),
            ("faster than scipy", s[0] < sp[0]),
            ("memory <= evidently/2", s[1] <= e[1] / 2),
        ]
        print(
            "goals (silage-profile): "
            + "; ".join(f"{g} {'met' if ok else 'MISSED'}" for g, ok in goals)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engines", default=",".join(ENGINES))
    args = parser.parse_args()
    engines = args.engines.split(",")
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        raise SystemExit(f"unknown engines {unknown}; choose among {', '.join(ENGINES)}")
    if "evidently" in engines and not EVIDENTLY_PYTHON.with_name("evidently").exists():
        raise SystemExit("Evidently's virtualenv is missing: run `make bench-drift-env` first")
    folder = generate(args.rows)
    print(f"data: {args.rows:,} reference and {args.rows:,} current rows x 20 in {folder}")
    print(f"{'feature':12} {'reference':32} planted in the current frame")
    for f in FEATURES:
        print(f"{f.name:12} {f.source:32} {f.planted or '(unchanged)'}", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {engine: [] for engine in engines}
    # Round-robin over the engines, so that a slow spell of a noisy machine hits them all.
    for i in range(args.runs):
        for engine in engines:
            runs[engine].append(run_engine(engine, folder))
            seconds = runs[engine][-1]["seconds"]
            print(f"  run {i + 1}/{args.runs} {engine}: {seconds:.2f} s", file=sys.stderr)
    answers = {engine: results[0]["features"] for engine, results in runs.items()}
    for engine, results in runs.items():
        flags = [{n: a["drift"] for n, a in r["features"].items()} for r in results]
        if any(f != flags[0] for f in flags):
            print(f"note: {engine}'s verdicts changed between runs")
    print_flags(answers)
    for note in checks(answers):
        print(f"check: {note}")
    print_ratios(print_times(runs, args.rows))
    print(
        f"silage: verdicts after adjust_family (Holm, 5% per report); scipy: p < {SCIPY_ALPHA} "
        "(KS for numbers, chi2 for categories); evidently: DataDriftPreset defaults"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        _, _, engine, phase, folder = sys.argv
        print(json.dumps(measure(engine, phase, Path(folder))))
    else:
        main()
