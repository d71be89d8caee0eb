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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from registry import ProjectRegistry
from store.definitions.feature_service import FeatureService
from store.definitions.on_demand import OnDemandFeatureView
from store.definitions.references import AnyView
from store.errors import RequestError
from store.offline.engine import OfflineEngine
from store.offline.retrieval import build_retrieval_job
from store.serving.prediction_log import PredictionLog

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = ["FeatureSkew", "SkewReport", "check_logged_skew", "check_skew"]

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
    lookup_view: Callable[[str], AnyView],
    environment: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> SkewReport:
    """Compare what ``model`` was served with what a point-in-time join computes.

    Raises:
        RequestError: nothing was logged for the model in that time.
    """
    import numpy as np
    import pyarrow as pa

    served = log.served(model, environment=environment, start=start, end=end)
    if served.table.num_rows == 0:
        raise RequestError(
            f"the predictions log holds no prediction of {model!r} in that time; nothing to compare"
        )
    versions = served.table.column("version").to_numpy()
    features: dict[str, FeatureSkew] = {}
    for version in sorted(set(versions.tolist())):
        found = models.models.get_version(model, version=version)
        if found.training_set is None:
            continue
        record = models.training_sets.get(models.project, found.training_set)
        full = bool(record.manifest.get("point_in_time", {}).get("full_feature_names"))
        columns = list(found.input_features) or [f.column for f in record.features]
        refs = [f"{f.feature_view}:{f.feature}" for f in record.features if f.column in columns]
        views = {f.feature_view for f in record.features}
        keys = list(
            dict.fromkeys(k for v in sorted(views) for k in _entity_columns(lookup_view(v)))
        )
        picked = np.flatnonzero(versions == version)
        rows = served.table.take(pa.array(picked))
        entity = pa.table(
            {
                **{k: _column(rows, k) for k in keys},
                "event_timestamp": rows.column("predicted_at"),
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
            values = [served.features[i].get(column) for i in picked]
            _compare(skew, values, offline.column(column), entity)
    return SkewReport(
        model=model,
        environment=environment,
        predictions=served.table.num_rows,
        features=tuple(features[c] for c in sorted(features)),
    )


def check_logged_skew(
    service: FeatureService,
    logged: pa.Table,
    *,
    engine: OfflineEngine,
    repo_root: Path,
    lookup_view: Callable[[str], AnyView],
    served_at: str,
) -> SkewReport:
    """Compare what a feature service served, as its feature log kept it (see
    :mod:`store.serving.feature_log`), with a point-in-time join at each row's serving time:
    the same per-feature counts and examples as for a model's predictions. The logged entity
    columns (join keys and request values) are the join's entity rows, so on-demand outputs
    are computed offline from the same request values they were served with. ``served_at``
    names the log's serving-time column.

    Raises:
        RequestError: the log holds no rows.
    """
    import pyarrow as pa

    if logged.num_rows == 0:
        raise RequestError(
            f"the feature log of service {service.name!r} holds no rows in that time; "
            f"nothing to compare"
        )
    refs = [f"{p.feature_view}:{f}" for p in service.projections for f in p.features]
    short = [r.partition(":")[2] for r in refs]
    full = not all(name in logged.column_names for name in short)
    columns = [r.replace(":", "__") for r in refs] if full else short
    missing = [c for c in columns if c not in logged.column_names]
    if missing:
        raise RequestError(
            f"the feature log of service {service.name!r} has no column {missing[0]!r}; the "
            f"service changed since it was logged: compare a window logged since"
        )
    served_columns = set(columns) | {f"{c}__{x}" for c in columns for x in ("status", "timestamp")}
    given = [n for n in logged.column_names if n not in served_columns and not n.startswith("__")]
    entity = pa.table(
        {
            **{n: logged.column(n) for n in given},
            "event_timestamp": logged.column(served_at),
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
    features = []
    for column in columns:
        skew = FeatureSkew(column)
        _compare(skew, logged.column(column).to_pylist(), offline.column(column), entity)
        features.append(skew)
    return SkewReport(
        model=f"feature service {service.name}",
        environment=None,
        predictions=logged.num_rows,
        features=tuple(features),
    )


def _compare(
    skew: FeatureSkew, served: list[Any], offline: pa.ChunkedArray, where: pa.Table
) -> None:
    """Count one feature's mismatches between the values served and the sources' values;
    keep the first few as examples (``where``: the entity rows, keys and event time)."""
    import numpy as np

    served_missing, offline_missing, different, gaps = _differences(served, offline)
    kinds = {
        "missing_online": served_missing & ~offline_missing,
        "missing_offline": offline_missing & ~served_missing,
        "different": different,
    }
    skew.compared += len(served)
    skew.missing_online += int(kinds["missing_online"].sum())
    skew.missing_offline += int(kinds["missing_offline"].sum())
    skew.different += int(different.sum())
    if gaps is not None and different.any():
        skew.total_difference += float(gaps[different].sum())
        skew.max_difference = max(skew.max_difference, float(gaps[different].max()))
    mismatched = np.flatnonzero(kinds["missing_online"] | kinds["missing_offline"] | different)
    keys = [n for n in where.column_names if n != "event_timestamp"]
    for i in mismatched[: max(0, EXAMPLES - len(skew.examples))].tolist():
        row = where.slice(i, 1).to_pylist()[0]
        skew.examples.append(
            {
                "kind": next(kind for kind, found in kinds.items() if found[i]),
                "entity": {k: row[k] for k in keys},
                "at": row["event_timestamp"].isoformat(),
                "served": served[i],
                "offline": offline[i].as_py(),
            }
        )


def _differences(
    served: list[Any], offline: pa.ChunkedArray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Per row: served missing, offline missing, both set and different; and for numbers the
    absolute differences. Numbers and strings are compared by NumPy and Arrow; other values
    (and columns whose served values mix types) one by one in Python."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        left = pa.array(served)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        left = None
    if left is not None and _numeric(left.type) and any(isinstance(v, bool) for v in served):
        # Arrow reads booleans among numbers as 0 and 1 when a number comes first (and
        # refuses them when a boolean does): compare such columns one by one, the same
        # whatever the order.
        left = None
    right = offline.combine_chunks() if offline.num_chunks else pa.nulls(0)
    if left is not None and _numeric(left.type) and _numeric(right.type):
        a, b = (x.cast(pa.float64()).to_numpy(zero_copy_only=False) for x in (left, right))
        a_missing, b_missing = np.isnan(a), np.isnan(b)
        gaps = np.abs(a - b)
        scale = np.maximum(np.abs(a), np.abs(b)) * _RELATIVE
        different = ~a_missing & ~b_missing & (gaps > np.maximum(scale, 1e-12))
        return a_missing, b_missing, different, gaps
    if left is not None and pa.types.is_string(left.type) and pa.types.is_string(right.type):
        a_missing = left.is_null().to_numpy(zero_copy_only=False)
        b_missing = right.is_null().to_numpy(zero_copy_only=False)
        unequal = pc.fill_null(pc.not_equal(left, right), False)
        return a_missing, b_missing, unequal.to_numpy(zero_copy_only=False), None
    expected = right.to_pylist()
    a_missing = np.fromiter((_missing(v) for v in served), bool, len(served))
    b_missing = np.fromiter((_missing(v) for v in expected), bool, len(expected))
    unequal = np.fromiter((_unequal(s, o) for s, o in zip(served, expected, strict=True)), bool)
    return a_missing, b_missing, ~a_missing & ~b_missing & unequal, None


def _numeric(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind))


def _unequal(served: Any, offline: Any) -> bool:
    if _is_number(served) and _is_number(offline):
        return not math.isclose(float(served), float(offline), rel_tol=_RELATIVE, abs_tol=1e-12)
    return bool(served != offline)


def _entity_columns(view: AnyView) -> list[str]:
    """The columns a view needs of each logged request: its join keys, and for an on-demand
    view the request fields its function read then (logged with the entity row)."""
    if isinstance(view, OnDemandFeatureView):
        return [*view.join_keys, *(f.name for f in view.request_fields)]
    return view.join_keys


def _column(table: pa.Table, name: str) -> pa.ChunkedArray | pa.Array:
    """A column, or nulls when no logged entity row had that key."""
    import pyarrow as pa

    return table.column(name) if name in table.column_names else pa.nulls(table.num_rows)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
