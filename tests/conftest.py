"""Fixtures shared by every test folder: a Redis client and a per-test key prefix.

``VENTROS_TEST_REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/0``) turns the Redis tests on;
without it they are skipped with the reason. Each test works under its own key prefix, whose
keys are deleted afterwards.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

REDIS_ENV = "VENTROS_TEST_REDIS_URL"
_RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"
_serial = itertools.count(1)


def redis_url() -> str:
    """The test Redis's URL; skips the calling test when it is not configured."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"Redis integration tests SKIPPED: set {REDIS_ENV} to run them")
    return url


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url())
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    """A key prefix of this run and test; its keys are deleted afterwards."""
    prefix = f"vct-{_RUN_ID}-{next(_serial)}"
    yield prefix
    keys = [key async for key in redis_client.scan_iter(match=f"{prefix}:*", count=500)]
    if keys:
        await redis_client.delete(*keys)
