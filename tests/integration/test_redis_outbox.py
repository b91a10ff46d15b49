"""The Redis outbox passes the outbox contract against a real Redis."""

from __future__ import annotations

import os
from datetime import timedelta
from uuid import uuid4

import pytest
import redis.asyncio as aioredis

from ventros_channels.outbox import SendState, decode_message
from ventros_channels.redis import RedisOutbox
from ventros_channels.testing.contract import OutboxContract
from ventros_channels.testing.contract.outbox import make_record


class TestRedisOutbox(OutboxContract):
    @pytest.fixture
    def outbox(self, redis_client: aioredis.Redis, redis_prefix: str) -> RedisOutbox:
        return RedisOutbox(redis_client, prefix=redis_prefix)


async def test_a_client_that_decodes_responses_keeps_the_message_bytes(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    client = aioredis.Redis.from_url(os.environ["VENTROS_TEST_REDIS_URL"], decode_responses=True)
    try:
        outbox = RedisOutbox(client, prefix=redis_prefix)
        channel = uuid4()
        record = make_record(channel, "k1", queued=True, text="olá")
        await outbox.reserve(record)
        (lease,) = await outbox.lease("w", limit=1, visibility=timedelta(minutes=1))
        assert decode_message(lease.record.message or b"") == decode_message(record.message or b"")
        assert await outbox.settle(lease, state=SendState.SENT, message_id="m1")
    finally:
        await client.aclose()
