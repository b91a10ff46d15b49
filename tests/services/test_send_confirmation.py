"""An uncertain send is confirmed by the platform's own status webhook (WhatsApp Cloud echoes
the send's key as ``biz_opaque_callback_data``), after which a repeat is answered from the
outbox instead of sending twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ventros_channels import RoutingContext
from ventros_channels.adapters import AdapterRegistry
from ventros_channels.adapters.whatsapp_cloud import WhatsAppCloudAdapter
from ventros_channels.errors import DeliveryUncertainError
from ventros_channels.messaging import InboundEvent, StatusChanged, TextMessage
from ventros_channels.outbox import SendState
from ventros_channels.services import ChannelService, WebhookDispatcher
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.factories import SAMPLE_CONFIGS, ChannelFactory
from ventros_channels.webhooks import WebhookRequest

STATUS = Path(__file__).resolve().parents[1] / "fixtures/whatsapp_cloud/status_sent.json"


async def test_a_status_webhook_confirms_an_uncertain_send() -> None:
    clock = FixedClock(datetime.fromtimestamp(1767225841, UTC))
    repo = InMemoryChannelRepository(clock=clock)
    registry = AdapterRegistry(group="ventros_channels.tests.none")
    registry.register(WhatsAppCloudAdapter)
    bodies: list[dict[str, object]] = []

    def platform(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(502, json={"error": {"message": "upstream timed out"}})

    http = httpx.AsyncClient(transport=httpx.MockTransport(platform))
    service = ChannelService(repo, http=http, registry=registry, clock=clock)
    channel = ChannelFactory(clock)("whatsapp", active=True)
    await repo.save(channel)
    message = TextMessage(to="16505551234", text="Your order shipped")

    with pytest.raises(DeliveryUncertainError):
        await service.send(channel.id, message, tenant_id=channel.tenant_id, idempotency_key="k-1")
    assert bodies[0]["biz_opaque_callback_data"] == "k-1"

    seen: list[InboundEvent] = []

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        seen.append(event)

    body = STATUS.read_bytes().replace(b"order-4471", b"k-1")
    secret = str(SAMPLE_CONFIGS["whatsapp"]["app_secret"])
    headers = WhatsAppCloudAdapter().sign(body, secret)
    outbox = service.sender.outbox
    async with WebhookDispatcher(
        repo, handler, registry=registry, clock=clock, outbox=outbox
    ) as dispatcher:
        answer = await dispatcher.handle(
            "whatsapp", channel.id, WebhookRequest("POST", body, headers)
        )
        await dispatcher.drain()
    assert answer.status == 200
    (status,) = seen
    assert isinstance(status, StatusChanged)
    assert status.correlation_id == "k-1"
    record = await outbox.get(channel.id, "k-1")
    assert record is not None
    assert record.state is SendState.SENT
    assert record.message_id == status.message_id

    again = await service.send(
        channel.id, message, tenant_id=channel.tenant_id, idempotency_key="k-1"
    )
    assert again.replayed
    assert again.message_id == status.message_id
    assert len(bodies) == 1, "the confirmed send was not made again"
