"""The predictions log: every prediction Silage serves, shadows included, and the outcomes
that arrive for them.

By default an SQLite file in the repository's ``data`` folder (a file of its own, so that
logging never waits for a materialization holding the online store's write lock); for a
team, a PostgreSQL database that every serving process appends to
(``prediction_log: {url: postgresql://...}``; :mod:`store.serving.log_database` holds what
differs between the two). Each prediction row:
its id, request id, time, environment, model, version, role, entity key, features,
prediction and latency; the A/B arm and the probability with which routing chose it (its
share, which a bandit moves); how many features were missing; and the error, when the
model failed for the row. Outcomes (the ground truth, when it arrives) are kept by
prediction id, and copied onto the prediction row (and its shadows' rows) so that an
experiment's per-arm sums are one scan of one table (:meth:`PredictionLog.arm_sums`).
Monitoring reads both back: statistics, drift, skew and live model quality.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from store.serving import rollup
from store.serving.log_database import Cursor, LogDatabase, open_log_database

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "METRICS",
    "ArmSums",
    "LoggedPrediction",
    "Moments",
    "PredictionLog",
    "ScoredRow",
    "Served",
    "canonical",
]


def _log_sql(db: LogDatabase) -> str:
    """The predictions table in ``db``'s dialect (PostgreSQL numbers its rows in ``seq``)."""
    key, real = db.key_text, db.real
    seq = "seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    " if db.is_postgresql else ""
    return f"""
CREATE TABLE IF NOT EXISTS predictions (
    {seq}request_id TEXT NOT NULL,
    predicted_at {key} NOT NULL,
    environment {key} NOT NULL,
    model {key} NOT NULL,
    version INTEGER NOT NULL,
    role {key} NOT NULL,
    entity TEXT NOT NULL,
    features TEXT NOT NULL,
    prediction TEXT NOT NULL,
    latency_ms {real} NOT NULL,
    prediction_id {key},
    arm {key} NOT NULL DEFAULT '',
    propensity {real},
    missing INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    label TEXT,
    predicted {real},
    outcome TEXT,
    outcome_value {real}
)
"""


