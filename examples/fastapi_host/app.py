"""A small CRM back end: the management API, the webhook routes and a worker.

Configured by environment (see README.md): ``VENTROS_DATABASE_URL`` (SQLite by default),
``VENTROS_REDIS_URL`` (a Redis inbox read by ``ventros-channels worker`` processes; without
it the web process handles deliveries itself), ``VENTROS_API_KEYS`` (``key=tenant,...``),
``VENTROS_FAKE_PLATFORMS=1`` (talk to the library's fake platforms instead of real ones).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import UUID

import httpx
from fastapi import FastAPI, Header, HTTPException

from ventros_channels import (
    Capability,
    ChannelRepository,
    ChannelService,
    ConversationStore,
    HandlerContext,
    InMemoryConversationStore,
    RoutingContext,
    WebhookDispatcher,
)
from ventros_channels.history import HistoryImporter, InMemoryHistorySink
from ventros_channels.inbox import Inbox
from ventros_channels.integrations.fastapi import (
    ImportRunner,
    Tenant,
    create_management_router,
    create_router,
)
from ventros_channels.messaging import InboundEvent, MessageReceived
from ventros_channels.testing import InMemoryChannelRepository
from ventros_channels.testing.fakes import FakePlatforms

DEMO_PROJECT = UUID("5e1f0c1e-0000-4000-8000-00000000a11c")


def api_keys_from_env() -> dict[str, str]:
    """``VENTROS_API_KEYS="key1=tenant1,key2=tenant2"`` (default: ``dev-key=acme``)."""
    raw = os.environ.get("VENTROS_API_KEYS", "dev-key=acme")
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {key.strip(): tenant.strip() for key, tenant in pairs}


def api_key_tenant(keys: dict[str, str]) -> Any:
    """The tenant dependency: an API key in ``X-API-Key`` or as a bearer token."""

    async def tenant(
        x_api_key: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Tenant:
        bearer = (authorization or "").removeprefix("Bearer ").strip()
        found = keys.get(x_api_key or bearer)
        if found is None:
            raise HTTPException(401, "missing or unknown API key", {"WWW-Authenticate": "Bearer"})
        return Tenant(found, DEMO_PROJECT)

    return tenant


def build(
    repository: ChannelRepository,
    http: httpx.AsyncClient,
    public_url: str,
    *,
    api_keys: dict[str, str] | None = None,
    inbox: Inbox | None = None,
    fakes: FakePlatforms | None = None,
    conversations: ConversationStore | None = None,
) -> tuple[FastAPI, ChannelService, WebhookDispatcher]:
    """The app, wired to a repository and an HTTP client the caller owns. With an ``inbox``
    (e.g. Redis), deliveries wait there for ``ventros-channels worker`` processes. The
    conversation store (by default next to the repository) keeps each chat's messaging
    window, so a reply the platform would refuse is refused before any request."""
    service = ChannelService(
        repository,
        http=http,
        public_base_url=public_url,
        conversations=conversations or _conversations(repository),
    )

    async def echo(event: InboundEvent, routing: RoutingContext, ctx: HandlerContext) -> None:
        """Answer a customer's text: read receipt and a reaction where the platform has them,
        then the echo. Each action is sent once even when the handler runs again."""
        if not (isinstance(event, MessageReceived) and event.text):
            return
        if ctx.supports(Capability.READ_RECEIPTS):
            await ctx.mark_read()
        if ctx.supports(Capability.REACTIONS):
            await ctx.react("\N{THUMBS UP SIGN}")
        await ctx.reply(f"echo: {event.text}", quote=True)

    workers = {} if inbox is None else {"inbox": inbox, "workers": 0}
    dispatcher = service.webhook_dispatcher(echo, **workers)
    sink = InMemoryHistorySink()  # a real CRM writes imported messages to its own tables
    imports = ImportRunner(HistoryImporter(repository, http=http), lambda _channel: sink)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await create_tables(service)
        async with dispatcher:
            yield
        await imports.aclose()

    app = FastAPI(title="Example CRM", lifespan=lifespan)
    app.include_router(create_router(dispatcher))
    tenant = api_key_tenant(api_keys if api_keys is not None else api_keys_from_env())
    app.include_router(
        create_management_router(service, tenant, imports=imports, inbox=dispatcher.inbox)
    )

    @app.get("/channels/{channel_id}/report")
    async def report(channel_id: UUID, tenant_id: str) -> dict[str, Any]:
        result = await service.report(channel_id, tenant_id=tenant_id)
        return {
            "received": result.messages_received,
            "sent": result.messages_sent,
            "errors": result.errors,
            "status": result.status.value,
        }

    if fakes is not None:
        _fake_phone_routes(app, dispatcher, fakes)
    return app, service, dispatcher


def _fake_phone_routes(app: FastAPI, dispatcher: WebhookDispatcher, fakes: FakePlatforms) -> None:
    """Stand in for the phone when the platforms are fakes: "scan" a WAHA QR code."""

    @app.post("/dev/fake-waha/{channel_id}/scan", include_in_schema=False)
    async def scan(channel_id: str, session: str = "default") -> dict[str, int]:
        delivery = fakes.waha.pair(session)
        from ventros_channels.webhooks import WebhookRequest  # noqa: PLC0415

        answer = await dispatcher.handle(
            "waha", channel_id, WebhookRequest("POST", delivery.body, dict(delivery.headers))
        )
        return {"status": answer.status}


def _repository() -> ChannelRepository:
    """``VENTROS_DATABASE_URL`` through the ``sql`` extra (SQLite file by default)."""
    try:
        from ventros_channels.sql import SqlChannelRepository, create_engine  # noqa: PLC0415
    except ImportError:
        return InMemoryChannelRepository()
    url = os.environ.get("VENTROS_DATABASE_URL", "sqlite+aiosqlite:///crm.db")
    return SqlChannelRepository(create_engine(url))


async def create_tables(service: ChannelService) -> None:
    """The SQL stores' tables and indexes, when missing (a production deployment runs
    ``ventros-channels db upgrade`` instead)."""
    for store in (service.repository, service.conversations):
        create_schema = getattr(store, "create_schema", None)
        if create_schema is not None:
            await create_schema()


def _conversations(repository: ChannelRepository) -> ConversationStore:
    engine = getattr(repository, "engine", None)
    if engine is None:
        return InMemoryConversationStore()
    from ventros_channels.sql import SqlConversationStore  # noqa: PLC0415 - the sql extra

    return SqlConversationStore(engine)


def _inbox() -> Inbox | None:
    url = os.environ.get("VENTROS_REDIS_URL")
    if not url:
        return None
    import redis.asyncio as aioredis  # noqa: PLC0415 - the redis extra

    from ventros_channels.redis import RedisInbox  # noqa: PLC0415

    return RedisInbox(aioredis.from_url(url), prefix="example-crm")


def _make() -> tuple[FastAPI, ChannelService, WebhookDispatcher]:
    fakes = FakePlatforms() if os.environ.get("VENTROS_FAKE_PLATFORMS") == "1" else None
    http = fakes.client() if fakes is not None else httpx.AsyncClient(timeout=30)
    return build(
        _repository(),
        http,
        os.environ.get("VENTROS_PUBLIC_URL", "http://localhost:8000"),
        inbox=_inbox(),
        fakes=fakes,
    )


app, service, dispatcher = _make()


def make_dispatcher() -> WebhookDispatcher:
    """For ``ventros-channels worker --app examples.fastapi_host.app:make_dispatcher``."""
    return dispatcher
