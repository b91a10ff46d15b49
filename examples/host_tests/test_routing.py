"""A host test suite using only the library's pytest plugin fixtures."""

from __future__ import annotations

from uuid import UUID

import pytest

from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.factories import ChannelFactory

from .routing import pipeline_for

DEFAULT = UUID("00000000-0000-4000-8000-00000000defa")
SALES = UUID("00000000-0000-4000-8000-0000000005a1")


async def test_messages_go_to_the_channel_pipeline_or_the_default(
    channel_repository: InMemoryChannelRepository, channel_factory: ChannelFactory
) -> None:
    plain = channel_factory("telegram", active=True)
    routed = channel_factory("waha", active=True, pipeline_id=SALES)
    for channel in (plain, routed):
        await channel_repository.save(channel)
    assert await pipeline_for(channel_repository, plain.id, plain.tenant_id, DEFAULT) == DEFAULT
    assert await pipeline_for(channel_repository, routed.id, routed.tenant_id, DEFAULT) == SALES


async def test_the_fixed_clock_drives_the_qr_code_expiry(
    channel_factory: ChannelFactory, fixed_clock: FixedClock
) -> None:
    channel = channel_factory("waha")
    channel.configure_webhook(base_url="https://crm.example.test")
    channel.request_activation()
    channel.update_qr_code("2@code")
    assert channel.qr_code == "2@code"
    fixed_clock.advance(seconds=61)
    assert channel.qr_code is None


@pytest.mark.parametrize("channel_type", ["waha", "whatsapp", "telegram", "messenger", "instagram"])
def test_the_factory_builds_every_builtin_type(
    channel_factory: ChannelFactory, channel_type: str
) -> None:
    assert channel_factory(channel_type).channel_type == channel_type
