"""Drift runs: a model's served features and predictions, window by window, against a
reference.

The reference is by default the training set of the version serving in the environment
(found through the model's lineage); or a time window of a view's source, or of the
predictions log. It is profiled once per feature (:func:`store.monitoring.drift.profile`)
and kept in the registry; a run then only reads the predictions log's windows and compares
each feature's values with its profile. The predictions themselves are compared too: with
a training-set reference, the serving version's outputs on that training set are its
reference (skipped, and said so, when the model cannot score it).

Every result of a run (features x windows) is decided together with Holm's correction at
5% family-wise (:func:`store.monitoring.drift.adjust_family`), so a run over unchanged
data raises an alarm at most one time in twenty, however many features and windows it
covers. The joint test of all numeric features (MMD, on a fixed-seed sample of rows) is a
family of its own, one result per window: its permutation p-values cannot go below 1/1001.
It compares whole rows, so it leaves out the features null in more than a fifth of the
reference (a sparse feature would leave it few complete rows), and says so in the notes.

The comparison itself runs in NumPy against the stored profiles (a million rows by twenty
features in well under a second here); the offline engine reads a view's source for a
window reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from registry import DriftRecord, ProjectRegistry, Registry, TrainingSetRecord
from store.definitions.feature_view import FeatureView
from store.epoch import from_micros, to_micros
from store.errors import RequestError
from store.monitoring import drift
from store.offline.compiler.rows import compile_rows
from store.offline.engine import OfflineEngine
from store.offline.sources import view_scan
from store.serving.predict import model_outputs
from store.serving.prediction_log import PredictionLog

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = ["DriftReference", "DriftReport", "WindowDrift", "feature_values", "run_drift"]

JOINT = "(all numeric features)"
JOINT_MAX_NULLS = 0.2  # a numeric feature nulls more often is left out of the joint test
_ROWS = "__rows__"  # the profile entry holding a sample of reference rows, for MMD
_OUTPUTS = ("prediction", "probability")
_SKIP = ("predicted_at", "version", "role")


@dataclass(frozen=True, slots=True)
class DriftReference:
    """What a model's served data is compared with.

    Example:
        >>> DriftReference.training_set("trips_2026").key
        'training_set:trips_2026'
    """

    kind: Literal["training_set", "feature_view", "predictions"]
    name: str
    start: datetime | None = None
    end: datetime | None = None
    environment: str | None = None

    @classmethod
    def training_set(cls, name: str) -> DriftReference:
        """A saved training set (by default: the serving version's)."""
        return cls("training_set", name)

    @classmethod
    def feature_view(cls, name: str, start: datetime, end: datetime) -> DriftReference:
        """A view's source rows with an event time in ``[start, end)``."""
        return cls("feature_view", name, start, end)

    @classmethod
    def predictions(
        cls, model: str, start: datetime, end: datetime, environment: str | None = None
    ) -> DriftReference:
        """A model's logged predictions (and served features) in ``[start, end)``."""
        return cls("predictions", model, start, end, environment)

    @property
    def key(self) -> str:
        """How the registry names the reference's profiles."""
        parts = [self.kind, self.name]
        if self.environment:
            parts.append(self.environment)
        if self.start or self.end:
            parts.append(f"{_iso(self.start)}..{_iso(self.end)}")
        return ":".join(parts)


@dataclass(frozen=True, slots=True)
class WindowDrift:
    """The results of one window: one per feature (and the joint test)."""

    start: datetime
    end: datetime
    results: tuple[drift.FeatureDrift, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftReport:
    """A drift run: per window, per feature, the tests and the verdict."""

    model: str
    environment: str
    version: int
    reference: str
    windows: tuple[WindowDrift, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    profiles: Mapping[str, drift.NumericProfile | drift.CategoricalProfile] = field(
        default_factory=dict, compare=False, repr=False
    )
    """The reference's profile of each feature compared (and of the predictions)."""

    def drifted(self) -> list[tuple[str, datetime, float]]:
        """Features drifting in the last window: the name, since when (the first window of
        the run of drifting windows that reaches the last one), and the largest effect in
        that run."""
        found = []
        features = {r.feature for w in self.windows for r in w.results}
        for feature in sorted(features):
            since: datetime | None = None
            effect = 0.0
            for window in reversed(self.windows):
                result = next((r for r in window.results if r.feature == feature), None)
                if result is None or result.verdict != "drift":
                    break
                since = window.start
                effect = max([effect, *(t.effect / t.threshold for t in result.tests)])
            if since is not None:
                found.append((feature, since, effect))
        return found

    def render(self) -> str:
        """A table per window for people: feature, verdict, p-values, effects."""
        lines = [
            f"{self.model} v{self.version} in {self.environment} against {self.reference}:",
            *(f"  note: {n}" for n in self.notes),
        ]
        for window in self.windows:
            lines.append(f"  {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M}")
            for r in window.results:
                effects = ", ".join(f"{t.test} {t.effect:.3g}" for t in r.tests) or "-"
                p = "-" if r.p_adjusted is None else f"{r.p_adjusted:.3g}"
                lines.append(
                    f"    {'DRIFT' if r.verdict == 'drift' else r.verdict:9} {r.feature:30} "
                    f"n={r.n_current:<8} p(adjusted)={p:<9} {effects}"
                )
        drifting = self.drifted()
        lines.append(
            "  drifting now: "
            + (
                ", ".join(f"{f} since {s:%Y-%m-%d %H:%M} ({e:.1f}x)" for f, s, e in drifting)
                if drifting
                else "nothing"
            )
        )
        return "\n".join(lines) + "\n"

    def to_records(self) -> list[DriftRecord]:
        """What the registry keeps of it."""
        return [
            DriftRecord(
                model=self.model,
                environment=self.environment,
                reference=self.reference,
                feature=r.feature,
                window_start=window.start,
                window_end=window.end,
                verdict=r.verdict,
                p_value=r.p_value,
                adjusted_p_value=r.p_adjusted,
                n_reference=r.n_reference,
                n_current=r.n_current,
                tests={
                    t.test: {
                        "statistic": _finite(t.statistic),
                        "p_value": _finite(t.p_value),
                        "effect": _finite(t.effect),
                        "threshold": t.threshold,
                        "verdict": t.verdict,
                    }
                    for t in r.tests
                },
                histogram=None
                if r.histogram is None
                else {
                    "edges": list(r.histogram.edges),
                    "reference": list(r.histogram.reference),
                    "current": list(r.histogram.current),
                },
            )
            for window in self.windows
            for r in window.results
        ]


@dataclass(frozen=True, slots=True, kw_only=True)
class Sources:
    """Where a run reads its data: bound by :class:`~store.monitoring.monitor.Monitor`."""

    project: str
    registry: Registry
    models: ProjectRegistry
    engine: OfflineEngine
    repo_root: Path
    log: PredictionLog
    lookup_view: Callable[[str], FeatureView]
    lookup_training_set: Callable[[str], tuple[TrainingSetRecord, Path]]
    trusted_types: Sequence[str] = ()


def run_drift(
    sources: Sources,
    model: str,
    *,
    environment: str,
    window: timedelta,
    start: datetime | None,
    end: datetime | None,
    reference: DriftReference | None = None,
    features: Sequence[str] | None = None,
    served: pa.Table | None = None,
) -> DriftReport:
    """Compare the model's served data, window by window, with the reference.

    ``served`` is the predictions log's table of that time when the caller has read it.

    Raises:
        RequestError: nothing was served in that time, or a named feature is unknown.
        RegistryNotFoundError: the model is not deployed in ``environment``.
    """
    import numpy as np

    live = sources.models.deployments.live(model, environment)
    serving = live.versions("primary") or live.versions("ab", "canary")
    version = sources.models.models.get_version(model, version=serving[0])
    notes: list[str] = []
    if reference is None:
        if version.training_set is None:
            raise RequestError(
                f"{model} v{version.version} has no training set to compare with; pass "
                f"reference=DriftReference.predictions(...) or DriftReference.feature_view(...)"
            )
        reference = DriftReference.training_set(version.training_set)
    if served is None:
        served = sources.log.features_table(model, environment=environment, start=start, end=end)
    if served.num_rows == 0:
        raise RequestError(
            f"the predictions log holds no prediction of {model!r} in {environment!r} in "
            f"that time; nothing to compare"
        )
    names = [n for n in served.column_names if n not in _SKIP]
    if features is not None:
        unknown = [f for f in features if f not in names]
        if unknown:
            raise RequestError(
                f"{model!r} was served no feature {unknown[0]!r}; it was served "
                f"{', '.join(n for n in names if n not in _OUTPUTS)}"
            )
        names = [n for n in names if n in features or n in _OUTPUTS]
    profiles = _profiles(sources, reference, (model, version.version), names, notes)
    names = [n for n in names if n in profiles]
    together, ref_rows = _joint_reference(sources, reference, profiles, notes)
    times = served.column("predicted_at").cast("int64").to_numpy()
    width = window // timedelta(microseconds=1)
    first = int(times.min()) - int(times.min()) % width
    last = int(times.max()) if end is None else to_micros(end) - 1
    windows: list[tuple[int, int, list[drift.FeatureDrift]]] = []
    joint: list[drift.FeatureDrift] = []
    for low in range(first, last + 1, width):
        inside = (times >= low) & (times < low + width)
        if not inside.any():
            continue
        results = [
            drift.compare(profiles[n], feature_values(served, n, inside), feature=n) for n in names
        ]
        windows.append((low, low + width, results))
        if together:
            current = np.column_stack([feature_values(served, n, inside) for n in together])
            joint.append(drift.multivariate(ref_rows, current, feature=JOINT))
    decided = iter(drift.adjust_family([r for _, _, rs in windows for r in rs]))
    joint_decided = iter(drift.adjust_family(joint)) if joint else iter(())
    out = []
    for low, high, results in windows:
        chosen = [next(decided) for _ in results]
        if joint:
            chosen.append(next(joint_decided))
        out.append(WindowDrift(from_micros(low), from_micros(high), tuple(chosen)))
    return DriftReport(
        model=model,
        environment=environment,
        version=version.version,
        reference=reference.key,
        windows=tuple(out),
        notes=tuple(notes),
        profiles=profiles,
    )


def _joint_reference(
    sources: Sources,
    reference: DriftReference,
    profiles: Mapping[str, drift.NumericProfile | drift.CategoricalProfile],
    notes: list[str],
) -> tuple[list[str], np.ndarray]:
    """The numeric features the joint test compares (none when fewer than two), and the
    reference's sample of rows of them."""
    import numpy as np

    numeric = [
        n for n, p in profiles.items() if isinstance(p, drift.NumericProfile) and n not in _OUTPUTS
    ]
    stored = sources.registry.monitoring.profiles(sources.project, reference.key).get(_ROWS)
    if stored is None:
        return [], np.empty((0, 0))
    together = [n for n in numeric if n in stored["columns"]]
    apart = [n for n in numeric if n not in together]
    if len(together) < 2:
        return [], np.empty((0, 0))
    if apart:
        notes.append(
            f"the joint test leaves out {', '.join(apart)}: more than "
            f"{JOINT_MAX_NULLS:.0%} of the reference's values are null"
        )
    columns = [stored["columns"].index(n) for n in together]
    return together, np.asarray(stored["rows"], dtype=float)[:, columns]


def _profiles(
    sources: Sources,
    reference: DriftReference,
    serving: tuple[str, int],
    names: Sequence[str],
    notes: list[str],
) -> dict[str, drift.NumericProfile | drift.CategoricalProfile]:
    """The reference's profiles of ``names``, computed and stored on first use. Outputs
    (predictions) of a training-set reference are keyed by the model version scoring it."""
    key = reference.key
    stored = sources.registry.monitoring.profiles(sources.project, key)
    output_key = f"{key}:{serving[0]}:v{serving[1]}"
    stored |= {
        name: data
        for name, data in sources.registry.monitoring.profiles(sources.project, output_key).items()
        if name in _OUTPUTS
    }
    missing = [n for n in names if n not in stored]
    if missing:
        values = _reference_values(sources, reference, serving, missing, notes)
        computed = {n: drift.profile(v).to_dict() for n, v in values.items() if n != _ROWS}
        inputs = {n: p for n, p in computed.items() if n not in _OUTPUTS}
        if _ROWS in values and _ROWS not in stored:
            inputs[_ROWS] = values[_ROWS]
        outputs = {n: p for n, p in computed.items() if n in _OUTPUTS}
        if inputs:
            sources.registry.monitoring.save_profiles(sources.project, key, inputs)
        if outputs:
            target = output_key if reference.kind == "training_set" else key
            sources.registry.monitoring.save_profiles(sources.project, target, outputs)
        stored |= computed
    absent = [n for n in names if n not in stored]
    if absent:
        notes.append(f"the reference has no {', '.join(absent)}: not compared")
    return {n: drift.profile_from_dict(stored[n]) for n in names if n in stored}


def _reference_values(
    sources: Sources,
    reference: DriftReference,
    serving: tuple[str, int],
    names: Sequence[str],
    notes: list[str],
) -> dict[str, Any]:
    """The reference's values of ``names``, and a fixed-seed sample of its numeric rows."""
    import numpy as np

    if reference.kind == "training_set":
        table = _training_set_table(sources, reference.name)
    elif reference.kind == "feature_view":
        scan = view_scan(sources.lookup_view(reference.name), sources.repo_root)
        query = compile_rows(
            scan,
            start_us=None if reference.start is None else to_micros(reference.start),
            end_us=None if reference.end is None else to_micros(reference.end),
            dialect=sources.engine.dialect,
        )
        table = sources.engine.to_arrow(query)
    else:
        table = sources.log.features_table(
            reference.name,
            environment=reference.environment,
            start=reference.start,
            end=reference.end,
        )
    if table.num_rows == 0:
        raise RequestError(f"the reference {reference.key} holds no rows; choose another")
    found: dict[str, Any] = {
        n: table.column(n).to_numpy(zero_copy_only=False)
        for n in names
        if n in table.column_names and n not in _OUTPUTS
    }
    wanted = [n for n in names if n in _OUTPUTS]
    if wanted and reference.kind == "training_set":
        found |= _reference_outputs(sources, serving, reference.name, table, wanted, notes=notes)
    elif wanted:
        found |= {
            n: table.column(n).to_numpy(zero_copy_only=False)
            for n in wanted
            if n in table.column_names
        }
    numeric = [
        n
        for n, v in found.items()
        if n not in _OUTPUTS
        and v.dtype.kind in "iuf"
        and np.isnan(v.astype(float)).mean() <= JOINT_MAX_NULLS
    ]
    if len(numeric) > 1:
        rng = np.random.default_rng(0)
        picked = rng.choice(
            table.num_rows, size=min(table.num_rows, 2 * drift.MMD_ROWS), replace=False
        )
        rows = np.column_stack([found[n].astype(float)[np.sort(picked)] for n in numeric])
        rows = rows[np.isfinite(rows).all(axis=1)]
        found[_ROWS] = {"columns": numeric, "rows": rows.tolist()}
    return found


def _training_set_table(sources: Sources, name: str) -> pa.Table:
    import pyarrow.parquet as pq

    _, path = sources.lookup_training_set(name)
    return pq.read_table(path)


def _reference_outputs(
    sources: Sources,
    serving: tuple[str, int],
    training_set: str,
    table: pa.Table,
    wanted: Sequence[str],
    *,
    notes: list[str],
) -> dict[str, Any]:
    """The serving version's outputs on its training set: the predictions' reference."""
    import numpy as np

    model, version = serving
    found = sources.models.models.get_version(model, version=version)
    try:
        scorer = sources.models.load_model(
            model, version=version, trusted=list(sources.trusted_types)
        )
        frame = table.select(list(found.input_features)).to_pandas()
        outputs = model_outputs(scorer, frame.astype("float64", errors="ignore"))
    except Exception as exc:  # the model may refuse missing values, or anything else
        notes.append(f"predictions not compared: v{version} could not score {training_set}: {exc}")
        return {}
    return {
        name: np.asarray([o.get(name) for o in outputs], dtype=float)
        for name in wanted
        if outputs and name in outputs[0]
    }


def feature_values(table: pa.Table, name: str, inside: np.ndarray) -> np.ndarray:
    """A served column's values in the rows ``inside`` selects: floats (NaN for nulls) when
    they are all numbers, objects otherwise."""
    import numpy as np

    column: np.ndarray = table.column(name).to_numpy(zero_copy_only=False)[inside]
    if column.dtype == object and all(isinstance(v, int | float) or v is None for v in column):
        return np.asarray([np.nan if v is None else v for v in column], dtype=float)
    return column


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()
