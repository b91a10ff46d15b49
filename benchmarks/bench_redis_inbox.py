"""Redis inbox benchmark: durable ingest and duplicate rejection next to their floors.

Operations per second from one task, one call at a time, against the Redis at
``VENTROS_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``), under a throw-away key
prefix deleted afterwards. Each figure is set next to a floor measured in the same run on the
same connection:

* ``accept`` of one new delivery per call vs a bare ``XADD`` of the same encoded delivery
  (the floor encodes it on each call too: any durable store must serialize the event);
* ``accept`` of a duplicate vs a bare ``SET NX`` of an existing key (what the dedupe alone
  costs), and vs a ``SET NX`` that carries the encoded delivery as its value, encoded on each
  call (the script receives the payload because it cannot know beforehand that the key is a
  duplicate, and moving those bytes is a large part of a call on a small machine);
* for information, lease + complete of one delivery (two calls), and the dedupe store's claim
  of a key already done (``SET NX`` then ``GET``: two calls).

Measurements alternate between the operations for several rounds and keep each one's best
round, so a burst of load from elsewhere on the machine does not land on one side only. Target: at
most 1.5x the floor.

    .venv/bin/python benchmarks/bench_redis_inbox.py
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import redis.asyncio as aioredis

from ventros_channels.inbox import encode_delivery
from ventros_channels.redis import RedisDedupeStore, RedisInbox
from ventros_channels.testing.contract.inbox import make_delivery

BUDGET = 0.3  # seconds per measurement
ROUNDS = 7
TARGET = 1.5


async def rate(op: Callable[[int], Awaitable[Any]], start: int, budget: float = BUDGET) -> float:
    """Operations per second of ``op(i)`` run back to back for about ``budget`` seconds."""
    count, began = 0, time.perf_counter()
    while True:
        await op(start + count)
        count += 1
        elapsed = time.perf_counter() - began
        if elapsed >= budget:
            return count / elapsed


async def measure(client: aioredis.Redis, prefix: str) -> dict[str, float]:
    inbox = RedisInbox(client, prefix=prefix)
    channel = uuid4()
    stream = f"{prefix}:floor:stream"
    taken = f"{prefix}:floor:taken"
    await client.set(taken, "1")
    await inbox.accept([make_delivery(channel, "dup", chat="dup")])
    text = "Olá, preciso de ajuda com o meu pedido número 12345, obrigado!"

    def delivery(i: int, tag: str) -> Any:
        return make_delivery(channel, f"{tag}-{i}", chat=f"chat-{i % 500}", text=text)

    async def accept_new(i: int) -> None:
        result = await inbox.accept([delivery(i, "new")])
        assert result.accepted

    async def bare_xadd(i: int) -> None:
        await client.xadd(stream, {"d": encode_delivery(delivery(i, "xadd"))})

    dup = make_delivery(channel, "dup", chat="dup", text=text)

    async def accept_dup(_: int) -> None:
        result = await inbox.accept([dup])
        assert result.duplicates == 1

    async def bare_set_nx(_: int) -> None:
        assert not await client.set(taken, "1", nx=True)

    async def set_nx_encoded(_: int) -> None:
        assert not await client.set(taken, encode_delivery(dup), nx=True)

    dedupe = RedisDedupeStore(client, prefix=prefix)
    claim = await dedupe.claim("dup", lease=timedelta(minutes=5))
    assert claim.token is not None
    await dedupe.complete("dup", claim.token, retain=timedelta(hours=1))

    async def dedupe_claim_dup(_: int) -> None:
        assert (await dedupe.claim("dup", lease=timedelta(minutes=5))).token is None

    async def lease_complete(_: int) -> None:
        (lease,) = await inbox.lease("bench", limit=1, visibility=timedelta(minutes=5))
        assert await inbox.complete(lease)

    ops: dict[str, Callable[[int], Awaitable[Any]]] = {
        "accept (new)": accept_new,
        "bare XADD": bare_xadd,
        "accept (duplicate)": accept_dup,
        "bare SET NX": bare_set_nx,
        "SET NX of the payload": set_nx_encoded,
        "dedupe claim (dup)": dedupe_claim_dup,
    }
    for op in ops.values():  # warm-up: connections, script cache
        await op(10**9)
    samples: dict[str, list[float]] = {name: [] for name in [*ops, "lease + complete"]}
    serial = 0
    for _ in range(ROUNDS):
        for name, op in ops.items():
            serial += 1_000_000
            samples[name].append(await rate(op, serial))
        samples["lease + complete"].append(await rate(lease_complete, 0, budget=BUDGET / 2))
    return {name: max(values) for name, values in samples.items()}


async def main() -> None:
    url = os.environ.get("VENTROS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = aioredis.Redis.from_url(url)
    prefix = f"vcbench-{os.getpid()}-{secrets.token_hex(3)}"
    began = time.perf_counter()
    try:
        info = await client.info("server")
        figures = await measure(client, prefix)
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        await client.aclose()
    print(
        f"python {sys.version.split()[0]}; redis {info.get('redis_version')}; one task, "
        f"one call at a time; best of {ROUNDS} rounds"
    )
    head = f"{'operation':24}{'ops/s':>10}{'µs/op':>9}"
    print(head)
    print("-" * len(head))
    for name, ops in figures.items():
        print(f"{name:24}{ops:>10,.0f}{1e6 / ops:>9.1f}")
    print()
    pairs = [
        ("accept (new)", "bare XADD"),
        ("accept (duplicate)", "bare SET NX"),
        ("accept (duplicate)", "SET NX of the payload"),
        ("dedupe claim (dup)", "bare SET NX"),
    ]
    for op, floor in pairs:
        ratio = figures[floor] / figures[op]
        verdict = "ok" if ratio <= TARGET else f"above the {TARGET}x target"
        print(f"{op} / {floor}: {ratio:.2f}x ({verdict})")
    print(f"\ntotal run time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
