"""Monitoring reports: one model's drift, validation, alerts and live quality, for people
and for programs.

:func:`build_report` turns a drift run and what surrounds it into a context of plain,
JSON-ready values: per feature (and per prediction column) the reference's and the current
window's histograms on the same bins, and the tests and verdicts of every window; the
validation runs of the views the serving version was trained on; the model's alerts; the
live quality where outcomes arrived. :func:`render` prints that one context as JSON, as
Markdown (histograms as text bars) or as a self-contained HTML page (histograms as inline
SVG, each beside a table of its numbers, so the page needs no script and no network).

The reference histogram is read from the stored profile's quantiles, so it is exact to the
profile's quantile step (1/1000 of the rows); the current one counts the window's values.
Both put the values beyond the outer edges into the outer bins.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from store.epoch import to_micros
from store.errors import RequestError
from store.monitoring import drift
from store.monitoring.drift_runs import DriftReport, feature_values

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from registry import AlertEvent, ValidationRun
    from store.monitoring.quality import QualityReport

__all__ = ["FORMATS", "build_report", "render"]

FORMATS = ("html", "markdown", "json")
BINS = 20  # numeric histogram bins
TOP = 8  # categories shown; the rest are summed as "(other)"
OTHER = "(other)"


def build_report(
    report: DriftReport,
    served: pa.Table,
    *,
    window: timedelta,
    validations: Sequence[ValidationRun] = (),
    alerts: Sequence[AlertEvent] = (),
    quality: QualityReport | None = None,
) -> dict[str, Any]:
    """The report's context: everything the renderings show, as plain values.

    Args:
        report: a drift run of the model (its windows, verdicts and reference profiles).
        served: the predictions log's rows the run read (``features_table``); the current
            histograms are of its last window.
        window: the run's window length, for the heading.
        validations: validation runs to list (of the views the model was trained on).
        alerts: the model's alert events.
        quality: live quality, when outcomes arrived.
    """
    import numpy as np

    last = report.windows[-1] if report.windows else None
    times = served.column("predicted_at").cast("int64").to_numpy()
    inside = np.zeros(len(times), dtype=bool)
    if last is not None:
        inside = (times >= to_micros(last.start)) & (times < to_micros(last.end))
    features = []
    for name, reference in report.profiles.items():
        history = [
            _result(found) | {"window_start": w.start.isoformat(), "window_end": w.end.isoformat()}
            for w in report.windows
            for found in w.results
            if found.feature == name
        ]
        if not history or name not in served.column_names:
            continue
        current = feature_values(served, name, inside)
        features.append(
            {"feature": name, "histogram": _histogram(reference, current), "windows": history}
        )
    return {
        "model": report.model,
        "environment": report.environment,
        "version": report.version,
        "reference": report.reference,
        "window": _duration(window),
        "current_window": None
        if last is None
        else {"start": last.start.isoformat(), "end": last.end.isoformat()},
        "notes": list(report.notes),
        "drifting": [
            {"feature": name, "since": since.isoformat(), "effect_over_threshold": round(x, 3)}
            for name, since, x in report.drifted()
        ],
        "joint": [
            _result(found) | {"window_start": w.start.isoformat(), "window_end": w.end.isoformat()}
            for w in report.windows
            for found in w.results
            if found.feature not in report.profiles
        ],
        "features": features,
        "validation": [_validation(run) for run in validations],
        "alerts": [
            {
                "rule": event.rule,
                "metric": event.metric,
                "condition": event.condition,
                "window_start": event.window_start.isoformat(),
                "value": event.value,
                "description": event.description,
                "runbook": event.runbook,
            }
            for event in alerts
        ],
        "quality": []
        if quality is None
        else [
            {
                "window_start": t.window_start.isoformat(),
                "version": t.version,
                "role": t.role,
                "predictions": t.predictions,
                "outcomes": t.outcomes,
                "metrics": {k: v for k, v in t.metrics.items() if v is not None},
                "registered": dict(t.registered),
            }
            for t in quality.targets
        ],
    }


def render(context: Mapping[str, Any], fmt: str) -> str:
    """The report as ``html``, ``markdown`` or ``json``.

    Raises:
        RequestError: another format.
    """
    if fmt == "json":
        return json.dumps(context, indent=2) + "\n"
    if fmt == "markdown":
        return _markdown(context)
    if fmt == "html":
        return _html(context)
    raise RequestError(f"report format {fmt!r}; choose one of {', '.join(FORMATS)}")


# --- the context ---------------------------------------------------------------------------


def _histogram(
    reference: drift.NumericProfile | drift.CategoricalProfile, values: np.ndarray
) -> dict[str, Any]:
    """Reference and current shares on the same bins (numbers) or categories (the most
    frequent of both, then the rest together)."""
    if isinstance(reference, drift.CategoricalProfile):
        return _categorical(reference, values)
    import numpy as np

    numbers = np.asarray(values, dtype=float)
    numbers = numbers[np.isfinite(numbers)]
    quantiles = np.asarray(reference.quantiles, dtype=float)
    if quantiles.size < 2:
        return {"kind": "numeric", "edges": [], "reference": [], "current": []}
    cdf = np.linspace(0.0, 1.0, quantiles.size)
    # The middle 99% of both samples, so one outlier does not squash every bar.
    low, high = np.interp([0.005, 0.995], cdf, quantiles)
    if numbers.size:
        low = min(low, float(np.quantile(numbers, 0.005)))
        high = max(high, float(np.quantile(numbers, 0.995)))
    integral = _integral(quantiles) and _integral(numbers)
    if integral:
        # Whole numbers: bins of whole widths with edges between the values, so every bin
        # holds the same number of possible values and no edge sits on a value.
        span = int(np.floor(high) - np.floor(low)) + 1
        step = -(-span // BINS)
        edges = np.floor(low) - 0.5 + step * np.arange(-(-span // step) + 1)
    else:
        edges = np.linspace(low, high if high > low else low + 1.0, BINS + 1)
    below = np.interp(edges, quantiles, cdf, left=0.0, right=1.0)
    below[0], below[-1] = 0.0, 1.0
    bins = len(edges) - 1
    counts = np.bincount(
        np.clip(np.searchsorted(edges, numbers, side="right") - 1, 0, bins - 1), minlength=bins
    )
    return {
        "kind": "integer" if integral else "numeric",
        "edges": [float(e) for e in edges],
        "reference": [float(v) for v in np.diff(below)],
        "current": [float(v) for v in counts / max(numbers.size, 1)],
    }


def _integral(values: np.ndarray) -> bool:
    import numpy as np

    return bool(np.all(values == np.round(values)))


def _categorical(reference: drift.CategoricalProfile, values: np.ndarray) -> dict[str, Any]:
    counts = Counter(str(v) for v in values if v is not None)
    present = sum(counts.values())
    both = Counter(reference.frequencies) + counts
    ranked = [k for k, _ in sorted(both.items(), key=lambda item: (-item[1], item[0]))]
    shown, rest = ranked[:TOP], ranked[TOP:]

    def shares(found: Mapping[str, int], total: int) -> list[float]:
        head = [found.get(k, 0) / total if total else 0.0 for k in shown]
        tail = [sum(found.get(k, 0) for k in rest) / total if total else 0.0]
        return head + (tail if rest else [])

    return {
        "kind": "categorical",
        "labels": [*shown, *([OTHER] if rest else [])],
        "reference": shares(reference.frequencies, reference.count),
        "current": shares(counts, present),
    }


def _result(found: drift.FeatureDrift) -> dict[str, Any]:
    return {
        "verdict": found.verdict,
        "p_adjusted": found.p_adjusted,
        "n_reference": found.n_reference,
        "n_current": found.n_current,
        "tests": {
            t.test: {
                "statistic": _finite(t.statistic),
                "p_value": _finite(t.p_value),
                "effect": _finite(t.effect),
                "threshold": t.threshold,
            }
            for t in found.tests
        },
    }


def _validation(run: ValidationRun) -> dict[str, Any]:
    return {
        "feature_view": run.feature_view,
        "version": run.version,
        "trigger": run.trigger,
        "at": run.created_at.isoformat(),
        "rows": run.row_count,
        "passed": run.passed,
        "failures": [
            f"{check.description}: "
            + ", ".join(f"{key} {_short(value)}" for key, value in check.observed.items())
            for check in run.failures
        ],
    }


def _finite(value: float | None) -> float | None:
    import math

    return None if value is None or not math.isfinite(value) else float(value)


def _duration(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _effects(tests: Mapping[str, Mapping[str, Any]]) -> str:
    return ", ".join(
        f"{name} {_short(t['effect'])} (threshold {t['threshold']:g})" for name, t in tests.items()
    )


def _labels(histogram: Mapping[str, Any]) -> list[str]:
    if histogram["kind"] == "categorical":
        return list(histogram["labels"])
    edges = histogram["edges"]
    if histogram["kind"] == "integer":  # edges halfway between whole numbers
        return [
            f"{a + 0.5:.0f}" if b - a == 1 else f"{a + 0.5:.0f} to {b - 0.5:.0f}"
            for a, b in pairwise(edges)
        ]
    return [f"{a:.4g} to {b:.4g}" for a, b in pairwise(edges)]


def _heading(context: Mapping[str, Any]) -> tuple[str, str]:
    title = f"{context['model']} v{context['version']} in {context['environment']}"
    current = context["current_window"]
    scope = f"Reference: {context['reference']}; windows of {context['window']}" + (
        f"; current window {current['start']} to {current['end']}." if current else "."
    )
    return title, scope


# --- Markdown ------------------------------------------------------------------------------


def _markdown(context: Mapping[str, Any]) -> str:
    title, scope = _heading(context)
    lines = [f"# Monitoring report: {title}", "", scope, ""]
    lines += [f"> {note}" for note in context["notes"]]
    lines += ["", "## Drifting now", ""]
    lines += [
        f"- **{d['feature']}** since {d['since']} ({d['effect_over_threshold']}x its threshold)"
        for d in context["drifting"]
    ] or ["Nothing."]
    lines += ["", "## Features", ""]
    for feature in context["features"]:
        lines += [
            f"### {feature['feature']}",
            "",
            "| window | verdict | p (adjusted) | n | effects |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {w['window_start']} | {w['verdict']} | {_short(w['p_adjusted'])} | "
            f"{w['n_current']} | {_effects(w['tests'])} |"
            for w in feature["windows"]
        ]
        lines += ["", "```", *_bars(feature["histogram"]), "```", ""]
    if context["joint"]:
        lines += ["## All numeric features together (MMD)", ""]
        lines += [
            f"- {w['window_start']}: {w['verdict']}, p (adjusted) {_short(w['p_adjusted'])}"
            for w in context["joint"]
        ]
        lines.append("")
    lines += ["## Validation", ""]
    lines += [
        f"- {v['feature_view']} v{v['version']} ({v['trigger']}, {v['at']}): {v['rows']} rows, "
        + ("passed" if v["passed"] else "FAILED: " + "; ".join(v["failures"]))
        for v in context["validation"]
    ] or ["No validation runs."]
    lines += ["", "## Alerts", ""]
    lines += [
        f"- {a['rule']}: {a['condition']}: {_short(a['value'])} in the window from "
        f"{a['window_start']}" + (f" ([runbook]({a['runbook']}))" if a["runbook"] else "")
        for a in context["alerts"]
    ] or ["No alerts."]
    if context["quality"]:
        lines += ["", "## Live quality", ""]
        lines += [
            f"- {q['window_start']} v{q['version']} ({q['role']}): {q['outcomes']} outcomes of "
            f"{q['predictions']} predictions; "
            + ", ".join(f"{k} {_short(v)}" for k, v in q["metrics"].items())
            for q in context["quality"]
        ]
    return "\n".join(lines) + "\n"


def _bars(histogram: Mapping[str, Any]) -> list[str]:
    """Reference and current shares as text bars, one line per bin; the largest share of
    either fills the bar's width."""
    labels = _labels(histogram)
    width = max((len(label) for label in labels), default=0)
    shares = [*histogram["reference"], *histogram["current"]]
    scale = _BAR / max([*shares, 1e-9])
    lines = [f"{'':{width}}  {'reference':{_BAR + 7}}  current"]
    for label, ref, cur in zip(labels, histogram["reference"], histogram["current"], strict=True):
        lines.append(
            f"{label:>{width}}  {'#' * round(ref * scale):{_BAR}} {ref:6.1%}  "
            f"{'#' * round(cur * scale):{_BAR}} {cur:6.1%}"
        )
    return lines


