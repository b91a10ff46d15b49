"""What a handler can do about the event it handles: reply, react, mark read, download media.

A :class:`HandlerContext` is built for each handled event by the channel service's
dispatcher. A handler gets it in one of two ways, both always available:

* as a third parameter: ``async def handle(event, routing, ctx)``. Whether the handler takes
  one is read once, when the dispatcher is made (three or more positional parameters);
  handlers with two keep being called with two;
* from anywhere below the handler with :func:`current_handler_context` (``None`` outside one).

Every action goes through :meth:`ChannelService.send`, so it is recorded in the outbox and its
idempotency key is derived from the handled delivery and the action's position in the handler:
a handler that runs again after a failure sends nothing twice. Replies also respect the
channel's messaging window.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, cast

import attrs

from ventros_channels.adapters.base import Capability, MediaContent
from ventros_channels.domain.channel import RoutingContext
from ventros_channels.errors import FieldError, InvalidInputError
from ventros_channels.messaging.inbound import Attachment, InboundEvent
from ventros_channels.messaging.outbound import (
    MarkAsRead,
    OutboundMessage,
    Reaction,
    SendResult,
    TextMessage,
)
from ventros_channels.services.worker import EventHandler

if TYPE_CHECKING:
    from ventros_channels.services.channels import ChannelService

__all__ = [
    "ContextHandler",
    "HandlerContext",
    "current_handler_context",
    "with_handler_context",
]

ContextHandler = Callable[[InboundEvent, RoutingContext, "HandlerContext"], Awaitable[None]]
"""A handler that takes the :class:`HandlerContext` as its third parameter."""

_current: ContextVar[HandlerContext | None] = ContextVar("ventros_handler_context", default=None)


def current_handler_context() -> HandlerContext | None:
    """The context of the event being handled, or ``None`` outside a handler."""
    return _current.get()


@attrs.frozen
class HandlerContext:
    """The handled event, its routing context, and actions answering it in its chat."""

    event: InboundEvent
    routing: RoutingContext
    service: ChannelService = attrs.field(repr=False)

    @property
    def chat_id(self) -> str:
        return self.event.chat_id

    def supports(self, capability: Capability | str) -> bool:
        """Whether the channel's platform offers ``capability`` (check before an action that
        not every platform has, such as :meth:`react` or :meth:`mark_read`)."""
        return self.service.registry.get(str(self.routing.channel_type)).supports(capability)

    async def reply(self, message: str | OutboundMessage, *, quote: bool = False) -> SendResult:
        """Send ``message`` to the event's chat: text as a :class:`TextMessage` (in the
        event's thread, quoting the event when ``quote``), any other outbound message as it
        is. Refused with ``MessagingWindowClosedError`` when the chat's window is closed."""
        if isinstance(message, str):
            message = TextMessage(
                to=self.event.chat_id,
                text=message,
                thread_id=self.event.thread_id,
                reply_to=self.event.message_id if quote else None,
            )
        return await self._send(message)

    async def react(self, emoji: str | None) -> SendResult:
        """React to the event's message with ``emoji`` (``None`` removes the reaction)."""
        target = self._message_id("react to")
        return await self._send(Reaction(to=self.event.chat_id, message_id=target, emoji=emoji))

    async def mark_read(self) -> SendResult:
        """Mark the event's message (and those before it) as read."""
        target = self._message_id("mark as read")
        return await self._send(MarkAsRead(to=self.event.chat_id, message_id=target))

    async def download_media(self, attachment: Attachment | None = None) -> MediaContent:
        """The bytes of ``attachment``, by default the event's first one."""
        if attachment is None:
            attachments: tuple[Attachment, ...] = getattr(self.event, "attachments", ())
            if not attachments:
                raise InvalidInputError(
                    "event", [FieldError("attachments", "the event has no attachment")]
                )
            attachment = attachments[0]
        return await self.service.download_media(
            self.routing.channel_id, attachment, tenant_id=self.routing.tenant_id
        )

    async def _send(self, message: OutboundMessage) -> SendResult:
        return await self.service.send(
            self.routing.channel_id, message, tenant_id=self.routing.tenant_id
        )

    def _message_id(self, action: str) -> str:
        if not self.event.message_id:
            raise InvalidInputError(
                "event", [FieldError("message_id", f"the event has no message to {action}")]
            )
        return self.event.message_id


def takes_context(handler: EventHandler | ContextHandler) -> bool:
    """Whether ``handler`` declares a third positional parameter for the context."""
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):  # a callable whose signature cannot be read: two
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in positional for p in parameters) >= 3


def with_handler_context(
    handler: EventHandler | ContextHandler, service: ChannelService
) -> EventHandler:
    """``handler`` as a two-parameter handler that builds the event's :class:`HandlerContext`,
    makes it current, and passes it as third argument when the handler takes one."""
    third = takes_context(handler)

    async def handle(event: InboundEvent, routing: RoutingContext) -> None:
        context = HandlerContext(event, routing, service)
        token = _current.set(context)
        try:
            if third:
                await cast(ContextHandler, handler)(event, routing, context)
            else:
                await cast(EventHandler, handler)(event, routing)
        finally:
            _current.reset(token)

    return handle
