"""The channel report: every metric computed from what the library observes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from ventros_channels import ChannelStatus, RoutingContext
from ventros_channels.messaging import InboundEvent
from ventros_channels.messaging.outbound import TextMessage
from ventros_channels.services import ChannelService, WebhookDispatcher
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.fakes import FakePlatforms
from ventros_channels.webhooks import WebhookRequest

TENANT = "tenant-a"


class SteppingTimer:
    """A monotonic clock that moves 0.25 s between readings (a send takes 250 ms)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[tuple[FakePlatforms, httpx.AsyncClient, FixedClock]]:
    clock = FixedClock()
    fakes = FakePlatforms(clock=clock.now)
    async with fakes.client() as client:
        yield fakes, client, clock


async def ignore(event: InboundEvent, context: RoutingContext) -> None:
    return None


async def test_the_report_computes_every_observable_metric(
    http: tuple[FakePlatforms, httpx.AsyncClient, FixedClock],
) -> None:
    fakes, client, clock = http
    repo = InMemoryChannelRepository(clock=clock)
    service = ChannelService(
        repo,
        http=client,
        clock=clock,
        public_base_url="https://crm.example.test",
        timer=SteppingTimer(),
    )
    dispatcher = WebhookDispatcher(repo, ignore, clock=clock)
    await dispatcher.start()
    channel = await service.create_channel(
        tenant_id=TENANT,
        project_id="00000000-0000-4000-8000-0000000000aa",
        name="Bot",
        channel_type="telegram",
        config=fakes.config("telegram"),
    )
    await service.activate(channel.id, tenant_id=TENANT)

    for text in ("one", "two"):
        await service.send(channel.id, TextMessage(to="42", text=text), tenant_id=TENANT)
    accepted = fakes.telegram.text_update(chat_id=42, text="hi")
    assert (await dispatcher.handle("telegram", channel.id, accepted)).status == 200
    forged = WebhookRequest("POST", accepted.body, {"X-Telegram-Bot-Api-Secret-Token": "wrong"})
    assert (await dispatcher.handle("telegram", channel.id, forged)).status == 401
    headers = dict(accepted.headers)
    malformed = WebhookRequest("POST", b"not json", headers)
    assert (await dispatcher.handle("telegram", channel.id, malformed)).status == 400
    await dispatcher.drain()
    await dispatcher.stop()  # writes the counters it batched

    clock.advance(seconds=30 * 60)
    stored = await repo.get(channel.id, tenant_id=TENANT)
    stored.mark_disconnected("platform down")
    await repo.save(stored)
    clock.advance(seconds=10 * 60)
    await service.test_connection(channel.id, tenant_id=TENANT)  # reachable again: active
    clock.advance(seconds=60 * 60)

    report = await service.report(channel.id, tenant_id=TENANT)
    assert report.status is ChannelStatus.ACTIVE
    assert (report.messages_sent, report.messages_received, report.errors) == (2, 1, 1)
    assert report.average_response_time_ms == 250.0
    assert report.webhook_success_rate == pytest.approx(1 / 3)
    assert report.error_rate == pytest.approx(1000 / 3)
    assert report.delivery_rate == 0.0  # Telegram sends no delivery receipts to bots
    assert report.uptime_percentage == pytest.approx(90.0)
    assert report.sessions_created is None
    assert report.active_sessions is None
    assert report.not_observed == ("sessions_created", "active_sessions")


async def test_a_channel_never_used_reports_nothing_to_compute(
    http: tuple[FakePlatforms, httpx.AsyncClient, FixedClock],
) -> None:
    fakes, client, clock = http
    repo = InMemoryChannelRepository(clock=clock)
    service = ChannelService(repo, http=client, clock=clock)
    channel = await service.create_channel(
        tenant_id=TENANT,
        project_id="00000000-0000-4000-8000-0000000000aa",
        name="Bot",
        channel_type="telegram",
        config=fakes.config("telegram"),
    )
    clock.advance(seconds=timedelta(hours=1).seconds)
    report = await service.report(channel.id, tenant_id=TENANT)
    assert report.average_response_time_ms is None
    assert report.uptime_percentage is None
    assert report.delivery_rate is None
    assert report.webhook_success_rate is None
    assert report.error_rate == 0.0
