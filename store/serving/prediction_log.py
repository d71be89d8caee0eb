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
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PredictionLog"]

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
