"""No channel secret in clear: SQL rows, Redis keys, DEBUG logs and exception chains.

The stores run with a cipher (a toy one: it proves the hook is applied, not that it is strong);
without one they say so at start-up. The last test is a demo-like run (five platforms faked at
the HTTP layer, deliveries in, replies out, a few failures) scanned for every configured secret.
"""

from __future__ import annotations

import base64
import logging
import secrets as random_secrets
from collections.abc import Iterable
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels import ChannelService, RoutingContext, WebhookDispatcher
from ventros_channels import cipher as cipher_module
from ventros_channels import http as http_module
from ventros_channels.cache import ChannelCache
from ventros_channels.domain.snapshot import snapshot_secrets
from ventros_channels.errors import ChannelConfigError, PlatformError, VentrosChannelsError
from ventros_channels.http import RetryPolicy, install_log_redaction
from ventros_channels.messaging import InboundEvent, MessageReceived, TextMessage
from ventros_channels.redis import RedisChannelCache
from ventros_channels.repository import ChannelRepository
from ventros_channels.sql import SqlChannelRepository
from ventros_channels.testing import FixedClock
from ventros_channels.testing.contract import ChannelCacheContract
from ventros_channels.testing.factories import ChannelFactory
from ventros_channels.testing.fakes import FakePlatforms
from ventros_channels.webhooks import WebhookRequest

TENANT = "tenant-a"
PROJECT = UUID("00000000-0000-4000-8000-0000000000aa")
TYPES = ("waha", "whatsapp", "telegram", "messenger", "instagram")


def make_dispatcher(
    repository: ChannelRepository, handler: Any, *, shared_cache: ChannelCache
) -> WebhookDispatcher:
    """The one place this module builds a dispatcher (start it before use)."""
    return WebhookDispatcher(repository, handler, shared_cache=shared_cache)


class ToyCipher:
    """Reversible, not secure: proves the hook is applied (tests only)."""

    def __init__(self, key: int = 0x5A) -> None:
        self.key = key

    def encrypt(self, data: bytes) -> bytes:
        return b"toy1" + base64.b64encode(bytes(b ^ self.key for b in data))

    def decrypt(self, data: bytes) -> bytes:
        if not data.startswith(b"toy1"):
            raise ValueError("not ours")
        return bytes(b ^ self.key for b in base64.b64decode(data[4:]))


def hits(secrets: Iterable[str], texts: Iterable[str]) -> list[tuple[str, str]]:
    """Every (secret, text) pair where the secret shows in clear."""
    corpus = list(texts)
    return [(s, t[:120]) for s in secrets for t in corpus if s in t]


def chain_texts(error: BaseException) -> list[str]:
    """What an error reporter walking the chain could show."""
    out: list[str] = []
    seen: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and link not in seen:
        seen.append(link)
        out += [str(link), repr(link), repr(link.args), repr(vars(link))]
        link = link.__cause__ or link.__context__
    return out


async def redis_texts(client: aioredis.Redis, prefix: str) -> list[str]:
    texts = []
    async for key in client.scan_iter(match=f"{prefix}:*", count=500):
        value = await client.get(key)
        texts += [repr(key), repr(value)]
    return texts


# ---------------------------------------------------------------- Redis cache, sealed


class TestSealedRedisChannelCache(ChannelCacheContract):
    @pytest.fixture
    def cache(self, redis_client: aioredis.Redis, redis_prefix: str) -> RedisChannelCache:
        return RedisChannelCache(redis_client, prefix=redis_prefix, cipher=ToyCipher())


async def test_sealed_redis_cache_holds_no_secret_in_clear(
    redis_client: aioredis.Redis, redis_prefix: str, fixed_clock: FixedClock
) -> None:
    sealed = RedisChannelCache(redis_client, prefix=redis_prefix, cipher=ToyCipher())
    factory = ChannelFactory(fixed_clock)
    configured: list[str] = []
    ids = []
    for channel_type in TYPES:
        snapshot = factory(channel_type, active=True).to_snapshot()
        configured += snapshot_secrets(snapshot)
        ids.append(uuid4())
        await sealed.set(ids[-1], snapshot, ttl=ChannelCacheContract.short * 100)
    assert len(configured) >= 10
    stored = await redis_texts(redis_client, redis_prefix)
    assert len(stored) == 2 * len(TYPES)
    assert hits(configured, stored) == []
    got = await sealed.get(ids[0])
    assert got is not None
    assert set(snapshot_secrets(factory("waha", active=True).to_snapshot())) <= set(
        str(v) for v in _leaves(got)
    )
    # another key, or entries written in clear before the cipher: misses, never errors
    assert (
        await RedisChannelCache(redis_client, prefix=redis_prefix, cipher=ToyCipher(1)).get(ids[0])
        is None
    )
    plain = RedisChannelCache(redis_client, prefix=redis_prefix)
    assert await plain.get(ids[0]) is None
    await plain.set(ids[1], factory("telegram").to_snapshot(), ttl=ChannelCacheContract.short)
    assert await sealed.get(ids[1]) is None