# Columns later versions added; an SQLite log written before them gains them on first open
# (a PostgreSQL log is created whole).
_ADDED_COLUMNS = {
    "prediction_id": "TEXT",
    "arm": "TEXT NOT NULL DEFAULT ''",
    "propensity": "REAL",
    "missing": "INTEGER NOT NULL DEFAULT 0",
    "error": "TEXT NOT NULL DEFAULT ''",
    "label": "TEXT",
    "predicted": "REAL",
    "outcome": "TEXT",
    "outcome_value": "REAL",
}
_COLUMNS = (
    "request_id, predicted_at, environment, model, version, role, entity, features, "
    "prediction, latency_ms, prediction_id, arm, propensity, missing, error, label, predicted"
)
_MARKS = ", ".join("?" for _ in _COLUMNS.split(","))
_ID_INDEX_SQL = "CREATE UNIQUE INDEX IF NOT EXISTS predictions_by_id ON predictions (prediction_id)"
_TIME_INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS predictions_by_time ON predictions "
    "(model, environment, predicted_at)"
)
_OUTCOMES_SQL = """
CREATE TABLE IF NOT EXISTS outcomes (
    prediction_id TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL
)
"""
_OUTCOME_UPSERT_SQL = (
    "INSERT INTO outcomes (prediction_id, value, observed_at, recorded_at) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (prediction_id) DO UPDATE SET value = excluded.value, "
    "observed_at = excluded.observed_at, recorded_at = excluded.recorded_at"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggedPrediction:
    """One row of the log as ``predict`` writes it. ``entity``, ``features`` and
    ``prediction`` are JSON text; ``label`` and ``predicted`` are the prediction as
    :func:`canonical` reads it; ``propensity`` the probability routing chose this target."""

    request_id: str
    predicted_at: str
    environment: str
    model: str
    version: int
    role: str
    entity: str
    features: str
    prediction: str
    latency_ms: float
    prediction_id: str
    arm: str = ""
    propensity: float | None = None
    missing: int = 0
    error: str = ""
    label: str | None = None
    predicted: float | None = None

    def row(self) -> tuple[Any, ...]:
        return (
            self.request_id,
            self.predicted_at,
            self.environment,
            self.model,
            self.version,
            self.role,
            self.entity,
            self.features,
            self.prediction,
            self.latency_ms,
            self.prediction_id,
            self.arm,
            self.propensity,
            self.missing,
            self.error,
            self.label,
            self.predicted,
        )


def canonical(value: Any) -> tuple[str | None, float | None]:
    """A prediction or an outcome as a comparable key and, when it is one, a number.

    Booleans, numbers and text that reads as either become numbers (``True``, ``1``,
    ``"1"`` and ``"true"`` are all 1.0), so a label matches its outcome however each
    arrived; other text compares case-blind. None and NaN are (None, None).

        >>> canonical(True), canonical("TRUE"), canonical(2), canonical("Gold")
        (('1.0', 1.0), ('1.0', 1.0), ('2.0', 2.0), ('gold', None))
    """
    if value is None:
        return None, None
    if isinstance(value, bool | int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "false"):
            number = 1.0 if text == "true" else 0.0
        else:
            try:
                number = float(text)
            except ValueError:
                return text, None
    elif hasattr(value, "item"):  # a NumPy scalar
        return canonical(value.item())
    else:
        return json.dumps(value, sort_keys=True, default=str), None
    if math.isnan(number):
        return None, None
    return repr(number), number


# Per-row metrics an experiment can compare (see :mod:`store.serving.rollup`).
METRICS = rollup.METRIC_SQL


@dataclass(frozen=True, slots=True, kw_only=True)
class Moments:
    """Count, sum and sum of squares: all a mean and its variance need."""

    n: int
    total: float
    total_squares: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ArmSums:
    """One deployment target's predictions summed for an experiment: how many, how many
    failed or lacked a feature, their latency, the outcomes received (and how many of those
    the metric could not read as a number), and the metric's moments."""

    version: int
    role: str
    arm: str
    predictions: int
    errors: int
    missing: int
    latency: Moments
    outcomes: int
    unreadable: int
    metric: Moments


@dataclass(frozen=True, slots=True)
class Served:
    """A model's served predictions, oldest first: ``table`` holds when (``predicted_at``),
    by which ``version``, and the entity rows' keys; ``features`` the features as served,
    one dict per row."""

    table: pa.Table
    features: list[dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoredRow:
    """A prediction, its latency, how many features it lacked, and its outcome if any."""

    predicted_at: datetime
    version: int
    role: str
    prediction: dict[str, Any]
    latency_ms: float
    missing_features: int
    outcome: Any
    has_outcome: bool


class PredictionLog:
    """The append-only predictions log.

    Args:
        where: an SQLite file (the default ``data/predictions.db``) or the SQLAlchemy URL of
            a PostgreSQL database that several serving processes share (see
            :mod:`store.serving.log_database`).
    """

    def __init__(self, where: str | Path) -> None:
        self.db = open_log_database(where)
        self._ready = False

    @property
    def path(self) -> Path | None:
        """The SQLite file, when the log is one."""
        return self.db.path

    def close(self) -> None:
        """Release the log's connections (it reconnects if used again)."""
        self.db.dispose()

    def append(self, rows: Sequence[LoggedPrediction]) -> None:
        """Append predictions, and their part of the running sums, in one transaction."""
        self._tables(create=True)
        with self.db.writing() as cur:
            cur.executemany(
                self.db.sql(f"INSERT INTO predictions ({_COLUMNS}) VALUES ({_MARKS})"),
                [r.row() for r in rows],
            )
            cur.executemany(
                self.db.sql(rollup.UPSERT_SQL),
                rollup.upserts(
                    (row.key, rollup.contribution(row, None, None))
                    for row in (_rolled(r) for r in rows)
                ),
            )

    def record_outcomes(
        self, outcomes: Sequence[tuple[str, Any, datetime]]
    ) -> tuple[int, list[str]]:
        """Keep ``(prediction id, value, observed at)`` outcomes, in one transaction; an
        outcome recorded again replaces the earlier one. Returns how many were recorded and
        the ids no logged prediction has (those are not kept)."""
        self._tables(create=True)
        ids = [i for i, _, _ in outcomes]
        known: set[str] = set()
        with self.db.writing(serialized=True) as cur:
            for start in range(0, len(ids), 10_000):
                chunk = ids[start : start + 10_000]
                marks = ", ".join("?" * len(chunk))
                cur.execute(
                    self.db.sql(
                        f"SELECT prediction_id FROM predictions WHERE prediction_id IN ({marks})"
                    ),
                    chunk,
                )
                known.update(r[0] for r in cur.fetchall())
            now = datetime.now(UTC).isoformat()
            kept = [
                (i, json.dumps(value), at.astimezone(UTC).isoformat(), now)
                for i, value, at in outcomes
                if i in known
            ]
            cur.executemany(self.db.sql(_OUTCOME_UPSERT_SQL), kept)
            self._copy_outcomes(cur, [(i, value) for i, value, _ in outcomes if i in known])
        return len(kept), [i for i in ids if i not in known]

    def scored(
        self,
        model: str,
        *,
        environment: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[ScoredRow]:
        """A model's predictions with their outcomes (None when none arrived). A shadow's id
        is the served prediction's id and ``.shadow.v<version>``: it is scored on the outcome
        recorded for that prediction."""
        where, params = _where(model, environment, start, end)
        rows = self._query(
            "SELECT p.predicted_at, p.version, p.role, p.prediction, p.latency_ms, "
            "p.features, o.value FROM predictions AS p LEFT JOIN outcomes AS o "
            "ON o.prediction_id = CASE WHEN p.role = 'shadow' THEN "
            f"{self.db.parent_id} ELSE p.prediction_id END WHERE {where} "
            f"ORDER BY {self.db.order}",
            params,
        )
        return [
            ScoredRow(
                predicted_at=datetime.fromisoformat(at),
                version=version,
                role=role,
                prediction=json.loads(prediction),
                latency_ms=latency,
                missing_features=sum(v is None for v in json.loads(features).values()),
                outcome=None if outcome is None else json.loads(outcome),
                has_outcome=outcome is not None,
            )
            for at, version, role, prediction, latency, features, outcome in rows
        ]

    def arm_sums(
        self,
        model: str,
        metric: str,
        *,
        environment: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[ArmSums]:
        """Per version, role and arm, the sums an experiment report needs (``metric``, one
        of :data:`METRICS`, over the rows whose outcome arrived): whole hours from the
        running sums (:mod:`store.serving.rollup`), the partial hours at the window's edges
        from the log itself; all in SQL, nothing decoded in Python."""
        if metric not in METRICS:
            raise KeyError(metric)
        if not self._tables(create=False):
            return []
        first, last, edges = rollup.hour_bounds(start, end)
        found = [
            sums
            for low, high in edges
            for sums in self.raw_arm_sums(
                model, metric, environment=environment, start=low, end=high
            )
        ]
        if first != "" or last != "":
            where, params = ["model = ?", "environment = ?"], [model, environment]
            if first is not None:
                where.append("hour >= ?")
                params.append(first)
            if last is not None:
                where.append("hour < ?")
                params.append(last)
            columns = ", ".join(
                f"sum({c})"
                for c in (
                    *rollup.COLUMNS[:7],
                    f"{metric}_unreadable",
                    f"{metric}_n",
                    f"{metric}_sum",
                    f"{metric}_sq",
                )
            )
            rows = self._query(
                f"SELECT version, role, arm, {columns} FROM arm_rollup "
                f"WHERE {' AND '.join(where)} GROUP BY version, role, arm",
                params,
            )
            found += [
                ArmSums(
                    version=int(r[0]),
                    role=r[1],
                    arm=r[2],
                    predictions=round(r[3]),
                    errors=round(r[4]),
                    missing=round(r[5]),
                    latency=Moments(n=round(r[6]), total=r[7], total_squares=r[8]),
                    outcomes=round(r[9]),
                    unreadable=round(r[10]),
                    metric=Moments(n=round(r[11]), total=r[12], total_squares=r[13]),
                )
                for r in rows
            ]
        return _combined(found)

    def raw_arm_sums(
        self,
        model: str,
        metric: str,
        *,
        environment: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[ArmSums]:
        """:meth:`arm_sums` read from the log's rows alone: one GROUP BY over the window (the
        reference the running sums are tested against, and the edges' source)."""
        if metric not in METRICS:
            raise KeyError(metric)
        value = METRICS[metric]
        where, params = _where(model, environment, start, end, failed=True)
        rows = self._select(
            f"p.version, p.role, p.arm, count(*), {rollup.count_if(rollup.FAILED)}, "
            f"{rollup.count_if('p.missing > 0')}, "
            "sum(CASE WHEN p.error = '' THEN 1 END), "
            "sum(CASE WHEN p.error = '' THEN p.latency_ms END), "
            "sum(CASE WHEN p.error = '' THEN p.latency_ms * p.latency_ms END), "
            "count(p.outcome), "
            f"{rollup.count_if(f'p.outcome IS NOT NULL AND ({value}) IS NULL')}, "
            f"count({value}), sum({value}), sum(({value}) * ({value}))",
            f"{where} GROUP BY p.version, p.role, p.arm",
            params,
            ordered=False,
        )
        # float(): PostgreSQL sums a constant such as accuracy's 1.0 as an exact decimal.
        return [
            ArmSums(
                version=r[0],
                role=r[1],
                arm=r[2],
                predictions=r[3],
                errors=r[4],
                missing=r[5],
                latency=Moments(
                    n=r[6] or 0, total=float(r[7] or 0.0), total_squares=float(r[8] or 0.0)
                ),
                outcomes=r[9],
                unreadable=r[10] or 0,
                metric=Moments(
                    n=r[11], total=float(r[12] or 0.0), total_squares=float(r[13] or 0.0)
                ),
            )
            for r in rows
        ]

    def outcomes_since(self, model: str, *, environment: str, since: datetime | None) -> int:
        """How many outcomes were recorded for the model's served predictions since
        ``since`` (all when None)."""
        where, params = _where(model, environment, None, None)
        if since is not None:
            where += " AND o.recorded_at >= ?"
            params.append(since.astimezone(UTC).isoformat())
        rows = self._query(
            "SELECT count(*) FROM outcomes AS o JOIN predictions AS p "
            f"ON p.prediction_id = o.prediction_id WHERE {where}",
            params,
        )
        return int(rows[0][0]) if rows else 0

    def clicks(
        self, model: str, *, environment: str, start: datetime | None = None
    ) -> list[tuple[str, int, str, int]]:
        """Per request, version and arm, how many of the items shown got a positive outcome
        (a click): what interleaving credits."""
        where, params = _where(model, environment, start, None)
        return [
            (r[0], r[1], r[2], int(r[3] or 0))
            for r in self._select(
                f"p.request_id, p.version, p.arm, {rollup.count_if('p.outcome_value > 0')}",
                f"{where} GROUP BY p.request_id, p.version, p.arm",
                params,
                ordered=False,
            )
        ]

    def served(
        self,
        model: str,
        *,
        environment: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Served:
        """The predictions of a model that a version served (shadows left out), with their
        entity rows and features as served."""
        import pyarrow as pa

        where, params = _where(model, environment, start, end)
        rows = self._select(
            "p.predicted_at, p.version, p.entity, p.features",
            f"{where} AND p.role != 'shadow'",
            params,
        )
        entities = _decode([r[2] for r in rows])
        keys = list(dict.fromkeys(k for e in entities for k in e))
        table = pa.table(
            {
                "predicted_at": _times([r[0] for r in rows]),
                "version": pa.array([r[1] for r in rows], pa.int64()),
                **{k: pa.array([e.get(k) for e in entities]) for k in keys},
            }
        )
        return Served(table, _decode([r[3] for r in rows]))

    def features_table(
        self,
        model: str,
        *,
        environment: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pa.Table:
        """A model's logged predictions as Arrow, one column per feature as served: the time
        (``predicted_at``), ``version``, ``role``, the features, ``prediction`` and, for
        binary classifiers, ``probability``. ``start`` and ``end`` (UTC) bound the time,
        ``start <= t < end``."""
        import pyarrow as pa

        where, params = _where(model, environment, start, end)
        rows = self._select(
            "p.predicted_at, p.version, p.role, p.features, p.prediction", where, params
        )
        features = _decode([r[3] for r in rows])
        predictions = _decode([r[4] for r in rows])
        names = list(dict.fromkeys(k for f in features for k in f))
        outputs = list(dict.fromkeys(k for p in predictions for k in p))
        columns: dict[str, Any] = {
            "predicted_at": _times([r[0] for r in rows]),
            "version": pa.array([r[1] for r in rows], pa.int64()),
            "role": pa.array([r[2] for r in rows], pa.string()),
        }
        for name in names:
            columns[name] = pa.array([f.get(name) for f in features])
        for name in outputs:
            columns[name] = pa.array([p.get(name) for p in predictions])
        return pa.table(columns)

    def read(self) -> pd.DataFrame:
        """Every logged prediction, oldest first; JSON columns decoded."""
        import pandas as pd

        columns = [c.strip() for c in (_COLUMNS + ", outcome, outcome_value").split(",")]
        rows = self._query(
            f"SELECT {', '.join(columns)} FROM predictions AS p ORDER BY {self.db.order}"
        )
        frame = pd.DataFrame.from_records(rows, columns=columns)
        for column in ("entity", "features", "prediction"):
            frame[column] = frame[column].map(json.loads)
        frame["predicted_at"] = pd.to_datetime(frame["predicted_at"], utc=True)
        return frame

    def _select(
        self, columns: str, where: str, params: Sequence[Any], *, ordered: bool = True
    ) -> list[tuple[Any, ...]]:
        """Rows of the log (``p``), in logging order unless ``ordered=False``."""
        order = f" ORDER BY {self.db.order}" if ordered else ""
        return self._query(f"SELECT {columns} FROM predictions AS p WHERE {where}{order}", params)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of a read; none when nothing was logged yet."""
        if not self._tables(create=False):
            return []
        with self.db.reading() as cur:
            cur.execute(self.db.sql(sql), params)
            return [tuple(r) for r in cur.fetchall()]

    def _tables(self, *, create: bool) -> bool:
        """Whether the log's tables are there; makes them (and brings an older SQLite log up
        to date) on first use in this process. Without ``create`` a log that was never
        written stays absent: reads find nothing rather than make a file."""
        if self._ready:
            return True
        if not create and not self.db.exists():
            return False
        with self.db.creating() as cur:
            cur.execute(_log_sql(self.db))
            added = False
            if not self.db.is_postgresql:
                cur.execute("PRAGMA table_info(predictions)")
                columns = {r[1] for r in cur.fetchall()}
                for name, declared in _ADDED_COLUMNS.items():
                    if name not in columns:
                        cur.execute(f"ALTER TABLE predictions ADD COLUMN {name} {declared}")
                added = "label" not in columns
            cur.execute(_OUTCOMES_SQL)
            cur.execute(_ID_INDEX_SQL)
            cur.execute(_TIME_INDEX_SQL)
            if added:
                self._backfill(cur)
            if not self._has_rollup(cur):
                db = self.db
                cur.execute(rollup.rollup_sql(db.real, db.key_text, db.is_postgresql))
                cur.execute(rollup.REBUILD_SQL)
        self._ready = True
        return True

    def _has_rollup(self, cur: Cursor) -> bool:
        if self.db.is_postgresql:
            cur.execute("SELECT to_regclass('arm_rollup') IS NOT NULL")
        else:
            cur.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'arm_rollup'"
            )
        return bool(cur.fetchone()[0])

    def _copy_outcomes(self, cur: Cursor, outcomes: Sequence[tuple[str, Any]]) -> None:
        """Copy outcomes onto their predictions' rows and their shadows' rows
        (``<id>.shadow.v<n>``), so experiments sum one table, and move the running sums by
        the difference each makes (an outcome recorded again replaces the earlier one). In
        order, in the caller's transaction."""
        changes = []
        for prediction_id, value in outcomes:
            outcome, number = canonical(value)
            bounds = (prediction_id, prediction_id + ".", prediction_id + "/")
            cur.execute(
                self.db.sql(
                    "SELECT model, environment, version, role, arm, predicted_at, error, "
                    "missing, latency_ms, label, predicted, outcome, outcome_value "
                    "FROM predictions WHERE prediction_id = ? "
                    "OR (prediction_id >= ? AND prediction_id < ?)"
                ),
                bounds,
            )
            for r in cur.fetchall():
                row = rollup.LoggedRow(*r[:11])
                before = rollup.contribution(row, r[11], r[12], with_outcome_only=True)
                after = rollup.contribution(row, outcome, number, with_outcome_only=True)
                changes += [(row.key, rollup.negated(before)), (row.key, after)]
            cur.execute(
                self.db.sql(
                    "UPDATE predictions SET outcome = ?, outcome_value = ? WHERE "
                    "prediction_id = ? OR (prediction_id >= ? AND prediction_id < ?)"
                ),
                (outcome, number, *bounds),
            )
        cur.executemany(self.db.sql(rollup.UPSERT_SQL), rollup.upserts(changes))

    def _backfill(self, cur: Cursor) -> None:
        """Fill the columns an SQLite log written before experiments lacks: each prediction
        as :func:`canonical` reads it, and the outcomes already recorded, copied onto their
        predictions (and shadows), so that experiments read old rows right. Once, in the
        transaction that adds the columns."""
        cur.execute("SELECT rowid, prediction FROM predictions WHERE label IS NULL")
        rows = cur.fetchall()
        decoded = _decode([r[1] for r in rows])
        cur.executemany(
            "UPDATE predictions SET label = ?, predicted = ? WHERE rowid = ?",
            [
                (*canonical(p.get("prediction") if isinstance(p, dict) else None), r[0])
                for r, p in zip(rows, decoded, strict=True)
            ],
        )
        cur.execute("SELECT prediction_id, value FROM outcomes")
        cur.executemany(
            "UPDATE predictions SET outcome = ?, outcome_value = ? WHERE prediction_id = ?"
            " OR (prediction_id >= ? AND prediction_id < ?)",
            [(*canonical(json.loads(v)), i, i + ".", i + "/") for i, v in cur.fetchall()],
        )


def _where(
    model: str,
    environment: str | None,
    start: datetime | None,
    end: datetime | None,
    *,
    failed: bool = False,
) -> tuple[str, list[Any]]:
    """The condition (on the log as ``p``) for a model's predictions in an environment (None:
    all) with ``start <= predicted_at < end``, and its parameters. Rows the model failed
    on (an ``error``) are left out unless ``failed``: they have no prediction."""
    where, params = ["p.model = ?"] + ([] if failed else ["p.error = ''"]), [model]
    if environment is not None:
        where.append("p.environment = ?")
        params.append(environment)
    for bound, op in ((start, ">="), (end, "<")):
        if bound is not None:
            where.append(f"p.predicted_at {op} ?")
            params.append(bound.astimezone(UTC).isoformat())
    return " AND ".join(where), params


def _rolled(row: LoggedPrediction) -> rollup.LoggedRow:
    return rollup.LoggedRow(
        model=row.model,
        environment=row.environment,
        version=row.version,
        role=row.role,
        arm=row.arm,
        predicted_at=row.predicted_at,
        error=row.error,
        missing=row.missing,
        latency_ms=row.latency_ms,
        label=row.label,
        predicted=row.predicted,
    )


def _combined(parts: Sequence[ArmSums]) -> list[ArmSums]:
    """Sums of the same version, role and arm added together."""
    found: dict[tuple[int, str, str], ArmSums] = {}
    for p in parts:
        key = (p.version, p.role, p.arm)
        q = found.get(key)
        found[key] = (
            p
            if q is None
            else ArmSums(
                version=p.version,
                role=p.role,
                arm=p.arm,
                predictions=p.predictions + q.predictions,
                errors=p.errors + q.errors,
                missing=p.missing + q.missing,
                latency=_added(p.latency, q.latency),
                outcomes=p.outcomes + q.outcomes,
                unreadable=p.unreadable + q.unreadable,
                metric=_added(p.metric, q.metric),
            )
        )
    return [found[k] for k in sorted(found)]


def _added(a: Moments, b: Moments) -> Moments:
    return Moments(
        n=a.n + b.n, total=a.total + b.total, total_squares=a.total_squares + b.total_squares
    )


def _decode(texts: Sequence[str]) -> list[Any]:
    """JSON documents decoded in one call (a million separate calls cost seconds)."""
    return json.loads("[" + ",".join(texts) + "]") if texts else []


def _times(texts: Sequence[str]) -> pa.Array:
    """ISO-8601 times (as logged, with their offset) as UTC timestamps, parsed by Arrow."""
    import pyarrow as pa

    return pa.array(texts, pa.string()).cast(pa.timestamp("us", tz="UTC"))
