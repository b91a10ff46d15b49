"""The :class:`Inbox` port: where verified deliveries wait until a worker has handled them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable
from uuid import UUID

from ventros_channels.inbox._model import AcceptResult, DeadLetter, Delivery, InboxStats, Leased

__all__ = ["Inbox"]


@runtime_checkable
class Inbox(Protocol):
    """A durable queue of inbound deliveries with built-in deduplication.

    Guarantees every implementation gives (the shipped ``InboxContract`` checks them):

    * ``accept`` records each delivery whose key was not recorded before for its channel, and
      nothing else; recording and deduplication are one atomic step. When it returns, what it
      accepted survives a crash of the caller (to the durability of the store).
    * a recorded delivery is handed to one worker at a time (``lease``) until it is completed
      or dead-lettered; a lease that runs out makes it available again (at-least-once).
    * deliveries of one chat (same channel and ``ordering_key``) are handed out one at a time,
      in the order they were accepted, also across failures and retries.
    * the key of a completed delivery is remembered for the store's retention period, so a
      platform's late retry is still recognised as a duplicate.
    """

    async def accept(self, deliveries: Sequence[Delivery]) -> AcceptResult:
        """Record new deliveries atomically with their deduplication."""
        ...

    async def lease(self, worker: str, *, limit: int, visibility: timedelta) -> list[Leased]:
        """Hand up to ``limit`` ready deliveries to ``worker`` for ``visibility``."""
        ...

    async def extend(self, leased: Leased, *, visibility: timedelta) -> Leased | None:
        """Renew a lease still held; ``None`` when it was lost (expired and taken over)."""
        ...

    async def complete(self, leased: Leased) -> bool:
        """Mark handled; ``False`` (and no change) when the lease was lost."""
        ...

    async def fail(self, leased: Leased, *, error: str, retry_at: datetime) -> bool:
        """Give the delivery back, to be handed out again at ``retry_at``."""
        ...

    async def dead_letter(self, leased: Leased, *, error: str) -> bool:
        """Set the delivery aside with its last error; it is kept until replayed or purged."""
        ...

    async def dead_letters(
        self, *, limit: int = 100, channel_id: UUID | None = None
    ) -> list[DeadLetter]:
        """Dead letters, oldest first."""
        ...

    async def replay(self, ids: Sequence[str]) -> int:
        """Make dead letters ready again (attempts start over); returns how many."""
        ...

    async def purge(self, ids: Sequence[str]) -> int:
        """Delete dead letters for good; returns how many."""
        ...

    async def stats(self) -> InboxStats:
        """Counts by state and the age of the oldest unhandled delivery."""
        ...