def _leaves(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


# ---------------------------------------------------------------- start-up warnings


async def test_stores_without_a_cipher_warn_once_at_start_up(
    sqlite_engine: AsyncEngine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cipher_module, "_warned", set())
    caplog.set_level(logging.WARNING)
    SqlChannelRepository(sqlite_engine)
    SqlChannelRepository(sqlite_engine)
    SqlChannelRepository(sqlite_engine, cipher=ToyCipher())
    client = aioredis.Redis()  # never connects: constructing the cache is enough
    RedisChannelCache(client)
    RedisChannelCache(client, namespace="other")
    RedisChannelCache(client, cipher=ToyCipher())
    await client.aclose()
    warnings = [r for r in caplog.records if "in clear" in r.getMessage()]
    assert [r.levelno for r in warnings] == [logging.WARNING, logging.WARNING]
    assert "SqlChannelRepository" in warnings[0].getMessage()
    assert "RedisChannelCache" in warnings[1].getMessage()


# ---------------------------------------------------------------- log redaction


@pytest.fixture
def fresh_redaction(monkeypatch: pytest.MonkeyPatch) -> None:
    """A redaction filter of this test's own, not installed yet."""
    monkeypatch.setattr(http_module, "_redaction", http_module.SecretRedactionFilter())
    monkeypatch.setattr(http_module, "_installed", [])


@pytest.mark.usefixtures("fresh_redaction")
async def test_log_redaction_covers_the_database_drivers(
    sql_repository: SqlChannelRepository,
    sql_backend: str,
    caplog: pytest.LogCaptureFixture,
    fixed_clock: FixedClock,
) -> None:
    token = f"7000000002:{random_secrets.token_urlsafe(24)}"
    hook = random_secrets.token_urlsafe(16)
    config = {"bot_token": token, "bot_username": "scan_bot", "webhook_secret_token": hook}
    for name in ("aiosqlite", "asyncpg", "sqlalchemy.engine", "redis"):
        caplog.set_level(logging.DEBUG, logger=name)
    channel = ChannelFactory(fixed_clock)("telegram", config=config)
    await sql_repository.save(channel)  # no cipher: the row and the driver's log hold them
    if sql_backend == "sqlite":
        assert hits([token], (r.getMessage() for r in caplog.records)), "aiosqlite logs params"
    caplog.clear()

    install_log_redaction(handlers=[caplog.handler])
    loaded = await sql_repository.get(channel.id, tenant_id=TENANT)
    loaded.rename("renamed")
    await sql_repository.save(loaded)
    assert len(caplog.records) > 3
    assert hits([token, hook], (r.getMessage() for r in caplog.records)) == []


# ---------------------------------------------------------------- a demo-like run, scanned


@pytest.fixture
def sealed_repository(sql_backend: str, request: pytest.FixtureRequest) -> SqlChannelRepository:
    """A repository with a cipher on each SQL backend (schema not created yet)."""
    if sql_backend == "sqlite":
        engine: AsyncEngine = request.getfixturevalue("sqlite_engine")
        return SqlChannelRepository(engine, cipher=ToyCipher())
    engine = request.getfixturevalue("postgres_engine")
    schema = request.getfixturevalue("postgres_schema")
    return SqlChannelRepository(engine, schema=schema, cipher=ToyCipher())


async def test_a_demo_run_leaves_no_secret_in_clear(
    sealed_repository: SqlChannelRepository,
    redis_client: aioredis.Redis,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    install_log_redaction(handlers=[caplog.handler])
    fakes = FakePlatforms()
    http = fakes.client()
    repo = sealed_repository
    await repo.create_schema()
    cache = RedisChannelCache(redis_client, prefix=redis_prefix, cipher=ToyCipher())
    service = ChannelService(repo, http=http, public_base_url="https://crm.example.test")
    seen: list[InboundEvent] = []

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        seen.append(event)
        if isinstance(event, MessageReceived):
            reply = TextMessage(to=event.chat_id, text=f"got: {event.text}")
            await service.send(context.channel_id, reply, tenant_id=context.tenant_id)

    dispatcher = make_dispatcher(repo, handler, shared_cache=cache)
    channels = {}
    for channel_type in TYPES:
        channel = await service.create_channel(
            tenant_id=TENANT,
            project_id=PROJECT,
            name=f"Support on {channel_type}",
            channel_type=channel_type,
            config=fakes.config(channel_type),
        )
        await service.activate(channel.id, tenant_id=TENANT)
        channels[channel_type] = channel
    deliveries: list[tuple[str, WebhookRequest]] = [
        ("waha", fakes.waha.pair()),
        ("waha", fakes.waha.text_message(chat_id="15551234567@c.us", text="shipped?")),
        ("whatsapp", fakes.graph.whatsapp_text(sender="16505551234", text="Hola")),
        ("telegram", fakes.telegram.text_update(chat_id=123456789, text="/start")),
        ("messenger", fakes.graph.messenger_text(sender="6523981047755321", text="Olá")),
        ("instagram", fakes.graph.instagram_text(sender="1204938563371245", text="stock?")),
    ]
    async with dispatcher:
        for channel_type, request in deliveries:
            answer = await dispatcher.handle(channel_type, channels[channel_type].id, request)
            assert answer.status == 200, (channel_type, answer)
        await dispatcher.drain()
    assert len(fakes.sent) >= 5, "every platform got its reply"

    errors = await _failures(repo, service, dispatcher, fakes, channels["telegram"].id)
    assert len(errors) == 3
    assert all(isinstance(e, VentrosChannelsError) for e in errors)

    configured = sorted(
        {s for c in channels.values() for s in snapshot_secrets(c.to_snapshot())}
        | {str(v) for t in TYPES for k, v in fakes.config(t).items() if _secret_key(k)}
    )
    assert len(configured) >= 9  # Messenger and Instagram share the Meta app's secrets
    async with repo.engine.connect() as conn:
        rows = (await conn.execute(sa.select(repo.table))).all()
    assert len(rows) == len(TYPES)
    row_texts = [repr(value) for row in rows for value in row]
    keys = await redis_texts(redis_client, redis_prefix)
    assert keys, "the dispatcher filled the shared cache"
    log_texts = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert len(log_texts) > 20, "DEBUG logging was on"
    assert hits(configured, row_texts) == []
    assert hits(configured, keys) == []
    assert hits(configured, log_texts) == []
    assert hits(configured, [t for e in errors for t in chain_texts(e)]) == []
    assert hits(configured, [e.model_dump_json() for e in seen]) == []
    await http.aclose()


async def _failures(
    repo: SqlChannelRepository,
    service: ChannelService,
    dispatcher: WebhookDispatcher,
    fakes: FakePlatforms,
    telegram_id: UUID,
) -> list[BaseException]:
    """The errors of the platform being unreachable and of a config refused with a secret in
    its input."""
    errors: list[BaseException] = []
    telegram = await repo.get(telegram_id, tenant_id=TENANT)

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    adapter = type(dispatcher.registry.get("telegram"))(policy=RetryPolicy(max_attempts=2))
    async with httpx.AsyncClient(transport=httpx.MockTransport(unreachable)) as down:
        for call in (
            adapter.send(down, telegram.config, TextMessage(to="1", text="hi")),
            adapter.test_connection(down, telegram.config),
        ):
            try:
                await call
            except PlatformError as exc:
                errors.append(exc)
    bad = {**fakes.config("telegram"), "api_base_url": "not a url"}
    try:
        await service.create_channel(
            tenant_id=TENANT, project_id=PROJECT, name="bad", channel_type="telegram", config=bad
        )
    except ChannelConfigError as exc:
        errors.append(exc)
    return errors


def _secret_key(name: str) -> bool:
    return any(word in name for word in ("token", "secret", "key", "password"))
