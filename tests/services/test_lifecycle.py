"""The channel lifecycle end to end against the fake platforms: platform webhooks and service
calls only, with the platform kept in step (sessions stopped, webhooks removed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from ventros_channels import (
    Channel,
    ChannelStatus,
    InvalidRequestError,
    PlatformSyncError,
    RoutingContext,
    WAHASessionStatus,
)
from ventros_channels.messaging import InboundEvent, MessageReceived, SessionStatusChanged
from ventros_channels.messaging.outbound import TextMessage
from ventros_channels.services import (
    ChannelService,
    EventHandler,
    IntakeSettings,
    WebhookDispatcher,
)
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.fakes import FakePlatforms

TENANT = "tenant-a"
PROJECT = "00000000-0000-4000-8000-0000000000aa"
BASE = "https://crm.example.test"

SessionHook = Callable[[Channel, SessionStatusChanged], Awaitable[None]]


def make_dispatcher(
    repo: InMemoryChannelRepository,
    service: ChannelService,
    clock: FixedClock,
    handler: EventHandler,
) -> tuple[WebhookDispatcher, SessionHook]:
    """The one place these tests build a dispatcher (uncached; start it) and its session hook.

    WAHA ``session.status`` deliveries go through the service's ready hook (its
    ``apply_session_status`` use case); the service tells the dispatcher about every change.
    """

    dispatcher = WebhookDispatcher(
        repo,
        handler,
        clock=clock,
        settings=IntakeSettings(cache_ttl=timedelta(0)),
        session_status_hook=service.on_session_status,
    )
    service.on_change = dispatcher.on_channel_changed
    return dispatcher, service.on_session_status


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def fakes(clock: FixedClock) -> FakePlatforms:
    return FakePlatforms(clock=clock.now)


@pytest.fixture
def repo(clock: FixedClock) -> InMemoryChannelRepository:
    return InMemoryChannelRepository(clock=clock)


@pytest.fixture
async def http(fakes: FakePlatforms) -> AsyncIterator[httpx.AsyncClient]:
    async with fakes.client() as client:
        yield client


def service_for(
    repo: InMemoryChannelRepository, http: httpx.AsyncClient, clock: FixedClock, **kw: Any
) -> ChannelService:
    return ChannelService(repo, http=http, clock=clock, public_base_url=BASE, **kw)


@pytest.fixture
def service(
    repo: InMemoryChannelRepository, http: httpx.AsyncClient, clock: FixedClock
) -> ChannelService:
    return service_for(repo, http, clock)


async def create(service: ChannelService, fakes: FakePlatforms, channel_type: str) -> UUID:
    channel = await service.create_channel(
        tenant_id=TENANT,
        project_id=PROJECT,
        name=channel_type,
        channel_type=channel_type,
        config=fakes.config(channel_type),
    )
    return channel.id


async def status(service: ChannelService, channel_id: UUID) -> ChannelStatus:
    return (await service.get_channel(channel_id, tenant_id=TENANT)).status


async def test_a_waha_channel_lives_through_failure_and_reactivation(
    repo: InMemoryChannelRepository,
    service: ChannelService,
    fakes: FakePlatforms,
    clock: FixedClock,
) -> None:
    seen: list[InboundEvent] = []

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        seen.append(event)

    dispatcher, _ = make_dispatcher(repo, service, clock, handler)
    await dispatcher.start()
    waha = fakes.waha

    async def deliver(request: Any) -> int:
        answer = await dispatcher.handle("waha", channel_id, request)
        await dispatcher.drain()
        return answer.status

    # created: a WAHA channel starts connecting, its webhook URL and HMAC key ready
    channel_id = await create(service, fakes, "waha")
    assert await status(service, channel_id) is ChannelStatus.CONNECTING

    # activation: the session is created with our webhook and started; a QR code to scan
    started = await service.activate(channel_id, tenant_id=TENANT)
    assert started.needs_qr_scan
    assert started.session_status is WAHASessionStatus.SCAN_QR_CODE
    assert started.qr_code_expires_at == clock.now() + timedelta(seconds=60)
    assert waha.webhook_url() == f"{BASE}/webhooks/waha/{channel_id}"
    assert await status(service, channel_id) is ChannelStatus.CONNECTING

    # the user scans: WAHA reports WORKING by webhook
    assert await deliver(waha.pair()) == 200
    paired = await service.get_channel(channel_id, tenant_id=TENANT)
    assert paired.status is ChannelStatus.ACTIVE
    assert paired.qr_code is None

    # the session fails: WAHA says so, the channel is in error
    clock.advance(seconds=30)
    assert await deliver(waha.session_status(status="FAILED")) == 200
    assert await status(service, channel_id) is ChannelStatus.ERROR

    # the session works again: WAHA's own delivery brings the channel back
    clock.advance(seconds=30)
    working = waha.session_status(status="WORKING")
    assert await deliver(working) == 200  # taken although the channel is in error
    assert await status(service, channel_id) is ChannelStatus.ACTIVE

    # a message is served while active
    assert await deliver(waha.text_message(chat_id="15550002222@c.us", text="hi")) == 200
    assert [type(e) for e in seen if isinstance(e, MessageReceived)] == [MessageReceived]

    # deactivation stops the session at WAHA; deliveries are refused at once
    deactivated = await service.deactivate(channel_id, tenant_id=TENANT)
    assert deactivated.status is ChannelStatus.INACTIVE
    assert waha.sessions["default"]["status"] == "STOPPED"
    assert not deactivated.webhook.active
    late = waha.text_message(chat_id="15550002222@c.us", text="late")
    assert await deliver(late) == 403

    # reactivation: the stopped session keeps its pairing, so no QR code this time
    again = await service.activate(channel_id, tenant_id=TENANT)
    assert not again.needs_qr_scan
    assert again.status is ChannelStatus.ACTIVE
    assert waha.sessions["default"]["status"] == "WORKING"
    reactivated = await service.get_channel(channel_id, tenant_id=TENANT)
    assert reactivated.webhook.active
    assert reactivated.uptime() is not None
    await dispatcher.stop()


def waha_event(body: bytes, channel: Channel) -> SessionStatusChanged:
    from ventros_channels.adapters.waha import WAHAAdapter

    events = WAHAAdapter().parse(body, channel.config)  # type: ignore[arg-type]
    assert isinstance(events[0], SessionStatusChanged)
    return events[0]


async def test_deactivation_is_idempotent_and_can_log_out(
    repo: InMemoryChannelRepository,
    http: httpx.AsyncClient,
    fakes: FakePlatforms,
    clock: FixedClock,
) -> None:
    service = service_for(repo, http, clock, session_stop="logout")
    channel_id = await create(service, fakes, "waha")
    await service.activate(channel_id, tenant_id=TENANT)
    fakes.waha.paired.add("default")
    await service.apply_session_status(channel_id, tenant_id=TENANT, status="WORKING")
    await service.deactivate(channel_id, tenant_id=TENANT)
    assert "default" not in fakes.waha.paired  # logged out: a new QR scan will be needed
    calls = len(fakes.waha.requests)
    second = await service.deactivate(channel_id, tenant_id=TENANT)
    assert second.status is ChannelStatus.INACTIVE
    assert len(fakes.waha.requests) == calls  # nothing left to do at the platform


async def test_a_failed_session_stop_is_reported_and_retried(
    service: ChannelService, fakes: FakePlatforms
) -> None:
    channel_id = await create(service, fakes, "waha")
    await service.activate(channel_id, tenant_id=TENANT)
    fakes.waha.pair()  # scanned: WAHA's session works (its delivery is applied below)
    await service.apply_session_status(channel_id, tenant_id=TENANT, status="WORKING")
    fakes.waha.fail_next("/stop", status=400)
    with pytest.raises(PlatformSyncError) as caught:
        await service.deactivate(channel_id, tenant_id=TENANT)
    assert isinstance(caught.value.cause, InvalidRequestError)
    assert caught.value.operation == "deactivation"
    stuck = await service.get_channel(channel_id, tenant_id=TENANT)
    assert stuck.status is ChannelStatus.INACTIVE  # no delivery is served any more
    assert stuck.webhook.active  # and the channel says the platform still delivers
    assert "deactivation" in (stuck.metrics.last_error or "")
    assert fakes.waha.sessions["default"]["status"] == "WORKING"
    done = await service.deactivate(channel_id, tenant_id=TENANT)
    assert fakes.waha.sessions["default"]["status"] == "STOPPED"
    assert not done.webhook.active


async def test_telegram_webhook_follows_deactivation_and_reconfiguration(
    service: ChannelService, fakes: FakePlatforms
) -> None:
    channel_id = await create(service, fakes, "telegram")
    await service.activate(channel_id, tenant_id=TENANT)
    assert fakes.telegram.webhook_url == f"{BASE}/webhooks/telegram/{channel_id}"
    await service.deactivate(channel_id, tenant_id=TENANT)
    assert fakes.telegram.webhook_url is None  # deleteWebhook
    await service.activate(channel_id, tenant_id=TENANT)
    moved = "https://hooks.example.test/telegram"
    await service.configure_webhook(channel_id, tenant_id=TENANT, url=moved)
    assert fakes.telegram.webhook_url == moved


async def test_a_refused_webhook_registration_is_recorded_as_not_active(
    service: ChannelService, fakes: FakePlatforms
) -> None:
    channel_id = await create(service, fakes, "waha")
    await service.activate(channel_id, tenant_id=TENANT)
    fakes.waha.fail_next("/api/sessions/default", status=400)
    with pytest.raises(PlatformSyncError):
        await service.configure_webhook(
            channel_id, tenant_id=TENANT, url="https://hooks.example.test/waha"
        )
    channel = await service.get_channel(channel_id, tenant_id=TENANT)
    assert channel.webhook.url == "https://hooks.example.test/waha"
    assert not channel.webhook.active  # WAHA still posts to the old URL, not to this one


async def test_delete_cleans_up_the_platform_or_refuses(
    service: ChannelService, fakes: FakePlatforms
) -> None:
    channel_id = await create(service, fakes, "waha")
    await service.activate(channel_id, tenant_id=TENANT)
    await service.apply_session_status(channel_id, tenant_id=TENANT, status="WORKING")
    fakes.waha.fail_next("/api/sessions/default", status=400)
    with pytest.raises(PlatformSyncError):
        await service.delete(channel_id, tenant_id=TENANT)
    assert not (await service.get_channel(channel_id, tenant_id=TENANT)).is_deleted
    deleted = await service.delete(channel_id, tenant_id=TENANT)
    assert deleted.is_deleted
    assert fakes.waha.webhook_url() is None
    assert fakes.waha.sessions["default"]["status"] == "STOPPED"
    assert (await service.delete(channel_id, tenant_id=TENANT)).is_deleted  # idempotent


async def test_the_qr_code_lifetime_is_a_setting_and_survives_a_failed_refresh(
    repo: InMemoryChannelRepository,
    http: httpx.AsyncClient,
    fakes: FakePlatforms,
    clock: FixedClock,
) -> None:
    service = service_for(repo, http, clock, qr_code_ttl=timedelta(seconds=20))
    channel_id = await create(service, fakes, "waha")
    first = await service.activate(channel_id, tenant_id=TENANT)
    assert first.qr_code_expires_at == clock.now() + timedelta(seconds=20)
    clock.advance(seconds=5)
    fakes.waha.fail_next("/auth/qr", status=400)
    with pytest.raises(InvalidRequestError):
        await service.refresh_session(channel_id, tenant_id=TENANT)
    kept = await service.get_channel(channel_id, tenant_id=TENANT)
    assert kept.qr_code == first.qr_code  # still valid: the new one never came
    fresh = await service.refresh_session(channel_id, tenant_id=TENANT)
    assert fresh.qr_code is not None
    assert fresh.qr_code != first.qr_code


@pytest.mark.parametrize("fall", ["mark_error", "mark_disconnected"])
async def test_a_successful_send_or_test_brings_a_channel_back(
    service: ChannelService, repo: InMemoryChannelRepository, fakes: FakePlatforms, fall: str
) -> None:
    channel_id = await create(service, fakes, "telegram")
    await service.activate(channel_id, tenant_id=TENANT)
    for recover in ("send", "test"):
        channel = await repo.get(channel_id, tenant_id=TENANT)
        getattr(channel, fall)("platform trouble")
        await repo.save(channel)
        if recover == "send":
            await service.send(channel_id, TextMessage(to="42", text="hi"), tenant_id=TENANT)
        else:
            await service.test_connection(channel_id, tenant_id=TENANT)
        assert await status(service, channel_id) is ChannelStatus.ACTIVE


async def test_the_session_hook_drops_what_it_cannot_apply(
    service: ChannelService, fakes: FakePlatforms, caplog: pytest.LogCaptureFixture
) -> None:
    channel_id = await create(service, fakes, "waha")
    channel = await service.get_channel(channel_id, tenant_id=TENANT)
    event = waha_event(fakes.waha.session_status(status="HIBERNATING").body, channel)
    await service.on_session_status(channel, event)
    after = await service.get_channel(channel_id, tenant_id=TENANT)
    assert after.to_snapshot() == channel.to_snapshot()
    assert "HIBERNATING" in caplog.text


async def test_a_health_check_leaves_a_never_started_session_alone(
    service: ChannelService, fakes: FakePlatforms
) -> None:
    channel_id = await create(service, fakes, "waha")
    assert await service.refresh_status(channel_id, tenant_id=TENANT) is ChannelStatus.CONNECTING
    assert fakes.waha.requests == []


async def test_a_failed_session_is_restarted_when_the_channel_asks_for_it(
    repo: InMemoryChannelRepository,
    service: ChannelService,
    fakes: FakePlatforms,
    clock: FixedClock,
) -> None:
    """A FAILED ``session.status`` through the dispatcher's default hook: the status is saved,
    then the service restarts the session (WAHA's restart endpoint) because the channel's
    config enables ``auto_restart``; without it nothing is restarted."""

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        return None

    dispatcher, _ = make_dispatcher(repo, service, clock, handler)
    await dispatcher.start()
    restart = {"enabled": True, "first_delay": timedelta(milliseconds=1)}
    on = await service.create_channel(
        tenant_id=TENANT,
        project_id=PROJECT,
        name="restarting",
        channel_type="waha",
        config={**fakes.config("waha"), "auto_restart": restart},
    )
    await service.activate(on.id, tenant_id=TENANT)
    await dispatcher.handle("waha", on.id, fakes.waha.pair())
    await dispatcher.drain()
    assert await status(service, on.id) is ChannelStatus.ACTIVE

    await dispatcher.handle("waha", on.id, fakes.waha.session_status(status="FAILED"))
    await dispatcher.drain()
    restarts = [r for r in fakes.waha.requests if r.url.path.endswith("/restart")]
    assert len(restarts) == 1
    assert await status(service, on.id) is ChannelStatus.ERROR  # until WAHA reports WORKING
    assert fakes.waha.sessions["default"]["status"] == "WORKING"

    off_id = await create(service, fakes, "waha")
    await service.apply_session_status(off_id, tenant_id=TENANT, status="FAILED")
    assert len([r for r in fakes.waha.requests if r.url.path.endswith("/restart")]) == 1
    await dispatcher.stop()
