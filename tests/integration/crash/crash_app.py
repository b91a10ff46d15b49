"""The host application the crash tests run in subprocesses (web and workers).

Configured by environment variables, so the same module serves ``uvicorn --factory`` and
``ventros-channels worker --app crash_app:make_dispatcher``:

* ``VCR_DATABASE_URL`` / ``VCR_SCHEMA``: the PostgreSQL repository (and SQL inbox) to use;
* ``VCR_INBOX``: ``postgres``, ``redis`` or ``memory`` (in-process, the web runs the workers);
* ``VCR_REDIS_URL`` / ``VCR_REDIS_PREFIX``: the Redis inbox;
* ``VCR_LEDGER``: a file every handled event is appended to (one line, ``O_APPEND``);
* ``VCR_REPLY``: when set, the handler replies to each message through the channel service
  (and the outbox of the same store) before its planned failure.

Each event's fate is fixed by its key (:func:`fate`): most succeed, some fail on their first
attempt only, a few always fail and must end as dead letters.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import timedelta
from typing import Literal

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from ventros_channels import ChannelService, RoutingContext, WebhookDispatcher, Worker
from ventros_channels.inbox import Inbox, InMemoryInbox
from ventros_channels.integrations.asgi import create_app
from ventros_channels.messaging import InboundEvent, MessageReceived, TextMessage
from ventros_channels.outbox import InMemoryOutbox, Outbox
from ventros_channels.services import HandlerRetry, IntakeSettings, current_delivery
from ventros_channels.sql import SqlChannelRepository, create_engine

Fate = Literal["ok", "once", "always"]

RETRY = HandlerRetry(
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


_service: ChannelService | None = None
_engine: AsyncEngine | None = None


def engine() -> AsyncEngine:
    """One engine (and pool) per process for the repository, the inbox and the outbox: five
    processes restarted dozens of times must stay within the server's connection limit."""
    global _engine  # noqa: PLW0603 (one per process, built on first use)
    if _engine is None:
        _engine = create_engine(os.environ["VCR_DATABASE_URL"], pool_size=4, max_overflow=4)
    return _engine


def service() -> ChannelService:
    """The channel service of this process, sending through the outbox of ``VCR_INBOX``."""
    global _service  # noqa: PLW0603 (one per process, built on first use)
    if _service is None:
        repository = SqlChannelRepository(engine(), schema=os.environ["VCR_SCHEMA"])
        _service = ChannelService(repository, http=httpx.AsyncClient(), outbox=make_outbox())
    return _service


async def handler(event: InboundEvent, context: RoutingContext) -> None:
    lease = current_delivery()
    attempt = lease.attempt if lease is not None else 0
    destiny = fate(event.idempotency_key)
    await asyncio.sleep(float(os.environ.get("VCR_HANDLER_SECONDS", "0.002")))
    if os.environ.get("VCR_REPLY") and isinstance(event, MessageReceived):
        # the reply goes out before the planned failure: a retried handler must not repeat it
        reply = TextMessage(to=event.chat_id, text=f"re:{event.text}")
        await service().send(context.channel_id, reply, tenant_id=context.tenant_id)
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

        return SqlInbox(engine(), schema=os.environ["VCR_SCHEMA"])
    import redis.asyncio as aioredis

    from ventros_channels.redis import RedisInbox

    client = aioredis.Redis.from_url(os.environ["VCR_REDIS_URL"])
    return RedisInbox(client, prefix=os.environ["VCR_REDIS_PREFIX"])


def make_outbox() -> Outbox:
    kind = os.environ["VCR_INBOX"]
    if kind == "memory":
        return InMemoryOutbox()
    if kind == "postgres":
        from ventros_channels.sql import SqlOutbox

        return SqlOutbox(engine(), schema=os.environ["VCR_SCHEMA"])
    import redis.asyncio as aioredis

    from ventros_channels.redis import RedisOutbox

    client = aioredis.Redis.from_url(os.environ["VCR_REDIS_URL"])
    return RedisOutbox(client, prefix=os.environ["VCR_REDIS_PREFIX"])


def make_dispatcher() -> WebhookDispatcher:
    """Web-only for the durable inboxes (workers run in their own processes)."""
    repository = SqlChannelRepository(engine(), schema=os.environ["VCR_SCHEMA"])
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
