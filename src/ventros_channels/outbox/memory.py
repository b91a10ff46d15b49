"""An in-process :class:`~ventros_channels.outbox.Outbox` for tests, demos and one process.

**Not crash-safe**: a restart forgets which sends were made, so a handler re-run after a
restart may send again. Use the SQL or Redis outbox for at-most-once across restarts.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from ventros_channels.clock import Clock, SystemClock
from ventros_channels.outbox._model import LeasedSend, SendRecord, SendState

__all__ = ["InMemoryOutbox"]

_EXPIRED = "the sender's lease ran out before it recorded an outcome"


class InMemoryOutbox:
    """Records in a dict, queued sends in per-chat queues; see the module docstring."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._records: dict[tuple[UUID, str], SendRecord] = {}
        self._leases: dict[tuple[UUID, str], tuple[str, datetime]] = {}
        self._chats: dict[tuple[UUID, str], deque[str]] = {}
        self._tokens = itertools.count(1)
        self._prefix = os.urandom(3).hex()

    def __repr__(self) -> str:
        return f"InMemoryOutbox(records={len(self._records)})"

    async def reserve(self, record: SendRecord) -> tuple[SendRecord, bool]:
        ident = (record.channel_id, record.key)
        known = self._records.get(ident)
        if known is not None:
            return known, False
        self._records[ident] = record
        if record.state is SendState.QUEUED:
            self._chats.setdefault((record.channel_id, record.chat_id), deque()).append(record.key)
        return record, True

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
        ident = (channel_id, key)
        record = self._records.get(ident)
        if record is None or record.state is not SendState.PENDING or ident in self._leases:
            return None
        return self._write(ident, record, state, message_id, error_type, error)

    async def reopen(self, channel_id: UUID, key: str) -> SendRecord | None:
        ident = (channel_id, key)
        record = self._records.get(ident)
        if record is None or record.state is SendState.SENT:
            return None
        self._leases.pop(ident, None)
        self._drop_from_chat(record)
        updated = attrs.evolve(
            record,
            state=SendState.PENDING,
            attempts=record.attempts + 1,
            updated_at=self._clock.now(),
        )
        self._records[ident] = updated
        return updated

    async def resolve(self, channel_id: UUID, key: str, *, message_id: str | None) -> bool:
        self._expire_leases()
        ident = (channel_id, key)
        record = self._records.get(ident)
        unsure = (SendState.UNCERTAIN, SendState.PENDING)
        if record is None or record.state not in unsure or ident in self._leases:
            return False
        self._write(ident, record, SendState.SENT, message_id, None, None)
        return True

    async def get(self, channel_id: UUID, key: str) -> SendRecord | None:
        self._expire_leases()
        return self._records.get((channel_id, key))

    async def find(
        self, *, state: SendState | None = None, channel_id: UUID | None = None, limit: int = 100
    ) -> list[SendRecord]:
        self._expire_leases()
        found = [
            r
            for r in self._records.values()
            if (state is None or r.state is state)
            and (channel_id is None or r.channel_id == channel_id)
        ]
        found.sort(key=lambda r: r.created_at)
        return found[:limit]

    async def lease(self, worker: str, *, limit: int, visibility: timedelta) -> list[LeasedSend]:
        self._expire_leases()
        now = self._clock.now()
        out: list[LeasedSend] = []
        for (channel_id, _), queue in self._chats.items():
            if len(out) >= limit:
                break
            ident = (channel_id, queue[0])
            record = self._records[ident]
            if ident in self._leases or (record.available_at and record.available_at > now):
                continue
            token = f"{worker}:{self._prefix}-{next(self._tokens)}"
            until = now + visibility
            self._leases[ident] = (token, until)
            record = attrs.evolve(
                record, state=SendState.PENDING, attempts=record.attempts + 1, updated_at=now
            )
            self._records[ident] = record
            out.append(LeasedSend(record, token, until))
        return out

    async def settle(
        self,
        leased: LeasedSend,
        *,
        state: SendState,
        message_id: str | None = None,
        error_type: str | None = None,
        error: str | None = None,
    ) -> bool:
        ident = self._held(leased)
        if ident is None:
            return False
        del self._leases[ident]
        record = self._records[ident]
        self._drop_from_chat(record)
        self._write(ident, record, state, message_id, error_type, error)
        return True

    async def requeue(
        self, leased: LeasedSend, *, retry_at: datetime, error_type: str, error: str
    ) -> bool:
        ident = self._held(leased)
        if ident is None:
            return False
        del self._leases[ident]
        self._records[ident] = attrs.evolve(
            self._records[ident],
            state=SendState.QUEUED,
            available_at=retry_at,
            error_type=error_type,
            error=error,
            updated_at=self._clock.now(),
        )
        return True

    # ------------------------------------------------------------------ internals

    def _held(self, leased: LeasedSend) -> tuple[UUID, str] | None:
        self._expire_leases()
        ident = (leased.record.channel_id, leased.record.key)
        held = self._leases.get(ident)
        return ident if held is not None and held[0] == leased.token else None

    def _write(
        self,
        ident: tuple[UUID, str],
        record: SendRecord,
        state: SendState,
        message_id: str | None,
        error_type: str | None,
        error: str | None,
    ) -> SendRecord:
        updated = attrs.evolve(
            record,
            state=state,
            message_id=message_id,
            error_type=error_type,
            error=error,
            updated_at=self._clock.now(),
        )
        self._records[ident] = updated
        return updated

    def _drop_from_chat(self, record: SendRecord) -> None:
        chat = (record.channel_id, record.chat_id)
        queue = self._chats.get(chat)
        if queue is not None and record.key in queue:
            queue.remove(record.key)
            if not queue:
                del self._chats[chat]

    def _expire_leases(self) -> None:
        """A queued send whose sender vanished may have gone out: it becomes uncertain."""
        now = self._clock.now()
        expired = [i for i, (_, until) in self._leases.items() if until <= now]
        for ident in expired:
            del self._leases[ident]
            record = self._records[ident]
            self._drop_from_chat(record)
            self._write(ident, record, SendState.UNCERTAIN, None, "LeaseExpired", _EXPIRED)
