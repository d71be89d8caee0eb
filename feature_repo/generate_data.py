"""Generate the example's Parquet sources and label table (seeded, so reruns agree).

    python generate_data.py [--end 2026-01-01T00:00:00Z] [--days 14]

Writes into ./data: driver_stats, customer_profile, driver_customer_stats and trips
(the labels: one row per trip request with whether it was completed). Some driver rows
arrive late: a correction with the same event time and a later created time.

The worked example also serves traffic (``requests``), learns how those trips ended
(``outcomes``), then breaks something upstream (``conv_rate_bug``) to show monitoring
catching it, and repairs it.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SEED = 7
DRIVERS = np.arange(1001, 2001)
CUSTOMERS = np.arange(5001, 7001)


def generate(out: Path, end: datetime, days: int) -> dict[str, int]:
    rng = np.random.default_rng(SEED)
    start = end - timedelta(days=days)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}

    hours = pd.date_range(start, end, freq="h", inclusive="left", tz="UTC")
    grid = pd.MultiIndex.from_product([DRIVERS, hours], names=["driver_id", "event_timestamp"])
    drivers = grid.to_frame(index=False)
    # One skill per driver drives both its statistics and its trips' completion, so the
    # features carry signal about the label.
    driver_skill = skills(rng)
    skill = driver_skill[drivers["driver_id"].to_numpy() - DRIVERS[0]]
    drivers["conv_rate"] = np.clip(skill + rng.normal(0, 0.05, len(drivers)), 0, 1).astype(
        "float32"
    )
    drivers["acc_rate"] = np.clip(skill + rng.normal(0, 0.08, len(drivers)), 0, 1).astype("float32")
    drivers["avg_daily_trips"] = rng.poisson(20 * skill).astype("int64")
    delay = pd.to_timedelta(rng.integers(1, 15, len(drivers)), unit="min")
    drivers["created"] = drivers["event_timestamp"] + delay
    # Late corrections: 2% of rows are written again an hour later with new values.
    late = drivers.sample(frac=0.02, random_state=SEED).copy()
    late["conv_rate"] = np.clip(late["conv_rate"] + 0.1, 0, 1).astype("float32")
    late["created"] = late["created"] + pd.Timedelta(hours=1)
    late = late[late["created"] <= end]  # the data as of `end`: nothing written after it
    drivers = pd.concat([drivers, late], ignore_index=True)
    drivers.to_parquet(out / "driver_stats.parquet", index=False)
    counts["driver_stats"] = len(drivers)

    days_index = pd.date_range(start, end, freq="D", inclusive="left", tz="UTC")
    profile = pd.MultiIndex.from_product(
        [CUSTOMERS, days_index], names=["customer_id", "event_timestamp"]
    ).to_frame(index=False)
    profile["avg_rating_given"] = np.round(rng.uniform(3.0, 5.0, len(profile)), 2)
    profile["lifetime_trips"] = rng.integers(0, 400, len(profile)).astype("int64")
    profile["tier"] = rng.choice(["basic", "plus", "premium"], len(profile), p=[0.6, 0.3, 0.1])
    profile["created"] = profile["event_timestamp"] + pd.Timedelta(hours=2)
    profile.to_parquet(out / "customer_profile.parquet", index=False)
    counts["customer_profile"] = len(profile)

    n_pairs = 20_000
    pairs = pd.DataFrame(
        {
            "driver_id": rng.choice(DRIVERS, n_pairs),
            "customer_id": rng.choice(CUSTOMERS, n_pairs),
            "event_timestamp": start + pd.to_timedelta(rng.uniform(0, days * 86400, n_pairs), "s"),
        }
    )
    pairs["trips_together"] = rng.integers(1, 30, n_pairs).astype("int64")
    pairs["avg_rating_between"] = np.round(rng.uniform(2.5, 5.0, n_pairs), 2)
    pairs.to_parquet(out / "driver_customer_stats.parquet", index=False)
    counts["driver_customer_stats"] = len(pairs)

    n_trips = 20_000
    trips = pd.DataFrame(
        {
            "trip_id": np.arange(n_trips, dtype="int64"),
            "driver_id": rng.choice(DRIVERS, n_trips),
            "customer_id": rng.choice(CUSTOMERS, n_trips),
            "event_timestamp": start
            + pd.Timedelta(days=1)
            + pd.to_timedelta(rng.uniform(0, (days - 1) * 86400, n_trips), "s"),
        }
    ).sort_values("event_timestamp", ignore_index=True)
    p = driver_skill[trips["driver_id"].to_numpy() - DRIVERS[0]]
    trips["completed"] = (rng.uniform(0, 1, n_trips) < p).astype("int64")
    trips["trip_distance_km"] = distances(SEED + 1, n_trips)
    trips.to_parquet(out / "trips.parquet", index=False)
    counts["trips"] = n_trips
    return counts


def skills(rng: np.random.Generator) -> np.ndarray:
    """Each driver's skill: the chance they complete a trip (the first draw of the seed)."""
    return rng.uniform(0.3, 0.95, len(DRIVERS))


