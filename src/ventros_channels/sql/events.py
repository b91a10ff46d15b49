"""Domain events published once the change that raised them is committed: a transactional
outbox on the SQL repository.

With ``SqlChannelRepository(..., event_outbox=True)`` a save writes the channel's new domain
events to the ``channel_events`` table in the same transaction as the channel row, so a change
and its events are committed together or not at all. The :class:`EventRelay` then hands them
to the host's :class:`~ventros_channels.EventPublisher`:

* **at least once**: an event is marked published only after ``publish`` returned; a crash in
  between publishes it again (``event_id`` lets the receiver drop the repeat);
* **in order per channel**: one relay works at a time (a PostgreSQL advisory lock; SQLite
  has one writer anyway), in the order the events were committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ventros_channels.clock import Clock, SystemClock
from ventros_channels.domain.events import ChannelEvent, event_from_dict
from ventros_channels.publisher import EventPublisher

if TYPE_CHECKING:
    from ventros_channels.sql.repository import SqlChannelRepository

__all__ = ["EventRelay", "event_rows"]

logger = logging.getLogger(__name__)


def event_rows(events: Sequence[ChannelEvent]) -> list[dict[str, Any]]:
    """The outbox rows of ``events`` (their JSON form, which never holds a secret)."""
    return [
        {
            "event_id": e.event_id,
            "channel_id": e.channel_id,
            "tenant_id": e.tenant_id,
            "event_type": e.event_type,
            "payload": e.to_dict(),
            "occurred_at": e.occurred_at,
        }
        for e in events
    ]


class EventRelay:
    """Publishes committed domain events from the outbox table; see the module docstring."""

    def __init__(
        self,
        repository: SqlChannelRepository,
        publisher: EventPublisher,
        *,
        batch: int = 100,
        poll_interval: float = 0.5,
        clock: Clock | None = None,
    ) -> None:
        table = repository.events_table
        if table is None:
            raise ValueError("the repository was created without event_outbox=True")
        self.table = table
        self.engine = repository.engine
        self.publisher = publisher
        self.batch = batch
        self.poll_interval = poll_interval
        self.clock = clock or SystemClock()
        self.published = 0
        self._task: asyncio.Task[None] | None = None
        self._lock_key = zlib.crc32(f"ventros-relay:{table.fullname}".encode())

    async def run_once(self) -> int:
        """Publish up to ``batch`` unpublished events, oldest first; returns how many."""
        t = self.table
        async with self.engine.begin() as conn:
            if not await self._exclusive(conn):
                return 0
            # mark first: the write lock keeps a second relay (or SQLite process) waiting until
            # this transaction ends; if publishing fails the marks roll back with it
            due = (
                sa.select(t.c.id)
                .where(t.c.published_at.is_(None))
                .order_by(t.c.id)
                .limit(self.batch)
                .scalar_subquery()
            )
            marked = await conn.execute(
                sa.update(t)
                .where(t.c.id.in_(due), t.c.published_at.is_(None))
                .values(published_at=self.clock.now())
                .returning(t.c.id, t.c.payload)
            )
            rows = sorted(marked.all(), key=lambda row: row.id)
            if not rows:
                return 0
            await self.publisher.publish([event_from_dict(dict(row.payload)) for row in rows])
        self.published += len(rows)
        return len(rows)

    async def _exclusive(self, conn: AsyncConnection) -> bool:
        """One relay at a time, so events of a channel are published in order."""
        if conn.dialect.name != "postgresql":
            return True
        taken = await conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(self._lock_key)))
        return bool(taken.scalar())

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="ventros-event-relay")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> EventRelay:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _loop(self) -> None:
        while True:
            try:
                published = await self.run_once()
            except Exception as exc:  # the publisher or the database failed: try again later
                logger.warning("event relay: %s; retrying", type(exc).__name__)
                published = 0
            if published < self.batch:
                await asyncio.sleep(self.poll_interval)
