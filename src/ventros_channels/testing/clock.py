"""A clock tests can hold still and move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ventros_channels.clock import ensure_utc

__all__ = ["FixedClock"]

DEFAULT_START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


class FixedClock:
    """Returns the same instant until :meth:`advance` or :meth:`set` moves it."""

    __slots__ = ("_now",)

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._now = ensure_utc(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, *, seconds: float = 0) -> datetime:
        """Move forward by ``delta`` or ``seconds``; returns the new time."""
        self._now += (delta or timedelta(0)) + timedelta(seconds=seconds)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = ensure_utc(when)

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()})"
