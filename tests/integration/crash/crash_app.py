"""The host application the crash tests run in subprocesses (web and workers).

Configured by environment variables, so the same module serves ``uvicorn --factory`` and
``ventros-channels worker --app crash_app:make_dispatcher``:

* ``VCR_DATABASE_URL`` / ``VCR_SCHEMA``: the PostgreSQL repository (and SQL inbox) to use;
* ``VCR_INBOX``: ``postgres``, ``redis`` or ``memory`` (in-process, the web runs the workers);
* ``VCR_REDIS_URL`` / ``VCR_REDIS_PREFIX``: the Redis inbox;
* ``VCR_LEDGER``: a file every handled event is appended to (one line, ``O_APPEND``).

Each event's fate is fixed by its key (:func:`fate`): most succeed, some fail on their first
attempt only, a few always fail and must end as dead letters.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import timedelta
from typing import Literal

from starlette.applications import Starlette

from ventros_channels import RoutingContext, WebhookDispatcher, Worker
from ventros_channels.inbox import Inbox, InMemoryInbox
from ventros_channels.integrations.asgi import create_app
from ventros_channels.messaging import InboundEvent
from ventros_channels.services import IntakeSettings, RetryPolicy, current_delivery
from ventros_channels.sql import SqlChannelRepository, create_engine

Fate = Literal["ok", "once", "always"]

RETRY = RetryPolicy(
    max_attempts=3, base_delay=timedelta(milliseconds=50), max_delay=timedelta(milliseconds=200)
)
VISIBILITY = timedelta(seconds=2)


def fate(key: str) -> Fate:
    """5 % of events fail once then succeed, 1 % always fail; the rest succeed."""
    bucket = int.from_bytes(hashlib.sha256(key.encode()).digest()[:2], "big") % 100
    if bucket < 5:
        return "once"
    if bucket < 6:
        return "always"
    return "ok"


class HandlerFailure(RuntimeError):
    """What the crash app's handler raises on purpose."""


async def handler(event: InboundEvent, context: RoutingContext) -> None:
    lease = current_delivery()
    attempt = lease.attempt if lease is not None else 0
    destiny = fate(event.idempotency_key)
    await asyncio.sleep(float(os.environ.get("VCR_HANDLER_SECONDS", "0.002")))
    if destiny == "always" or (destiny == "once" and attempt == 1):
        raise HandlerFailure(f"planned failure of {event.idempotency_key} (attempt {attempt})")
    text = event.text if hasattr(event, "text") else ""
    line = f"{event.idempotency_key} {event.chat_id} {text} {attempt} {os.getpid()}\n"
    fd = os.open(os.environ["VCR_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def make_inbox() -> Inbox:
    kind = os.environ["VCR_INBOX"]
    if kind == "memory":
        return InMemoryInbox()
    if kind == "postgres":
        from ventros_channels.sql import SqlInbox

        engine = create_engine(os.environ["VCR_DATABASE_URL"])
        return SqlInbox(engine, schema=os.environ["VCR_SCHEMA"])
    import redis.asyncio as aioredis

    from ventros_channels.redis import RedisInbox

    client = aioredis.Redis.from_url(os.environ["VCR_REDIS_URL"])
    return RedisInbox(client, prefix=os.environ["VCR_REDIS_PREFIX"])


def make_dispatcher() -> WebhookDispatcher:
    """Web-only for the durable inboxes (workers run in their own processes)."""
    engine = create_engine(os.environ["VCR_DATABASE_URL"])
    repository = SqlChannelRepository(engine, schema=os.environ["VCR_SCHEMA"])
    in_memory = os.environ["VCR_INBOX"] == "memory"
    return WebhookDispatcher(
        repository,
        handler,
        inbox=make_inbox(),
        workers=4 if in_memory else 0,
        retry=RETRY,
        settings=IntakeSettings(cache_ttl=timedelta(seconds=30)),
    )


def make_worker() -> Worker:
    """What ``ventros-channels worker`` loads: a worker on the same inbox, short leases."""
    return make_dispatcher().make_worker(handler, concurrency=2, visibility=VISIBILITY)


def web() -> Starlette:
    return create_app(make_dispatcher())
