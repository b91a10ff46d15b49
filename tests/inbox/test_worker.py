"""The worker: at-least-once handling, back-off, dead letters, outages, ordering, shutdown."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from ventros_channels import RoutingContext
from ventros_channels.errors import InboxUnavailableError, NotStartedError
from ventros_channels.inbox import InMemoryInbox, Leased
from ventros_channels.messaging import InboundEvent
from ventros_channels.services import HandlerRetry, Worker, current_delivery
from ventros_channels.testing.contract.inbox import make_delivery

FAST = HandlerRetry(max_attempts=3, base_delay=timedelta(milliseconds=1), jitter=0)


class FlakyInbox(InMemoryInbox):
    """An in-memory inbox whose store can be switched off, as an outage would."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise InboxUnavailableError("store unreachable")

    async def lease(self, worker: str, *, limit: int, visibility: timedelta) -> list[Leased]:
        self._check()
        return await super().lease(worker, limit=limit, visibility=visibility)

    async def complete(self, leased: Leased) -> bool:
        self._check()
        return await super().complete(leased)

    async def fail(self, leased: Leased, *, error: str, retry_at: datetime) -> bool:
        self._check()
        return await super().fail(leased, error=error, retry_at=retry_at)


def test_retry_delays_grow_and_are_capped() -> None:
    policy = HandlerRetry(base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=10))
    delays = [policy.delay(n) for n in range(1, 8)]
    assert all(d <= timedelta(seconds=10) for d in delays)
    assert delays[-1] >= timedelta(seconds=7.5)  # capped, less at most a quarter of jitter
    assert delays[0] <= timedelta(seconds=1)
    assert policy.exhausted(5)
    assert not policy.exhausted(4)


async def test_handler_sees_its_attempt_and_the_event_is_retried_until_it_succeeds() -> None:
    inbox = InMemoryInbox()
    attempts: list[int] = []

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        lease = current_delivery()
        assert lease is not None
        assert lease.delivery.event == event
        attempts.append(lease.attempt)
        if lease.attempt < 3:
            raise RuntimeError("not yet")

    await inbox.accept([make_delivery(uuid4(), "k1")])
    async with Worker(inbox, handler, retry=FAST) as worker:
        await worker.wait_until_idle()
    assert attempts == [1, 2, 3]
    assert worker.stats.handled == 1
    assert worker.stats.failures == 2
    assert current_delivery() is None


async def test_an_outage_of_the_store_never_kills_the_worker() -> None:
    inbox = FlakyInbox()
    seen: list[str] = []

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        seen.append(event.idempotency_key)

    worker = Worker(inbox, handler, retry=FAST, poll_interval=0.01, concurrency=2)
    await worker.start()
    inbox.down = True
    await asyncio.sleep(0.4)
    assert not worker.health.ok
    assert "store unreachable" in (worker.health.last_error or "")
    assert worker.running
    inbox.down = False
    await inbox.accept([make_delivery(uuid4(), "after")])
    await worker.wait_until_idle(within=10)
    assert worker.health.ok
    await worker.stop()
    assert seen == ["after"]
    assert worker.stats.store_errors >= 2


async def test_a_completion_lost_to_an_outage_is_retried_until_the_store_is_back() -> None:
    inbox = FlakyInbox()
    handled = asyncio.Event()

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        inbox.down = True  # the store goes away while the handler runs
        handled.set()

    await inbox.accept([make_delivery(uuid4(), "k1")])
    worker = Worker(inbox, handler, retry=FAST, poll_interval=0.01)
    await worker.start()
    await handled.wait()
    await asyncio.sleep(0.3)
    assert (await inbox.stats()).in_flight == 1
    inbox.down = False
    await worker.wait_until_idle(within=10)
    await worker.stop()
    assert worker.stats.handled == 1
    assert (await inbox.stats()).backlog == 0


async def test_one_chat_is_handled_in_order_while_chats_run_in_parallel() -> None:
    inbox = InMemoryInbox()
    channel = uuid4()
    order: dict[str, list[int]] = {"A": [], "B": []}
    running: dict[str, int] = {"A": 0, "B": 0}
    overlap: list[str] = []

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        chat = event.chat_id
        running[chat] += 1
        if running[chat] > 1:
            overlap.append(chat)
        await asyncio.sleep(0.002)
        order[chat].append(int(event.idempotency_key.split("-")[1]))
        running[chat] -= 1

    await inbox.accept(
        [make_delivery(channel, f"{chat}-{i}", chat=chat) for i in range(20) for chat in "AB"]
    )
    async with Worker(inbox, handler, concurrency=4, poll_interval=0.01) as worker:
        await worker.wait_until_idle()
    assert overlap == []
    assert order == {"A": list(range(20)), "B": list(range(20))}


async def test_a_slow_handler_keeps_its_lease_alive() -> None:
    inbox = InMemoryInbox()
    calls = 0

    async def slow(event: InboundEvent, context: RoutingContext) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.6)

    await inbox.accept([make_delivery(uuid4(), "k1")])
    worker = Worker(inbox, slow, visibility=timedelta(milliseconds=150), concurrency=3)
    async with worker:
        await worker.wait_until_idle()
    assert calls == 1


async def test_stop_lets_a_running_handler_finish() -> None:
    inbox = InMemoryInbox()
    started, finished = asyncio.Event(), []

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        started.set()
        await asyncio.sleep(0.1)
        finished.append(event.idempotency_key)

    await inbox.accept([make_delivery(uuid4(), "k1")])
    worker = Worker(inbox, handler)
    await worker.start()
    await started.wait()
    await worker.stop(grace=5)
    assert finished == ["k1"]
    assert (await inbox.stats()).backlog == 0


async def test_stop_after_the_grace_period_gives_the_delivery_back() -> None:
    inbox = InMemoryInbox()
    started = asyncio.Event()

    async def stuck(event: InboundEvent, context: RoutingContext) -> None:
        started.set()
        await asyncio.sleep(60)

    await inbox.accept([make_delivery(uuid4(), "k1")])
    worker = Worker(inbox, stuck, visibility=timedelta(minutes=5))
    await worker.start()
    await started.wait()
    await worker.stop(grace=0.05)
    stats = await inbox.stats()
    assert (stats.ready, stats.in_flight) == (1, 0)


async def test_waiting_on_a_worker_that_is_not_running_is_an_error() -> None:
    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        return None

    with pytest.raises(NotStartedError):
        await Worker(InMemoryInbox(), handler).wait_until_idle()
    with pytest.raises(ValueError, match="concurrency"):
        Worker(InMemoryInbox(), handler, concurrency=0)


async def test_a_stuck_handler_is_timed_out_retried_and_dead_lettered() -> None:
    inbox = InMemoryInbox()
    calls = 0

    async def stuck(event: InboundEvent, context: RoutingContext) -> None:
        nonlocal calls
        calls += 1
        await asyncio.Event().wait()  # a socket with no timeout, waiting for ever

    await inbox.accept([make_delivery(uuid4(), "k1")])
    worker = Worker(
        inbox, stuck, retry=FAST, handler_timeout=timedelta(milliseconds=50), poll_interval=0.01
    )
    async with worker:
        await worker.wait_until_idle(within=10)
    (letter,) = await inbox.dead_letters()
    assert calls == FAST.max_attempts
    assert "TimeoutError" in letter.error
