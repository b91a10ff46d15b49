"""Reads through the service's cache: a channel for a minute, a project's active channels for
five (they change rarely and are read on every delivery), and every change through any service
sharing the cache invalidates."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest

from ventros_channels import Channel, ChannelService, InMemoryChannelCache
from ventros_channels.adapters import AdapterRegistry
from ventros_channels.testing import FixedClock, InMemoryChannelRepository

from .conftest import PROJECT, TENANT, webchat_config


class CountingRepository(InMemoryChannelRepository):
    def __init__(self, clock: FixedClock) -> None:
        super().__init__(clock=clock)
        self.reads = 0

    async def get(self, channel_id: UUID, *, tenant_id: str) -> Channel:
        self.reads += 1
        return await super().get(channel_id, tenant_id=tenant_id)

    async def find_active_by_project(self, project_id: Any, *, tenant_id: str) -> list[Channel]:
        self.reads += 1
        return await super().find_active_by_project(project_id, tenant_id=tenant_id)


@pytest.fixture
def counting(clock: FixedClock) -> CountingRepository:
    return CountingRepository(clock)


def _service(
    repo: CountingRepository,
    http: httpx.AsyncClient,
    registry: AdapterRegistry,
    clock: FixedClock,
    cache: InMemoryChannelCache,
) -> ChannelService:
    return ChannelService(
        repo,
        http=http,
        registry=registry,
        clock=clock,
        cache=cache,
        public_base_url="https://crm.example.test",
    )


async def test_reads_are_cached_and_every_change_invalidates_them_everywhere(
    counting: CountingRepository,
    http: httpx.AsyncClient,
    registry: AdapterRegistry,
    clock: FixedClock,
) -> None:
    shared = InMemoryChannelCache(clock=clock)
    web = _service(counting, http, registry, clock, shared)
    admin = _service(counting, http, registry, clock, shared)  # another process
    channel = await admin.create_channel(
        tenant_id=TENANT,
        project_id=PROJECT,
        name="Site chat",
        channel_type="webchat",
        config=webchat_config(),
    )
    await admin.activate(channel.id, tenant_id=TENANT)

    counting.reads = 0
    first = await web.get_channel(channel.id, tenant_id=TENANT)
    again = await web.get_channel(channel.id, tenant_id=TENANT)
    assert (first.name, again.name, counting.reads) == ("Site chat", "Site chat", 1)
    active = await web.active_channels(UUID(PROJECT), tenant_id=TENANT)
    await web.active_channels(UUID(PROJECT), tenant_id=TENANT)
    assert [c.id for c in active] == [channel.id]
    assert counting.reads == 2  # one list read, its channels served from the cache after

    await admin.update_channel(channel.id, tenant_id=TENANT, name="Renamed")
    assert (await web.get_channel(channel.id, tenant_id=TENANT)).name == "Renamed"
    await admin.deactivate(channel.id, tenant_id=TENANT)
    assert await web.active_channels(UUID(PROJECT), tenant_id=TENANT) == []

    clock.advance(seconds=120)  # past the channel TTL: read again
    reads = counting.reads
    await web.get_channel(channel.id, tenant_id=TENANT)
    assert counting.reads == reads + 1


async def test_a_cached_channel_is_never_served_to_another_tenant(
    counting: CountingRepository,
    http: httpx.AsyncClient,
    registry: AdapterRegistry,
    clock: FixedClock,
) -> None:
    from ventros_channels.errors import ChannelNotFoundError

    service = _service(counting, http, registry, clock, InMemoryChannelCache(clock=clock))
    channel = await service.create_channel(
        tenant_id=TENANT,
        project_id=PROJECT,
        name="Site chat",
        channel_type="webchat",
        config=webchat_config(),
    )
    await service.get_channel(channel.id, tenant_id=TENANT)
    with pytest.raises(ChannelNotFoundError):
        await service.get_channel(channel.id, tenant_id="someone-else")
