"""The offline demo: ``python -m ventros_channels.demo`` (or ``python3 scripts/dev.py demo``).

The library's main job end to end, against fake platforms at the HTTP layer: create a channel
per platform, activate them (WAHA prints its pairing QR code), receive signed webhooks through
the ASGI app (including a duplicate and a tampered delivery), hand normalized events with their
routing context to a handler that replies, send the replies back through each fake platform,
and print the metrics. Nothing touches the network.
"""

from __future__ import annotations

import asyncio
import json
import logging
from uuid import UUID

import httpx

from ventros_channels import (
    Channel,
    ChannelService,
    InMemoryEventPublisher,
    RoutingContext,
    WebhookDispatcher,
)
from ventros_channels.integrations.asgi import create_app
from ventros_channels.messaging import InboundEvent, MessageReceived, TextMessage
from ventros_channels.testing import InMemoryChannelRepository
from ventros_channels.testing.fakes import FakePlatforms
from ventros_channels.webhooks import WebhookRequest

TENANT = "acme"
PROJECT = UUID("5e1f0c1e-0000-4000-8000-00000000a11c")
PUBLIC_BASE = "https://crm.example.test"
TYPES = ("waha", "whatsapp", "telegram", "messenger", "instagram")


def show_qr(value: str) -> None:
    try:
        import segno  # noqa: PLC0415 - optional: the cli extra installs it
    except ImportError:
        print(f"    QR value: {value}")
        return
    segno.make(value, error="l").terminal(compact=True, border=1)


async def post(client: httpx.AsyncClient, channel: Channel, request: WebhookRequest) -> int:
    url = channel.webhook.url or ""
    response = await client.post(
        url.removeprefix(PUBLIC_BASE), content=request.body, headers=dict(request.headers)
    )
    return response.status_code


async def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="   [log] %(name)s: %(message)s")
    fakes = FakePlatforms()
    publisher = InMemoryEventPublisher()
    http = fakes.client()
    service = ChannelService(
        InMemoryChannelRepository(), http=http, publisher=publisher, public_base_url=PUBLIC_BASE
    )
    received: list[tuple[InboundEvent, RoutingContext]] = []

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        """The host's code: routing to a pipeline, storing the message and so on would go
        here. This one answers every message."""
        received.append((event, context))
        if isinstance(event, MessageReceived):
            who = event.sender_name or "there"
            reply = TextMessage(to=event.chat_id, text=f"Thanks {who}, got: {event.text}")
            await service.send(context.channel_id, reply, tenant_id=context.tenant_id)

    dispatcher = service.webhook_dispatcher(handler)  # wired to the service's changes and outbox
    channels = await create_channels(service, fakes)
    await activate(service, channels)
    transport = httpx.ASGITransport(app=create_app(dispatcher))
    async with dispatcher, httpx.AsyncClient(transport=transport, base_url="http://crm") as crm:
        await pair_waha(service, dispatcher, crm, fakes, channels["waha"])
        await deliver(crm, fakes, channels)
        await dispatcher.drain()
    show_events(received)
    show_replies(fakes)
    await show_metrics(service, dispatcher, publisher, channels)
    await http.aclose()


async def create_channels(service: ChannelService, fakes: FakePlatforms) -> dict[str, Channel]:
    print("1. Create one channel per platform (secrets never printed):")
    channels: dict[str, Channel] = {}
    for channel_type in TYPES:
        channel = await service.create_channel(
            tenant_id=TENANT,
            project_id=PROJECT,
            name=f"Support on {channel_type}",
            channel_type=channel_type,
            config=fakes.config(channel_type),
        )
        channels[channel_type] = channel
        print(f"   {channel!r}\n     webhook {channel.webhook.url}")
    return channels


async def activate(service: ChannelService, channels: dict[str, Channel]) -> None:
    print("\n2. Activate them:")
    for channel_type, channel in channels.items():
        result = await service.activate(channel.id, tenant_id=TENANT)
        print(f"   {channel_type:<10} -> {result.status.value}")
        if result.qr_code:
            print(
                f"   WAHA session {result.session_status}: scan within 60 s "
                f"(until {result.qr_code_expires_at:%H:%M:%S} UTC)"
            )
            show_qr(result.qr_code)


