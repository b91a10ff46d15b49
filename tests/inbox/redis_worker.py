"""A worker process for the Redis inbox kill test: leases, logs what it handles, completes.

    python -m tests.inbox.redis_worker <redis url> <key prefix> <worker name>

Each handled delivery's key is appended to the Redis list ``<prefix>:log`` *before* it is
completed, so a process killed in between leaves the key logged and the delivery leased: the
next attempt logs it again. It runs until killed.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

import redis.asyncio as aioredis

from ventros_channels.redis import RedisInbox


async def run(url: str, prefix: str, name: str) -> None:
    client = aioredis.Redis.from_url(url)
    inbox = RedisInbox(client, prefix=prefix)
    log = f"{prefix}:log"
    while True:
        leases = await inbox.lease(name, limit=4, visibility=timedelta(seconds=1))
        if not leases:
            await asyncio.sleep(0.01)
            continue
        for lease in leases:
            await client.rpush(log, f"{lease.delivery.ordering_key} {lease.delivery.key}")
            await asyncio.sleep(0.002)
            await inbox.complete(lease)


if __name__ == "__main__":
    asyncio.run(run(*sys.argv[1:4]))
