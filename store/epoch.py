"""Time as Silage stores and compares it: integer microseconds since the epoch, UTC.

Example:
    >>> from_micros(to_micros(datetime(2026, 1, 1, tzinfo=UTC)))
    datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from store.errors import RequestError

__all__ = ["EPOCH", "as_utc", "from_micros", "from_micros_many", "parse_duration", "to_micros"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def as_utc(value: datetime, name: str) -> datetime:
    """A timezone-aware UTC datetime; naive input means UTC.

    Raises:
        RequestError: ``value`` is not a datetime; ``name`` says which argument.
    """
    if not isinstance(value, datetime):
        raise RequestError(f"{name} must be a datetime, got {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str | timedelta, name: str = "window") -> timedelta:
    """``"15m"``, ``"1h"``, ``"1d"``, ``"2w"`` (or a timedelta) as a positive timedelta.

    Example:
        >>> parse_duration("90m")
        datetime.timedelta(seconds=5400)

    Raises:
        RequestError: not a whole number followed by s, m, h, d or w.
    """
    if isinstance(value, timedelta):
        found = value
    else:
        text = str(value).strip().lower()
        unit = _UNITS.get(text[-1:]) if text else None
        if unit is None or not text[:-1].isdigit():
            raise RequestError(
                f"{name} {value!r} is not a duration; write a whole number and a unit, "
                f"e.g. 15m, 1h, 1d or 2w"
            )
        found = timedelta(seconds=int(text[:-1]) * unit)
    if found <= timedelta(0):
        raise RequestError(f"{name} {value!r} must be longer than zero")
    return found


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (value - EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The UTC datetime of microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=micros)


# Below 2**32 seconds (year 2106) doubles are spaced at most 2**-21 s (0.48 us) apart, so
# `micros / 1e6` is within 0.24 us of the exact instant and datetime.fromtimestamp, which
# rounds to the nearest microsecond, lands on it exactly: twice as fast as adding a timedelta.
_FAST_LIMIT = 2**32 * 1_000_000


def from_micros_many(micros: Sequence[int | None]) -> list[datetime | None]:
    """UTC datetimes of many microsecond values (None stays None), each distinct value
    converted once.

    Example:
        >>> from_micros_many([0, None, 0])
        [datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), None, \
datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)]
    """
    known: dict[int | None, datetime | None] = {None: None}
    for value in set(micros):
        if value is not None:
            known[value] = (
                datetime.fromtimestamp(value / 1e6, UTC)
                if 0 <= value < _FAST_LIMIT
                else from_micros(value)
            )
    return [known[value] for value in micros]
