"""An in-process :class:`~ventros_channels.inbox.Inbox` for tests, demos and one process.

**Not crash-safe**: everything lives in this process's memory, so a crash loses what was
accepted and not yet handled, and a restart forgets which keys were seen. Use the SQL or
Redis inbox when a 200 must survive the process.
"""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict, deque
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from ventros_channels.clock import Clock, SystemClock
from ventros_channels.inbox._model import AcceptResult, DeadLetter, Delivery, InboxStats, Leased

__all__ = ["InMemoryInbox"]


@attrs.define
class _Entry:
    id: str
    delivery: Delivery
    accepted_at: datetime
    available_at: datetime
    attempts: int = 0
    token: str | None = None
    leased_until: datetime | None = None
    error: str | None = None
    dead_at: datetime | None = None


class InMemoryInbox:
    """Deliveries in dicts and per-chat queues; see the module docstring for its limits."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        retain: timedelta = timedelta(days=7),
        max_keys: int = 1_000_000,
    ) -> None:
        self._clock = clock or SystemClock()
        self._retain = retain
        self._max_keys = max_keys
        self._ids = itertools.count(1)
        self._prefix = os.urandom(3).hex()
        self._entries: dict[str, _Entry] = {}
        self._chats: dict[tuple[UUID, str], deque[str]] = {}
        self._done: OrderedDict[tuple[UUID, str], datetime] = OrderedDict()
        self._keys: set[tuple[UUID, str]] = set()
        self._dead: dict[str, _Entry] = {}

    def __repr__(self) -> str:
        return f"InMemoryInbox(entries={len(self._entries)}, dead={len(self._dead)})"

    async def accept(self, deliveries: Sequence[Delivery]) -> AcceptResult:
        now = self._clock.now()
        self._forget_expired(now)
        accepted: list[Delivery] = []
        for delivery in deliveries:
            key = (delivery.channel_id, delivery.key)
            if key in self._keys or key in self._done:
                continue
            self._keys.add(key)
            entry = _Entry(f"{self._prefix}-{next(self._ids)}", delivery, now, now)
            self._entries[entry.id] = entry
            chat = (delivery.channel_id, delivery.ordering_key)
            self._chats.setdefault(chat, deque()).append(entry.id)
            accepted.append(delivery)
        return AcceptResult(tuple(accepted), len(deliveries) - len(accepted))

    async def lease(self, worker: str, *, limit: int, visibility: timedelta) -> list[Leased]:
        now = self._clock.now()
        out: list[Leased] = []
        for queue in self._chats.values():
            if len(out) >= limit:
                break
            head = self._entries[queue[0]]
            if head.available_at > now:
                continue
            if head.leased_until is not None and head.leased_until > now:
                continue
            head.attempts += 1
            head.token = f"{worker}:{next(self._ids)}"
            head.leased_until = now + visibility
            out.append(self._leased(head))
        return out

    async def extend(self, leased: Leased, *, visibility: timedelta) -> Leased | None:
        entry = self._held(leased)
        if entry is None:
            return None
        entry.leased_until = self._clock.now() + visibility
        return self._leased(entry)

    async def complete(self, leased: Leased) -> bool:
        entry = self._held(leased)
        if entry is None:
            return False
        self._remove(entry)
        key = (entry.delivery.channel_id, entry.delivery.key)
        self._done[key] = self._clock.now() + self._retain
        self._done.move_to_end(key)
        return True

    async def fail(self, leased: Leased, *, error: str, retry_at: datetime) -> bool:
        entry = self._held(leased)
        if entry is None:
            return False
        entry.token = entry.leased_until = None
        entry.available_at = retry_at
        entry.error = error
        return True

    async def dead_letter(self, leased: Leased, *, error: str) -> bool:
        entry = self._held(leased)
        if entry is None:
            return False
        self._remove(entry)
        self._keys.add((entry.delivery.channel_id, entry.delivery.key))  # still a duplicate
        entry.token = entry.leased_until = None
        entry.error = error
        entry.dead_at = self._clock.now()
        self._dead[entry.id] = entry
        return True

    async def dead_letters(
        self, *, limit: int = 100, channel_id: UUID | None = None
    ) -> list[DeadLetter]:
        now = self._clock.now()
        letters = [
            DeadLetter(e.id, e.delivery, e.attempts, e.error or "", e.dead_at or now, e.accepted_at)
            for e in self._dead.values()
            if channel_id is None or e.delivery.channel_id == channel_id
        ]
        return letters[:limit]

    async def replay(self, ids: Sequence[str]) -> int:
        replayed = 0
        now = self._clock.now()
        for letter_id in dict.fromkeys(ids):
            entry = self._dead.pop(letter_id, None)
            if entry is None:
                continue
            entry.attempts, entry.available_at, entry.dead_at = 0, now, None
            self._entries[entry.id] = entry
            chat = (entry.delivery.channel_id, entry.delivery.ordering_key)
            self._chats.setdefault(chat, deque()).append(entry.id)
            replayed += 1
        return replayed

    async def purge(self, ids: Sequence[str]) -> int:
        purged = 0
        until = self._clock.now() + self._retain
        for letter_id in dict.fromkeys(ids):
            entry = self._dead.pop(letter_id, None)
            if entry is not None:
                key = (entry.delivery.channel_id, entry.delivery.key)
                self._keys.discard(key)
                self._done[key] = until  # a late retry of a purged event stays a duplicate
                purged += 1
        return purged

    async def stats(self) -> InboxStats:
        now = self._clock.now()
        ready = scheduled = in_flight = 0
        oldest: datetime | None = None
        for entry in self._entries.values():
            if entry.token is not None and entry.leased_until and entry.leased_until > now:
                in_flight += 1
            elif entry.available_at > now:
                scheduled += 1
            else:
                ready += 1
            if oldest is None or entry.accepted_at < oldest:
                oldest = entry.accepted_at
        age = None if oldest is None else now - oldest
        return InboxStats(ready, scheduled, in_flight, len(self._dead), age)

    # ------------------------------------------------------------------ internals

    def _leased(self, entry: _Entry) -> Leased:
        assert entry.token is not None
        assert entry.leased_until is not None
        return Leased(
            entry.id,
            entry.delivery,
            entry.attempts,
            entry.token,
            entry.leased_until,
            entry.accepted_at,
        )

    def _held(self, leased: Leased) -> _Entry | None:
        entry = self._entries.get(leased.id)
        if entry is None or entry.token != leased.token:
            return None
        return entry

    def _remove(self, entry: _Entry) -> None:
        del self._entries[entry.id]
        self._keys.discard((entry.delivery.channel_id, entry.delivery.key))
        chat = (entry.delivery.channel_id, entry.delivery.ordering_key)
        queue = self._chats[chat]
        queue.remove(entry.id)
        if not queue:
            del self._chats[chat]

    def _forget_expired(self, now: datetime) -> None:
        while self._done:
            key, until = next(iter(self._done.items()))
            if until > now and len(self._done) < self._max_keys:
                break
            del self._done[key]