def distances(seed: int, n: int) -> np.ndarray:
    """Each trip's requested distance in km: a request value, known only when the request
    arrives (its own seed, so the other draws stay as they were)."""
    return np.round(np.random.default_rng(seed).gamma(2.0, 3.0, n), 1)


def requests(data: Path, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` trip requests as the serving side sees them: pairs drawn like the trips', each
    with its requested distance."""
    columns = ["driver_id", "customer_id", "trip_distance_km"]
    picked = pd.read_parquet(data / "trips.parquet", columns=columns).sample(
        n, replace=True, random_state=seed
    )
    return [
        {"driver_id": int(d), "customer_id": int(c), "trip_distance_km": float(km)}
        for d, c, km in picked.to_numpy()
    ]


def outcomes(rows: list[dict[str, Any]], seed: int, *, shifted: bool = False) -> list[int]:
    """Whether each requested trip was completed (1) or not (0), by its driver's skill; in
    the ``shifted`` world (see :func:`shifted_skills`) by the skill after the change."""
    skill = skills(np.random.default_rng(SEED))
    if shifted:
        skill = shifted_skills(skill)
    chance = skill[np.array([r["driver_id"] for r in rows]) - DRIVERS[0]]
    return [int(x) for x in np.random.default_rng(seed).uniform(0, 1, len(rows)) < chance]


def shifted_skills(skill: np.ndarray) -> np.ndarray:
    """A change in the world the features do not show: a new dispatch rule sends the long
    trips to the drivers who used to complete the most, and they now complete the least
    (completion flips around its middle while the drivers' statistics stay as they were)."""
    return 1.25 - skill


def recent_trips(data: Path, end: datetime, n: int, seed: int) -> Path:
    """``n`` labelled trips of the last day, completed by the shifted skills: the label feed
    a retraining reads after the change. Written to ``recent_trips.parquet``."""
    rng = np.random.default_rng(seed)
    skill = shifted_skills(skills(np.random.default_rng(SEED)))
    trips = pd.DataFrame(
        {
            "driver_id": rng.choice(DRIVERS, n),
            "customer_id": rng.choice(CUSTOMERS, n),
            "event_timestamp": end - pd.to_timedelta(rng.uniform(0, 86400, n), "s"),
        }
    )
    chance = skill[trips["driver_id"].to_numpy() - DRIVERS[0]]
    trips["completed"] = (rng.uniform(0, 1, n) < chance).astype("int64")
    trips["trip_distance_km"] = distances(seed + 1, n)
    path = data / "recent_trips.parquet"
    trips.to_parquet(path, index=False)
    return path


def newest_driver_stats(data: Path, created: datetime) -> pd.DataFrame:
    """Each driver's newest statistics written again at ``created``: how a job restates
    the last hour (same event time, later created time, so it replaces the stored row)."""
    stats = pd.read_parquet(data / "driver_stats.parquet")
    newest = stats.sort_values(["event_timestamp", "created"]).groupby("driver_id").tail(1)
    return newest.assign(created=created).reset_index(drop=True)


def conv_rate_bug(rows: pd.DataFrame) -> pd.DataFrame:
    """A broken upstream release: the conversion rate counted over offers seen instead of
    offers sent, 0.25 lower."""
    broken = rows.copy()
    broken["conv_rate"] = np.clip(broken["conv_rate"] - 0.25, 0, 1).astype("float32")
    return broken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--end", help="end of the data (ISO time, UTC); default: this hour")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    args = parser.parse_args()
    end = (
        datetime.fromisoformat(args.end.replace("Z", "+00:00")).astimezone(UTC)
        if args.end
        else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )
    counts = generate(args.out, end, args.days)
    for name, rows in counts.items():
        print(f"wrote {rows:>7,} rows to {args.out / (name + '.parquet')}")


if __name__ == "__main__":
    main()
