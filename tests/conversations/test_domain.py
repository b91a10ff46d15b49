"""The pure parts: conversation changes, window rules (as the adapters declare them), and the
tracking of handled events into conversations and contact aliases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from ventros_channels.adapters.instagram import InstagramAdapter
from ventros_channels.adapters.messenger import MessengerAdapter
from ventros_channels.adapters.telegram import TelegramAdapter
from ventros_channels.adapters.waha import WAHAAdapter
from ventros_channels.adapters.whatsapp_cloud import WhatsAppCloudAdapter
from ventros_channels.contacts import InMemoryContactAliasStore
from ventros_channels.conversations import (
    Conversation,
    ConversationStatus,
    InMemoryConversationStore,
    session_timeout,
)
from ventros_channels.domain import ChannelType, RoutingContext
from ventros_channels.errors import InvalidInputError
from ventros_channels.messaging import MessageEcho, MessageReceived, ReactionChanged
from ventros_channels.messaging.inbound import InboundEvent
from ventros_channels.messaging.window import MessagingWindowRule
from ventros_channels.services.tracking import track_events

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HALF_HOUR = timedelta(minutes=30)


def fresh() -> Conversation:
    return Conversation.first_contact(uuid4(), "t", "chat", at=T0)


# ---------------------------------------------------------------- Conversation


def test_a_first_contact_has_no_session() -> None:
    conversation = fresh()
    assert conversation.sessions == 0
    assert conversation.status(T0) is ConversationStatus.CLOSED
    assert conversation.last_activity_at is None


def test_inbound_starts_a_session_and_keeps_it_alive() -> None:
    pipeline = uuid4()
    one = fresh().record_inbound(T0, timeout=HALF_HOUR, pipeline_id=pipeline)
    assert (one.sessions, one.session_started_at, one.pipeline_id) == (1, T0, pipeline)
    later = T0 + timedelta(minutes=20)
    two = one.record_inbound(later, timeout=HALF_HOUR, pipeline_id=uuid4())
    assert two.sessions == 1
    assert two.pipeline_id == pipeline  # a running session keeps its routing
    assert two.expires_at == later + HALF_HOUR
    assert two.is_open(later + timedelta(minutes=29))
    assert not two.is_open(later + HALF_HOUR)


def test_inbound_after_the_timeout_starts_another_session() -> None:
    one = fresh().record_inbound(T0, timeout=HALF_HOUR)
    two = one.record_inbound(T0 + timedelta(hours=1), timeout=HALF_HOUR)
    assert two.sessions == 2
    assert two.session_started_at == T0 + timedelta(hours=1)


def test_the_same_or_an_older_message_changes_nothing_twice() -> None:
    one = fresh().record_inbound(T0 + timedelta(minutes=10), timeout=HALF_HOUR)
    assert one.record_inbound(T0 + timedelta(minutes=10), timeout=HALF_HOUR) == one
    late = one.record_inbound(T0, timeout=HALF_HOUR)
    assert late == one


def test_outbound_extends_a_running_session_but_never_starts_one() -> None:
    none_yet = fresh().record_outbound(T0, timeout=HALF_HOUR)
    assert (none_yet.sessions, none_yet.expires_at, none_yet.last_outbound_at) == (0, None, T0)
    running = fresh().record_inbound(T0, timeout=HALF_HOUR)
    extended = running.record_outbound(T0 + timedelta(minutes=25), timeout=HALF_HOUR)
    assert extended.expires_at == T0 + timedelta(minutes=55)
    assert extended.last_activity_at == T0 + timedelta(minutes=25)


def test_closing_ends_the_session_and_the_next_message_starts_one() -> None:
    running = fresh().record_inbound(T0, timeout=HALF_HOUR)
    closed = running.close(T0 + timedelta(minutes=5))
    assert not closed.is_open(T0 + timedelta(minutes=5))
    assert closed.close(T0 + timedelta(minutes=6)) == closed
    # a message from before the close, delivered late, does not reopen it
    late = closed.record_inbound(T0 + timedelta(minutes=4), timeout=HALF_HOUR)
    assert not late.is_open(T0 + timedelta(minutes=6))
    reopened = closed.record_inbound(T0 + timedelta(minutes=6), timeout=HALF_HOUR)
    assert (reopened.sessions, reopened.closed_at) == (2, None)
    assert reopened.assign_pipeline(None).pipeline_id is None


def test_bad_values_are_typed_errors() -> None:
    with pytest.raises(InvalidInputError):
        Conversation.first_contact(uuid4(), "t", " ", at=T0)
    with pytest.raises(InvalidInputError):
        fresh().record_inbound(T0, timeout=timedelta(0))
    assert session_timeout(None) == HALF_HOUR
    assert session_timeout(5) == timedelta(minutes=5)


# ---------------------------------------------------------------- window rules


def test_adapters_declare_their_platform_window() -> None:
    assert TelegramAdapter.messaging_window is None
    assert WAHAAdapter.messaging_window is None
    for adapter in (WhatsAppCloudAdapter, MessengerAdapter, InstagramAdapter):
        rule = adapter.messaging_window
        assert rule is not None
        assert rule.free_form == timedelta(hours=24)


@pytest.mark.parametrize(
    ("adapter", "kind", "tag", "hours_after", "allowed"),
    [
        (WhatsAppCloudAdapter, "text", None, 23, True),
        (WhatsAppCloudAdapter, "text", None, 25, False),
        (WhatsAppCloudAdapter, "template", None, 1000, True),
        (WhatsAppCloudAdapter, "mark_as_read", None, 1000, True),
        (WhatsAppCloudAdapter, "text", "HUMAN_AGENT", 25, False),  # no tags on WhatsApp
        (MessengerAdapter, "text", None, 25, False),
        (MessengerAdapter, "text", "HUMAN_AGENT", 24 * 6, True),
        (MessengerAdapter, "text", "HUMAN_AGENT", 24 * 7 + 1, False),
        (MessengerAdapter, "text", "ACCOUNT_UPDATE", 24 * 60, True),
        (MessengerAdapter, "template", None, 25, False),  # no templates on Messenger
        (InstagramAdapter, "text", "HUMAN_AGENT", 24 * 6, True),
        (InstagramAdapter, "text", "ACCOUNT_UPDATE", 25, False),  # Instagram has one tag
    ],
)
def test_window_rules(
    adapter: type[WhatsAppCloudAdapter | MessengerAdapter | InstagramAdapter],
    kind: str,
    tag: str | None,
    hours_after: int,
    allowed: bool,
) -> None:
    rule = adapter.messaging_window
    assert rule is not None
    assert rule.allows(kind, tag, T0, T0 + timedelta(hours=hours_after)) is allowed


def test_a_chat_with_no_inbound_is_closed_except_for_exempt_kinds_and_open_tags() -> None:
    rule = MessengerAdapter.messaging_window
    assert rule is not None
    assert not rule.allows("text", None, None, T0)
    assert not rule.allows("text", "HUMAN_AGENT", None, T0)
    assert rule.allows("text", "POST_PURCHASE_UPDATE", None, T0)
    assert rule.allows("typing", None, None, T0)
    window = rule.window(None, T0)
    assert (window.open, window.closes_at) == (False, None)
    assert "HUMAN_AGENT" in window.tags


def test_a_rule_needs_a_positive_window() -> None:
    with pytest.raises(ValueError, match="positive"):
        MessagingWindowRule(free_form=timedelta(0))


# ---------------------------------------------------------------- tracking handled events


def routing() -> RoutingContext:
    return RoutingContext(
        channel_id=uuid4(),
        tenant_id="t",
        project_id=uuid4(),
        channel_type=ChannelType.WAHA,
        pipeline_id=None,
        default_session_timeout_minutes=None,
        ai_enabled=False,
        ai_agents_enabled=False,
    )


def message(**fields: object) -> InboundEvent:
    base: dict[str, object] = {
        "channel_type": "waha",
        "chat_id": "5500000000001@c.us",
        "sender_id": "5500000000001@c.us",
        "sender_aliases": ("100000000000001@lid",),
        "timestamp": T0,
        "idempotency_key": "k1",
        "text": "hi",
    }
    base.update(fields)
    return MessageReceived.model_validate(base)


async def test_tracking_records_customers_links_aliases_and_then_calls_the_handler() -> None:
    conversations, contacts = InMemoryConversationStore(), InMemoryContactAliasStore()
    seen: list[InboundEvent] = []

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        stored = await conversations.get(context.channel_id, event.chat_id, tenant_id="t")
        assert stored is not None  # recorded before the handler runs
        seen.append(event)

    tracked = track_events(handler, conversations=conversations, contacts=contacts)
    where = routing()
    await tracked(message(), where)
    conversation = await conversations.get(where.channel_id, "5500000000001@c.us", tenant_id="t")
    assert conversation is not None
    assert (conversation.sessions, conversation.last_inbound_at) == (1, T0)
    group = await contacts.find("100000000000001@lid", tenant_id="t", channel_id=where.channel_id)
    assert group is not None
    assert group.aliases == {"5500000000001@c.us", "100000000000001@lid"}
    assert len(seen) == 1


async def test_echoes_are_outbound_and_reactions_are_not_customer_messages() -> None:
    conversations = InMemoryConversationStore()

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        return None

    tracked = track_events(handler, conversations=conversations, contacts=None)
    where = routing()
    echo = MessageEcho(
        channel_type="waha", chat_id="c", timestamp=T0, idempotency_key="e", text="from phone"
    )
    await tracked(echo, where)
    reaction = ReactionChanged(
        channel_type="waha",
        chat_id="c",
        timestamp=T0 + timedelta(minutes=1),
        idempotency_key="r",
        target_message_id="m",
        emoji="👍",
    )
    await tracked(reaction, where)
    conversation = await conversations.get(where.channel_id, "c", tenant_id="t")
    assert conversation is not None
    assert (conversation.last_outbound_at, conversation.last_inbound_at) == (T0, None)
    assert conversation.sessions == 0
