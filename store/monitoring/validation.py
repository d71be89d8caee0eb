"""Checking a view's data against its expectations where data enters, and recording it.

A check is one aggregate query over the rows concerned (:mod:`store.offline.compiler.
validation`), run by the offline engine: the source rows of a time window (materialization,
training sets, ``silage validate``) or the rows being pushed, given to the engine in place
of the source. The result is a :class:`ValidationReport`: the value observed for each
expectation and whether it passes. The caller records it in the registry and, when the
view's policy is ``reject`` and a check failed, stops before writing anything
(:func:`enforce`).

Freshness is judged at the end of the window, or now when the window ends in the future
or is open (pushes, ``silage validate`` without an end).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry import CheckRecord, NewValidationRun
from store.definitions.feature_view import FeatureView
from store.epoch import from_micros, to_micros
from store.errors import DataValidationError
from store.offline.compiler.point_in_time import FeatureColumn, ViewScan
from store.offline.compiler.query import source_table_name
from store.offline.compiler.validation import CheckOutcome, compile_validation
from store.offline.engine import OfflineEngine
from store.offline.sources import view_scan

if TYPE_CHECKING:
    import pyarrow as pa

    from registry.monitoring import Trigger

__all__ = ["ValidationReport", "check_rows", "check_window", "enforce"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationReport:
    """The outcome of checking some rows of a view against its expectations."""

    feature_view: str
    version: int
    trigger: Trigger
    policy: str
    window_start: datetime | None
    window_end: datetime | None
    row_count: int
    outcomes: tuple[CheckOutcome, ...]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def failures(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if not o.passed]

    def render(self) -> str:
        """A few lines for people: the view, the window, one line per expectation."""
        window = (
            f"{_when(self.window_start, 'the first row')} to "
            f"{_when(self.window_end, 'the last row')}"
            if self.window_start or self.window_end
            else "every row"
        )
        verdict = (
            "passed" if self.passed else f"{len(self.failures)} of {len(self.outcomes)} failed"
        )
        lines = [
            f"feature view {self.feature_view} v{self.version}, {window}: "
            f"{self.row_count:,} rows, {verdict}"
        ]
        lines += [f"  {'ok ' if o.passed else 'BAD'} {o.describe()}" for o in self.outcomes]
        if self.row_count == 0:
            lines.append("  (the window holds no rows)")
        return "\n".join(lines) + "\n"

    def to_record(self) -> NewValidationRun:
        """What the registry keeps of it."""
        return NewValidationRun(
            feature_view=self.feature_view,
            version=self.version,
            trigger=self.trigger,
            policy=self.policy,
            window_start=self.window_start,
            window_end=self.window_end,
            row_count=self.row_count,
            checks=[
                CheckRecord(
                    kind=o.expectation.kind,
                    spec=o.expectation.to_spec(),
                    description=o.expectation.describe(),
                    observed=o.observed,
                    passed=o.passed,
                )
                for o in self.outcomes
            ],
        )


def check_window(
    view: FeatureView,
    version: int,
    *,
    engine: OfflineEngine,
    repo_root: Path,
    start: datetime | None,
    end: datetime | None,
    trigger: Trigger,
) -> ValidationReport:
    """Check the source rows of ``view`` with an event time in ``[start, end]`` (either may
    be None: unbounded).

    Raises:
        SourceDataError: the view's Parquet files are missing or unreadable.
    """
    now_us = time.time_ns() // 1000
    as_of = min(to_micros(end), now_us) if end is not None else now_us
    query = compile_validation(
        view_scan(view, repo_root),
        view.expectations,
        start_us=None if start is None else to_micros(start),
        end_us=None if end is None else to_micros(end),
        as_of_us=as_of,
        dialect=engine.dialect,
    )
    row = engine.to_arrow(query.query).to_pylist()[0]
    return _report(
        view, version, trigger, window=(start, end), row=row, outcomes=query.collect(row)
    )


def check_rows(
    view: FeatureView, version: int, rows: pa.Table, *, engine: OfflineEngine
) -> ValidationReport:
    """Check rows about to be pushed: columns named as the view's (join keys, features,
    the source's timestamp field). The report's window is the rows' event-time range."""
    query = compile_validation(
        _scan_of_rows(view),
        view.expectations,
        start_us=None,
        end_us=None,
        as_of_us=time.time_ns() // 1000,
        dialect=engine.dialect,
    )
    row = engine.to_arrow(query.query, {source_table_name(view.name): rows}).to_pylist()[0]
    oldest, newest = row["oldest_us"], row["newest_us"]
    return _report(
        view,
        version,
        "push",
        window=(
            None if oldest is None else from_micros(int(oldest)),
            None if newest is None else from_micros(int(newest)),
        ),
        row=row,
        outcomes=query.collect(row),
    )


def _scan_of_rows(view: FeatureView) -> ViewScan:
    """The view as the compilers see it, for rows under the view's own column names (no
    files: the rows are given to the engine as the source's table)."""
    typed = {f.name: f.dtype for f in view.entity_columns}
    return ViewScan(
        name=view.name,
        files=(),
        timestamp_column=view.source.timestamp_field,
        created_column=None,
        ttl_seconds=view.ttl_seconds,
        keys=tuple((k, typed[k]) for k in view.join_keys),
        features=tuple(FeatureColumn(f.name, f.name, f.dtype) for f in view.features),
    )


def enforce(report: ValidationReport) -> None:
    """Stop when the view's policy is ``reject`` and a check failed.

    Raises:
        DataValidationError: listing each failed expectation with the value observed.
    """
    if report.passed or report.policy != "reject":
        return
    failed = "\n".join(f"  - {o.describe()}" for o in report.failures)
    raise DataValidationError(
        f"feature view {report.feature_view!r}: {len(report.failures)} expectation(s) failed "
        f"on {report.row_count:,} rows ({report.trigger}), so nothing was written:\n{failed}\n"
        f"fix the data, or declare on_invalid='warn' on the view to load it anyway",
        report=report,
    )


def _report(
    view: FeatureView,
    version: int,
    trigger: Trigger,
    *,
    window: tuple[datetime | None, datetime | None],
    row: dict[str, Any],
    outcomes: list[CheckOutcome],
) -> ValidationReport:
    return ValidationReport(
        feature_view=view.name,
        version=version,
        trigger=trigger,
        policy=view.on_invalid,
        window_start=window[0],
        window_end=window[1],
        row_count=int(row["rows"]),
        outcomes=tuple(outcomes),
    )


def _when(value: datetime | None, unbounded: str) -> str:
    return unbounded if value is None else f"{value:%Y-%m-%d %H:%M:%S}"
