"""``silage init``: a new feature repository from the template, with sample data."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from store.errors import ConfigError

__all__ = ["create_repo", "write_sample_data"]

_TEMPLATE_FILES = ("feature_store.yaml", "example.py", ".silageignore")


def create_repo(directory: Path, *, project: str | None = None) -> Path:
    """Create ``directory`` with a configuration, example definitions and sample data.

    Raises:
        ConfigError: the directory already holds a repository, or the project name is bad.
    """
    directory = directory.resolve()
    if (directory / "feature_store.yaml").exists():
        raise ConfigError(
            "a feature repository already exists here; choose another directory",
            path=directory / "feature_store.yaml",
        )
    name = project or re.sub(r"[^A-Za-z0-9_]", "_", directory.name)
    if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", name):
        raise ConfigError(
            f"project name {name!r} is not valid; pass --project with letters, digits and "
            f"underscores, starting with a letter"
        )
    template = resources.files("store.repo") / "templates"
    directory.mkdir(parents=True, exist_ok=True)
    for file in _TEMPLATE_FILES:
        text = (template / file).read_text(encoding="utf-8")
        if file == "feature_store.yaml":
            text = text.replace("{project}", name)
        (directory / file).write_text(text, encoding="utf-8")
    write_sample_data(directory / "data" / "driver_stats.parquet")
    return directory


def write_sample_data(path: Path, *, drivers: int = 5, days: int = 7) -> None:
    """Hourly stats for a few drivers over the last days (deterministic values)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows: dict[str, list[object]] = {
        k: []
        for k in (
            "driver_id",
            "event_timestamp",
            "created",
            "conv_rate",
            "acc_rate",
            "avg_daily_trips",
        )
    }
    for hour in range(days * 24):
        ts = end - timedelta(hours=hour)
        for d in range(drivers):
            rows["driver_id"].append(1001 + d)
            rows["event_timestamp"].append(ts)
            rows["created"].append(ts + timedelta(minutes=5))
            rows["conv_rate"].append(((hour * 7 + d * 13) % 100) / 100)
            rows["acc_rate"].append(((hour * 11 + d * 3) % 100) / 100)
            rows["avg_daily_trips"].append((hour * 5 + d * 17) % 1000)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), path)
