"""A :class:`~ventros_channels.DedupeStore` on Redis, safe across processes.

Each key holds ``claimed:<token>`` while a worker has it (with the lease as its TTL) and
``done:<token>`` once completed (with ``retain`` as its TTL). A claim is one ``SET NX PX``;
complete and release are compare-and-set Lua scripts, so only the token's owner changes a
key, atomically, and a claim whose lease ran out can no longer be completed or released.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import redis.asyncio as aioredis

from ventros_channels.dedupe import Claim, ClaimStatus
from ventros_channels.redis._common import as_text, key_prefix, milliseconds, translate_errors

__all__ = ["RedisDedupeStore"]

_CLAIMED = "claimed:"
_DONE = "done:"

# KEYS[1] key; ARGV[1] claimed value, ARGV[2] done value, ARGV[3] retain (ms)
_COMPLETE = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] or v == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

# KEYS[1] key; ARGV[1] claimed value
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_MAX_CLAIM_ATTEMPTS = 5


class RedisDedupeStore:
    """Claim / complete / release of idempotency keys in Redis.

    :param client: a ``redis.asyncio.Redis`` (decoded responses or not).
    :param prefix: first part of every key, e.g. the application's name.
    :param namespace: second part, so several stores can share one prefix.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "ventros",
        namespace: str = "dedupe",
    ) -> None:
        self._client = client
        self._prefix = key_prefix(prefix, namespace)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)

    @property
    def key_prefix(self) -> str:
        """The ``prefix:namespace:`` every key of this store starts with."""
        return self._prefix

    async def claim(self, key: str, *, lease: timedelta) -> Claim:
        """``SET key claimed:<token> NX PX lease``; if the key exists, report its state."""
        name = self._prefix + key
        lease_ms = max(1, milliseconds(lease))
        with translate_errors("dedupe store"):
            for _ in range(_MAX_CLAIM_ATTEMPTS):
                token = secrets.token_hex(16)
                if await self._client.set(name, _CLAIMED + token, nx=True, px=lease_ms):
                    return Claim(ClaimStatus.CLAIMED, token)
                held = as_text(await self._client.get(name))
                if held is not None:
                    done = held.startswith(_DONE)
                    return Claim(ClaimStatus.DONE if done else ClaimStatus.IN_PROGRESS)
                # the key expired between SET and GET: try to take it again
        return Claim(ClaimStatus.IN_PROGRESS)

    async def complete(self, key: str, token: str, *, retain: timedelta) -> None:
        """Mark ``key`` done for ``retain`` if ``token`` still holds it (else a no-op)."""
        retain_ms = max(1, milliseconds(retain))
        with translate_errors("dedupe store"):
            await self._complete(
                keys=[self._prefix + key], args=[_CLAIMED + token, _DONE + token, retain_ms]
            )

    async def release(self, key: str, token: str) -> None:
        """Forget ``key`` if ``token`` holds an unfinished claim on it (else a no-op)."""
        with translate_errors("dedupe store"):
            await self._release(keys=[self._prefix + key], args=[_CLAIMED + token])
