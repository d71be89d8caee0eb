"""Time as Silage stores and compares it: integer microseconds since the epoch, UTC.

Example:
    >>> from_micros(to_micros(datetime(2026, 1, 1, tzinfo=UTC)))
    datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.errors import RequestError

__all__ = ["EPOCH", "as_utc", "from_micros", "to_micros"]

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


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (value - EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The UTC datetime of microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=micros)
