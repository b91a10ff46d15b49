"""A FastAPI host: one webhook router for every channel, echo replies, metrics endpoint."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI

from ventros_channels import (
    ChannelRepository,
    ChannelService,
    RoutingContext,
    WebhookDispatcher,
)
from ventros_channels.integrations.fastapi import create_router
from ventros_channels.messaging import InboundEvent, MessageReceived, TextMessage
from ventros_channels.testing import InMemoryChannelRepository


def build(
    repository: ChannelRepository, http: httpx.AsyncClient, public_url: str
) -> tuple[FastAPI, ChannelService, WebhookDispatcher]:
    """The app, wired to a repository and an HTTP client the caller owns."""
    service = ChannelService(repository, http=http, public_base_url=public_url)

    async def echo(event: InboundEvent, context: RoutingContext) -> None:
        if isinstance(event, MessageReceived) and event.text:
            reply = TextMessage(
                to=event.chat_id, text=f"echo: {event.text}", reply_to=event.message_id
            )
            await service.send(context.channel_id, reply, tenant_id=context.tenant_id)

    dispatcher = service.webhook_dispatcher(echo)  # wired to the service's changes and outbox

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        create_schema = getattr(repository, "create_schema", None)
        if create_schema is not None:  # the SQL repository: tables and indexes if missing
            await create_schema()
        async with dispatcher:
            yield

    app = FastAPI(lifespan=lifespan)
    app.include_router(create_router(dispatcher))

    @app.get("/channels/{channel_id}/report")
    async def report(channel_id: UUID, tenant_id: str) -> dict[str, Any]:
        result = await service.report(channel_id, tenant_id=tenant_id)
        return {
            "received": result.messages_received,
            "sent": result.messages_sent,
            "errors": result.errors,
            "status": result.status.value,
        }

    return app, service, dispatcher


def _default_repository() -> ChannelRepository:
    """SQLite through the ``sql`` extra when installed, else memory."""
    try:
        from ventros_channels.sql import SqlChannelRepository, create_engine  # noqa: PLC0415
    except ImportError:
        return InMemoryChannelRepository()
    return SqlChannelRepository(create_engine("sqlite+aiosqlite:///channels.db"))


app, service, dispatcher = build(
    _default_repository(),
    httpx.AsyncClient(timeout=30),
    os.environ.get("VENTROS_PUBLIC_URL", "http://localhost:8000"),
)
