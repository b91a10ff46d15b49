"""The shipped dedupe-store and cache contracts on the in-memory and Redis versions."""

from __future__ import annotations

import os
from datetime import timedelta
from uuid import uuid4

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ventros_channels import InMemoryChannelCache, InMemoryDedupeStore
from ventros_channels.errors import RepositoryUnavailableError
from ventros_channels.redis import RedisChannelCache, RedisDedupeStore
from ventros_channels.testing import FixedClock
from ventros_channels.testing.contract import ChannelCacheContract, DedupeStoreContract
from ventros_channels.testing.contract.dedupe import Advance


def clock_advance(clock: FixedClock) -> Advance:
    async def advance(delta: timedelta) -> None:
        clock.advance(delta)

    return advance


class TestInMemoryDedupeStore(DedupeStoreContract):
    @pytest.fixture
    def store(self, fixed_clock: FixedClock) -> InMemoryDedupeStore:
        return InMemoryDedupeStore(clock=fixed_clock)

    @pytest.fixture
    def advance(self, fixed_clock: FixedClock) -> Advance:
        return clock_advance(fixed_clock)


class TestRedisDedupeStore(DedupeStoreContract):
    @pytest.fixture
    def store(self, redis_client: aioredis.Redis, redis_prefix: str) -> RedisDedupeStore:
        return RedisDedupeStore(redis_client, prefix=redis_prefix)


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
    store = RedisDedupeStore(redis_client, prefix=redis_prefix, namespace="hooks")
    cache = RedisChannelCache(redis_client, prefix=redis_prefix)
    claim = await store.claim("evt-1", lease=timedelta(minutes=1))
    assert claim.token is not None
    cid = uuid4()
    await cache.set(cid, {"id": str(cid)}, ttl=timedelta(minutes=1))
    keys = sorted(
        [k.decode() async for k in redis_client.scan_iter(match=f"{redis_prefix}:*", count=100)]
    )
    assert keys == [f"{redis_prefix}:channel:{cid}", f"{redis_prefix}:hooks:evt-1"]
    value = await redis_client.get(f"{redis_prefix}:hooks:evt-1")
    assert value == f"claimed:{claim.token}".encode()
    ttl = await redis_client.pttl(f"{redis_prefix}:hooks:evt-1")
    assert 0 < ttl <= 60_000


async def test_redis_works_with_decoded_responses(redis_prefix: str) -> None:
    from tests.integration.conftest import REDIS_ENV

    client = aioredis.Redis.from_url(os.environ[REDIS_ENV], decode_responses=True)
    try:
        store = RedisDedupeStore(client, prefix=redis_prefix)
        claim = await store.claim("k", lease=timedelta(minutes=1))
        assert claim.token is not None
        await store.complete("k", claim.token, retain=timedelta(minutes=1))
        assert (await store.claim("k", lease=timedelta(minutes=1))).status == "done"
    finally:
        await client.aclose()


async def test_unreachable_redis_raises_repository_unavailable() -> None:
    no_retry = Retry(NoBackoff(), 0)
    client = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, retry=no_retry)
    try:
        store = RedisDedupeStore(client)
        with pytest.raises(RepositoryUnavailableError):
            await store.claim("k", lease=timedelta(seconds=5))
        cache = RedisChannelCache(client)
        with pytest.raises(RepositoryUnavailableError):
            await cache.get(uuid4())
    finally:
        await client.aclose()


def test_prefix_and_namespace_are_checked() -> None:
    client = aioredis.Redis(host="127.0.0.1", port=1)
    with pytest.raises(ValueError, match="prefix"):
        RedisDedupeStore(client, prefix="")
    with pytest.raises(ValueError, match="namespace"):
        RedisChannelCache(client, namespace="a b")
