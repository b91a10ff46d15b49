"""A :class:`~ventros_channels.ChannelCache` on Redis: JSON snapshots with a TTL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis

from ventros_channels.redis._common import as_text, key_prefix, milliseconds, translate_errors

__all__ = ["RedisChannelCache"]


class RedisChannelCache:
    """Channel snapshots as JSON strings under ``<prefix>:<namespace>:<channel id>``.

    Snapshots hold the channel's secrets (that is what the webhook path needs); use a Redis
    reachable only by the application, with TLS and ACLs where it crosses a network.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "ventros",
        namespace: str = "channel",
    ) -> None:
        self._client = client
        self._prefix = key_prefix(prefix, namespace)

    @property
    def key_prefix(self) -> str:
        """The ``prefix:namespace:`` every key of this cache starts with."""
        return self._prefix

    async def get(self, channel_id: UUID) -> dict[str, Any] | None:
        """The cached snapshot, or ``None`` when absent or expired."""
        with translate_errors("channel cache"):
            raw = as_text(await self._client.get(self._prefix + str(channel_id)))
        if raw is None:
            return None
        value = json.loads(raw)
        return value if isinstance(value, dict) else None

    async def set(self, channel_id: UUID, snapshot: dict[str, Any], *, ttl: timedelta) -> None:
        """Store ``snapshot`` for ``ttl`` (a TTL of zero or less just removes the entry)."""
        ttl_ms = milliseconds(ttl)
        name = self._prefix + str(channel_id)
        with translate_errors("channel cache"):
            if ttl_ms <= 0:
                await self._client.delete(name)
                return
            payload = json.dumps(snapshot, separators=(",", ":"))
            await self._client.set(name, payload, px=ttl_ms)

    async def invalidate(self, channel_id: UUID) -> None:
        """Delete the entry (no-op if absent)."""
        with translate_errors("channel cache"):
            await self._client.delete(self._prefix + str(channel_id))
