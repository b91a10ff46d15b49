"""Eight dispatchers (as eight web workers would run) sharing one inbox and its workers."""

from __future__ import annotations

import asyncio
from collections import Counter

from ventros_channels import InMemoryInbox, RoutingContext, SystemClock, WebhookDispatcher, Worker
from ventros_channels.messaging import InboundEvent
from ventros_channels.testing import InMemoryChannelRepository
from ventros_channels.testing.factories import ChannelFactory
from ventros_channels.testing.fakes import FakeTelegram

WORKERS, DELIVERIES = 8, 1_000


async def test_eight_dispatchers_record_each_of_1000_deliveries_once() -> None:
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

    inbox = InMemoryInbox()
    dispatchers = [WebhookDispatcher(repo, inbox=inbox) for _ in range(WORKERS)]
    worker = Worker(inbox, handler, concurrency=4)
    try:
        await worker.start()
        for d in dispatchers:
            await d.start()

        async def post_all(d: WebhookDispatcher) -> list[int]:
            answers = []
            for request in deliveries:  # every worker gets every delivery (retries, races)
                answers.append((await d.handle("telegram", channel.id, request)).status)
            return answers

        answers = await asyncio.gather(*(post_all(d) for d in dispatchers))
        await worker.wait_until_idle()
    finally:
        for d in dispatchers:
            await d.stop()
        await worker.stop()

    assert {status for per_worker in answers for status in per_worker} == {200}
    assert len(processed) == DELIVERIES
    assert set(processed.values()) == {1}
    assert sum(d.stats.duplicates for d in dispatchers) == (WORKERS - 1) * DELIVERIES
