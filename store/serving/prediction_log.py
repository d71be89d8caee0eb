"""The predictions log: every prediction Silage serves, shadows included, as a table.

An SQLite file beside the online store (a file of its own, so that logging never waits for
a materialization holding the online store's write lock). Each row: request id, time,
environment, model, version, role, entity key, features, prediction and latency. Drift and
performance monitoring read it back with :meth:`PredictionLog.read`.
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

__all__ = ["PredictionLog", "ServedRow"]

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
    latency_ms REAL NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class ServedRow:
    """One served prediction: when, by which version, for which entity, with what features."""

    predicted_at: datetime
    version: int
    entity: dict[str, Any]
    features: dict[str, Any]


class PredictionLog:
    """The append-only predictions log."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(_LOG_SQL)
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        finally:
            conn.close()

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
                ]
            )
        with sqlite3.connect(self.path) as conn:
            frame = pd.read_sql_query("SELECT * FROM predictions ORDER BY rowid", conn)
        for column in ("entity", "features", "prediction"):
            frame[column] = frame[column].map(json.loads)
        frame["predicted_at"] = pd.to_datetime(frame["predicted_at"], utc=True)
        return frame
