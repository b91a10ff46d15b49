"""A management API over the fake platforms, as a host would wire it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated
from uuid import UUID

import attrs
import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException

from ventros_channels import (
    ChannelRepository,
    ChannelService,
    RoutingContext,
    WebhookDispatcher,
)
from ventros_channels.history import HistoryImporter, InMemoryHistorySink
from ventros_channels.inbox import InMemoryInbox
from ventros_channels.integrations.fastapi import (
    ImportRunner,
    Tenant,
    create_management_router,
    create_router,
)
from ventros_channels.messaging import InboundEvent
from ventros_channels.testing import InMemoryChannelRepository
from ventros_channels.testing.fakes import FakePlatforms

PROJECT = UUID("7f000000-0000-4000-8000-000000000001")
TENANTS = {"key-acme": "acme", "key-globex": "globex"}


async def tenant_from_key(
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Tenant:
    """The tests' host authentication: an API key (header, or bearer token) names the tenant."""
    bearer = (authorization or "").removeprefix("Bearer ").strip()
    tenant = TENANTS.get(x_api_key or bearer)
    if tenant is None:
        raise HTTPException(401, "missing or unknown API key", {"WWW-Authenticate": "ApiKey"})
    return Tenant(tenant, PROJECT)


@attrs.define
class Host:
    app: FastAPI
    service: ChannelService
    dispatcher: WebhookDispatcher
    fakes: FakePlatforms
    inbox: InMemoryInbox
    sink: InMemoryHistorySink
    imports: ImportRunner


async def ignore(event: InboundEvent, context: RoutingContext) -> None:
    """The CRM's handler is not under test here; session statuses are applied around it."""


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 3.0) -> None:
    """Wait until ``check`` holds (the inbox worker applies deliveries asynchronously)."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def build_host(
    repository: ChannelRepository,
    fakes: FakePlatforms,
    *,
    qr_ttl: timedelta = timedelta(seconds=60),
) -> Host:
    http = fakes.client()
    service = ChannelService(
        repository, http=http, public_base_url="https://crm.example.com", qr_code_ttl=qr_ttl
    )
    inbox = InMemoryInbox()
    dispatcher = service.webhook_dispatcher(ignore, inbox=inbox, workers=1)
    sink = InMemoryHistorySink()
    imports = ImportRunner(HistoryImporter(repository, http=http), lambda _channel: sink)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        create_schema = getattr(repository, "create_schema", None)
        if create_schema is not None:  # SQL: tables in this server's own event loop
            await create_schema()
        async with dispatcher:
            yield
        await imports.aclose()
        engine = getattr(repository, "engine", None)
        if engine is not None:
            await engine.dispose()

    app = FastAPI(title="test host", lifespan=lifespan)
    app.include_router(
        create_management_router(service, tenant_from_key, imports=imports, inbox=inbox)
    )
    app.include_router(create_router(dispatcher))
    return Host(app, service, dispatcher, fakes, inbox, sink, imports)


@pytest.fixture
def host() -> Host:
    return build_host(InMemoryChannelRepository(), FakePlatforms())


@pytest.fixture
async def api(host: Host) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=host.app)
    async with (
        httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"X-API-Key": "key-acme"}
        ) as client,
        host.dispatcher,
    ):
        yield client
