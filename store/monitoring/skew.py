"""Training-serving skew: were the features a model was served the ones training would see?

For every logged prediction, the features the serving version was trained on are computed
again by a point-in-time join at the prediction's time against the offline sources, exactly
as a training set would read them, and compared with what the online store served. Per
feature: how many rows differ, of which kind, by how much, and examples:

- ``missing_online``: served nothing where the sources hold a value (materialization lag,
  a view never loaded, a value withheld as older than its ttl online but not offline);
- ``missing_offline``: served a value the sources do not hold (a push that never reached
  the offline store);
- ``different``: both set, not equal (a stale online value, a transformation applied on
  one side only, a source rewritten after it was loaded).

Numbers are equal within a relative 1e-6 (Float32 values travel as doubles); anything else
must be equal. A prediction is compared with the sources as of its logged time, so a push
in the milliseconds between fetching features and logging can show as a difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from registry import ProjectRegistry
from store.definitions.feature_view import FeatureView
from store.errors import RequestError
from store.offline.engine import OfflineEngine
from store.offline.retrieval import build_retrieval_job
from store.serving.prediction_log import PredictionLog, ServedRow

__all__ = ["FeatureSkew", "SkewReport", "check_skew"]

Kind = Literal["missing_online", "missing_offline", "different"]
EXAMPLES = 5
_RELATIVE = 1e-6


@dataclass(slots=True)
class FeatureSkew:
    """One feature's comparison over the logged predictions."""

    feature: str
    compared: int = 0
    missing_online: int = 0
    missing_offline: int = 0
    different: int = 0
    max_difference: float = 0.0
    total_difference: float = 0.0
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mismatches(self) -> int:
        return self.missing_online + self.missing_offline + self.different

    @property
    def share(self) -> float:
        """The share of compared rows that differ."""
        return self.mismatches / self.compared if self.compared else 0.0

    @property
    def mean_difference(self) -> float | None:
        """The mean absolute difference of the numeric rows that differ."""
        return self.total_difference / self.different if self.different else None


@dataclass(frozen=True, slots=True, kw_only=True)
class SkewReport:
    """The skew of one model's served features over a stretch of the predictions log."""

    model: str
    environment: str | None
    predictions: int
    features: tuple[FeatureSkew, ...]

    @property
    def consistent(self) -> bool:
        return all(f.mismatches == 0 for f in self.features)

    def render(self) -> str:
        """A table for people, then examples of each feature's mismatches."""
        where = f" in {self.environment}" if self.environment else ""
        lines = [f"{self.model}{where}: {self.predictions:,} logged predictions compared"]
        for f in self.features:
            mean = f"{f.mean_difference:.4g}" if f.mean_difference is not None else "-"
            lines.append(
                f"  {f.feature:30} mismatches {f.mismatches:>7,} ({f.share:6.2%})  "
                f"missing online {f.missing_online:,}, missing offline {f.missing_offline:,}, "
                f"different {f.different:,} (mean {mean}, max {f.max_difference:.4g})"
            )
            for example in f.examples:
                lines.append(
                    f"      {example['kind']}: {example['entity']} at {example['at']}: "
                    f"served {example['served']!r}, sources {example['offline']!r}"
                )
        lines.append("  consistent" if self.consistent else "  SKEW found")
        return "\n".join(lines) + "\n"


def check_skew(
    model: str,
    *,
    models: ProjectRegistry,
    log: PredictionLog,
    engine: OfflineEngine,
    repo_root: Path,
    lookup_view: Callable[[str], FeatureView],
    environment: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> SkewReport:
    """Compare what ``model`` was served with what a point-in-time join computes.

    Raises:
        RequestError: nothing was logged for the model in that time.
    """
    import pyarrow as pa

    served = log.served(model, environment=environment, start=start, end=end)
    if not served:
        raise RequestError(
            f"the predictions log holds no prediction of {model!r} in that time; nothing to compare"
        )
    by_version: dict[int, list[ServedRow]] = {}
    for row in served:
        by_version.setdefault(row.version, []).append(row)
    features: dict[str, FeatureSkew] = {}
    for version, rows in sorted(by_version.items()):
        found = models.models.get_version(model, version=version)
        if found.training_set is None:
            continue
        record = models.training_sets.get(models.project, found.training_set)
        full = bool(record.manifest.get("point_in_time", {}).get("full_feature_names"))
        columns = list(found.input_features) or [f.column for f in record.features]
        refs = [f"{f.feature_view}:{f.feature}" for f in record.features if f.column in columns]
        views = {f.feature_view for f in record.features}
        keys = list(dict.fromkeys(k for v in sorted(views) for k in lookup_view(v).join_keys))
        entity = pa.table(
            {
                **{k: [r.entity.get(k) for r in rows] for k in keys},
                "event_timestamp": pa.array(
                    [r.predicted_at for r in rows], pa.timestamp("us", tz="UTC")
                ),
            }
        )
        job = build_retrieval_job(
            entity,
            refs,
            lookup_view=lookup_view,
            repo_root=repo_root,
            engine=engine,
            full_feature_names=full,
        )
        offline = job.to_arrow()
        for column in columns:
            skew = features.setdefault(column, FeatureSkew(column))
            _compare(skew, rows, offline.column(column).to_pylist(), column, keys)
    return SkewReport(
        model=model,
        environment=environment,
        predictions=len(served),
        features=tuple(features[c] for c in sorted(features)),
    )


def _compare(
    skew: FeatureSkew,
    rows: Sequence[ServedRow],
    offline: Sequence[Any],
    column: str,
    keys: Sequence[str],
) -> None:
    for row, expected in zip(rows, offline, strict=True):
        value = row.features.get(column)
        skew.compared += 1
        kind = _kind(value, expected)
        if kind is None:
            continue
        setattr(skew, kind, getattr(skew, kind) + 1)
        if kind == "different" and isinstance(value, int | float) and _is_number(expected):
            gap = abs(float(value) - float(expected))
            skew.total_difference += gap
            skew.max_difference = max(skew.max_difference, gap)
        if len(skew.examples) < EXAMPLES:
            skew.examples.append(
                {
                    "kind": kind,
                    "entity": {k: row.entity.get(k) for k in keys},
                    "at": row.predicted_at.isoformat(),
                    "served": value,
                    "offline": expected,
                }
            )


def _kind(served: Any, offline: Any) -> Kind | None:
    if _missing(served) and _missing(offline):
        return None
    if _missing(served):
        return "missing_online"
    if _missing(offline):
        return "missing_offline"
    if _is_number(served) and _is_number(offline):
        same = math.isclose(float(served), float(offline), rel_tol=_RELATIVE, abs_tol=1e-12)
        return None if same else "different"
    return None if served == offline else "different"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
