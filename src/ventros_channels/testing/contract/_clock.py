"""Fixtures that run a contract kit on a fixed clock: leases and retry times run out at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from ventros_channels.testing.clock import FixedClock

__all__ = ["OnAFixedClock"]


class OnAFixedClock:
    """Mix into a contract test class (before the kit) when the store under test takes a
    ``clock``: give it the ``clock`` fixture, and ``advance`` / ``now`` move and read it.
    """

    @pytest.fixture
    def clock(self) -> FixedClock:
        return FixedClock()

    @pytest.fixture
    def advance(self, clock: FixedClock) -> Callable[[timedelta], Awaitable[None]]:
        async def move(delta: timedelta) -> None:
            clock.advance(delta)

        return move

    @pytest.fixture
    def now(self, clock: FixedClock) -> Callable[[], datetime]:
        return clock.now
