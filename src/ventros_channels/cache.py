"""Caching of channel snapshots for the webhook path.

A webhook endpoint must not hit the database for every delivery, so the dispatcher keeps
channel snapshots in a :class:`ChannelCache` for a short time. Every change made through
:class:`~ventros_channels.services.ChannelService` evicts the entry when the service's
``on_change`` is the dispatcher's ``on_channel_changed``, in every process sharing the cache
(Redis).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from ventros_channels.clock import Clock, SystemClock

__all__ = ["ChannelCache", "InMemoryChannelCache"]


@runtime_checkable
class ChannelCache(Protocol):
    """Key-value cache of channel snapshots by channel id, with TTL."""

    async def get(self, channel_id: UUID) -> dict[str, Any] | None: ...

    async def set(self, channel_id: UUID, snapshot: dict[str, Any], *, ttl: timedelta) -> None: ...

    async def invalidate(self, channel_id: UUID) -> None: ...


class InMemoryChannelCache:
    """A :class:`ChannelCache` for one process."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._items: dict[UUID, tuple[datetime, dict[str, Any]]] = {}

    async def get(self, channel_id: UUID) -> dict[str, Any] | None:
        item = self._items.get(channel_id)
        if item is None:
            return None
        if item[0] <= self._clock.now():
            del self._items[channel_id]
            return None
        return item[1]

    async def set(self, channel_id: UUID, snapshot: dict[str, Any], *, ttl: timedelta) -> None:
        self._items[channel_id] = (self._clock.now() + ttl, snapshot)

    async def invalidate(self, channel_id: UUID) -> None:
        self._items.pop(channel_id, None)
