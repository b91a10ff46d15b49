"""Time as a dependency: the domain never reads the wall clock directly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "ensure_utc"]


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the current time as an aware UTC ``datetime``."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock (UTC)."""

    __slots__ = ()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
