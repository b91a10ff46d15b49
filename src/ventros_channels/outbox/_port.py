"""The :class:`Outbox` port: a record of every outbound send, so none is made twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable
from uuid import UUID

from ventros_channels.outbox._model import LeasedSend, SendRecord, SendState

__all__ = ["Outbox"]


@runtime_checkable
class Outbox(Protocol):
    """Outbound sends by ``(channel_id, key)``, recorded before the request is made.

    Guarantees every implementation gives (the shipped ``OutboxContract`` checks them):

    * ``reserve`` creates a record only when none exists for its key, atomically, so of two
      concurrent sends with one key exactly one goes on to call the platform;
    * a record's outcome is written once by whoever holds it (``finish`` for direct sends,
      ``settle`` / ``requeue`` with the lease token for queued ones);
    * queued sends of one chat are handed out one at a time, in the order they were queued.
    """

    async def reserve(self, record: SendRecord) -> tuple[SendRecord, bool]:
        """Store ``record`` (``pending`` or ``queued``) unless its key exists; returns the
        stored record and whether this call created it.
        """
        ...

    async def finish(
        self,
        channel_id: UUID,
        key: str,
        *,
        state: SendState,
        message_id: str | None = None,
        error_type: str | None = None,
        error: str | None = None,
    ) -> SendRecord | None:
        """Write the outcome of a direct send that is ``pending``; ``None`` if it is not."""
        ...

    async def reopen(self, channel_id: UUID, key: str) -> SendRecord | None:
        """Move a record that is not ``sent`` back to ``pending`` for a send the host forces
        (``resend=True``); ``None`` when there is no such record or it was sent.
        """
        ...

    async def resolve(self, channel_id: UUID, key: str, *, message_id: str | None) -> bool:
        """The platform confirmed a send that was ``uncertain`` or ``pending`` (a status
        webhook carried its key): record it ``sent``. ``False`` when there was nothing to do.
        """
        ...

    async def get(self, channel_id: UUID, key: str) -> SendRecord | None:
        """The record of a key, if any."""
        ...

    async def find(
        self, *, state: SendState | None = None, channel_id: UUID | None = None, limit: int = 100
    ) -> list[SendRecord]:
        """Records, oldest first, optionally by state and channel (e.g. every ``uncertain``)."""
        ...

    async def lease(self, worker: str, *, limit: int, visibility: timedelta) -> list[LeasedSend]:
        """Hand up to ``limit`` due queued sends to ``worker`` (state becomes ``pending``)."""
        ...

    async def settle(
        self,
        leased: LeasedSend,
        *,
        state: SendState,
        message_id: str | None = None,
        error_type: str | None = None,
        error: str | None = None,
    ) -> bool:
        """Write the outcome of a leased send; ``False`` when the lease was lost."""
        ...

    async def requeue(
        self, leased: LeasedSend, *, retry_at: datetime, error_type: str, error: str
    ) -> bool:
        """Give a leased send back, to be tried at ``retry_at`` (the platform did not act)."""
        ...
