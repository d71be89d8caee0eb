"""The predictions log: every prediction Silage serves, shadows included, and the outcomes
that arrive for them.

An SQLite file in the repository's ``data`` folder (a file of its own, so that logging never
waits for a materialization holding the online store's write lock). Each prediction row:
its id, request id, time, environment, model, version, role, entity key, features,
prediction and latency. Outcomes (the ground truth, when it arrives) are kept by prediction
id. Monitoring reads both back: statistics, drift, skew and live model quality.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["PredictionLog", "ScoredRow", "ServedRow"]

_LOG_SQL = """
CREATE TABLE IF NOT EXISTS predictions (
    request_id TEXT NOT NULL,
    predicted_at TEXT NOT NULL,
    environment TEXT NOT NULL,
    model TEXT NOT NULL,
    version INTEGER NOT NULL,
    role TEXT NOT NULL,
    entity TEXT NOT NULL,
    features TEXT NOT NULL,
    prediction TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    prediction_id TEXT
)
"""
# Logs written before predictions had ids lack the column; it is added on first write.
_ID_COLUMN_SQL = "ALTER TABLE predictions ADD COLUMN prediction_id TEXT"
_ID_INDEX_SQL = "CREATE UNIQUE INDEX IF NOT EXISTS predictions_by_id ON predictions (prediction_id)"
_OUTCOMES_SQL = """
CREATE TABLE IF NOT EXISTS outcomes (
    prediction_id TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class ServedRow:
    """One served prediction: when, by which version, for which entity, with what features."""

    predicted_at: datetime
    version: int
    entity: dict[str, Any]
    features: dict[str, Any]


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
    """The append-only predictions log."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Append prediction rows (the columns in table order, the prediction id last), in one
        transaction."""
        conn = self._open()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
            conn.execute("COMMIT")
        finally:
            conn.close()

    def record_outcomes(
        self, outcomes: Sequence[tuple[str, Any, datetime]]
    ) -> tuple[int, list[str]]:
        """Keep ``(prediction id, value, observed at)`` outcomes, in one transaction; an
        outcome recorded again replaces the earlier one. Returns how many were recorded and
        the ids no logged prediction has (those are not kept)."""
        conn = self._open()
        try:
            conn.execute("BEGIN IMMEDIATE")
            ids = [i for i, _, _ in outcomes]
            known: set[str] = set()
            for start in range(0, len(ids), 10_000):
                chunk = ids[start : start + 10_000]
                marks = ", ".join("?" * len(chunk))
                known.update(
                    r[0]
                    for r in conn.execute(
                        f"SELECT prediction_id FROM predictions WHERE prediction_id IN ({marks})",
                        chunk,
                    )
                )
            now = datetime.now(UTC).isoformat()
            kept = [
                (i, json.dumps(value), at.astimezone(UTC).isoformat(), now)
                for i, value, at in outcomes
                if i in known
            ]
            conn.executemany("INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?)", kept)
            conn.execute("COMMIT")
        finally:
            conn.close()
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
        if not self.path.exists():
            return []
        where, params = ["p.model = ?"], [model]
        if environment is not None:
            where.append("p.environment = ?")
            params.append(environment)
        for bound, op in ((start, ">="), (end, "<")):
            if bound is not None:
                where.append(f"p.predicted_at {op} ?")
                params.append(bound.astimezone(UTC).isoformat())
        conn = self._open()
        try:
            rows = conn.execute(
                "SELECT p.predicted_at, p.version, p.role, p.prediction, p.latency_ms, "
                "p.features, o.value FROM predictions AS p LEFT JOIN outcomes AS o "
                "ON o.prediction_id = CASE WHEN p.role = 'shadow' THEN "
                "substr(p.prediction_id, 1, instr(p.prediction_id, '.') - 1) "
                f"ELSE p.prediction_id END WHERE {' AND '.join(where)} ORDER BY p.rowid",
                params,
            ).fetchall()
        finally:
            conn.close()
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

    def _open(self) -> sqlite3.Connection:
        """A connection with the tables in place (an older log gains the id column)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(_LOG_SQL)
        columns = [r[1] for r in conn.execute("PRAGMA table_info(predictions)")]
        if "prediction_id" not in columns:
            conn.execute(_ID_COLUMN_SQL)
        conn.execute(_ID_INDEX_SQL)
        conn.execute(_OUTCOMES_SQL)
        return conn

    def served(
        self,
        model: str,
        *,
        environment: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[ServedRow]:
        """Each logged prediction of a model that a version served (shadows left out): when,
        which version, the entity row and the features as served. Oldest first."""
        where, params = ["model = ?", "role != 'shadow'"], [model]
        if environment is not None:
            where.append("environment = ?")
            params.append(environment)
        for bound, op in ((start, ">="), (end, "<")):
            if bound is not None:
                where.append(f"predicted_at {op} ?")
                params.append(bound.astimezone(UTC).isoformat())
        if not self.path.exists():
            return []
        with sqlite3.connect(self.path) as conn:
            rows = conn.execute(
                "SELECT predicted_at, version, entity, features FROM predictions "
                f"WHERE {' AND '.join(where)} ORDER BY rowid",
                params,
            ).fetchall()
        return [
            ServedRow(datetime.fromisoformat(at), version, json.loads(entity), json.loads(features))
            for at, version, entity, features in rows
        ]

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

        where, params = ["model = ?"], [model]
        if environment is not None:
            where.append("environment = ?")
            params.append(environment)
        for bound, op in ((start, ">="), (end, "<")):
            if bound is not None:
                where.append(f"predicted_at {op} ?")
                params.append(bound.astimezone(UTC).isoformat())
        rows: list[tuple[Any, ...]] = []
        if self.path.exists():
            with sqlite3.connect(self.path) as conn:
                rows = conn.execute(
                    "SELECT predicted_at, version, role, features, prediction FROM predictions "
                    f"WHERE {' AND '.join(where)} ORDER BY rowid",
                    params,
                ).fetchall()
        features = [json.loads(r[3]) for r in rows]
        predictions = [json.loads(r[4]) for r in rows]
        names = list(dict.fromkeys(k for f in features for k in f))
        outputs = list(dict.fromkeys(k for p in predictions for k in p))
        columns: dict[str, Any] = {
            "predicted_at": pa.array(
                [datetime.fromisoformat(r[0]) for r in rows], pa.timestamp("us", tz="UTC")
            ),
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

        if not self.path.exists():
            return pd.DataFrame(
                columns=[
                    "request_id",
                    "predicted_at",
                    "environment",
                    "model",
                    "version",
                    "role",
                    "entity",
                    "features",
                    "prediction",
                    "latency_ms",
                    "prediction_id",
                ]
            )
        with sqlite3.connect(self.path) as conn:
            frame = pd.read_sql_query("SELECT * FROM predictions ORDER BY rowid", conn)
        for column in ("entity", "features", "prediction"):
            frame[column] = frame[column].map(json.loads)
        frame["predicted_at"] = pd.to_datetime(frame["predicted_at"], utc=True)
        return frame
