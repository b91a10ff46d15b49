"""Conversations, messaging windows and the handler context through the channel service,
with the example web chat plug-in (given a 24-hour window here) as the platform, faked at the
HTTP layer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any, ClassVar

import httpx
import pytest
from ventros_webchat import WebchatAdapter
from ventros_webchat.adapter import WebchatConfig

from ventros_channels import (
    Channel,
    HandlerContext,
    InMemoryConversationStore,
    MessagingWindowClosedError,
    MessagingWindowRule,
    OutsideMessagingWindowError,
    RoutingContext,
    current_handler_context,
)
from ventros_channels.adapters import AdapterRegistry
from ventros_channels.adapters.base import Capability, MediaContent
from ventros_channels.contacts import InMemoryContactAliasStore
from ventros_channels.messaging import Attachment, InboundEvent, MediaKind
from ventros_channels.messaging.outbound import (
    MarkAsRead,
    OutboundMessage,
    Reaction,
    SendResult,
    TextMessage,
)
from ventros_channels.messaging.window import ACTIONS
from ventros_channels.publisher import InMemoryEventPublisher
from ventros_channels.services import ChannelService, IntakeSettings, WebhookDispatcher
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.webhooks import WebhookRequest

from .conftest import FAST_RETRY, PROJECT, TENANT, delivery, webchat_config

DAY = timedelta(hours=24)


class WindowedWebchat(WebchatAdapter):
    """The web chat plug-in with a Meta-like window, reactions, read receipts and media."""

    messaging_window: ClassVar[MessagingWindowRule | None] = MessagingWindowRule(
        free_form=DAY, exempt_kinds=ACTIONS | {"template"}
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.READ_RECEIPTS, Capability.REACTIONS, Capability.MEDIA_DOWNLOAD}
    )

    async def send(
        self, client: httpx.AsyncClient, config: WebchatConfig, message: OutboundMessage
    ) -> SendResult:
        if isinstance(message, TextMessage):
            return await super().send(client, config, message)
        if not isinstance(message, Reaction | MarkAsRead):
            return await super().send(client, config, message)
        base = f"{config.base_url}/v1/conversations/{message.to}"
        path = "reactions" if isinstance(message, Reaction) else "read"
        body: dict[str, Any] = {"message_id": message.message_id}
        if isinstance(message, Reaction):
            body["emoji"] = message.emoji
        await client.post(f"{base}/{path}", json=body)
        return SendResult(message_id=None, chat_id=message.to)

    async def download_media(
        self, client: httpx.AsyncClient, config: WebchatConfig, attachment: Attachment
    ) -> MediaContent:
        response = await client.get(f"{config.base_url}/v1/media/{attachment.media_id}")
        return MediaContent(response.content, response.headers.get("content-type"))


@pytest.fixture
def registry() -> AdapterRegistry:
    registry = AdapterRegistry(group="ventros_channels.tests.none")
    registry.register(WindowedWebchat)
    return registry


@pytest.fixture
def http(platform_calls: list[httpx.Request]) -> httpx.AsyncClient:
    def fake_platform(request: httpx.Request) -> httpx.Response:
        platform_calls.append(request)
        path = request.url.path
        if path.startswith("/v1/sites/"):
            return httpx.Response(200, json={"name": "Example site"})
        if path.startswith("/v1/media/"):
            return httpx.Response(200, content=b"\x89PNG", headers={"content-type": "image/png"})
        if path.endswith(("/messages", "/reactions", "/read")):
            return httpx.Response(201, json={"id": f"out-{len(platform_calls)}"})
        return httpx.Response(404)

    return httpx.AsyncClient(transport=httpx.MockTransport(fake_platform))


@pytest.fixture
def conversations() -> InMemoryConversationStore:
    return InMemoryConversationStore()


@pytest.fixture
def contacts() -> InMemoryContactAliasStore:
    return InMemoryContactAliasStore()


@pytest.fixture
def service(
    repo: InMemoryChannelRepository,
    http: httpx.AsyncClient,
    registry: AdapterRegistry,
    publisher: InMemoryEventPublisher,
    clock: FixedClock,
    conversations: InMemoryConversationStore,
    contacts: InMemoryContactAliasStore,
) -> ChannelService:
    return ChannelService(
        repo,
        http=http,
        registry=registry,
        publisher=publisher,
        clock=clock,
        public_base_url="https://crm.example.test",
        conversations=conversations,
        contacts=contacts,
    )


@pytest.fixture
async def channel(service: ChannelService) -> Channel:
    created = await service.create_channel(
        tenant_id=TENANT,
        project_id=PROJECT,
        name="Site chat",
        channel_type="webchat",
        config=webchat_config(),
        default_session_timeout_minutes=30,
    )
    await service.activate(created.id, tenant_id=TENANT)
    await service.associate_pipeline(
        created.id, "00000000-0000-4000-8000-0000000000cc", tenant_id=TENANT
    )
    return await service.get_channel(created.id, tenant_id=TENANT)


Handler = Callable[..., Any]


@pytest.fixture
def handler_box() -> list[Handler]:
    """The handler the dispatcher calls (set by each test)."""
    return []


@pytest.fixture
async def dispatcher(
    service: ChannelService, handler_box: list[Handler]
) -> AsyncIterator[WebhookDispatcher]:
    async def noop(event: InboundEvent, routing: RoutingContext) -> None:
        return None

    handler = handler_box[0] if handler_box else noop
    d = service.webhook_dispatcher(
        handler, settings=IntakeSettings(cache_ttl=timedelta(0)), retry=FAST_RETRY
    )
    async with d:
        yield d


def sign(clock: FixedClock, body: bytes) -> WebhookRequest:
    return WebhookRequest(
        "POST", body, WebchatAdapter().sign(body, "test-signing-secret", now=clock.now())
    )


async def customer_writes(
    dispatcher: WebhookDispatcher, channel: Channel, clock: FixedClock, msg_id: str
) -> None:
    """A customer message sent one minute ago (as ``delivery`` stamps it: 11:59 on the
    fixed clock's first day), delivered and handled."""
    body = json.loads(delivery(msg_id))
    body["events"][0]["sent_at"] = (clock.now() - timedelta(minutes=1)).isoformat()
    answer = await dispatcher.handle("webchat", channel.id, sign(clock, json.dumps(body).encode()))
    assert answer.status == 200
    await dispatcher.drain()


def sends(calls: list[httpx.Request]) -> list[str]:
    return [c.url.path.rsplit("/", 1)[-1] for c in calls if c.method == "POST"]


# ---------------------------------------------------------------- conversations and sessions


async def test_inbound_messages_keep_the_conversation_and_the_session_figures(
    service: ChannelService,
    channel: Channel,
    dispatcher: WebhookDispatcher,
    conversations: InMemoryConversationStore,
    clock: FixedClock,
) -> None:
    await customer_writes(dispatcher, channel, clock, "m1")
    conversation = await conversations.get(channel.id, "conv-1", tenant_id=TENANT)
    assert conversation is not None
    assert conversation.sessions == 1
    assert conversation.last_inbound_at == clock.now() - timedelta(minutes=1)
    assert conversation.pipeline_id == channel.pipeline_id
    assert conversation.is_open(clock.now())
    report = await service.report(channel.id, tenant_id=TENANT)
    assert (report.sessions_created, report.active_sessions, report.not_observed) == (1, 1, ())

    clock.advance(timedelta(minutes=10))
    await customer_writes(dispatcher, channel, clock, "m2")  # same session
    clock.advance(timedelta(minutes=40))  # the channel's 30-minute timeout passes
    report = await service.report(channel.id, tenant_id=TENANT)
    assert (report.sessions_created, report.active_sessions) == (1, 0)
    await customer_writes(dispatcher, channel, clock, "m3")  # a new session
    report = await service.report(channel.id, tenant_id=TENANT)
    assert (report.sessions_created, report.active_sessions) == (2, 1)


async def test_a_redelivered_message_counts_once(
    service: ChannelService,
    channel: Channel,
    dispatcher: WebhookDispatcher,
    clock: FixedClock,
) -> None:
    await customer_writes(dispatcher, channel, clock, "m1")
    await customer_writes(dispatcher, channel, clock, "m1")
    report = await service.report(channel.id, tenant_id=TENANT)
    assert report.sessions_created == 1


async def test_our_sends_are_recorded_as_outbound_activity(
    service: ChannelService,
    channel: Channel,
    dispatcher: WebhookDispatcher,
    conversations: InMemoryConversationStore,
    clock: FixedClock,
) -> None:
    await customer_writes(dispatcher, channel, clock, "m1")
    clock.advance(timedelta(minutes=25))
    await service.send(channel.id, TextMessage(to="conv-1", text="hello"), tenant_id=TENANT)
    conversation = await conversations.get(channel.id, "conv-1", tenant_id=TENANT)
    assert conversation is not None
    assert conversation.last_outbound_at == clock.now()
    clock.advance(timedelta(minutes=20))  # 45 minutes after the customer, 20 after us
    assert conversation.expires_at == clock.now() + timedelta(minutes=10)


async def test_without_a_store_the_report_says_sessions_are_not_observed(
    repo: InMemoryChannelRepository,
    http: httpx.AsyncClient,
    registry: AdapterRegistry,
    clock: FixedClock,
    channel: Channel,
) -> None:
    bare = ChannelService(repo, http=http, registry=registry, clock=clock)
    report = await bare.report(channel.id, tenant_id=TENANT)
    assert report.sessions_created is None
    assert report.not_observed == ("sessions_created", "active_sessions")


# ---------------------------------------------------------------- messaging windows


async def test_a_chat_that_never_wrote_is_refused_before_any_request(
    service: ChannelService, channel: Channel, platform_calls: list[httpx.Request]
) -> None:
    before = len(platform_calls)
    with pytest.raises(MessagingWindowClosedError) as caught:
        await service.send(channel.id, TextMessage(to="conv-9", text="hi"), tenant_id=TENANT)
    assert isinstance(caught.value, OutsideMessagingWindowError)
    assert caught.value.chat_id == "conv-9"
    assert caught.value.last_inbound_at is None
    assert len(platform_calls) == before
    window = await service.messaging_window(channel.id, "conv-9", tenant_id=TENANT)
    assert (window.restricted, window.open, window.closes_at) == (True, False, None)


async def test_the_window_opens_with_the_customer_and_closes_24_hours_later(
    service: ChannelService,
    channel: Channel,
    dispatcher: WebhookDispatcher,
    clock: FixedClock,
    platform_calls: list[httpx.Request],
) -> None:
    await customer_writes(dispatcher, channel, clock, "m1")
    wrote = clock.now() - timedelta(minutes=1)
    window = await service.messaging_window(channel.id, "conv-1", tenant_id=TENANT)
    assert (window.open, window.last_inbound_at, window.closes_at) == (True, wrote, wrote + DAY)
    sent = await service.send(channel.id, TextMessage(to="conv-1", text="a"), tenant_id=TENANT)
    assert sent.message_id is not None

    clock.advance(DAY)  # 24 h and one minute after the customer's message
    window = await service.messaging_window(channel.id, "conv-1", tenant_id=TENANT)
    assert not window.open
    assert window.allowed_when_closed == ("mark_as_read", "template", "typing")
    before = len(platform_calls)
    with pytest.raises(MessagingWindowClosedError) as caught:
        await service.send(channel.id, TextMessage(to="conv-1", text="b"), tenant_id=TENANT)
    assert caught.value.closed_at == wrote + DAY
    assert len(platform_calls) == before
    # actions carry no content: still allowed
    await service.send(channel.id, MarkAsRead(to="conv-1", message_id="m1"), tenant_id=TENANT)
    assert sends(platform_calls[before:]) == ["read"]

    await customer_writes(dispatcher, channel, clock, "m2")  # the customer reopens it
    await service.send(channel.id, TextMessage(to="conv-1", text="c"), tenant_id=TENANT)


async def test_windows_can_be_tracked_without_being_enforced(
    service: ChannelService, channel: Channel, platform_calls: list[httpx.Request]
) -> None:
    service.enforce_messaging_windows = False
    await service.send(channel.id, TextMessage(to="conv-9", text="hi"), tenant_id=TENANT)
    assert sends(platform_calls) == ["messages"]


# ---------------------------------------------------------------- the handler context


@pytest.fixture
def context_handler(handler_box: list[Handler], clock: FixedClock) -> list[str]:
    """A three-parameter handler that replies, reacts and marks read, failing once after."""
    log: list[str] = []

    async def handle(event: InboundEvent, routing: RoutingContext, ctx: HandlerContext) -> None:
        assert current_handler_context() is ctx
        assert ctx.event is event
        await ctx.mark_read()
        await ctx.react("👍")
        await ctx.reply("thanks!", quote=True)
        log.append(event.idempotency_key)
        if len(log) == 1:
            raise RuntimeError("the handler fails after its sends")

    handler_box.append(handle)
    return log


async def test_a_retried_context_handler_sends_each_action_once(
    context_handler: list[str],
    channel: Channel,
    dispatcher: WebhookDispatcher,
    clock: FixedClock,
    platform_calls: list[httpx.Request],
) -> None:
    await customer_writes(dispatcher, channel, clock, "m1")
    assert len(context_handler) == 2  # ran twice: failed once, then succeeded
    assert sends(platform_calls) == ["read", "reactions", "messages"]
    reply = json.loads(next(c for c in platform_calls if c.url.path.endswith("/messages")).content)
    assert reply == {"text": "thanks!", "reply_to": "m1"}
    reaction = json.loads(
        next(c for c in platform_calls if c.url.path.endswith("/reactions")).content
    )
    assert reaction == {"message_id": "m1", "emoji": "👍"}


@pytest.fixture
def two_parameter_handler(handler_box: list[Handler]) -> list[bytes]:
    """An old-style handler reaching the context through ``current_handler_context``."""
    media: list[bytes] = []

    async def handle(event: InboundEvent, routing: RoutingContext) -> None:
        ctx = current_handler_context()
        assert ctx is not None
        assert ctx.routing == routing
        picture = Attachment(kind=MediaKind.IMAGE, media_id="pic-1")
        media.append((await ctx.download_media(picture)).content)

    handler_box.append(handle)
    return media


async def test_a_two_parameter_handler_reaches_the_context(
    two_parameter_handler: list[bytes],
    channel: Channel,
    dispatcher: WebhookDispatcher,
    clock: FixedClock,
) -> None:
    await customer_writes(dispatcher, channel, clock, "m1")
    assert two_parameter_handler == [b"\x89PNG"]
    assert current_handler_context() is None


@pytest.fixture
def late_replier(handler_box: list[Handler], clock: FixedClock) -> list[BaseException]:
    """A handler that replies a day after the message it handles."""
    errors: list[BaseException] = []

    async def handle(event: InboundEvent, routing: RoutingContext, ctx: HandlerContext) -> None:
        clock.advance(DAY + timedelta(minutes=5))
        try:
            await ctx.reply("sorry for the wait")
        except MessagingWindowClosedError as exc:
            errors.append(exc)

    handler_box.append(handle)
    return errors


async def test_a_reply_outside_the_window_is_refused_before_any_request(
    late_replier: list[BaseException],
    channel: Channel,
    dispatcher: WebhookDispatcher,
    clock: FixedClock,
    platform_calls: list[httpx.Request],
) -> None:
    await customer_writes(dispatcher, channel, clock, "m1")
    assert len(late_replier) == 1
    assert sends(platform_calls) == []


async def test_actions_on_an_event_without_a_message_id_are_refused(
    service: ChannelService, channel: Channel
) -> None:
    from ventros_channels.errors import InvalidInputError
    from ventros_channels.messaging import StatusChanged

    event = StatusChanged(
        channel_type="webchat",
        chat_id="conv-1",
        timestamp=channel.created_at,
        idempotency_key="k",
        status="read",
    )
    ctx = HandlerContext(event, channel.routing_context(), service)
    with pytest.raises(InvalidInputError):
        await ctx.react("👍")
    with pytest.raises(InvalidInputError):
        await ctx.download_media()
