"""Outbound sends at most once per key: retried handlers, 502s, timeouts, crashes, 429s."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from ventros_channels import Channel, RoutingContext
from ventros_channels.adapters import AdapterRegistry
from ventros_channels.errors import (
    CapabilityNotSupportedError,
    DeliveryUncertainError,
    InvalidRequestError,
    OutboxUnavailableError,
    PlatformError,
    RateLimitedError,
)
from ventros_channels.messaging import InboundEvent, MediaMessage, TextMessage
from ventros_channels.outbox import InMemoryOutbox, SendState, decode_message
from ventros_channels.services import ChannelService, HandlerRetry, WebhookDispatcher
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.webhooks import WebhookRequest

from .conftest import TENANT, delivery

Signer = Callable[..., WebhookRequest]


class Platform:
    """The web chat platform, answering each text as scripted and counting requests."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.script: dict[str, list[str]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/sites/"):
            return httpx.Response(200, json={"name": "Example site"})
        text = json.loads(request.content)["text"]
        self.requests[text] += 1
        plan = self.script.get(text, [])
        outcome = plan.pop(0) if plan else "ok"
        if outcome == "502":
            return httpx.Response(502, text="bad gateway")
        if outcome == "timeout":
            raise httpx.ReadTimeout("no answer", request=request)
        if outcome == "429":
            return httpx.Response(429, headers={"Retry-After": "3600"})
        if outcome == "400":
            return httpx.Response(400, json={"error": "bad recipient"})
        return httpx.Response(201, json={"id": f"out-{sum(self.requests.values())}"})


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.fixture
def http(platform: Platform) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(platform))


@pytest.fixture
def outbox(clock: FixedClock) -> InMemoryOutbox:
    return InMemoryOutbox(clock=clock)


@pytest.fixture
def service(
    repo: InMemoryChannelRepository,
    http: httpx.AsyncClient,
    registry: AdapterRegistry,
    clock: FixedClock,
    outbox: InMemoryOutbox,
) -> ChannelService:
    return ChannelService(
        repo,
        http=http,
        registry=registry,
        clock=clock,
        outbox=outbox,
        public_base_url="https://crm.example.test",
    )


def _text(text: str) -> TextMessage:
    return TextMessage(to="conv-1", text=text)


async def test_a_repeated_key_returns_the_recorded_result_without_a_request(
    service: ChannelService, active_channel: Channel, platform: Platform
) -> None:
    first = await service.send(
        active_channel.id, _text("hi"), tenant_id=TENANT, idempotency_key="k"
    )
    again = await service.send(
        active_channel.id, _text("hi"), tenant_id=TENANT, idempotency_key="k"
    )
    assert platform.requests["hi"] == 1
    assert (first.replayed, again.replayed) == (False, True)
    assert again.message_id == first.message_id
    stored = await service.repository.get(active_channel.id, tenant_id=TENANT)
    assert stored.metrics.messages_sent == 1


@pytest.mark.parametrize("failure", ["502", "timeout"])
async def test_an_uncertain_send_is_not_repeated_unless_the_host_forces_it(
    service: ChannelService,
    active_channel: Channel,
    platform: Platform,
    outbox: InMemoryOutbox,
    failure: str,
) -> None:
    platform.script["maybe"] = [failure]
    with pytest.raises(DeliveryUncertainError) as first:
        await service.send(active_channel.id, _text("maybe"), tenant_id=TENANT, idempotency_key="k")
    assert first.value.idempotency_key == "k"
    with pytest.raises(DeliveryUncertainError):
        await service.send(active_channel.id, _text("maybe"), tenant_id=TENANT, idempotency_key="k")
    assert platform.requests["maybe"] == 1
    (record,) = await outbox.find(state=SendState.UNCERTAIN)
    assert record.key == "k"
    forced = await service.send(
        active_channel.id, _text("maybe"), tenant_id=TENANT, idempotency_key="k", resend=True
    )
    assert platform.requests["maybe"] == 2
    assert forced.message_id is not None


async def test_a_crash_between_request_and_record_leaves_no_second_request(
    service: ChannelService, active_channel: Channel, platform: Platform, outbox: InMemoryOutbox
) -> None:
    real_finish = outbox.finish

    async def crash(*args: object, **kwargs: object) -> None:
        raise OutboxUnavailableError("the process died here")

    outbox.finish = crash  # type: ignore[method-assign]
    with pytest.raises(OutboxUnavailableError):
        await service.send(active_channel.id, _text("once"), tenant_id=TENANT, idempotency_key="k")
    outbox.finish = real_finish  # type: ignore[method-assign]
    with pytest.raises(DeliveryUncertainError):
        await service.send(active_channel.id, _text("once"), tenant_id=TENANT, idempotency_key="k")
    assert platform.requests["once"] == 1


async def test_a_refused_send_raises_its_error_again_without_a_request(
    service: ChannelService, active_channel: Channel, platform: Platform
) -> None:
    platform.script["bad"] = ["400"]
    with pytest.raises(InvalidRequestError):
        await service.send(active_channel.id, _text("bad"), tenant_id=TENANT, idempotency_key="k")
    with pytest.raises(InvalidRequestError, match="recorded"):
        await service.send(active_channel.id, _text("bad"), tenant_id=TENANT, idempotency_key="k")
    assert platform.requests["bad"] == 1


