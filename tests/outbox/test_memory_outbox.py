"""The in-memory outbox passes the outbox contract (on a fixed clock: no test sleeps)."""

from __future__ import annotations

import pytest

from ventros_channels.outbox import InMemoryOutbox
from ventros_channels.testing import FixedClock
from ventros_channels.testing.contract import OnAFixedClock, OutboxContract


class TestInMemoryOutbox(OnAFixedClock, OutboxContract):
    @pytest.fixture
    def outbox(self, clock: FixedClock) -> InMemoryOutbox:
        return InMemoryOutbox(clock=clock)
