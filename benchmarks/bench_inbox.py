"""Inbox benchmark: durable ingest per delivery next to its floor, and worker throughput.

Per backend, one delivery per call from one task, each figure next to a floor measured in the
same run on the same connection or engine:

* PostgreSQL (``SqlInbox``): ``accept`` of a new key and of a duplicate, against a hand-written
  ``INSERT ... ON CONFLICT DO NOTHING`` of the already-encoded row into the same table (new
  key, then an existing key hitting the conflict).
* Redis (``RedisInbox``): ``accept`` of a new key against a bare ``XADD`` of the same encoded
  delivery (encoded on each call: any durable store must serialize the event); a duplicate
  against a bare ``SET NX`` of an existing key (what the dedupe alone costs) and, for
  information, a ``SET NX`` carrying the encoded payload (the script receives the payload
  because it cannot know beforehand that the key is a duplicate).
* For information, a worker's ``lease`` + ``complete`` of one delivery.

Target for accept: at most 1.5x its floor. Floor and inbox alternate in short rounds and each
figure is the median round, so the drift of a shared machine hits both alike.

Worker throughput: 2,000 deliveries over 200 chats are accepted first, then a :class:`Worker`
with 1, 4 and 8 loops and a no-op handler runs until all are handled; deliveries/s, for the
in-memory inbox and each durable backend (no floor: for capacity planning).

    VENTROS_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
    VENTROS_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/bench_inbox.py

A backend whose URL variable is unset is skipped with a message.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

import redis.asyncio as aioredis
import sqlalchemy as sa

from ventros_channels import RoutingContext
from ventros_channels.inbox import Inbox, InMemoryInbox, encode_delivery
from ventros_channels.messaging import InboundEvent
from ventros_channels.redis import RedisInbox
from ventros_channels.services.worker import Worker
from ventros_channels.sql import SqlInbox, create_engine
from ventros_channels.testing.contract.inbox import make_delivery

ROUNDS = 15
PER_ROUND = 100
TARGET = 1.5
DELIVERIES, CHATS = 2000, 200
CONCURRENCY = (1, 4, 8)
TEXT = "Olá, preciso de ajuda com o meu pedido número 12345, obrigado!"
BARE_INSERT = (
    "INSERT INTO {table} (channel_id, idem_key, ordering_key, state, payload, attempts,"
    " available_at, accepted_at) VALUES (:channel_id, :idem_key, :ordering_key, 'ready',"
    " :payload, 0, now(), now()) ON CONFLICT (channel_id, idem_key) DO NOTHING"
)


@dataclass
class Figure:
    operation: str
    micros: float
    floor_name: str | None = None
    floor_micros: float | None = None


Op = Callable[[int], Awaitable[Any]]


async def per_call(op: Op, counter: itertools.count[int]) -> float:
    """Microseconds per call of one round of ``PER_ROUND`` calls."""
    began = time.perf_counter()
    for _ in range(PER_ROUND):
        await op(next(counter))
    return (time.perf_counter() - began) / PER_ROUND * 1e6


async def paired(op: Op, floor: Op) -> tuple[float, float]:
    """Median microseconds per call of ``op`` and ``floor``, run in alternating rounds."""
    ops, floors = itertools.count(), itertools.count()
    await per_call(op, ops)  # warm-up: connections, prepared statements, script cache
    await per_call(floor, floors)
    mine, base = [], []
    for _ in range(ROUNDS):
        mine.append(await per_call(op, ops))
        base.append(await per_call(floor, floors))
    return statistics.median(mine), statistics.median(base)


async def idle(i: int) -> None:
    return None


# ---------------------------------------------------------------- PostgreSQL


@asynccontextmanager
async def postgres_inbox(url: str) -> AsyncIterator[SqlInbox]:
    """A ``SqlInbox`` in a throw-away schema, dropped afterwards."""
    engine = create_engine(url)
    schema = f"vcbench_inbox_{os.getpid()}_{secrets.token_hex(3)}"
    inbox = SqlInbox(engine, schema=schema)
    try:
        await inbox.create_schema()
        yield inbox
    finally:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await engine.dispose()


async def measure_postgresql(url: str) -> list[Figure]:
    async with postgres_inbox(url) as inbox:
        engine = inbox._engine
        channel = uuid4()
        bare_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        table = f'"{inbox.table.schema}".{inbox.table.name}'
        bare = sa.text(BARE_INSERT.replace("{table}", table))
        template = encode_delivery(make_delivery(channel, "template", chat="c")).decode()

        async def floor_insert(key: str) -> None:
            async with bare_engine.connect() as conn:
                await conn.execute(
                    bare,
                    {
                        "channel_id": channel,
                        "idem_key": key,
                        "ordering_key": "c",
                        "payload": template,
                    },
                )

        async def accept_new(i: int) -> None:
            result = await inbox.accept([make_delivery(channel, f"new-{i}", chat=f"c{i % 50}")])
            assert result.accepted

        async def floor_new(i: int) -> None:
            await floor_insert(f"floor-{i}")

        async def accept_duplicate(i: int) -> None:
            result = await inbox.accept([make_delivery(channel, f"new-{i % 100}", chat="c")])
            assert result.duplicates == 1

        async def floor_duplicate(i: int) -> None:
            await floor_insert(f"floor-{i % 100}")

        async def lease_complete(i: int) -> None:
            (leased,) = await inbox.lease("bench", limit=1, visibility=timedelta(minutes=5))
            assert await inbox.complete(leased)

        async def lease_nothing(i: int) -> None:
            assert await inbox.lease("bench", limit=4, visibility=timedelta(minutes=5)) == []

        figures = []
        new, floor = await paired(accept_new, floor_new)
        figures.append(Figure("accept (new key)", new, "bare INSERT ON CONFLICT", floor))
        dup, floor = await paired(accept_duplicate, floor_duplicate)
        figures.append(Figure("accept (duplicate)", dup, "bare INSERT, conflict", floor))
        each, _ = await paired(lease_complete, idle)
        figures.append(Figure("lease(1) + complete", each))
        async with engine.begin() as conn:  # finish the rest: the next figure is an idle poll
            await conn.execute(sa.update(inbox.table).values(state="done", payload=None))
        poll, _ = await paired(lease_nothing, idle)
        figures.append(Figure("lease, nothing due", poll))
        return figures


# ---------------------------------------------------------------- Redis


@asynccontextmanager
async def redis_client(url: str) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    """A client and a throw-away key prefix whose keys are deleted afterwards."""
    client = aioredis.Redis.from_url(url)
    prefix = f"vcbench-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        yield client, prefix
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        await client.aclose()


async def measure_redis(url: str) -> list[Figure]:
    async with redis_client(url) as (client, prefix):
        inbox = RedisInbox(client, prefix=prefix)
        channel = uuid4()
        stream, taken = f"{prefix}:floor:stream", f"{prefix}:floor:taken"
        await client.set(taken, "1")
        dup = make_delivery(channel, "dup", chat="dup", text=TEXT)
        await inbox.accept([dup])

        async def accept_new(i: int) -> None:
            delivery = make_delivery(channel, f"new-{i}", chat=f"chat-{i % 500}", text=TEXT)
            assert (await inbox.accept([delivery])).accepted

        async def bare_xadd(i: int) -> None:
            delivery = make_delivery(channel, f"xadd-{i}", chat=f"chat-{i % 500}", text=TEXT)
            await client.xadd(stream, {"d": encode_delivery(delivery)})

        async def accept_dup(i: int) -> None:
            assert (await inbox.accept([dup])).duplicates == 1

        async def bare_set_nx(i: int) -> None:
            assert not await client.set(taken, "1", nx=True)

        async def set_nx_payload(i: int) -> None:
            assert not await client.set(taken, encode_delivery(dup), nx=True)

        async def lease_complete(i: int) -> None:
            (leased,) = await inbox.lease("bench", limit=1, visibility=timedelta(minutes=5))
            assert await inbox.complete(leased)

        figures = []
        new, floor = await paired(accept_new, bare_xadd)
        figures.append(Figure("accept (new key)", new, "bare XADD", floor))
        dup_us, floor = await paired(accept_dup, bare_set_nx)
        figures.append(Figure("accept (duplicate)", dup_us, "bare SET NX", floor))
        dup_us, floor = await paired(accept_dup, set_nx_payload)
        figures.append(Figure("accept (duplicate)", dup_us, "SET NX of the payload", floor))
        each, _ = await paired(lease_complete, idle)
        figures.append(Figure("lease(1) + complete", each))
        return figures


# ---------------------------------------------------------------- worker throughput


def memory_inbox(url: str) -> AbstractAsyncContextManager[Inbox]:
    @asynccontextmanager
    async def make() -> AsyncIterator[Inbox]:
        yield InMemoryInbox()

    return make()


@asynccontextmanager
async def redis_inbox(url: str) -> AsyncIterator[Inbox]:
    async with redis_client(url) as (client, prefix):
        yield RedisInbox(client, prefix=prefix)


async def drain_rate(inbox: Inbox, concurrency: int) -> float:
    """Deliveries/s of a worker with ``concurrency`` loops emptying a pre-filled inbox."""
    channel = uuid4()
    deliveries = [
        make_delivery(channel, f"w-{i}", chat=f"chat-{i % CHATS}", text=TEXT)
        for i in range(DELIVERIES)
    ]
    for start in range(0, DELIVERIES, 100):
        await inbox.accept(deliveries[start : start + 100])

    handled = 0
    all_handled = asyncio.Event()

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        nonlocal handled
        handled += 1
        if handled == DELIVERIES:
            all_handled.set()

    worker = Worker(inbox, handler, concurrency=concurrency, poll_interval=0.05)
    began = time.perf_counter()
    await worker.start()
    await all_handled.wait()
    await worker.stop()  # lets the last ones complete
    elapsed = time.perf_counter() - began
    assert worker.stats.handled == DELIVERIES, worker.stats
    return DELIVERIES / elapsed


async def throughput(
    make: Callable[[str], AbstractAsyncContextManager[Inbox]], url: str, repeats: int
) -> str:
    """Best of ``repeats`` runs per number of loops, each on a fresh inbox."""
    rates = []
    for n in CONCURRENCY:
        best = 0.0
        for _ in range(repeats):
            async with make(url) as inbox:
                best = max(best, await drain_rate(inbox, n))
        rates.append(best)
    return "".join(f"{rate:>12,.0f}" for rate in rates)


# ---------------------------------------------------------------- report

Measure = Callable[[str], Awaitable[list[Figure]]]
BACKENDS: list[tuple[str, str, Measure]] = [
    ("PostgreSQL", "VENTROS_TEST_POSTGRES_URL", measure_postgresql),
    ("Redis", "VENTROS_TEST_REDIS_URL", measure_redis),
]
WORKER_BACKENDS: list[tuple[str, str | None, Callable[[str], Any], int]] = [
    ("in-memory", None, memory_inbox, 5),  # a run takes some 30 ms: best of 5
    ("PostgreSQL", "VENTROS_TEST_POSTGRES_URL", postgres_inbox, 1),
    ("Redis", "VENTROS_TEST_REDIS_URL", redis_inbox, 1),
]


async def ingest() -> None:
    print(f"median of {ROUNDS} rounds x {PER_ROUND} calls, inbox and floor alternating\n")
    head = f"{'backend':12}{'operation':22}{'us/call':>9}  {'floor':24}{'us/call':>9}{'ratio':>8}"
    print(head)
    print("-" * len(head))
    for name, variable, measure in BACKENDS:
        url = os.environ.get(variable)
        if not url:
            print(f"{name:12}skipped: set {variable} to measure it")
            continue
        for f in await measure(url):
            if f.floor_micros is None:
                print(f"{name:12}{f.operation:22}{f.micros:>9.0f}")
                continue
            ratio = f.micros / f.floor_micros
            flag = "" if ratio <= TARGET else f"  (target {TARGET}x)"
            print(
                f"{name:12}{f.operation:22}{f.micros:>9.0f}  {f.floor_name or '':24}"
                f"{f.floor_micros:>9.0f}{ratio:>7.2f}x{flag}"
            )


async def workers() -> None:
    print(f"\nworker throughput: {DELIVERIES:,} deliveries over {CHATS} chats, no-op handler")
    head = f"{'inbox':12}" + "".join(f"{f'{n} loop(s)':>12}" for n in CONCURRENCY) + "  (/s)"
    print(head)
    print("-" * len(head))
    for name, variable, make, repeats in WORKER_BACKENDS:
        url = os.environ.get(variable) if variable else ""
        if url is None:
            print(f"{name:12}skipped: set {variable} to measure it")
            continue
        print(f"{name:12}{await throughput(make, url, repeats)}")


async def main() -> None:
    began = time.perf_counter()
    print(f"python {sys.version.split()[0]}; one delivery per call, one task")
    if "--workers-only" not in sys.argv:
        await ingest()
    if "--ingest-only" not in sys.argv:
        await workers()
    print(f"\ntotal run time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
