"""The in-memory outbox passes the outbox contract (on a fixed clock: no test sleeps)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from ventros_channels.outbox import InMemoryOutbox
from ventros_channels.testing import FixedClock
from ventros_channels.testing.contract import OutboxContract
from ventros_channels.testing.contract.inbox import Advance


class TestInMemoryOutbox(OutboxContract):
    @pytest.fixture
    def clock(self) -> FixedClock:
        return FixedClock()

    @pytest.fixture
    def outbox(self, clock: FixedClock) -> InMemoryOutbox:
        return InMemoryOutbox(clock=clock)

    @pytest.fixture
    def advance(self, clock: FixedClock) -> Advance:
        async def move(delta: timedelta) -> None:
            clock.advance(delta)

        return move

    @pytest.fixture
    def now(self, clock: FixedClock) -> Callable[[], datetime]:
        return clock.now
