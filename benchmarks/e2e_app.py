"""The servers of ``bench_e2e.py``, built from environment variables by ``uvicorn --factory``.

``VCB_APP`` picks one: ``bare`` (a Starlette endpoint doing HMAC-SHA256 + ``json.loads`` of the
body), ``memory``, ``sql`` or ``redis`` (our ``create_app`` on a ``WebhookDispatcher`` with that
inbox). The Telegram channel ``VCB_CHANNEL_ID`` (webhook secret ``VCB_SECRET``) lives in an
in-memory repository saved at start-up. ``sql`` reads ``VCB_DATABASE_URL`` / ``VCB_SCHEMA``,
``redis`` reads ``VCB_REDIS_URL`` / ``VCB_REDIS_PREFIX``; both are web-only (``workers=0``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from uuid import UUID

import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ventros_channels import Channel, IntakeSettings, RoutingContext, WebhookDispatcher
from ventros_channels.inbox import Inbox
from ventros_channels.integrations.asgi import create_app
from ventros_channels.messaging import InboundEvent
from ventros_channels.redis import RedisInbox
from ventros_channels.sql import SqlInbox, create_engine
from ventros_channels.testing import InMemoryChannelRepository

SIGNATURE_HEADER = "x-bench-signature"


def bare() -> Starlette:
    """HMAC-SHA256 of the body checked against a header, ``json.loads``, 200."""
    key = os.environ["VCB_SECRET"].encode()

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get(SIGNATURE_HEADER, "")):
            return Response(b"bad signature", status_code=401)
        json.loads(body)
        return Response(b"OK")

    return Starlette(
        routes=[Route("/webhooks/{channel_type}/{channel_id}", endpoint, methods=["POST"])]
    )


def _inbox(kind: str) -> Inbox | None:
    if kind == "sql":
        engine = create_engine(os.environ["VCB_DATABASE_URL"])
        return SqlInbox(engine, schema=os.environ["VCB_SCHEMA"])
    if kind == "redis":
        client = aioredis.Redis.from_url(os.environ["VCB_REDIS_URL"])
        return RedisInbox(client, prefix=os.environ["VCB_REDIS_PREFIX"])
    return None


async def handler(event: InboundEvent, context: RoutingContext) -> None:
    return None


def ours() -> Starlette:
    """``create_app`` on a dispatcher with the inbox ``VCB_APP`` names."""
    repository = InMemoryChannelRepository()
    channel = Channel.create(
        tenant_id="bench",
        project_id=UUID(int=1),
        name="bench",
        channel_type="telegram",
        channel_id=UUID(os.environ["VCB_CHANNEL_ID"]),
        config={
            "bot_token": "7000000001:BENCH-telegram-token-000",
            "webhook_secret_token": os.environ["VCB_SECRET"],
        },
    )
    channel.configure_webhook(base_url="https://crm.example.test")
    channel.activate()
    inbox = _inbox(os.environ["VCB_APP"])
    dispatcher = WebhookDispatcher(
        repository,
        handler if inbox is None else None,
        inbox=inbox,
        settings=IntakeSettings(cache_ttl=timedelta(hours=1)),
    )
    app = create_app(dispatcher)
    served = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await repository.save(channel)
        async with served(app):
            yield

    app.router.lifespan_context = lifespan
    return app


def app() -> Starlette:
    """The server ``VCB_APP`` names."""
    return bare() if os.environ["VCB_APP"] == "bare" else ours()
