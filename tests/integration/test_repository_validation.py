"""Bad data at the repositories: refused increments, unreadable rows named, in-memory SQLite."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ventros_channels import (
    ChannelMetrics,
    CorruptChannelError,
    InvalidInputError,
    MetricsDelta,
)
from ventros_channels.repository import ChannelFilters, ChannelRepository
from ventros_channels.sql import SqlChannelRepository, create_engine
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.factories import DEFAULT_PROJECT_ID, DEFAULT_TENANT, ChannelFactory


async def corrupt(repository: ChannelRepository, channel_id: UUID) -> None:
    """Store a negative counter, as an unchecked increment once could."""
    if isinstance(repository, InMemoryChannelRepository):
        repository._rows[channel_id].metrics = ChannelMetrics(messages_received=-5)
        return
    assert isinstance(repository, SqlChannelRepository)
    t = repository.table
    async with repository.engine.begin() as conn:
        await conn.execute(sa.update(t).where(t.c.id == channel_id).values(messages_received=-5))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def repository(request: pytest.FixtureRequest, fixed_clock: FixedClock) -> ChannelRepository:
    if request.param == "memory":
        return InMemoryChannelRepository(clock=fixed_clock)
    found: ChannelRepository = request.getfixturevalue(f"{request.param}_repository")
    return found


async def test_a_bad_stored_row_is_named_and_does_not_break_listings(
    repository: ChannelRepository, fixed_clock: FixedClock
) -> None:
    make = ChannelFactory(fixed_clock)
    good, bad = make(name="good"), make(name="bad")
    await repository.save(good)
    await repository.save(bad)
    await corrupt(repository, bad.id)

    with pytest.raises(CorruptChannelError) as caught:
        await repository.get(bad.id, tenant_id=DEFAULT_TENANT)
    assert caught.value.channel_id == str(bad.id)
    assert [e.field for e in caught.value.errors] == ["metrics.messages_received"]
    with pytest.raises(CorruptChannelError):
        await repository.lookup(bad.id)

    listed = await repository.find_by_project(DEFAULT_PROJECT_ID, tenant_id=DEFAULT_TENANT)
    assert [c.id for c in listed] == [good.id]
    page = await repository.find(ChannelFilters(tenant_id=DEFAULT_TENANT))
    assert [c.id for c in page.items] == [good.id]
    assert [e.channel_id for e in page.unreadable] == [str(bad.id)]
    found = await repository.search("bad", tenant_id=DEFAULT_TENANT)
    assert [e.channel_id for e in found.unreadable] == [str(bad.id)]
    assert (await repository.get(good.id, tenant_id=DEFAULT_TENANT)).name == "good"


async def test_in_memory_sqlite_keeps_every_concurrent_increment(fixed_clock: FixedClock) -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        repo = SqlChannelRepository(engine, clock=fixed_clock)
        await repo.create_schema()
        channel = ChannelFactory(fixed_clock)()
        await repo.save(channel)
        await asyncio.gather(
            *(
                repo.record_metrics(channel.id, MetricsDelta(received=1), tenant_id=DEFAULT_TENANT)
                for _ in range(50)
            )
        )
        stored = await repo.get(channel.id, tenant_id=DEFAULT_TENANT)
        assert stored.metrics.messages_received == 50
    finally:
        await engine.dispose()


async def test_in_memory_sqlite_without_a_shared_connection_is_refused() -> None:
    engine = create_async_engine("sqlite+aiosqlite:///:memory:", poolclass=NullPool)
    try:
        with pytest.raises(InvalidInputError) as caught:
            SqlChannelRepository(engine)
        assert "StaticPool" in str(caught.value)
    finally:
        await engine.dispose()


async def test_a_nul_character_postgresql_cannot_store_is_an_input_error(
    postgres_repository: ChannelRepository, fixed_clock: FixedClock
) -> None:
    """PostgreSQL's text and jsonb refuse NUL; the caller gets the typed input error (the API
    answers 422), not a store failure (500)."""
    channel = ChannelFactory(fixed_clock)(
        channel_type="waha",
        config={
            "base_url": "http://waha.local",
            "session_id": "default",
            "auth": {"type": "api_key", "api_key": "key\x00with-nul"},
        },
    )
    with pytest.raises(InvalidInputError):
        await postgres_repository.save(channel)
