"""History import benchmark against the fake WAHA server, with per-request latency.

Imports N messages across C chats through :class:`HistoryImporter` (normalization, checkpoints,
a counting sink) and, in the same run, the floor: the same fetch loop over the same pages with
the same concurrency but no normalization, no sink and no checkpoints. Prints messages/s for
both, the ratio, and the peak traced memory of the import at three history sizes (it must not
grow with the history), once with garbage collection left to Python and once collecting after
each batch, which separates uncollected cyclic garbage (httpx responses) from held state.

    .venv/bin/python benchmarks/bench_history.py [--latency 0.02] [--chats 200] [--per-chat 500]

Targets: >= 3,000 messages/s (50x the seed system's 60/s) at 20 ms latency, throughput within
1.5x of the floor, memory the same for 10,000 and 100,000 messages (within noise).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from collections.abc import Sequence
from uuid import UUID

from ventros_channels import Channel, RoutingContext
from ventros_channels.history import HistoryImporter, ImportOptions
from ventros_channels.messaging import InboundEvent
from ventros_channels.testing import InMemoryChannelRepository
from ventros_channels.testing.fakes import FakePlatforms, SyntheticHistory

PAGE = 100
CONCURRENCY = 16


class CountingSink:
    """Acknowledges batches and counts them; keeps nothing."""

    def __init__(self, collect: bool = False) -> None:
        self.messages = 0
        self.collect = collect

    async def write(self, context: RoutingContext, events: Sequence[InboundEvent]) -> None:
        self.messages += len(events)
        if self.collect:  # free cyclic garbage (httpx responses) now, not when GC gets to it
            gc.collect(0)


async def run_import(fakes: FakePlatforms, *, collect: bool = False) -> tuple[int, float]:
    repo = InMemoryChannelRepository()
    channel = Channel.create(
        tenant_id="t",
        project_id=UUID(int=1),
        name="bench",
        channel_type="waha",
        config=fakes.config("waha"),
    )
    channel.configure_webhook(base_url="https://crm.example.test")
    channel.activate()
    await repo.save(channel)
    sink = CountingSink(collect)
    async with fakes.client() as http:
        importer = HistoryImporter(repo, http=http)
        start = time.perf_counter()
        await importer.run(
            channel.id,
            tenant_id="t",
            sink=sink,
            options=ImportOptions(page_size=PAGE, concurrency=CONCURRENCY),
        )
        elapsed = time.perf_counter() - start
    return sink.messages, elapsed


async def run_floor(fakes: FakePlatforms) -> tuple[int, float]:
    """The same requests and concurrency, decoding JSON only."""
    config = fakes.config("waha")
    headers = {"X-Api-Key": config["auth"]["api_key"]}
    base = f"{config['base_url']}/api/default"
    total = 0
    async with fakes.client() as http:
        start = time.perf_counter()
        chats: list[str] = []
        offset = 0
        while True:
            page = (
                await http.get(
                    f"{base}/chats", params={"limit": PAGE, "offset": offset}, headers=headers
                )
            ).json()
            chats.extend(c["id"] for c in page)
            offset += len(page)
            if len(page) < PAGE:
                break
        queue: asyncio.Queue[str] = asyncio.Queue()
        for chat in chats:
            queue.put_nowait(chat)

        async def worker() -> None:
            nonlocal total
            while not queue.empty():
                chat = queue.get_nowait()
                position = 0
                while True:
                    items = (
                        await http.get(
                            f"{base}/chats/{chat}/messages",
                            params={"limit": PAGE, "offset": position, "downloadMedia": "false"},
                            headers=headers,
                        )
                    ).json()
                    total += len(items)
                    position += len(items)
                    if len(items) < PAGE:
                        break

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
    return total, elapsed


async def peak_memory(chats: int, per_chat: int, *, collect: bool = False) -> int:
    fakes = FakePlatforms()
    fakes.waha.history = SyntheticHistory(chats, per_chat)
    gc.collect()
    tracemalloc.start()
    await run_import(fakes, collect=collect)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--per-chat", type=int, default=500)
    args = parser.parse_args()

    fakes = FakePlatforms(waha_latency=args.latency)
    fakes.waha.history = SyntheticHistory(args.chats, args.per_chat)
    floor_n, floor_s = await run_floor(fakes)
    ours_n, ours_s = await run_import(fakes)
    assert floor_n == ours_n == args.chats * args.per_chat, (floor_n, ours_n)
    floor_rate, ours_rate = floor_n / floor_s, ours_n / ours_s
    print(
        f"history import: {ours_n:,} messages in {args.chats} chats, {args.latency * 1000:.0f} ms "
        f"per request, page {PAGE}, concurrency {CONCURRENCY}"
    )
    print(f"  floor (fetch + json only)   {floor_rate:10,.0f} msg/s  ({floor_s:.2f} s)")
    print(
        f"  import (normalize, sink)    {ours_rate:10,.0f} msg/s  ({ours_s:.2f} s)  "
        f"floor/ours {floor_rate / ours_rate:.2f}x (target <= 1.5x); "
        f"{ours_rate / 60:.0f}x the seed's 60 msg/s (target >= 50x)"
    )
    # same chats (the checkpoint holds one small record per chat), full pages, more messages;
    # the peak includes the fake server's own response bodies for the pages in flight
    await peak_memory(10, 100)  # warm-up: imports and caches are not the import's memory
    sizes = [(100, 100), (100, 1000), (100, 2000)]
    for collect in (False, True):
        peaks = [await peak_memory(c, m, collect=collect) for c, m in sizes]
        shown = ", ".join(
            f"{c * m:,} msgs {p / 1e6:.2f} MB" for (c, m), p in zip(sizes, peaks, strict=True)
        )
        label = "gen-0 GC after each batch" if collect else "GC left to Python"
        print(f"  peak memory ({label}): {shown}; 100k -> 200k: {peaks[2] / peaks[1]:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
