"""Webhook deduplication: claim, complete, release.

Platforms deliver at least once, so the same event arrives again on retries. The dispatcher
claims each event's idempotency key before handing it to the host:

* ``claim`` → ``CLAIMED`` (go on), ``IN_PROGRESS`` (another worker has it) or ``DONE``;
* ``complete`` after the host handled it: the key is remembered for ``retain``;
* ``release`` when handling failed: the key is forgotten so the platform's retry is processed.

A claim is a lease: if the worker dies without completing or releasing, the key can be
claimed again after ``lease``. Tokens make sure a worker only completes or releases its own
claim. The in-memory store here is for one process; use the Redis store across processes.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable

import attrs

from ventros_channels.clock import Clock, SystemClock

__all__ = ["Claim", "ClaimStatus", "DedupeStore", "InMemoryDedupeStore"]


class ClaimStatus(StrEnum):
    """Result of a claim: taken by us, held by another worker, or already done."""

    CLAIMED = "claimed"
    IN_PROGRESS = "in_progress"
    DONE = "done"


@attrs.frozen
class Claim:
    """Outcome of :meth:`DedupeStore.claim`; ``token`` is set only when ``CLAIMED``."""

    status: ClaimStatus
    token: str | None = None

    @property
    def acquired(self) -> bool:
        return self.status is ClaimStatus.CLAIMED


@runtime_checkable
class DedupeStore(Protocol):
    """Atomic, shared record of which idempotency keys were processed."""

    async def claim(self, key: str, *, lease: timedelta) -> Claim:
        """Atomically take ``key`` unless it is claimed (and not expired) or done."""
        ...

    async def complete(self, key: str, token: str, *, retain: timedelta) -> None:
        """Mark the claimed ``key`` done for ``retain`` (no-op if ``token`` lost the claim)."""
        ...

    async def release(self, key: str, token: str) -> None:
        """Forget the claimed ``key`` so a retry can process it (no-op for a foreign token)."""
        ...


@attrs.define
class _Entry:
    done: bool
    token: str
    expires_at: datetime


_DONE = Claim(ClaimStatus.DONE)
_IN_PROGRESS = Claim(ClaimStatus.IN_PROGRESS)


class InMemoryDedupeStore:
    """A :class:`DedupeStore` for a single process, with TTLs read from ``clock``."""

    def __init__(self, *, clock: Clock | None = None, max_keys: int = 1_000_000) -> None:
        self._clock = clock or SystemClock()
        self._entries: dict[str, _Entry] = {}
        self._max_keys = max_keys
        self._lock = asyncio.Lock()
        self._tokens = itertools.count(1)
        self._prefix = os.urandom(4).hex()

    def __len__(self) -> int:
        return len(self._entries)

    async def claim(self, key: str, *, lease: timedelta) -> Claim:
        now = self._clock.now()
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at > now:
            return _DONE if entry.done else _IN_PROGRESS
        if len(self._entries) >= self._max_keys:
            self._evict(now)
        token = f"{self._prefix}-{next(self._tokens)}"
        self._entries[key] = _Entry(False, token, now + lease)
        return Claim(ClaimStatus.CLAIMED, token)

    async def complete(self, key: str, token: str, *, retain: timedelta) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.token == token:
            entry.done = True
            entry.expires_at = self._clock.now() + retain

    async def release(self, key: str, token: str) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.token == token and not entry.done:
            del self._entries[key]

    def _evict(self, now: datetime) -> None:
        expired = [k for k, e in self._entries.items() if e.expires_at <= now]
        for k in expired:
            del self._entries[k]
        if len(self._entries) >= self._max_keys:  # still full: drop the oldest tenth
            for k in list(self._entries)[: max(1, self._max_keys // 10)]:
                del self._entries[k]