_BAR = 24  # characters of the longest text bar


# --- HTML ----------------------------------------------------------------------------------

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:62rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}
.drift{color:#b00020;font-weight:600}.ok{color:#1b5e20}.small{color:#555;font-size:12px}
figure{display:flex;gap:1rem;align-items:flex-start;margin:.5rem 0}
.key span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 .8rem}
"""
_REFERENCE, _CURRENT = "#9e9e9e", "#1565c0"


def _html(context: Mapping[str, Any]) -> str:
    e = html.escape
    title, scope = _heading(context)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Monitoring: {e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Monitoring report: {e(title)}</h1><p>{e(scope)}</p>",
        *(f"<p class='small'>{e(note)}</p>" for note in context["notes"]),
        "<h2>Drifting now</h2>",
    ]
    if context["drifting"]:
        items = "".join(
            f"<li class='drift'>{e(d['feature'])} since {e(d['since'])} "
            f"({d['effect_over_threshold']}&times; its threshold)</li>"
            for d in context["drifting"]
        )
        parts.append(f"<ul>{items}</ul>")
    else:
        parts.append("<p class='ok'>Nothing.</p>")
    parts.append(
        "<h2>Features</h2><p class='key'>"
        f"<span style='background:{_REFERENCE}'></span>reference"
        f"<span style='background:{_CURRENT}'></span>current window</p>"
    )
    for feature in context["features"]:
        histogram = feature["histogram"]
        parts.append(
            f"<h3>{e(feature['feature'])}</h3>"
            f"<figure>{_svg(feature['feature'], histogram)}{_bin_table(histogram)}</figure>"
        )
        parts.append(_windows_table(feature["windows"]))
    if context["joint"]:
        parts.append("<h2>All numeric features together (MMD)</h2>")
        parts.append(_windows_table(context["joint"]))
    parts.append("<h2>Validation</h2>")
    if context["validation"]:
        rows = "".join(
            f"<tr><td>{e(v['feature_view'])} v{v['version']}</td><td>{e(v['trigger'])}</td>"
            f"<td>{e(v['at'])}</td><td>{v['rows']}</td>"
            + (
                "<td class='ok'>passed</td>"
                if v["passed"]
                else f"<td class='drift'>FAILED: {e('; '.join(v['failures']))}</td>"
            )
            + "</tr>"
            for v in context["validation"]
        )
        parts.append(
            "<table><tr><th>view</th><th>trigger</th><th>at</th><th>rows</th>"
            f"<th>result</th></tr>{rows}</table>"
        )
    else:
        parts.append("<p>No validation runs.</p>")
    parts.append("<h2>Alerts</h2>")
    if context["alerts"]:
        items = "".join(
            f"<li><b>{e(a['rule'])}</b>: {e(a['condition'])}: {e(_short(a['value']))} in the "
            f"window from {e(a['window_start'])}"
            + (f" (<a href='{e(a['runbook'])}'>runbook</a>)" if a["runbook"] else "")
            + "</li>"
            for a in context["alerts"]
        )
        parts.append(f"<ul>{items}</ul>")
    else:
        parts.append("<p>No alerts.</p>")
    if context["quality"]:
        items = "".join(
            f"<li>{e(q['window_start'])} v{q['version']} ({e(q['role'])}): {q['outcomes']} "
            f"outcomes of {q['predictions']} predictions; "
            + e(", ".join(f"{k} {_short(v)}" for k, v in q["metrics"].items()))
            + "</li>"
            for q in context["quality"]
        )
        parts.append(f"<h2>Live quality</h2><ul>{items}</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _windows_table(windows: Sequence[Mapping[str, Any]]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(w['window_start'])}</td>"
        f"<td class='{'drift' if w['verdict'] == 'drift' else 'ok'}'>{e(w['verdict'])}</td>"
        f"<td>{e(_short(w['p_adjusted']))}</td><td>{w['n_current']}</td>"
        f"<td>{e(_effects(w['tests']))}</td></tr>"
        for w in windows
    )
    return (
        "<table><tr><th>window</th><th>verdict</th><th>p (adjusted)</th><th>n</th>"
        f"<th>effects</th></tr>{rows}</table>"
    )


def _svg(name: str, histogram: Mapping[str, Any]) -> str:
    """Reference and current shares side by side per bin, as inline SVG."""
    reference, current = histogram["reference"], histogram["current"]
    if not reference:
        return ""
    width, height, gap = 420, 120, 3
    bar = (width - gap * len(reference)) / (2 * len(reference))
    top = max([*reference, *current, 1e-9])
    rects = []
    for i, pair in enumerate(zip(reference, current, strict=True)):
        x = i * (2 * bar + gap)
        for offset, value, color in zip((0.0, bar), pair, (_REFERENCE, _CURRENT), strict=True):
            h = value / top * (height - 4)
            rects.append(
                f"<rect x='{x + offset:.1f}' y='{height - h:.1f}' width='{bar:.1f}' "
                f"height='{h:.1f}' fill='{color}'/>"
            )
    label = html.escape(f"{name}: reference (grey) and current (blue) shares per bin")
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' role='img' aria-label='{label}' "
        f"width='{width}' height='{height}' viewBox='0 0 {width} {height}'>"
        f"{''.join(rects)}</svg>"
    )


def _bin_table(histogram: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{ref:.1%}</td><td>{cur:.1%}</td></tr>"
        for label, ref, cur in zip(
            _labels(histogram), histogram["reference"], histogram["current"], strict=True
        )
    )
    return (
        "<details><summary class='small'>the numbers</summary><table class='small'>"
        f"<tr><th>bin</th><th>reference</th><th>current</th></tr>{rows}</table></details>"
    )
