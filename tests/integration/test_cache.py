"""The shipped cache contract on the in-memory and Redis caches."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ventros_channels import InMemoryChannelCache
from ventros_channels.errors import RepositoryUnavailableError
from ventros_channels.redis import RedisChannelCache
from ventros_channels.testing import FixedClock
from ventros_channels.testing.contract import ChannelCacheContract
from ventros_channels.testing.contract.inbox import Advance


def clock_advance(clock: FixedClock) -> Advance:
    async def advance(delta: timedelta) -> None:
        clock.advance(delta)

    return advance


class TestInMemoryChannelCache(ChannelCacheContract):
    @pytest.fixture
    def cache(self, fixed_clock: FixedClock) -> InMemoryChannelCache:
        return InMemoryChannelCache(clock=fixed_clock)

    @pytest.fixture
    def advance(self, fixed_clock: FixedClock) -> Advance:
        return clock_advance(fixed_clock)


class TestRedisChannelCache(ChannelCacheContract):
    @pytest.fixture
    def cache(self, redis_client: aioredis.Redis, redis_prefix: str) -> RedisChannelCache:
        return RedisChannelCache(redis_client, prefix=redis_prefix)


async def test_redis_keys_are_prefixed_and_namespaced(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    cache = RedisChannelCache(redis_client, prefix=redis_prefix, namespace="hooks")
    cid = uuid4()
    await cache.set(cid, {"id": str(cid)}, ttl=timedelta(minutes=1))
    keys = [k.decode() async for k in redis_client.scan_iter(match=f"{redis_prefix}:*", count=100)]
    assert keys == [f"{redis_prefix}:hooks:{cid}"]
    ttl = await redis_client.pttl(keys[0])
    assert 0 < ttl <= 60_000


async def test_unreachable_redis_raises_repository_unavailable() -> None:
    no_retry = Retry(NoBackoff(), 0)
    client = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, retry=no_retry)
    try:
        cache = RedisChannelCache(client)
        with pytest.raises(RepositoryUnavailableError):
            await cache.get(uuid4())
    finally:
        await client.aclose()


def test_prefix_and_namespace_are_checked() -> None:
    client = aioredis.Redis(host="127.0.0.1", port=1)
    with pytest.raises(ValueError, match="prefix"):
        RedisChannelCache(client, prefix="")
    with pytest.raises(ValueError, match="namespace"):
        RedisChannelCache(client, namespace="a b")
