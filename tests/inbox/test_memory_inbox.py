"""The in-memory inbox passes the inbox contract (on a fixed clock, so no test sleeps)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from ventros_channels.inbox import InMemoryInbox
from ventros_channels.testing import FixedClock
from ventros_channels.testing.contract import InboxContract, OnAFixedClock
from ventros_channels.testing.contract.inbox import make_delivery


class TestInMemoryInbox(OnAFixedClock, InboxContract):
    @pytest.fixture
    def inbox(self, clock: FixedClock) -> InMemoryInbox:
        return InMemoryInbox(clock=clock)


async def test_completed_keys_are_forgotten_after_retention() -> None:
    clock = FixedClock()
    inbox = InMemoryInbox(clock=clock, retain=timedelta(hours=1))
    channel = uuid4()
    await inbox.accept([make_delivery(channel, "k1")])
    (lease,) = await inbox.lease("w", limit=1, visibility=timedelta(seconds=30))
    assert await inbox.complete(lease)
    assert (await inbox.accept([make_delivery(channel, "k1")])).duplicates == 1
    clock.advance(timedelta(hours=2))
    assert len((await inbox.accept([make_delivery(channel, "k1")])).accepted) == 1
