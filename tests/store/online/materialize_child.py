"""A materialization in its own process, for the kill and concurrency tests.

    python materialize_child.py REPO START END DELAY_SECONDS

Prints ``rows N`` after each committed batch of the upsert and sleeps DELAY_SECONDS there,
which keeps the view's transaction open long enough for a test to act during it.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime

from store import FeatureStore


def main() -> None:
    repo, start, end, delay = sys.argv[1:5]

    def progress(view: str, rows: int, seconds: float) -> None:
        print(f"rows {rows}", flush=True)
        if rows:
            time.sleep(float(delay))

    with FeatureStore(repo_path=repo) as fs:
        fs.materialize(
            datetime.fromisoformat(start), datetime.fromisoformat(end), on_progress=progress
        )
    print("done", flush=True)


if __name__ == "__main__":
    main()
