"""The :class:`ConversationStore` port: conversations by channel and chat."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

from ventros_channels.conversations._model import Conversation, SessionMetrics

__all__ = ["ConversationChange", "ConversationStore"]

ConversationChange = Callable[[Conversation], Conversation]
"""A pure function from the stored conversation to its next state (a method of
:class:`Conversation`, bound to its arguments)."""


@runtime_checkable
class ConversationStore(Protocol):
    """Conversations keyed by ``(channel_id, chat_id)``, each scoped to its tenant.

    Guarantees every implementation gives (the shipped ``ConversationStoreContract`` checks
    them):

    * ``update`` applies its change atomically: two concurrent updates of one chat both take
      effect, one after the other (neither is lost); the stored ``version`` goes up by one;
    * a conversation is only visible with its own tenant id;
    * ``session_metrics`` counts the sessions started in the channel's chats and those
      running at ``now``.
    """

    async def get(self, channel_id: UUID, chat_id: str, *, tenant_id: str) -> Conversation | None:
        """The conversation, or ``None`` when the chat was never recorded (for this tenant)."""
        ...

    async def update(
        self,
        channel_id: UUID,
        chat_id: str,
        change: ConversationChange,
        *,
        tenant_id: str,
        at: datetime,
    ) -> Conversation:
        """Apply ``change`` to the stored conversation (a first contact at ``at`` when there
        is none) and store the result; returns what was stored."""
        ...

    async def find(
        self,
        channel_id: UUID,
        *,
        tenant_id: str,
        open_at: datetime | None = None,
        limit: int = 100,
    ) -> list[Conversation]:
        """The channel's conversations, most recently started session first; with
        ``open_at``, only those with a session running then."""
        ...

    async def session_metrics(
        self, channel_id: UUID, *, tenant_id: str, now: datetime
    ) -> SessionMetrics:
        """Sessions started in the channel, and sessions running at ``now``."""
        ...
