"""Eight dispatchers (as eight web workers would run) sharing one Redis dedupe store."""

from __future__ import annotations

import asyncio
import os
from collections import Counter

import redis.asyncio as aioredis

from ventros_channels import RoutingContext, SystemClock, WebhookDispatcher
from ventros_channels.messaging import InboundEvent
from ventros_channels.redis import RedisDedupeStore
from ventros_channels.testing import InMemoryChannelRepository
from ventros_channels.testing.factories import ChannelFactory
from ventros_channels.testing.fakes import FakeTelegram

WORKERS, DELIVERIES = 8, 1_000


async def test_eight_workers_process_each_of_1000_deliveries_exactly_once(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    url = os.environ["VENTROS_TEST_REDIS_URL"]
    clock = SystemClock()
    repo = InMemoryChannelRepository(clock=clock)
    telegram = FakeTelegram(clock.now)
    channel = ChannelFactory(clock)("telegram", config=telegram.config(), active=True)
    await repo.save(channel)
    deliveries = [
        telegram.text_update(chat_id=1000 + i % 50, text=f"message {i}") for i in range(DELIVERIES)
    ]
    processed: Counter[str] = Counter()

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        processed[event.idempotency_key] += 1
        await asyncio.sleep(0)

    clients = [aioredis.Redis.from_url(url) for _ in range(WORKERS)]
    dispatchers = [
        WebhookDispatcher(repo, handler, dedupe=RedisDedupeStore(client, prefix=redis_prefix))
        for client in clients
    ]
    try:
        for d in dispatchers:
            await d.start()

        async def worker(d: WebhookDispatcher) -> list[int]:
            answers = []
            for request in deliveries:  # every worker gets every delivery (retries, races)
                answers.append((await d.handle("telegram", channel.id, request)).status)
            return answers

        answers = await asyncio.gather(*(worker(d) for d in dispatchers))
        for d in dispatchers:
            await d.drain()
    finally:
        for d in dispatchers:
            await d.stop()
        for client in clients:
            await client.aclose()

    assert {status for per_worker in answers for status in per_worker} == {200}
    assert len(processed) == DELIVERIES
    assert set(processed.values()) == {1}
    assert sum(d.stats.duplicates for d in dispatchers) == (WORKERS - 1) * DELIVERIES
