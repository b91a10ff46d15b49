"""Outbox benchmark: a send through ``ChannelService.send`` next to a bare adapter send.

The platform is faked at the HTTP layer (``httpx.MockTransport`` answering Telegram's
``sendMessage``), so the bare send is pure client work: build, post, parse. Each service send
uses a new idempotency key, so every one is recorded ``pending`` in the outbox before the
request and ``sent`` after it (two writes to the store), besides the channel read and the
metrics write of the service (an in-memory repository here). Stores: in-memory, SQL on
SQLite (a temporary file) and on PostgreSQL, Redis; the durable ones only when their variable
is set (``VENTROS_TEST_POSTGRES_URL``, ``VENTROS_TEST_REDIS_URL``).

For each store, service and bare send alternate in short rounds and each figure is the median
round. A second floor, for information, adds to the bare send two bare writes of the same
store (an ``INSERT ... ON CONFLICT DO NOTHING`` and an ``UPDATE`` of one row, each committed;
``SET NX`` then ``SET`` on Redis): what any at-most-once record around the request costs.

    .venv/bin/python benchmarks/bench_outbox.py

Target: at most 1.5x the bare send for the SQL and Redis stores.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels import Channel, ChannelService
from ventros_channels.adapters import default_registry
from ventros_channels.messaging import TextMessage
from ventros_channels.outbox import InMemoryOutbox, Outbox
from ventros_channels.redis import RedisOutbox
from ventros_channels.sql import SqlOutbox, create_engine
from ventros_channels.testing import InMemoryChannelRepository

ROUNDS = 11
PER_ROUND = 50
TARGET = 1.5
ANSWER = json.dumps(
    {"ok": True, "result": {"message_id": 7, "chat": {"id": 100}, "date": 1767268800}}
).encode()

Op = Callable[[int], Awaitable[Any]]
Floor = Callable[[int], Awaitable[None]]


@dataclass
class Store:
    name: str
    outbox: Outbox
    writes: Floor | None  # two bare writes of the store, for the second floor
    durable: bool = True


async def per_call(op: Op, counter: itertools.count[int]) -> float:
    began = time.perf_counter()
    for _ in range(PER_ROUND):
        await op(next(counter))
    return (time.perf_counter() - began) / PER_ROUND * 1e6


async def medians(ops: list[Op]) -> list[float]:
    """Median microseconds per call of each op, the ops taking turns round by round."""
    counters = [itertools.count(10_000_000 * n) for n in range(len(ops))]
    for op, counter in zip(ops, counters, strict=True):  # warm-up
        await per_call(op, counter)
    samples: list[list[float]] = [[] for _ in ops]
    for _ in range(ROUNDS):
        for op, counter, sample in zip(ops, counters, samples, strict=True):
            sample.append(await per_call(op, counter))
    return [statistics.median(s) for s in samples]


# ---------------------------------------------------------------- stores


def sql_writes(engine: AsyncEngine, table: str) -> Floor:
    # the table name is made by this script, never taken from input
    insert = f"INSERT INTO {table} (k, v) VALUES (:k, 'pending') ON CONFLICT DO NOTHING"  # noqa: S608
    update = f"UPDATE {table} SET v = 'sent' WHERE k = :k"  # noqa: S608

    async def writes(i: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text(insert), {"k": f"f-{i}"})
        async with engine.begin() as conn:
            await conn.execute(sa.text(update), {"k": f"f-{i}"})

    return writes


@asynccontextmanager
async def sql_store(name: str, url: str, schema: str | None) -> AsyncIterator[Store]:
    engine = create_engine(url)
    outbox = SqlOutbox(engine, schema=schema)
    table = f'"{schema}".bench_floor' if schema else "bench_floor"
    try:
        await outbox.create_schema()
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f"CREATE TABLE {table} (k TEXT PRIMARY KEY, v TEXT)")
        yield Store(name, outbox, sql_writes(engine, table))
    finally:
        async with engine.begin() as conn:
            if schema:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await engine.dispose()


@asynccontextmanager
async def redis_store(url: str) -> AsyncIterator[Store]:
    client = aioredis.Redis.from_url(url)
    prefix = f"vcbench-outbox-{os.getpid()}-{secrets.token_hex(3)}"

    async def writes(i: int) -> None:
        await client.set(f"{prefix}:floor:{i}", "pending", nx=True)
        await client.set(f"{prefix}:floor:{i}", "sent")

    try:
        yield Store("Redis", RedisOutbox(client, prefix=prefix), writes)
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        await client.aclose()


@asynccontextmanager
async def memory_store() -> AsyncIterator[Store]:
    yield Store("in-memory", InMemoryOutbox(), None, durable=False)


def stores(scratch: Path) -> list[tuple[str, Callable[[], Any] | None]]:
    pg = os.environ.get("VENTROS_TEST_POSTGRES_URL")
    rd = os.environ.get("VENTROS_TEST_REDIS_URL")
    schema = f"vcbench_outbox_{os.getpid()}_{secrets.token_hex(3)}"
    sqlite_url = f"sqlite+aiosqlite:///{scratch / 'outbox.db'}"
    out: list[tuple[str, Callable[[], Any] | None]] = [
        ("in-memory", memory_store),
        ("SQLite", lambda: sql_store("SQLite (file)", sqlite_url, None)),
        ("PostgreSQL", (lambda: sql_store("PostgreSQL", pg, schema)) if pg else None),
        ("Redis", (lambda: redis_store(rd)) if rd else None),
    ]
    return out


# ---------------------------------------------------------------- measure


async def measure(store: Store, http: httpx.AsyncClient) -> tuple[float, float, float | None]:
    """Microseconds per service send, per bare send, per bare send + two bare writes."""
    repository = InMemoryChannelRepository()
    channel = Channel.create(
        tenant_id="bench",
        project_id=UUID(int=1),
        name="bench",
        channel_type="telegram",
        config={"bot_token": "7000000001:BENCH-telegram-token-000"},
    )
    channel.configure_webhook(base_url="https://crm.example.test")
    channel.activate()
    await repository.save(channel)
    service = ChannelService(repository, http=http, outbox=store.outbox)
    adapter = default_registry().get("telegram")
    message = TextMessage(to="100", text="Thanks, your order 12345 ships tomorrow.")

    async def through_service(i: int) -> None:
        result = await service.send(
            channel.id, message, tenant_id="bench", idempotency_key=f"k-{i}"
        )
        assert result.message_id == "100:7"
        assert not result.replayed

    async def bare(i: int) -> None:
        await adapter.send(http, channel.config, message)

    ops: list[Op] = [through_service, bare]
    writes = store.writes
    if writes is not None:

        async def bare_and_writes(i: int) -> None:
            await adapter.send(http, channel.config, message)
            await writes(i)

        ops.append(bare_and_writes)
    figures = await medians(ops)
    return figures[0], figures[1], figures[2] if len(figures) > 2 else None


async def main() -> None:
    began = time.perf_counter()
    print(
        f"python {sys.version.split()[0]}; Telegram text send, platform faked with "
        f"httpx.MockTransport; median of {ROUNDS} rounds x {PER_ROUND} sends, taking turns\n"
    )
    head = (
        f"{'outbox':15}{'service us':>11}{'bare us':>9}{'ratio':>8}"
        f"{'bare+2 writes us':>18}{'ratio':>8}"
    )
    print(head)
    print("-" * len(head))

    def platform(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=ANSWER, headers={"content-type": "application/json"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as http:
        with tempfile.TemporaryDirectory() as scratch:
            for name, make in stores(Path(scratch)):
                if make is None:
                    variable = "POSTGRES" if name == "PostgreSQL" else "REDIS"
                    print(f"{name:15}skipped: set VENTROS_TEST_{variable}_URL to measure it")
                    continue
                async with make() as store:
                    ours, bare, floor = await measure(store, http)
                ratio = ours / bare
                flag = f"  (target {TARGET}x)" if store.durable and ratio > TARGET else ""
                second = f"{floor:>18.0f}{ours / floor:>7.2f}x" if floor else f"{'':>26}"
                print(f"{store.name:15}{ours:>11.0f}{bare:>9.0f}{ratio:>7.2f}x{second}{flag}")
    print(f"\ntotal run time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
