"""Time in the store contract kits: real time by default, or a fixed clock that a test moves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from ventros_channels.testing.clock import FixedClock

__all__ = ["Advance", "OnAFixedClock", "TimedContract"]

Advance = Callable[[timedelta], Awaitable[None]]
"""Makes at least the given time pass, as the store under test sees it."""


class TimedContract:
    """Base of the kits whose stores run leases and retry times out.

    ``advance`` lets time pass (the default sleeps for real, with the kit's short periods) and
    ``now`` tells the time the store sees (the default is the system clock).
    """

    short: ClassVar[timedelta] = timedelta(milliseconds=300)
    """Lease and retry delay used by the expiry tests."""

    @pytest.fixture
    def advance(self) -> Advance:
        async def sleep(delta: timedelta) -> None:
            await asyncio.sleep(delta.total_seconds())

        return sleep

    @pytest.fixture
    def now(self) -> Callable[[], datetime]:
        return lambda: datetime.now(UTC)

    async def _expire(self, advance: Advance) -> None:
        await advance(self.short + timedelta(milliseconds=150))


class OnAFixedClock:
    """Mix into a contract test class (before the kit) when the store under test takes a
    ``clock``: give it the ``clock`` fixture, and ``advance`` / ``now`` move and read it.
    """

    @pytest.fixture
    def clock(self) -> FixedClock:
        return FixedClock()

    @pytest.fixture
    def advance(self, clock: FixedClock) -> Advance:
        async def move(delta: timedelta) -> None:
            clock.advance(delta)

        return move

    @pytest.fixture
    def now(self, clock: FixedClock) -> Callable[[], datetime]:
        return clock.now
