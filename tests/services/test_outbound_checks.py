"""Sends over a platform limit are refused by the service before any request."""

from __future__ import annotations

from typing import ClassVar

import httpx
import pytest
from ventros_webchat import WebchatAdapter

from ventros_channels import Channel
from ventros_channels.adapters import AdapterRegistry
from ventros_channels.errors import InvalidRequestError, MessageLimitError
from ventros_channels.messaging import OutboundLimits, TextMessage
from ventros_channels.outbox import SendState
from ventros_channels.services import ChannelService

from .conftest import TENANT


class LimitedWebchat(WebchatAdapter):
    outbound_limits: ClassVar[OutboundLimits] = OutboundLimits(text_max=10)


@pytest.fixture
def registry() -> AdapterRegistry:
    registry = AdapterRegistry(group="ventros_channels.tests.none")
    registry.register(LimitedWebchat)
    return registry


async def test_a_text_over_the_limit_is_refused_before_any_request(
    service: ChannelService, active_channel: Channel, platform_calls: list[httpx.Request]
) -> None:
    before = len(platform_calls)
    with pytest.raises(MessageLimitError) as caught:
        await service.send(
            active_channel.id, TextMessage(to="conv-1", text="x" * 11), tenant_id=TENANT
        )
    err = caught.value
    assert (err.limit, err.field, err.allowed, err.actual) == ("text_max", "text", 10, 11)
    assert isinstance(err, InvalidRequestError)
    assert err.platform == "webchat"
    assert "xxxxxxxxxxx" not in str(err)  # sizes only, never the content
    assert len(platform_calls) == before


async def test_a_refused_send_is_recorded_failed_and_not_repeated(
    service: ChannelService,
    active_channel: Channel,
    platform_calls: list[httpx.Request],
) -> None:
    outbox = service.sender.outbox
    long = TextMessage(to="conv-1", text="x" * 11)
    with pytest.raises(MessageLimitError):
        await service.send(active_channel.id, long, tenant_id=TENANT, idempotency_key="k")
    record = await outbox.get(active_channel.id, "k")
    assert record is not None
    assert (record.state, record.error_type) == (SendState.FAILED, "MessageLimitError")
    before = len(platform_calls)
    ok = await service.send(
        active_channel.id, TextMessage(to="conv-1", text="short"), tenant_id=TENANT
    )
    assert ok.message_id is not None
    assert len(platform_calls) == before + 1


async def test_a_queued_send_over_the_limit_is_refused_instead_of_queued(
    service: ChannelService, active_channel: Channel
) -> None:
    outbox = service.sender.outbox
    with pytest.raises(MessageLimitError):
        await service.send(
            active_channel.id,
            TextMessage(to="conv-1", text="x" * 11),
            tenant_id=TENANT,
            idempotency_key="q",
            queued=True,
        )
    assert await outbox.get(active_channel.id, "q") is None
