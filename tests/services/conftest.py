"""Shared fixtures: an in-memory world with the example web chat plug-in as the platform."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from ventros_webchat import WebchatAdapter

from ventros_channels import Channel, RoutingContext
from ventros_channels.adapters import AdapterRegistry
from ventros_channels.messaging import InboundEvent
from ventros_channels.publisher import InMemoryEventPublisher
from ventros_channels.services import (
    ChannelService,
    HandlerRetry,
    IntakeSettings,
    WebhookDispatcher,
)
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.webhooks import WebhookRequest

TENANT = "tenant-a"
PROJECT = "00000000-0000-4000-8000-0000000000aa"
SECRET = "test-signing-secret"
FAST_RETRY = HandlerRetry(max_attempts=3, base_delay=timedelta(milliseconds=1), jitter=0)
"""Retries within milliseconds, so tests that fail a handler do not wait."""


def webchat_config(site: str = "site-42", secret: str | None = SECRET) -> dict[str, Any]:
    config: dict[str, Any] = {
        "site_id": site,
        "base_url": "https://chat.example.test",
        "api_key": "test-api-key",
    }
    if secret is not None:
        config["signing_secret"] = secret
    return config


def delivery(msg_id: str, site: str = "site-42", text: str = "hi") -> bytes:
    return json.dumps(
        {
            "site_id": site,
            "events": [
                {
                    "id": msg_id,
                    "type": "message",
                    "conversation_id": "conv-1",
                    "sender": {"id": "visitor-1", "name": "Ana"},
                    "text": text,
                    "sent_at": "2026-01-01T11:59:00+00:00",
                }
            ],
        }
    ).encode()


class Recorder:
    """An EventHandler that records what it got and can be told to fail."""

    def __init__(self) -> None:
        self.seen: list[tuple[InboundEvent, RoutingContext]] = []
        self.failures_left = 0

    async def __call__(self, event: InboundEvent, context: RoutingContext) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("host handler failed")
        self.seen.append((event, context))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def repo(clock: FixedClock) -> InMemoryChannelRepository:
    return InMemoryChannelRepository(clock=clock)


@pytest.fixture
def registry() -> AdapterRegistry:
    registry = AdapterRegistry(group="ventros_channels.tests.none")
    registry.register(WebchatAdapter)
    return registry


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def platform_calls() -> list[httpx.Request]:
    return []


@pytest.fixture
def http(platform_calls: list[httpx.Request]) -> httpx.AsyncClient:
    def fake_platform(request: httpx.Request) -> httpx.Response:
        platform_calls.append(request)
        if request.url.path.startswith("/v1/sites/"):
            return httpx.Response(200, json={"name": "Example site"})
        if request.url.path.endswith("/messages"):
            body = json.loads(request.content)
            if body["text"] == "please fail":
                return httpx.Response(429, headers={"Retry-After": "3600"})
            return httpx.Response(201, json={"id": f"out-{len(platform_calls)}"})
        return httpx.Response(404)

    return httpx.AsyncClient(transport=httpx.MockTransport(fake_platform))


@pytest.fixture
def publisher() -> InMemoryEventPublisher:
    return InMemoryEventPublisher()


@pytest.fixture
def service(
    repo: InMemoryChannelRepository,
    http: httpx.AsyncClient,
    registry: AdapterRegistry,
    publisher: InMemoryEventPublisher,
    clock: FixedClock,
) -> ChannelService:
    return ChannelService(
        repo,
        http=http,
        registry=registry,
        publisher=publisher,
        clock=clock,
        public_base_url="https://crm.example.test",
    )


@pytest.fixture
async def active_channel(service: ChannelService) -> Channel:
    channel = await service.create_channel(
        tenant_id=TENANT,
        project_id=PROJECT,
        name="Site chat",
        channel_type="webchat",
        config=webchat_config(),
    )
    await service.activate(channel.id, tenant_id=TENANT)
    return await service.get_channel(channel.id, tenant_id=TENANT)


@pytest.fixture
async def dispatcher(
    repo: InMemoryChannelRepository,
    recorder: Recorder,
    registry: AdapterRegistry,
    clock: FixedClock,
) -> AsyncIterator[WebhookDispatcher]:
    d = WebhookDispatcher(
        repo,
        recorder,
        registry=registry,
        clock=clock,
        settings=IntakeSettings(cache_ttl=timedelta(0)),
        retry=FAST_RETRY,
    )
    async with d:
        yield d


@pytest.fixture
def signed(clock: FixedClock) -> Callable[..., WebhookRequest]:
    def make(body: bytes, secret: str = SECRET) -> WebhookRequest:
        headers = WebchatAdapter().sign(body, secret, now=clock.now())
        return WebhookRequest("POST", body, headers)

    return make
