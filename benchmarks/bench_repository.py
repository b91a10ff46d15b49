"""Repository benchmark: SQLite and PostgreSQL against the in-memory reference, same run.

Operations per second (one at a time, from one task) for save (insert and update), get by
id, find_active_by_project and text search, over 10,000 channels in one tenant. The table
shows each figure's time ratio to the in-memory repository. find_active_by_project is
measured at 1,000 and 10,000 channels with the same 10 active channels in the queried project:
served by an index, its time stays flat while the table grows tenfold.

    .venv/bin/python benchmarks/bench_repository.py

PostgreSQL runs when ``VENTROS_TEST_POSTGRES_URL`` is set (a throw-away schema, dropped
afterwards). SQLite uses a temporary file in WAL mode with ``synchronous=NORMAL``.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from ventros_channels import Channel
from ventros_channels.repository import ChannelRepository
from ventros_channels.sql import SqlChannelRepository, create_engine
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.factories import ChannelFactory

TENANT = "tenant-bench"
TARGET = UUID(int=1)
SMALL, LARGE = 1_000, 10_000
BUDGET = 0.4  # seconds per measurement
KINDS = ["telegram", "waha", "whatsapp", "messenger", "instagram"]


def make_channels(clock: FixedClock, count: int, start: int, rng: random.Random) -> list[Channel]:
    factory = ChannelFactory(clock, tenant_id=TENANT)
    out = []
    for i in range(start, start + count):
        # the first 20 channels belong to TARGET (10 active); the rest to 500 other projects
        project = TARGET if i < 20 else UUID(int=2 + rng.randrange(500))
        ch = factory(
            KINDS[i % len(KINDS)],
            active=(i % 2 == 0) if i < 20 else rng.random() < 0.5,
            name=f"Support line {i:05d} {rng.choice(['north', 'south', 'east', 'west'])}",
            project_id=project,
            external_id=f"acct-{i:05d}",
        )
        clock.advance(seconds=1)
        out.append(ch)
    return out


async def save_all(repo: ChannelRepository, channels: list[Channel]) -> float:
    """Insert ``channels`` one ``save`` at a time; returns the seconds it took."""
    began = time.perf_counter()
    for ch in channels:
        await repo.save(ch)
    return time.perf_counter() - began


async def bulk_load(repo: ChannelRepository, channels: list[Channel]) -> None:
    """Fill quickly: multi-row INSERTs of exactly the rows ``save`` writes (SQL only)."""
    if not isinstance(repo, SqlChannelRepository):
        await save_all(repo, channels)
        return
    rows = []
    for ch in channels:
        ch.take_pending_metrics()
        rows.append(repo._insert_row(ch, repo._values(ch)))
        ch.mark_persisted(1)
    async with repo.engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            await conn.execute(sa.insert(repo.table), rows[start : start + 1000])


async def rate(op: Callable[[int], Awaitable[Any]], budget: float = BUDGET) -> float:
    """Operations per second of ``op(i)`` run back to back for about ``budget`` seconds."""
    await op(0)  # warm-up
    count, began = 0, time.perf_counter()
    while True:
        await op(count)
        count += 1
        elapsed = time.perf_counter() - began
        if elapsed >= budget or count >= 20_000:
            return count / elapsed


async def measure(repo: ChannelRepository) -> dict[str, float]:
    rng = random.Random(42)
    clock = FixedClock()
    results: dict[str, float] = {}
    first = make_channels(clock, SMALL, 0, rng)
    results["save (insert)"] = SMALL / await save_all(repo, first)

    async def active(_: int) -> None:
        found = await repo.find_active_by_project(TARGET, tenant_id=TENANT)
        assert len(found) == 10

    results["find_active_by_project @1k"] = await rate(active)
    rest = make_channels(clock, LARGE - SMALL, SMALL, rng)
    await bulk_load(repo, rest)
    results["find_active_by_project @10k"] = await rate(active)
    everything = first + rest
    ids = [c.id for c in everything]

    async def get(i: int) -> None:
        await repo.get(ids[(i * 7919) % len(ids)], tenant_id=TENANT)

    results["get by id"] = await rate(get)
    loaded = {c.id: c for c in everything}

    async def update(i: int) -> None:
        ch = loaded[ids[(i * 104_729) % len(ids)]]
        ch.rename(f"Support line renamed {i}")
        ch.record_message_received()
        await repo.save(ch)

    results["save (update)"] = await rate(update)

    async def search(i: int) -> None:
        page = await repo.search(f"{(i * 37) % 1000:03d}", tenant_id=TENANT, limit=20)
        assert page.total > 0

    results["search (substring)"] = await rate(search)
    return results


@asynccontextmanager
async def memory() -> AsyncIterator[ChannelRepository]:
    yield InMemoryChannelRepository()


@asynccontextmanager
async def sqlite() -> AsyncIterator[ChannelRepository]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        repo = SqlChannelRepository(engine)
        await repo.create_schema()
        try:
            yield repo
        finally:
            await engine.dispose()


@asynccontextmanager
async def postgres(url: str) -> AsyncIterator[ChannelRepository]:
    engine = create_engine(url)
    schema = f"vcbench_{os.getpid()}_{secrets.token_hex(3)}"
    repo = SqlChannelRepository(engine, schema=schema)
    try:
        await repo.create_schema()
        yield repo
    finally:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await engine.dispose()


async def main() -> None:
    began = time.perf_counter()
    backends: list[tuple[str, Any]] = [("memory", memory()), ("sqlite", sqlite())]
    url = os.environ.get("VENTROS_TEST_POSTGRES_URL")
    if url:
        backends.append(("postgresql", postgres(url)))
    figures: dict[str, dict[str, float]] = {}
    for name, context in backends:
        async with context as repo:
            figures[name] = await measure(repo)
    print(f"python {sys.version.split()[0]}; {LARGE:,} channels in one tenant; one task")
    if not url:
        print("PostgreSQL: skipped (set VENTROS_TEST_POSTGRES_URL)")
    names = list(figures)
    head = f"{'operation':30}" + "".join(f"{n:>13} ops/s" for n in names)
    head += "".join(f"{n + ' vs mem':>18}" for n in names[1:])
    print(head)
    print("-" * len(head))
    for op in figures["memory"]:
        row = f"{op:30}" + "".join(f"{figures[n][op]:>19,.0f}" for n in names)
        row += "".join(f"{figures['memory'][op] / figures[n][op]:>17.1f}x" for n in names[1:])
        print(row)
    print()
    print("find_active_by_project time at 10k / at 1k channels (linear growth would be 10x):")
    for n in names:
        ratio = figures[n]["find_active_by_project @1k"] / figures[n]["find_active_by_project @10k"]
        print(f"  {n:12} {ratio:5.2f}x")
    print(f"\ntotal run time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
