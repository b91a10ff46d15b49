"""Domain events committed with the channel row and published by the relay, once per event id
in order per channel, also when the process dies between the save and the publish."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels import ChannelService, ConcurrencyError
from ventros_channels.domain.events import ChannelEvent
from ventros_channels.publisher import InMemoryEventPublisher
from ventros_channels.sql import EventRelay, SqlChannelRepository
from ventros_channels.testing import FixedClock
from ventros_channels.testing.factories import ChannelFactory


class FlakyPublisher(InMemoryEventPublisher):
    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures = failures

    async def publish(self, events: Sequence[ChannelEvent]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker down")
        await super().publish(events)


@pytest.fixture
def outbox_repository(
    sql_backend: str, request: pytest.FixtureRequest, fixed_clock: FixedClock
) -> SqlChannelRepository:
    """A repository with the event outbox on each SQL backend (tables made by each test)."""
    engine: AsyncEngine = request.getfixturevalue(f"{sql_backend}_engine")
    schema = request.getfixturevalue("postgres_schema") if sql_backend == "postgres" else None
    return SqlChannelRepository(engine, schema=schema, clock=fixed_clock, event_outbox=True)


async def test_events_are_published_after_a_crash_between_save_and_publish(
    outbox_repository: SqlChannelRepository, fixed_clock: FixedClock
) -> None:
    repo = outbox_repository
    await repo.create_schema()
    publisher = InMemoryEventPublisher()
    service = ChannelService(repo, http=httpx.AsyncClient(), publisher=publisher, clock=fixed_clock)
    factory = ChannelFactory(fixed_clock)
    channel = factory("telegram")
    expected = [e.event_id for e in channel.pending_events]
    await repo.save(channel)  # the process dies here: nothing was published
    channel.pull_events()
    loaded = await repo.get(channel.id, tenant_id=channel.tenant_id)
    loaded.configure_webhook(base_url="https://crm.example.test")
    expected += [e.event_id for e in loaded.pending_events]
    await service._commit(loaded)  # the service leaves publishing to the relay
    assert publisher.events == []

    relay = EventRelay(repo, publisher)  # a fresh process
    assert await relay.run_once() == len(expected)
    assert await relay.run_once() == 0
    assert [e.event_id for e in publisher.events] == expected
    assert publisher.events[0].event_type == "channel.created"


async def test_a_failing_publisher_loses_nothing_and_repeats_nothing_once_it_works(
    outbox_repository: SqlChannelRepository, fixed_clock: FixedClock
) -> None:
    repo = outbox_repository
    await repo.create_schema()
    channel = ChannelFactory(fixed_clock)("telegram", active=True)
    await repo.save(channel)
    publisher = FlakyPublisher(failures=2)
    relay = EventRelay(repo, publisher)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await relay.run_once()
    published = await relay.run_once()
    assert published == len(publisher.events) > 0
    assert max(Counter(e.event_id for e in publisher.events).values()) == 1


async def test_a_save_that_loses_the_race_writes_no_events(
    outbox_repository: SqlChannelRepository, fixed_clock: FixedClock
) -> None:
    repo = outbox_repository
    await repo.create_schema()
    channel = ChannelFactory(fixed_clock)("telegram")
    await repo.save(channel)
    first = await repo.get(channel.id, tenant_id=channel.tenant_id)
    second = await repo.get(channel.id, tenant_id=channel.tenant_id)
    first.rename("First")
    second.rename("Second")
    await repo.save(first)
    with pytest.raises(ConcurrencyError):
        await repo.save(second)
    publisher = InMemoryEventPublisher()
    await EventRelay(repo, publisher).run_once()
    renames = [e for e in publisher.events if e.event_type == "channel.updated"]
    assert len(renames) == 1


async def test_concurrent_relays_publish_each_event_once_in_order(
    outbox_repository: SqlChannelRepository, fixed_clock: FixedClock
) -> None:
    repo = outbox_repository
    await repo.create_schema()
    factory = ChannelFactory(fixed_clock)
    expected = []
    for i in range(20):
        channel = factory("telegram", name=f"c{i}")
        expected += [e.event_id for e in channel.pending_events]
        await repo.save(channel)
    publisher = InMemoryEventPublisher()
    relays = [EventRelay(repo, publisher, batch=3) for _ in range(4)]

    async def drain(relay: EventRelay) -> None:
        idle = 0
        while idle < 5:
            idle = idle + 1 if await relay.run_once() == 0 else 0
            await asyncio.sleep(0)

    await asyncio.gather(*(drain(r) for r in relays))
    assert [e.event_id for e in publisher.events] == expected
