"""Conversations and contact aliases kept up to date from handled events.

:func:`track_events` wraps the host's handler: before it runs, a customer's message (or
postback) records inbound activity on the chat's conversation (starting a session when none
runs), a message our account sent elsewhere (an echo) records outbound activity, and the
sender's other ids are linked in the alias store. Every change is idempotent, so a delivery
handled twice records nothing twice; a store that fails makes the delivery fail and be
retried like any handler failure.
"""

from __future__ import annotations

from datetime import timedelta

from ventros_channels.contacts import ContactAliasStore
from ventros_channels.conversations import (
    DEFAULT_SESSION_TIMEOUT,
    ConversationStore,
    session_timeout,
)
from ventros_channels.domain.channel import RoutingContext
from ventros_channels.messaging.inbound import (
    InboundEvent,
    MessageEcho,
    MessageReceived,
    Postback,
)
from ventros_channels.services.worker import EventHandler

__all__ = ["CUSTOMER_ACTIVITY", "track_events"]

CUSTOMER_ACTIVITY: tuple[type[InboundEvent], ...] = (MessageReceived, Postback)
"""Events that count as the customer writing: they start sessions and open messaging windows
(a button press is a message to Meta's window rules; reactions, edits and statuses are not)."""


def track_events(
    handler: EventHandler,
    *,
    conversations: ConversationStore | None,
    contacts: ContactAliasStore | None,
    default_timeout: timedelta = DEFAULT_SESSION_TIMEOUT,
) -> EventHandler:
    """``handler``, preceded by recording the event in ``conversations`` and ``contacts``
    (either may be ``None``)."""

    async def handle(event: InboundEvent, routing: RoutingContext) -> None:
        if conversations is not None:
            await _record(conversations, event, routing, default_timeout)
        if contacts is not None and event.sender_id and event.sender_aliases and not event.from_me:
            await contacts.link(
                (event.sender_id, *event.sender_aliases),
                tenant_id=routing.tenant_id,
                channel_id=routing.channel_id,
            )
        await handler(event, routing)

    return handle


async def _record(
    store: ConversationStore,
    event: InboundEvent,
    routing: RoutingContext,
    default_timeout: timedelta,
) -> None:
    timeout = session_timeout(routing.default_session_timeout_minutes, default_timeout)
    at = event.timestamp
    if isinstance(event, CUSTOMER_ACTIVITY) and not event.from_me:
        pipeline = routing.pipeline_id
        await store.update(
            routing.channel_id,
            event.chat_id,
            lambda c: c.record_inbound(at, timeout=timeout, pipeline_id=pipeline),
            tenant_id=routing.tenant_id,
            at=at,
        )
    elif isinstance(event, MessageEcho):
        await store.update(
            routing.channel_id,
            event.chat_id,
            lambda c: c.record_outbound(at, timeout=timeout),
            tenant_id=routing.tenant_id,
            at=at,
        )
