"""A :class:`~ventros_channels.ChannelCache` on Redis: channel snapshots with a TTL."""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis

from ventros_channels.cipher import ConfigCipher, warn_plaintext_once
from ventros_channels.domain.snapshot import reveal_snapshot, snapshot_secrets
from ventros_channels.http import log_redaction_installed, register_secrets
from ventros_channels.redis._common import as_text, key_prefix, milliseconds, translate_errors

__all__ = ["RedisChannelCache"]

logger = logging.getLogger(__name__)
_SEALED = "vc-sealed:1:"


class RedisChannelCache:
    """Channel snapshots under ``<prefix>:<namespace>:<channel id>``.

    Snapshots hold the channel's secrets (that is what the webhook path needs). With a
    ``cipher`` (a :class:`~ventros_channels.cipher.ConfigCipher`, the same one the SQL
    repository takes) each entry is the encrypted snapshot, so nothing in Redis is readable
    without the key; an entry that does not decrypt (another key, or written before the cipher
    was added) is a cache miss. Without one, entries are JSON in clear and a WARNING says so
    once per process: then use a Redis reachable only by the application, with TLS and ACLs.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "ventros",
        namespace: str = "channel",
        cipher: ConfigCipher | None = None,
    ) -> None:
        self._client = client
        self._prefix = key_prefix(prefix, namespace)
        self._cipher = cipher
        if cipher is None:
            warn_plaintext_once("RedisChannelCache", "Redis", logger)

    @property
    def key_prefix(self) -> str:
        """The ``prefix:namespace:`` every key of this cache starts with."""
        return self._prefix

    def _encode(self, snapshot: dict[str, Any]) -> str:
        if log_redaction_installed():
            register_secrets(snapshot_secrets(snapshot))
        text = json.dumps(reveal_snapshot(snapshot), separators=(",", ":"))
        if self._cipher is None:
            return text
        sealed = self._cipher.encrypt(text.encode())
        return _SEALED + base64.b64encode(sealed).decode("ascii")

    def _decode(self, raw: str) -> dict[str, Any] | None:
        if self._cipher is not None:
            if not raw.startswith(_SEALED):
                return None  # clear text from before the cipher: refetch and seal it
            try:
                raw = self._cipher.decrypt(base64.b64decode(raw[len(_SEALED) :])).decode()
            except Exception:  # any cipher or decoding failure is a miss, never a crash
                return None
        elif raw.startswith(_SEALED):
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    async def get(self, channel_id: UUID) -> dict[str, Any] | None:
        """The cached snapshot, or ``None`` when absent, expired or unreadable."""
        with translate_errors("channel cache"):
            raw = as_text(await self._client.get(self._prefix + str(channel_id)))
        return None if raw is None else self._decode(raw)

    async def set(self, channel_id: UUID, snapshot: dict[str, Any], *, ttl: timedelta) -> None:
        """Store ``snapshot`` for ``ttl`` (a TTL of zero or less just removes the entry)."""
        ttl_ms = milliseconds(ttl)
        name = self._prefix + str(channel_id)
        with translate_errors("channel cache"):
            if ttl_ms <= 0:
                await self._client.delete(name)
                return
            await self._client.set(name, self._encode(snapshot), px=ttl_ms)

    async def invalidate(self, channel_id: UUID) -> None:
        """Delete the entry (no-op if absent)."""
        with translate_errors("channel cache"):
            await self._client.delete(self._prefix + str(channel_id))
