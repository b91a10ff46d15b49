"""The webhook dispatcher: verify, parse, dedupe, hand off, answer fast."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from uuid import UUID

import httpx
import pytest

from ventros_channels import Channel, RoutingContext
from ventros_channels.adapters import AdapterRegistry
from ventros_channels.errors import InboxUnavailableError, NotStartedError
from ventros_channels.inbox import AcceptResult, Delivery, InMemoryInbox
from ventros_channels.integrations.asgi import create_app
from ventros_channels.messaging import InboundEvent, MessageReceived, SessionStatusChanged
from ventros_channels.services import (
    ChannelService,
    HandlerRetry,
    IntakeSettings,
    WebhookDispatcher,
    current_delivery,
)
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.webhooks import WebhookRequest

from .conftest import PROJECT, SECRET, TENANT, Recorder, delivery, webchat_config

Signer = Callable[..., WebhookRequest]


async def test_a_delivery_reaches_the_handler_with_its_routing_context(
    dispatcher: WebhookDispatcher,
    active_channel: Channel,
    recorder: Recorder,
    signed: Signer,
    repo: InMemoryChannelRepository,
) -> None:
    answer = await dispatcher.handle("webchat", str(active_channel.id), signed(delivery("m1")))
    await dispatcher.drain()
    assert answer.status == 200
    ((event, context),) = recorder.seen
    assert isinstance(event, MessageReceived)
    assert event.text == "hi"
    assert context.tenant_id == TENANT
    assert context.channel_id == active_channel.id
    assert context.uses_project_default_pipeline
    stored = await repo.get(active_channel.id, tenant_id=TENANT)
    assert stored.metrics.messages_received == 1
    assert stored.metrics.webhooks_accepted == 1


async def test_a_duplicate_delivery_is_processed_once(
    dispatcher: WebhookDispatcher, active_channel: Channel, recorder: Recorder, signed: Signer
) -> None:
    body = delivery("m1")
    first = await dispatcher.handle("webchat", active_channel.id, signed(body))
    second = await dispatcher.handle("webchat", active_channel.id, signed(body))
    await dispatcher.drain()
    assert (first.status, second.status) == (200, 200)
    assert len(recorder.seen) == 1
    assert dispatcher.stats.duplicates == 1


async def test_concurrent_deliveries_are_all_processed_once(
    dispatcher: WebhookDispatcher, active_channel: Channel, recorder: Recorder, signed: Signer
) -> None:
    bodies = [delivery(f"m{i % 40}") for i in range(120)]  # each message three times
    answers = await asyncio.gather(
        *(dispatcher.handle("webchat", active_channel.id, signed(b)) for b in bodies)
    )
    await dispatcher.drain()
    assert {a.status for a in answers} == {200}
    ids = sorted(e.message_id or "" for e, _ in recorder.seen)
    assert ids == sorted(f"m{i}" for i in range(40))


async def test_a_bad_signature_is_refused_and_nothing_processed(
    dispatcher: WebhookDispatcher,
    active_channel: Channel,
    recorder: Recorder,
    signed: Signer,
    repo: InMemoryChannelRepository,
) -> None:
    answer = await dispatcher.handle("webchat", active_channel.id, signed(delivery("m1"), "x"))
    tampered = signed(delivery("m2"))
    tampered = WebhookRequest("POST", tampered.body.replace(b"hi", b"ho"), tampered.headers)
    answer2 = await dispatcher.handle("webchat", active_channel.id, tampered)
    await dispatcher.drain()
    assert (answer.status, answer2.status) == (401, 401)
    assert recorder.seen == []
    stored = await repo.get(active_channel.id, tenant_id=TENANT)
    assert stored.metrics.webhooks_rejected == 2


async def test_a_malformed_body_is_a_400_and_is_counted(
    dispatcher: WebhookDispatcher,
    active_channel: Channel,
    signed: Signer,
    repo: InMemoryChannelRepository,
) -> None:
    answer = await dispatcher.handle("webchat", active_channel.id, signed(b'{"no":"events"}'))
    await dispatcher.drain()
    assert answer.status == 400
    stored = await repo.get(active_channel.id, tenant_id=TENANT)
    assert stored.metrics.errors == 1
    assert "malformed" in (stored.metrics.last_error or "")


async def test_unknown_channels_and_wrong_types_are_404(
    dispatcher: WebhookDispatcher, active_channel: Channel, signed: Signer
) -> None:
    body = signed(delivery("m1"))
    assert (await dispatcher.handle("webchat", "not-a-uuid", body)).status == 404
    other = "00000000-0000-4000-8000-00000000dead"
    assert (await dispatcher.handle("webchat", other, body)).status == 404
    assert (await dispatcher.handle("telegram", active_channel.id, body)).status == 404


async def test_an_inactive_channel_takes_no_deliveries(
    dispatcher: WebhookDispatcher, service: ChannelService, active_channel: Channel, signed: Signer
) -> None:
    await service.deactivate(active_channel.id, tenant_id=TENANT)
    answer = await dispatcher.handle("webchat", active_channel.id, signed(delivery("m1")))
    assert answer.status == 403


async def test_a_failing_handler_is_retried(
    dispatcher: WebhookDispatcher, active_channel: Channel, recorder: Recorder, signed: Signer
) -> None:
    recorder.failures_left = 2
    await dispatcher.handle("webchat", active_channel.id, signed(delivery("m1")))
    await dispatcher.drain()
    assert len(recorder.seen) == 1
    assert dispatcher.worker is not None
    assert dispatcher.worker.stats.failures == 2
    assert await dispatcher.dead_letters() == []


async def test_a_handler_that_keeps_failing_dead_letters_the_event_in_the_inbox(
    repo: InMemoryChannelRepository,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
) -> None:
    attempts: list[int] = []

    async def always_fails(event: InboundEvent, context: RoutingContext) -> None:
        lease = current_delivery()
        assert lease is not None
        attempts.append(lease.attempt)
        raise RuntimeError("database down")

    retry = HandlerRetry(max_attempts=2, base_delay=timedelta(milliseconds=1), jitter=0)
    async with WebhookDispatcher(
        repo, always_fails, registry=registry, clock=clock, retry=retry
    ) as d:
        answer = await d.handle("webchat", active_channel.id, signed(delivery("m1")))
        await d.drain()
        (letter,) = await d.dead_letters()
        assert attempts == [1, 2]
        assert answer.status == 200
        assert letter.delivery.event.message_id == "m1"
        assert letter.attempts == 2
        assert "database down" in letter.error
        assert await d.inbox.replay([letter.id]) == 1
        await d.drain()
    assert attempts == [1, 2, 1, 2]


async def test_an_inbox_that_cannot_record_answers_503_and_the_retry_is_processed(
    repo: InMemoryChannelRepository,
    recorder: Recorder,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
) -> None:
    inbox = InMemoryInbox()
    real_accept = inbox.accept
    outage = True

    async def accept(deliveries: Sequence[Delivery]) -> AcceptResult:
        if outage:
            raise InboxUnavailableError("store down")
        return await real_accept(deliveries)

    inbox.accept = accept  # type: ignore[method-assign]
    async with WebhookDispatcher(repo, recorder, inbox=inbox, registry=registry, clock=clock) as d:
        busy = await d.handle("webchat", active_channel.id, signed(delivery("m1")))
        outage = False
        retry = await d.handle("webchat", active_channel.id, signed(delivery("m1")))
        await d.drain()
    assert (busy.status, retry.status) == (503, 200)
    assert d.stats.inbox_unavailable == 1
    assert [e.message_id for e, _ in recorder.seen] == ["m1"]


async def test_an_unstarted_dispatcher_refuses_instead_of_accepting(
    repo: InMemoryChannelRepository,
    recorder: Recorder,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = WebhookDispatcher(repo, recorder, registry=registry, clock=clock)
    answer = await d.handle("webchat", active_channel.id, signed(delivery("m1")))
    assert answer.status == 503
    assert "before start()" in caplog.text
    assert (await d.inbox.stats()).backlog == 0
    with pytest.raises(NotStartedError):
        await d.drain()


def test_a_dispatcher_that_nobody_would_read_is_refused(
    repo: InMemoryChannelRepository,
) -> None:
    with pytest.raises(ValueError, match="in-memory inbox"):
        WebhookDispatcher(repo)
    with pytest.raises(ValueError, match="need a handler"):
        WebhookDispatcher(repo, inbox=InMemoryInbox(), workers=2)


async def test_a_body_over_the_limit_is_413_and_not_parsed(
    repo: InMemoryChannelRepository,
    recorder: Recorder,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
) -> None:
    d = WebhookDispatcher(
        repo, recorder, registry=registry, clock=clock, settings=IntakeSettings(max_body_bytes=64)
    )
    request = signed(delivery("m1", text="x" * 100))
    async with d:
        direct = await d.handle("webchat", active_channel.id, request)
        transport = httpx.ASGITransport(app=create_app(d))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            url = f"/webhooks/webchat/{active_channel.id}"
            via_http = await client.post(url, content=request.body, headers=dict(request.headers))
    assert (direct.status, via_http.status_code) == (413, 413)
    assert recorder.seen == []


async def test_session_status_reports_are_taken_from_a_channel_in_error(
    repo: InMemoryChannelRepository,
    recorder: Recorder,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
) -> None:
    channel = await repo.get(active_channel.id, tenant_id=TENANT)
    channel.mark_error("credentials refused")
    await repo.save(channel)
    status_body = json.dumps(
        {
            "site_id": "site-42",
            "events": [
                {
                    "id": "s1",
                    "type": "session_status",
                    "status": "WORKING",
                    "conversation_id": "session",
                    "sent_at": "2026-01-01T11:59:00+00:00",
                }
            ],
        }
    ).encode()
    seen: list[str] = []

    async def hook(channel: Channel, event: SessionStatusChanged) -> None:
        seen.append(event.status)

    async with WebhookDispatcher(
        repo, recorder, registry=registry, clock=clock, session_status_hook=hook
    ) as d:
        message = await d.handle("webchat", active_channel.id, signed(delivery("m1")))
        status = await d.handle("webchat", active_channel.id, signed(status_body))
        await d.drain()
    assert (message.status, status.status) == (403, 200)
    assert seen == ["WORKING"]


async def test_rotation_accepts_the_old_secret_during_the_grace_period(
    dispatcher: WebhookDispatcher,
    service: ChannelService,
    active_channel: Channel,
    recorder: Recorder,
    signed: Signer,
    clock: FixedClock,
) -> None:
    await service.rotate_webhook_secret(
        active_channel.id, tenant_id=TENANT, new_secret="new-secret", grace=timedelta(hours=1)
    )
    old = await dispatcher.handle("webchat", active_channel.id, signed(delivery("m1"), SECRET))
    new = await dispatcher.handle(
        "webchat", active_channel.id, signed(delivery("m2"), "new-secret")
    )
    clock.advance(timedelta(hours=1, seconds=1))
    late = await dispatcher.handle("webchat", active_channel.id, signed(delivery("m3"), SECRET))
    await dispatcher.drain()
    assert (old.status, new.status, late.status) == (200, 200, 401)
    assert sorted(e.message_id or "" for e, _ in recorder.seen) == ["m1", "m2"]


async def test_app_level_endpoint_routes_each_entry_by_account_and_tenant(
    repo: InMemoryChannelRepository,
    recorder: Recorder,
    registry: AdapterRegistry,
    clock: FixedClock,
    service: ChannelService,
) -> None:
    a = await service.create_channel(
        tenant_id="tenant-a",
        project_id=PROJECT,
        name="A",
        channel_type="webchat",
        config=webchat_config("site-a"),
    )
    b = await service.create_channel(
        tenant_id="tenant-b",
        project_id=PROJECT,
        name="B",
        channel_type="webchat",
        config=webchat_config("site-b"),
    )
    await service.activate(a.id, tenant_id="tenant-a")
    await service.activate(b.id, tenant_id="tenant-b")
    body = json.dumps(
        {
            "site_id": "site-b",
            "events": [json.loads(delivery("b1", "site-b"))["events"][0]],
        }
    ).encode()
    from ventros_webchat import WebchatAdapter

    headers = WebchatAdapter().sign(body, "app-secret", now=clock.now())
    async with WebhookDispatcher(
        repo,
        recorder,
        registry=registry,
        clock=clock,
        settings=IntakeSettings(app_secrets={"webchat": ["app-secret"]}),
    ) as d:
        ok = await d.handle_app("webchat", WebhookRequest("POST", body, headers))
        unknown_body = delivery("z1", "site-unknown")
        unknown_headers = WebchatAdapter().sign(unknown_body, "app-secret", now=clock.now())
        unknown = await d.handle_app(
            "webchat", WebhookRequest("POST", unknown_body, unknown_headers)
        )
        await d.drain()
    assert (ok.status, unknown.status) == (200, 200)
    ((event, context),) = recorder.seen
    assert (event.message_id, context.tenant_id, context.channel_id) == ("b1", "tenant-b", b.id)
    assert d.stats.unrouted_entries == 1


async def test_the_asgi_app_serves_the_routes(
    repo: InMemoryChannelRepository,
    recorder: Recorder,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
) -> None:
    dispatcher = WebhookDispatcher(repo, recorder, registry=registry, clock=clock)
    app = create_app(dispatcher)
    request = signed(delivery("m1"))
    async with dispatcher:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            url = f"/webhooks/webchat/{active_channel.id}"
            ok = await client.post(url, content=request.body, headers=dict(request.headers))
            bad = await client.post(url, content=request.body, headers={})
            missing = await client.post("/webhooks/webchat/" + "0" * 32, content=b"{}")
        await dispatcher.drain()
    assert (ok.status_code, bad.status_code, missing.status_code) == (200, 401, 404)
    assert len(recorder.seen) == 1


async def test_unsigned_deliveries_need_an_explicit_opt_in(
    service: ChannelService,
    dispatcher: WebhookDispatcher,
    recorder: Recorder,
    repo: InMemoryChannelRepository,
) -> None:
    channel = await ChannelService(
        repo, http=service.http, registry=service.registry, clock=service.clock
    ).create_channel(
        tenant_id=TENANT,
        project_id=PROJECT,
        name="No secret",
        channel_type="webchat",
        config=webchat_config(secret=None),
    )
    signed_only = await service.create_channel(
        tenant_id=TENANT,
        project_id=PROJECT,
        name="Secret made for it",
        channel_type="webchat",
        config=webchat_config(site="site-43", secret=None),
    )
    assert signed_only.config.webhook_secret() is not None  # generated with the webhook URL
    await service.activate(signed_only.id, tenant_id=TENANT)
    anonymous = WebhookRequest("POST", delivery("a1", site="site-43"), {})
    assert (await dispatcher.handle("webchat", signed_only.id, anonymous)).status == 401
    loaded = await repo.get(channel.id, tenant_id=TENANT)
    loaded.allow_unsigned_webhooks()
    loaded.configure_webhook("https://crm.example.test/hook")
    assert loaded.config.webhook_secret() is None  # opted out of signatures: none generated
    await repo.save(loaded)
    await service.activate(channel.id, tenant_id=TENANT)
    unsigned = WebhookRequest("POST", delivery("u1"), {})
    assert (await dispatcher.handle("webchat", channel.id, unsigned)).status == 200
    await dispatcher.drain()
    assert [e.message_id for e, _ in recorder.seen] == ["u1"]


async def test_a_shared_cache_spares_the_repository_and_is_invalidated_on_change(
    repo: InMemoryChannelRepository,
    recorder: Recorder,
    registry: AdapterRegistry,
    clock: FixedClock,
    service: ChannelService,
    active_channel: Channel,
    signed: Signer,
) -> None:
    from ventros_channels import InMemoryChannelCache

    shared = InMemoryChannelCache(clock=clock)
    lookups = 0
    real_lookup = repo.lookup

    async def counting_lookup(channel_id: UUID) -> Channel | None:
        nonlocal lookups
        lookups += 1
        return await real_lookup(channel_id)

    repo.lookup = counting_lookup  # type: ignore[method-assign]
    first = WebhookDispatcher(repo, recorder, registry=registry, clock=clock, shared_cache=shared)
    second = WebhookDispatcher(repo, recorder, registry=registry, clock=clock, shared_cache=shared)
    service.on_change = first.on_channel_changed
    async with first, second:
        await first.handle("webchat", active_channel.id, signed(delivery("m1")))
        await second.handle("webchat", active_channel.id, signed(delivery("m2")))
        assert lookups == 1  # the second process found it in the shared cache
        await service.deactivate(active_channel.id, tenant_id=TENANT)
        assert await shared.get(active_channel.id) is None
        second.invalidate(active_channel.id)  # its own short-lived copy expires on its TTL
        refused = await second.handle("webchat", active_channel.id, signed(delivery("m3")))
    assert refused.status == 403
    assert lookups == 2


async def test_app_level_handshake_uses_the_app_verify_tokens(
    repo: InMemoryChannelRepository, recorder: Recorder, clock: FixedClock
) -> None:
    from ventros_channels.adapters.whatsapp_cloud import WhatsAppCloudAdapter

    registry = AdapterRegistry(group="ventros_channels.tests.none")
    registry.register(WhatsAppCloudAdapter)
    d = WebhookDispatcher(
        repo,
        recorder,
        registry=registry,
        clock=clock,
        settings=IntakeSettings(app_verify_tokens={"whatsapp": ["app-verify-token"]}),
    )
    await d.start()
    query = {
        "hub.mode": "subscribe",
        "hub.challenge": "8723",
        "hub.verify_token": "app-verify-token",
    }
    ok = await d.handle_app("whatsapp", WebhookRequest("GET", query=query))
    bad = await d.handle_app(
        "whatsapp", WebhookRequest("GET", query={**query, "hub.verify_token": "guess"})
    )
    await d.stop()
    assert (ok.status, ok.body, bad.status) == (200, b"8723", 403)


async def test_a_delivery_that_declares_another_media_type_is_415(
    dispatcher: WebhookDispatcher, active_channel: Channel, recorder: Recorder, signed: Signer
) -> None:
    def declaring(content_type: str, msg_id: str) -> WebhookRequest:
        request = signed(delivery(msg_id))
        return WebhookRequest(
            "POST", request.body, {**request.headers, "Content-Type": content_type}
        )

    form = await dispatcher.handle(
        "webchat", active_channel.id, declaring("application/x-www-form-urlencoded", "m1")
    )
    app_level = await dispatcher.handle_app("webchat", declaring("text/plain", "m2"))
    json_utf8 = await dispatcher.handle(
        "webchat", active_channel.id, declaring("Application/JSON; charset=utf-8", "m3")
    )
    await dispatcher.drain()
    assert (form.status, app_level.status, json_utf8.status) == (415, 415, 200)
    assert [e.message_id for e, _ in recorder.seen] == ["m3"]
    assert dispatcher.stats.wrong_media_type == 2


async def test_a_dispatcher_made_by_the_service_stops_serving_a_deactivated_channel_at_once(
    service: ChannelService, active_channel: Channel, recorder: Recorder, signed: Signer
) -> None:
    dispatcher = service.webhook_dispatcher(recorder)  # channels cached for 60 s by default
    async with dispatcher:
        first = await dispatcher.handle("webchat", active_channel.id, signed(delivery("m1")))
        await service.deactivate(active_channel.id, tenant_id=TENANT)
        second = await dispatcher.handle("webchat", active_channel.id, signed(delivery("m2")))
        await dispatcher.drain()
    assert (first.status, second.status) == (200, 403)
    assert [e.message_id for e, _ in recorder.seen] == ["m1"]
    assert dispatcher.outbox is service.sender.outbox
