"""An in-process :class:`ConversationStore` (tests, single-process hosts)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID

import attrs

from ventros_channels.clock import ensure_utc
from ventros_channels.conversations._model import Conversation, SessionMetrics, foreign_chat
from ventros_channels.conversations._port import ConversationChange

__all__ = ["InMemoryConversationStore"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InMemoryConversationStore:
    """Conversations in a dict; one lock makes every update atomic."""

    def __init__(self) -> None:
        self._items: dict[tuple[UUID, str], Conversation] = {}
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._items)

    async def get(self, channel_id: UUID, chat_id: str, *, tenant_id: str) -> Conversation | None:
        found = self._items.get((channel_id, chat_id))
        return found if found is not None and found.tenant_id == tenant_id else None

    async def update(
        self,
        channel_id: UUID,
        chat_id: str,
        change: ConversationChange,
        *,
        tenant_id: str,
        at: datetime,
    ) -> Conversation:
        async with self._lock:
            current = self._items.get((channel_id, chat_id))
            if current is not None and current.tenant_id != tenant_id:
                raise foreign_chat(channel_id)
            base = current or Conversation.first_contact(channel_id, tenant_id, chat_id, at=at)
            changed = attrs.evolve(change(base), version=base.version + 1)
            self._items[(channel_id, chat_id)] = changed
            return changed

    async def find(
        self,
        channel_id: UUID,
        *,
        tenant_id: str,
        open_at: datetime | None = None,
        limit: int = 100,
    ) -> list[Conversation]:
        mine = [
            c
            for c in self._items.values()
            if c.channel_id == channel_id
            and c.tenant_id == tenant_id
            and (open_at is None or c.is_open(ensure_utc(open_at)))
        ]
        mine.sort(key=lambda c: (c.session_started_at or _EPOCH, c.chat_id), reverse=True)
        return mine[:limit]

    async def session_metrics(
        self, channel_id: UUID, *, tenant_id: str, now: datetime
    ) -> SessionMetrics:
        mine = [
            c
            for c in self._items.values()
            if c.channel_id == channel_id and c.tenant_id == tenant_id
        ]
        return SessionMetrics(
            sessions_created=sum(c.sessions for c in mine),
            active_sessions=sum(1 for c in mine if c.is_open(ensure_utc(now))),
        )