async def pair_waha(
    service: ChannelService,
    dispatcher: WebhookDispatcher,
    crm: httpx.AsyncClient,
    fakes: FakePlatforms,
    channel: Channel,
) -> None:
    print("\n3. The phone scans the QR code; WAHA reports WORKING by webhook:")
    status = await post(crm, channel, fakes.waha.pair())
    await dispatcher.drain()
    waha = await service.get_channel(channel.id, tenant_id=TENANT)
    print(
        f"   delivery answered {status}; channel is now {waha.status.value}, "
        f"session {waha.waha_session.status if waha.waha_session else None}"
    )


async def deliver(
    crm: httpx.AsyncClient, fakes: FakePlatforms, channels: dict[str, Channel]
) -> None:
    print("\n4. Customers write; signed deliveries go through the ASGI app:")
    deliveries = {
        "waha": fakes.waha.text_message(chat_id="15551234567@c.us", text="Is my order shipped?"),
        "whatsapp": fakes.graph.whatsapp_text(
            sender="16505551234", text="Hola! Do you ship to Madrid?"
        ),
        "telegram": fakes.telegram.text_update(chat_id=123456789, text="/start hello bot"),
        "messenger": fakes.graph.messenger_text(sender="6523981047755321", text="Olá, tudo bem?"),
        "instagram": fakes.graph.instagram_text(sender="1204938563371245", text="Still in stock?"),
    }
    for channel_type, request in deliveries.items():
        status = await post(crm, channels[channel_type], request)
        print(f"   {channel_type:<10} delivery -> {status}")
    duplicate = await post(crm, channels["telegram"], deliveries["telegram"])
    print(f"   telegram   same delivery again (a platform retry) -> {duplicate}, processed once")
    tampered = WebhookRequest(
        "POST",
        deliveries["whatsapp"].body.replace(b"Madrid", b"Moscow"),
        deliveries["whatsapp"].headers,
    )
    print(f"   whatsapp   tampered body -> {await post(crm, channels['whatsapp'], tampered)}")


def show_events(received: list[tuple[InboundEvent, RoutingContext]]) -> None:
    print("\n5. The handler got normalized events with their routing context:")
    for event, context in received:
        line = {
            "kind": event.kind,
            "channel": event.channel_type,
            "chat_id": event.chat_id,
            "sender": getattr(event, "sender_name", None) or event.sender_id,
            "text": getattr(event, "text", None) or getattr(event, "status", None),
            "pipeline": "project default"
            if context.uses_project_default_pipeline
            else str(context.pipeline_id),
        }
        print(f"   {json.dumps(line, ensure_ascii=False)}")


def show_replies(fakes: FakePlatforms) -> None:
    print("\n6. Replies the fake platforms received:")
    for sent in fakes.sent:
        text = sent.body.get("text")
        if isinstance(text, dict):
            text = text.get("body")
        if text is None:
            text = (sent.body.get("message") or {}).get("text")
        print(f"   {sent.platform:<10} to {sent.chat_id:<22} {text}")


async def show_metrics(
    service: ChannelService,
    dispatcher: WebhookDispatcher,
    publisher: InMemoryEventPublisher,
    channels: dict[str, Channel],
) -> None:
    print("\n7. Metrics:")
    for channel_type, channel in channels.items():
        report = await service.report(channel.id, tenant_id=TENANT)
        webhook_rate = (
            f"{report.webhook_success_rate:.0%}" if report.webhook_success_rate is not None else "-"
        )
        print(
            f"   {channel_type:<10} status={report.status.value:<8} "
            f"received={report.messages_received} sent={report.messages_sent} "
            f"errors={report.errors} webhooks ok={webhook_rate}"
        )
    stats = dispatcher.stats
    print(
        f"   dispatcher: deliveries={stats.deliveries} events={stats.accepted_events} "
        f"duplicates={stats.duplicates} bad signatures={stats.rejected_signature}"
    )
    print(
        f"   domain events published: {len(publisher.events)} "
        f"({', '.join(sorted(set(publisher.types())))})"
    )


if __name__ == "__main__":
    asyncio.run(main())
