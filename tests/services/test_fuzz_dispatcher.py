"""Hostile signed bodies through the whole dispatcher: never a server error.

Every built-in platform and the example plug-in get mutated copies of their own sample
payloads (the adapter kit's ``hostile_bodies``), signed with the channel's secret at the time
the body claims, and posted through ``WebhookDispatcher.handle``. A 5xx would make the
platform retry the same poison delivery for days; the handler also serializes every event it
is given, so an unserializable event would surface here as a failed (500) delivery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from ventros_webchat import WebchatAdapter

from ventros_channels import Channel, RoutingContext
from ventros_channels.adapters import AdapterRegistry, ChannelAdapter
from ventros_channels.adapters.instagram import InstagramAdapter
from ventros_channels.adapters.messenger import MessengerAdapter
from ventros_channels.adapters.telegram import TelegramAdapter
from ventros_channels.adapters.waha import WAHAAdapter
from ventros_channels.adapters.whatsapp_cloud import WhatsAppCloudAdapter
from ventros_channels.messaging import InboundEvent
from ventros_channels.services import HandlerRetry, IntakeSettings, WebhookDispatcher
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.contract import FUZZ_PROFILE, hostile_bodies
from ventros_channels.testing.factories import SAMPLE_CONFIGS, ChannelFactory
from ventros_channels.webhooks import WebhookRequest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
WEBCHAT_PAYLOADS = ROOT / "examples" / "webchat-adapter" / "tests" / "payloads"
pytestmark = pytest.mark.slow  # fuzzing: seconds per platform
EXAMPLES = 500
"""Per platform; the adapter kit runs a thousand more per adapter without the dispatcher."""


def make_dispatcher(
    repository: InMemoryChannelRepository,
    handler: Any,
    *,
    registry: AdapterRegistry,
    clock: FixedClock,
) -> WebhookDispatcher:
    """The one place this module builds a dispatcher (callers start it on their loop)."""
    return WebhookDispatcher(
        repository,
        handler,
        registry=registry,
        clock=clock,
        settings=IntakeSettings(cache_ttl=timedelta(0)),
        retry=HandlerRetry(max_attempts=1),
    )


PLATFORMS: dict[str, tuple[type[ChannelAdapter[Any]], str]] = {
    "waha": (WAHAAdapter, "waha"),
    "whatsapp": (WhatsAppCloudAdapter, "whatsapp_cloud"),
    "telegram": (TelegramAdapter, "telegram"),
    "messenger": (MessengerAdapter, "messenger"),
    "instagram": (InstagramAdapter, "instagram"),
    "webchat": (WebchatAdapter, ""),
}
WEBCHAT_CONFIG = {
    "site_id": "site-42",
    "base_url": "https://chat.example.test",
    "api_key": "test-webchat-api-key",
    "signing_secret": "test-webchat-signing-secret",
}


def samples(channel_type: str) -> list[bytes]:
    folder = PLATFORMS[channel_type][1]
    paths = (
        sorted(WEBCHAT_PAYLOADS.glob("*.json"))
        if channel_type == "webchat"
        else [
            p for p in sorted((FIXTURES / folder).glob("*.json")) if not p.name.startswith("api_")
        ]
    )
    return [p.read_bytes() for p in paths]


async def serialize_everything(event: InboundEvent, context: RoutingContext) -> None:
    event.model_dump_json()
    event.to_json_dict()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.mark.parametrize("channel_type", list(PLATFORMS))
def test_hostile_signed_bodies_never_get_a_server_error(
    channel_type: str, loop: asyncio.AbstractEventLoop
) -> None:
    adapter_class = PLATFORMS[channel_type][0]
    adapter = adapter_class()
    registry = AdapterRegistry(group="ventros_channels.tests.none")
    registry.register(adapter)
    clock = FixedClock(datetime(2026, 1, 1, 12, tzinfo=UTC))
    repo = InMemoryChannelRepository(clock=clock)
    config = WEBCHAT_CONFIG if channel_type == "webchat" else SAMPLE_CONFIGS[channel_type]
    channel: Channel = ChannelFactory(clock)(channel_type, active=True, config=config)
    loop.run_until_complete(repo.save(channel))
    dispatcher = make_dispatcher(repo, serialize_everything, registry=registry, clock=clock)
    loop.run_until_complete(dispatcher.start())
    secret = channel.config.webhook_secret()
    assert secret is not None
    statuses: dict[int, int] = {}

    @settings(settings.get_profile(FUZZ_PROFILE), max_examples=EXAMPLES)
    @given(body=hostile_bodies(samples(channel_type)))
    def check(body: bytes) -> None:
        now = adapter.signed_time(body) or datetime(2026, 1, 1, 12, tzinfo=UTC)
        clock.set(now)
        headers = adapter.sign(body, secret.get_secret_value(), now=now)
        answer = loop.run_until_complete(
            dispatcher.handle(channel_type, channel.id, WebhookRequest("POST", body, headers))
        )
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        assert answer.status < 500, (answer.status, answer.body)

    check()
    loop.run_until_complete(dispatcher.drain())
    loop.run_until_complete(dispatcher.stop())
    assert statuses.get(200, 0) > 0, f"no mutated delivery was accepted at all: {statuses}"
    assert dispatcher.worker is not None
    assert dispatcher.worker.stats.failures == 0, "an accepted event could not be handled"


@pytest.mark.parametrize("header", ["rewritten", "missing"])
def test_a_replayed_waha_delivery_is_refused_with_401(
    header: str, loop: asyncio.AbstractEventLoop
) -> None:
    """A captured delivery posted again hours later, with the unsigned timestamp header made
    fresh or dropped: the signed envelope time gives it away."""
    registry = AdapterRegistry(group="ventros_channels.tests.none")
    registry.register(WAHAAdapter())
    body = (FIXTURES / "waha" / "message_text_dm.json").read_bytes()
    signed_at = datetime.fromtimestamp(1767225600.123, UTC)  # the envelope's timestamp
    clock = FixedClock(signed_at)
    repo = InMemoryChannelRepository(clock=clock)
    channel = ChannelFactory(clock)("waha", active=True)
    loop.run_until_complete(repo.save(channel))
    seen: list[InboundEvent] = []

    async def record(event: InboundEvent, context: RoutingContext) -> None:
        seen.append(event)

    dispatcher = make_dispatcher(repo, record, registry=registry, clock=clock)
    loop.run_until_complete(dispatcher.start())
    key = SAMPLE_CONFIGS["waha"]["webhook_hmac_key"]
    captured = WAHAAdapter().sign(body, key, now=signed_at)
    first = loop.run_until_complete(
        dispatcher.handle("waha", channel.id, WebhookRequest("POST", body, captured))
    )
    assert first.status == 200
    loop.run_until_complete(dispatcher.drain())
    assert len(seen) == 1

    clock.set(signed_at + timedelta(hours=3))
    replay = {k: v for k, v in captured.items() if k != "X-Webhook-Timestamp"}
    if header == "rewritten":
        replay["X-Webhook-Timestamp"] = str(int(clock.now().timestamp() * 1000))
    dispatcher.invalidate(channel.id)
    answer = loop.run_until_complete(
        dispatcher.handle("waha", channel.id, WebhookRequest("POST", body, replay))
    )
    loop.run_until_complete(dispatcher.stop())
    assert answer.status == 401
    assert len(seen) == 1
    assert dispatcher.stats.rejected_signature == 1