async def test_a_throttled_send_is_tried_again_with_the_same_key(
    service: ChannelService, active_channel: Channel, platform: Platform
) -> None:
    platform.script["slow"] = ["429"]
    with pytest.raises(RateLimitedError):
        await service.send(active_channel.id, _text("slow"), tenant_id=TENANT, idempotency_key="k")
    result = await service.send(
        active_channel.id, _text("slow"), tenant_id=TENANT, idempotency_key="k"
    )
    assert platform.requests["slow"] == 2
    assert result.message_id is not None


async def test_a_retried_handler_sends_each_reply_once(
    service: ChannelService,
    repo: InMemoryChannelRepository,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
    platform: Platform,
) -> None:
    runs = 0

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        nonlocal runs
        runs += 1
        await service.send(context.channel_id, _text("first"), tenant_id=context.tenant_id)
        await service.send(context.channel_id, _text("second"), tenant_id=context.tenant_id)
        if runs < 3:
            raise RuntimeError("the CRM database hiccuped after replying")

    retry = HandlerRetry(max_attempts=5, base_delay=timedelta(milliseconds=1), jitter=0)
    async with WebhookDispatcher(repo, handler, registry=registry, clock=clock, retry=retry) as d:
        await d.handle("webchat", active_channel.id, signed(delivery("m1")))
        await d.drain()
    assert runs == 3
    assert (platform.requests["first"], platform.requests["second"]) == (1, 1)


async def test_a_502_in_a_handler_sends_once_and_dead_letters_the_event(
    service: ChannelService,
    repo: InMemoryChannelRepository,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
    platform: Platform,
) -> None:
    platform.script["reply"] = ["502", "502", "502"]

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        await service.send(context.channel_id, _text("reply"), tenant_id=context.tenant_id)

    retry = HandlerRetry(max_attempts=3, base_delay=timedelta(milliseconds=1), jitter=0)
    async with WebhookDispatcher(repo, handler, registry=registry, clock=clock, retry=retry) as d:
        await d.handle("webchat", active_channel.id, signed(delivery("m1")))
        await d.drain()
        (letter,) = await d.dead_letters()
    assert platform.requests["reply"] == 1
    assert letter.attempts == 1
    assert "DeliveryUncertainError" in letter.error


async def test_queued_sends_wait_out_429s_in_order_without_loss_or_repeats(
    service: ChannelService,
    active_channel: Channel,
    platform: Platform,
    outbox: InMemoryOutbox,
    clock: FixedClock,
) -> None:
    texts = [f"q{i}" for i in range(6)]
    platform.script["q1"] = ["429", "429"]
    platform.script["q4"] = ["429"]
    for i, text in enumerate(texts):
        queued = await service.send(
            active_channel.id, _text(text), tenant_id=TENANT, idempotency_key=f"q{i}", queued=True
        )
        assert queued.queued
        assert queued.message_id is None
    again = await service.send(
        active_channel.id, _text("q0"), tenant_id=TENANT, idempotency_key="q0", queued=True
    )
    assert again.queued
    worker = service.send_worker(concurrency=1)
    order: list[str] = []
    for _ in range(20):
        await worker.run_once()
        order = [
            r.key
            for r in sorted(await outbox.find(state=SendState.SENT), key=lambda r: r.updated_at)
        ]
        if len(order) == len(texts):
            break
        clock.advance(timedelta(hours=2))
    assert {t: platform.requests[t] for t in texts} == {
        "q0": 1,
        "q1": 3,
        "q2": 1,
        "q3": 1,
        "q4": 2,
        "q5": 1,
    }
    assert sorted(order) == texts
    assert await outbox.find(state=SendState.QUEUED) == []


async def test_a_send_the_adapter_refuses_before_any_request_is_not_reported_uncertain(
    service: ChannelService, active_channel: Channel, platform: Platform, outbox: InMemoryOutbox
) -> None:
    media = MediaMessage(to="conv-1", media_kind="image", url="https://cdn.example.test/a.png")
    with pytest.raises(CapabilityNotSupportedError):
        await service.send(active_channel.id, media, tenant_id=TENANT, idempotency_key="img")
    with pytest.raises(PlatformError) as again:  # the recorded refusal, not "uncertain"
        await service.send(active_channel.id, media, tenant_id=TENANT, idempotency_key="img")
    assert not isinstance(again.value, DeliveryUncertainError)
    assert sum(platform.requests.values()) == 0
    record = await outbox.get(active_channel.id, "img")
    assert record is not None
    assert (record.state, record.error_type) == (SendState.FAILED, "CapabilityNotSupportedError")


async def test_queued_and_direct_sends_carry_their_key_for_status_webhooks(
    service: ChannelService, active_channel: Channel, outbox: InMemoryOutbox
) -> None:
    await service.send(
        active_channel.id, _text("later"), tenant_id=TENANT, idempotency_key="q", queued=True
    )
    (lease,) = await outbox.lease("test", limit=1, visibility=timedelta(minutes=1))
    assert decode_message(lease.record.message or b"").correlation_id == "q"


async def test_a_queued_send_for_a_deleted_channel_fails_instead_of_hanging(
    service: ChannelService, active_channel: Channel, platform: Platform, outbox: InMemoryOutbox
) -> None:
    await service.send(
        active_channel.id, _text("gone"), tenant_id=TENANT, idempotency_key="q", queued=True
    )
    await service.delete(active_channel.id, tenant_id=TENANT, force=True)
    assert await service.send_worker(concurrency=1).run_once() == 1
    record = await outbox.get(active_channel.id, "q")
    assert record is not None
    assert record.state is SendState.FAILED
    assert platform.requests["gone"] == 0
