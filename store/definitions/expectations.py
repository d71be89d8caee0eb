"""Expectations: what a feature view's data must look like, declared beside the view.

Each expectation is a frozen value checked against the rows of a view's source in a time
window (materialization, on demand, a training set's range) or against pushed rows; every
check of a view runs as one SQL pass in the offline engine. The vocabulary is the one
Great Expectations users reach for most:

================  =========================================================================
``ValueRange``    values within ``[min, max]`` (at least a share ``mostly`` of non-nulls)
``QuantileRange`` a quantile (the median by default) within ``[min, max]``
``NullShare``     at most a share ``at_most`` of nulls
``AllowedValues`` values from a set (at least ``mostly`` of non-nulls)
``Matches``       strings matching a regular expression, anywhere in the value
``Compare``       one feature against another, row by row: ``Compare("acc_rate", ">=",
                  "conv_rate")`` (at least ``mostly`` of the rows where both are set)
``UniqueKeys``    no two rows with the same join keys and event time
``Freshness``     the newest event time no older than ``max_age`` at the window's end
``RowCount``      the window's row count within ``[min, max]``
================  =========================================================================

A view declares them with ``FeatureView(..., expectations=[...], on_invalid="reject")``:
``reject`` (the default) stops a load or push that fails any of them, with nothing
written, and ``warn`` loads and records the failure. Either way every check is recorded in
the registry with the value observed.

Example:
    >>> ValueRange("conv_rate", min=0, max=1).describe()
    'conv_rate in [0, 1]'
    >>> Compare("acc_rate", ">=", "conv_rate", mostly=0.99).describe()
    'acc_rate >= conv_rate for 99% of rows'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, ClassVar

from store.errors import DefinitionError

__all__ = [
    "COMPARISONS",
    "AllowedValues",
    "Compare",
    "Expectation",
    "Freshness",
    "Matches",
    "NullShare",
    "QuantileRange",
    "RowCount",
    "UniqueKeys",
    "ValueRange",
    "expectation_from_spec",
]

COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
Number = int | float


class Expectation:
    """Base of every expectation. ``kind`` names it in specs and in the registry."""

    __slots__ = ()
    kind: ClassVar[str]

    @property
    def features(self) -> tuple[str, ...]:
        """The features it reads (none for the checks of a whole view)."""
        return ()

    def describe(self) -> str:
        """One line for people: ``conv_rate in [0, 1]``."""
        raise NotImplementedError

    def to_spec(self) -> dict[str, Any]:
        """The canonical spec: ``kind`` and the declared values."""
        spec: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, timedelta):
                value = int(value.total_seconds())
            elif isinstance(value, tuple):
                value = list(value)
            spec[f.name] = value
        return spec


def _mostly(where: str, mostly: object) -> float:
    if isinstance(mostly, bool) or not isinstance(mostly, int | float) or not 0 < mostly <= 1:
        raise DefinitionError(
            f"{where}: mostly={mostly!r} must be a share in (0, 1], e.g. mostly=0.99"
        )
    return float(mostly)


def _bounds(where: str, low: object, high: object) -> None:
    for name, value in (("min", low), ("max", high)):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise DefinitionError(f"{where}: {name}={value!r} must be a finite number or None")
    if low is None and high is None:
        raise DefinitionError(f"{where}: give min, max or both")
    if low is not None and high is not None and low > high:  # type: ignore[operator]
        raise DefinitionError(f"{where}: min={low!r} is greater than max={high!r}")


def _span(low: Number | None, high: Number | None) -> str:
    if low is None:
        return f"<= {high}"
    if high is None:
        return f">= {low}"
    return f"in [{low}, {high}]"


def _share(mostly: float) -> str:
    return "" if mostly == 1 else f" for {mostly:.0%} of rows"


@dataclass(frozen=True, slots=True)
class ValueRange(Expectation):
    """Values of ``feature`` within ``[min, max]`` (inclusive; either may be None)."""

    kind: ClassVar[str] = "value_range"
    feature: str
    min: Number | None = None
    max: Number | None = None
    mostly: float = 1.0

    def __post_init__(self) -> None:
        where = f"ValueRange({self.feature!r})"
        _bounds(where, self.min, self.max)
        object.__setattr__(self, "mostly", _mostly(where, self.mostly))

    @property
    def features(self) -> tuple[str, ...]:
        return (self.feature,)

    def describe(self) -> str:
        return f"{self.feature} {_span(self.min, self.max)}{_share(self.mostly)}"


@dataclass(frozen=True, slots=True)
class QuantileRange(Expectation):
    """The ``quantile`` of ``feature`` (0.5: the median) within ``[min, max]``."""

    kind: ClassVar[str] = "quantile_range"
    feature: str
    min: Number | None = None
    max: Number | None = None
    quantile: float = 0.5

    def __post_init__(self) -> None:
        where = f"QuantileRange({self.feature!r})"
        _bounds(where, self.min, self.max)
        q = self.quantile
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0 <= q <= 1:
            raise DefinitionError(f"{where}: quantile={q!r} must be within [0, 1]")
        object.__setattr__(self, "quantile", float(q))

    @property
    def features(self) -> tuple[str, ...]:
        return (self.feature,)

    def describe(self) -> str:
        name = "median" if self.quantile == 0.5 else f"p{self.quantile * 100:g}"
        return f"{name} of {self.feature} {_span(self.min, self.max)}"


@dataclass(frozen=True, slots=True)
class NullShare(Expectation):
    """At most a share ``at_most`` of the rows have no value for ``feature``."""

    kind: ClassVar[str] = "null_share"
    feature: str
    at_most: float = 0.0

    def __post_init__(self) -> None:
        share = self.at_most
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share < 1:
            raise DefinitionError(
                f"NullShare({self.feature!r}): at_most={share!r} must be a share in [0, 1)"
            )
        object.__setattr__(self, "at_most", float(share))

    @property
    def features(self) -> tuple[str, ...]:
        return (self.feature,)

    def describe(self) -> str:
        return f"nulls in {self.feature} at most {self.at_most:.1%}"


@dataclass(frozen=True, slots=True)
class AllowedValues(Expectation):
    """Values of ``feature`` from ``values`` (at least ``mostly`` of the non-null ones)."""

    kind: ClassVar[str] = "allowed_values"
    feature: str
    values: Sequence[str | int | float | bool] = ()
    mostly: float = 1.0

    def __post_init__(self) -> None:
        where = f"AllowedValues({self.feature!r})"
        values = tuple(self.values)
        if not values or isinstance(self.values, str):
            raise DefinitionError(f"{where}: give the allowed values as a list, e.g. ['a', 'b']")
        for value in values:
            if not isinstance(value, str | int | float | bool):
                raise DefinitionError(f"{where}: {value!r} is not a string, number or bool")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "mostly", _mostly(where, self.mostly))

    @property
    def features(self) -> tuple[str, ...]:
        return (self.feature,)

    def describe(self) -> str:
        shown = ", ".join(repr(v) for v in list(self.values)[:5])
        more = ", ..." if len(self.values) > 5 else ""
        return f"{self.feature} in {{{shown}{more}}}{_share(self.mostly)}"


@dataclass(frozen=True, slots=True)
class Matches(Expectation):
    """String values of ``feature`` containing a match of ``pattern`` (anchor it with ``^``
    and ``$`` to match whole values)."""

    kind: ClassVar[str] = "matches"
    feature: str
    pattern: str
    mostly: float = 1.0

    def __post_init__(self) -> None:
        where = f"Matches({self.feature!r})"
        try:
            re.compile(self.pattern)
        except (re.error, TypeError) as exc:
            raise DefinitionError(
                f"{where}: pattern {self.pattern!r} is not valid: {exc}"
            ) from None
        object.__setattr__(self, "mostly", _mostly(where, self.mostly))

    @property
    def features(self) -> tuple[str, ...]:
        return (self.feature,)

    def describe(self) -> str:
        return f"{self.feature} matches /{self.pattern}/{_share(self.mostly)}"


@dataclass(frozen=True, slots=True)
class Compare(Expectation):
    """``left op right`` on every row where both are set (at least ``mostly`` of them)."""

    kind: ClassVar[str] = "compare"
    left: str
    op: str
    right: str
    mostly: float = 1.0

    def __post_init__(self) -> None:
        where = f"Compare({self.left!r}, {self.op!r}, {self.right!r})"
        if self.op not in COMPARISONS:
            raise DefinitionError(f"{where}: op must be one of {', '.join(COMPARISONS)}")
        object.__setattr__(self, "mostly", _mostly(where, self.mostly))

    @property
    def features(self) -> tuple[str, ...]:
        return (self.left, self.right)

    def describe(self) -> str:
        return f"{self.left} {self.op} {self.right}{_share(self.mostly)}"


@dataclass(frozen=True, slots=True)
class UniqueKeys(Expectation):
    """No two rows share their join keys and event time."""

    kind: ClassVar[str] = "unique_keys"

    def describe(self) -> str:
        return "one row per join keys and event time"


@dataclass(frozen=True, slots=True)
class Freshness(Expectation):
    """The newest event time is at most ``max_age`` before the end of the checked window
    (now, for pushes and windows that end in the future)."""

    kind: ClassVar[str] = "freshness"
    max_age: timedelta = field(default=timedelta(days=1))

    def __post_init__(self) -> None:
        if not isinstance(self.max_age, timedelta) or self.max_age <= timedelta(0):
            raise DefinitionError(
                f"Freshness: max_age={self.max_age!r} must be a positive timedelta, "
                f"e.g. timedelta(hours=2)"
            )

    def describe(self) -> str:
        return f"newest row at most {self.max_age} old"


@dataclass(frozen=True, slots=True)
class RowCount(Expectation):
    """The checked window holds between ``min`` and ``max`` rows."""

    kind: ClassVar[str] = "row_count"
    min: int | None = None
    max: int | None = None

    def __post_init__(self) -> None:
        _bounds("RowCount", self.min, self.max)

    def describe(self) -> str:
        return f"rows {_span(self.min, self.max)}"


_KINDS: dict[str, type[Expectation]] = {
    cls.kind: cls
    for cls in (
        ValueRange,
        QuantileRange,
        NullShare,
        AllowedValues,
        Matches,
        Compare,
        UniqueKeys,
        Freshness,
        RowCount,
    )
}


def expectation_from_spec(spec: Mapping[str, Any]) -> Expectation:
    """Rebuild an expectation from its registry spec."""
    values = {k: v for k, v in spec.items() if k != "kind"}
    cls = _KINDS[spec["kind"]]
    if cls is Freshness:
        values["max_age"] = timedelta(seconds=values["max_age"])
    return cls(**values)
