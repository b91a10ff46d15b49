"""Inbox benchmark: durable ingest per delivery next to its floor, measured in the same run.

For each durable backend, one delivery per call from one task:

* ``accept (new)``: :meth:`Inbox.accept` of a delivery with a new key, against the floor, the
  store's bare write of the same row (PostgreSQL: a hand-written ``INSERT ... ON CONFLICT DO
  NOTHING`` of the already-encoded row through the same engine, into the same table).
* ``accept (duplicate)``: the same call for a key already recorded, against the floor's bare
  statement hitting the same conflict. Target for both: at most 1.5x the floor.
* ``lease + complete``: a worker's round trips per delivery, and an idle worker's poll
  (no floor; for information).

Floor and inbox alternate in short rounds and each figure is the median round, so drift of
a shared machine hits both alike.

    VENTROS_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/bench_inbox.py

A backend whose URL variable is unset is skipped with a message. To add a backend, write an
``async def measure_<name>(url) -> list[Figure]`` and list it in ``BACKENDS``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

import sqlalchemy as sa

from ventros_channels.inbox import encode_delivery
from ventros_channels.sql import SqlInbox, create_engine
from ventros_channels.testing.contract.inbox import make_delivery

ROUNDS = 15
PER_ROUND = 100
TARGET = 1.5
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


async def per_call(op: Callable[[int], Awaitable[Any]], counter: itertools.count[int]) -> float:
    """Microseconds per call of one round of ``PER_ROUND`` calls."""
    began = time.perf_counter()
    for _ in range(PER_ROUND):
        await op(next(counter))
    return (time.perf_counter() - began) / PER_ROUND * 1e6


async def paired(
    op: Callable[[int], Awaitable[Any]], floor: Callable[[int], Awaitable[Any]]
) -> tuple[float, float]:
    """Median microseconds per call of ``op`` and ``floor``, run in alternating rounds."""
    ops, floors = itertools.count(), itertools.count()
    await per_call(op, ops)  # warm-up: connections, prepared statements, caches
    await per_call(floor, floors)
    mine, base = [], []
    for _ in range(ROUNDS):
        mine.append(await per_call(op, ops))
        base.append(await per_call(floor, floors))
    return statistics.median(mine), statistics.median(base)


# ---------------------------------------------------------------- PostgreSQL


async def measure_postgresql(url: str) -> list[Figure]:
    engine = create_engine(url)
    schema = f"vcbench_inbox_{os.getpid()}_{secrets.token_hex(3)}"
    inbox = SqlInbox(engine, schema=schema)
    channel = uuid4()
    bare_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    bare = sa.text(BARE_INSERT.replace("{table}", f'"{schema}".channel_inbox'))
    template = encode_delivery(make_delivery(channel, "template", chat="c")).decode()

    async def floor_insert(key: str) -> None:
        async with bare_engine.connect() as conn:
            await conn.execute(
                bare,
                {"channel_id": channel, "idem_key": key, "ordering_key": "c", "payload": template},
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

    async def idle(i: int) -> None:
        return None

    async def lease_nothing(i: int) -> None:
        assert await inbox.lease("bench", limit=4, visibility=timedelta(minutes=5)) == []

    try:
        await inbox.create_schema()
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
    finally:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await engine.dispose()


# ---------------------------------------------------------------- report

BACKENDS: list[tuple[str, str, Callable[[str], Awaitable[list[Figure]]]]] = [
    ("PostgreSQL", "VENTROS_TEST_POSTGRES_URL", measure_postgresql),
    # ("Redis", "VENTROS_TEST_REDIS_URL", measure_redis),  # floor: a bare XADD
]


async def main() -> None:
    began = time.perf_counter()
    print(f"python {sys.version.split()[0]}; one delivery per call, one task")
    print(f"median of {ROUNDS} rounds x {PER_ROUND} calls, inbox and floor alternating\n")
    head = f"{'backend':12}{'operation':22}{'us/call':>9}  {'floor':26}{'us/call':>9}{'ratio':>8}"
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
                f"{name:12}{f.operation:22}{f.micros:>9.0f}  {f.floor_name or '':26}"
                f"{f.floor_micros:>9.0f}{ratio:>7.2f}x{flag}"
            )
    print(f"\ntotal run time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
