"""SQL repository under load and faults: concurrency, unreachable databases, rollbacks."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels import (
    Channel,
    ChannelFilters,
    ConcurrencyError,
    MetricsDelta,
    RepositoryError,
    RepositoryUnavailableError,
)
from ventros_channels.sql import SqlChannelRepository, create_engine
from ventros_channels.testing import FixedClock
from ventros_channels.testing.factories import DEFAULT_PROJECT_ID, DEFAULT_TENANT, ChannelFactory

TENANT = DEFAULT_TENANT
CONCURRENT_METRICS = {"sqlite": 100, "postgres": 500}


@pytest.fixture
def repo(sql_repository: SqlChannelRepository) -> SqlChannelRepository:
    return sql_repository


@pytest.fixture
def factory(fixed_clock: FixedClock) -> ChannelFactory:
    return ChannelFactory(fixed_clock)


# ---------------------------------------------------------------- concurrency


async def test_concurrent_record_metrics_lose_nothing(
    repo: SqlChannelRepository, sql_backend: str, factory: ChannelFactory, fixed_clock: FixedClock
) -> None:
    n = CONCURRENT_METRICS[sql_backend]
    ch = factory()
    await repo.save(ch)
    start = fixed_clock.now()
    stamps = [start + timedelta(seconds=(i * 37) % n) for i in range(n)]
    await asyncio.gather(
        *(
            repo.record_metrics(
                ch.id, MetricsDelta(received=1, sent=2, last_message_at=at), tenant_id=TENANT
            )
            for at in stamps
        )
    )
    got = await repo.get(ch.id, tenant_id=TENANT)
    assert got.metrics.messages_received == n
    assert got.metrics.messages_sent == 2 * n
    assert got.metrics.last_message_at == max(stamps)
    assert got.version == 1


async def test_saves_add_pending_counters_while_others_record_metrics(
    repo: SqlChannelRepository, factory: ChannelFactory
) -> None:
    ch = factory()
    await repo.save(ch)

    async def saver() -> None:
        for i in range(20):
            ch.record_message_sent()
            ch.rename(f"name {i}")
            await repo.save(ch)

    async def recorder() -> None:
        await repo.record_metrics(ch.id, MetricsDelta(received=1), tenant_id=TENANT)

    await asyncio.gather(saver(), *(recorder() for _ in range(100)))
    got = await repo.get(ch.id, tenant_id=TENANT)
    assert (got.metrics.messages_sent, got.metrics.messages_received) == (20, 100)
    assert (got.name, got.version) == ("name 19", 21)


async def test_two_concurrent_saves_of_one_version_one_conflict(
    repo: SqlChannelRepository, factory: ChannelFactory
) -> None:
    for round_ in range(10):
        ch = factory()
        await repo.save(ch)
        a = await repo.get(ch.id, tenant_id=TENANT)
        b = await repo.get(ch.id, tenant_id=TENANT)
        a.rename(f"a{round_}")
        b.rename(f"b{round_}")
        a.record_message_received()
        b.record_message_received()
        results = await asyncio.gather(repo.save(a), repo.save(b), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(errors) == 1
        assert isinstance(errors[0], ConcurrencyError)
        winner = a if results[0] is None else b
        got = await repo.get(ch.id, tenant_id=TENANT)
        assert (got.name, got.version) == (winner.name, 2)
        assert got.metrics.messages_received == 1


async def test_two_concurrent_inserts_of_one_id_one_conflict(
    repo: SqlChannelRepository, factory: ChannelFactory
) -> None:
    first = factory(name="first")
    second = Channel.from_snapshot({**first.to_snapshot(), "name": "second"})
    results = await asyncio.gather(repo.save(first), repo.save(second), return_exceptions=True)
    assert sum(isinstance(r, ConcurrencyError) for r in results) == 1
    assert sum(r is None for r in results) == 1


# ---------------------------------------------------------------- unreachable database


def unreachable_engines() -> Iterator[tuple[str, AsyncEngine]]:
    yield "postgres", create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/test")
    yield "sqlite", create_engine("sqlite+aiosqlite:////nonexistent-dir/ventros/channels.db")


@pytest.mark.parametrize("name", ["postgres", "sqlite"])
async def test_unreachable_database_raises_unavailable_and_keeps_pending_counters(
    name: str, factory: ChannelFactory, sqlite_repository: SqlChannelRepository
) -> None:
    engine = dict(unreachable_engines())[name]
    try:
        repo = SqlChannelRepository(engine)
        ch = factory("whatsapp")
        ch.record_message_received(count=4)
        await sqlite_repository.save(ch)
        ch.record_message_received(count=3)
        ch.rename("changed")
        calls: list[Any] = [
            repo.create_schema(),
            repo.save(ch),
            repo.get(ch.id, tenant_id=TENANT),
            repo.lookup(ch.id),
            repo.find_by_external_id("whatsapp", "x"),
            repo.find_by_project(DEFAULT_PROJECT_ID, tenant_id=TENANT),
            repo.find_active_by_project(DEFAULT_PROJECT_ID, tenant_id=TENANT),
            repo.find(ChannelFilters(tenant_id=TENANT)),
            repo.search("x", tenant_id=TENANT),
            repo.delete(ch.id, tenant_id=TENANT),
            repo.record_metrics(ch.id, MetricsDelta(received=1), tenant_id=TENANT),
        ]
        for call in calls:
            with pytest.raises(RepositoryUnavailableError) as info:
                await call
            assert "test-whatsapp-access-token" not in str(info.value)
        assert ch.version == 1
        # nothing was lost: the same object saves its pending increments elsewhere
        await sqlite_repository.save(ch)
        got = await sqlite_repository.get(ch.id, tenant_id=TENANT)
        assert (got.name, got.metrics.messages_received, got.version) == ("changed", 7, 2)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- faults inside a transaction


class _FailAfter:
    """Raise a driver error right after a matching statement ran (inside the transaction)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.verb: str | None = None
        self.engine = engine

    def arm(self, verb: str) -> None:
        self.verb = verb

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.verb and statement.lstrip().upper().startswith(self.verb):
            self.verb = None
            raise sqlite3.OperationalError("disk I/O error (injected)")

    def __enter__(self) -> _FailAfter:
        sa.event.listen(self.engine.sync_engine, "after_cursor_execute", self)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine.sync_engine, "after_cursor_execute", self)


async def test_fault_after_the_update_rolls_everything_back(
    sqlite_repository: SqlChannelRepository, factory: ChannelFactory
) -> None:
    repo = sqlite_repository
    ch = factory(name="before")
    await repo.save(ch)
    ch.rename("after")
    ch.record_message_received(count=2)
    with _FailAfter(repo.engine) as fault:
        fault.arm("UPDATE")
        with pytest.raises(RepositoryUnavailableError, match="disk I/O"):
            await repo.save(ch)
        fault.arm("UPDATE")
        with pytest.raises(RepositoryUnavailableError):
            await repo.record_metrics(ch.id, MetricsDelta(received=9), tenant_id=TENANT)
        fault.arm("DELETE")
        with pytest.raises(RepositoryUnavailableError):
            await repo.delete(ch.id, tenant_id=TENANT)
    got = await repo.get(ch.id, tenant_id=TENANT)
    assert (got.name, got.version, got.metrics.messages_received) == ("before", 1, 0)
    await repo.save(ch)  # the failed save kept its pending increments
    got = await repo.get(ch.id, tenant_id=TENANT)
    assert (got.name, got.version, got.metrics.messages_received) == ("after", 2, 2)


async def test_fault_after_insert_leaves_no_row(
    sqlite_repository: SqlChannelRepository, factory: ChannelFactory
) -> None:
    repo = sqlite_repository
    ch = factory()
    with _FailAfter(repo.engine) as fault:
        fault.arm("INSERT")
        with pytest.raises(RepositoryUnavailableError):
            await repo.save(ch)
    assert await repo.lookup(ch.id) is None
    assert ch.version == 0
    await repo.save(ch)
    assert ch.version == 1


@pytest.fixture
def uncreated(sql_backend: str, request: pytest.FixtureRequest) -> SqlChannelRepository:
    engine: AsyncEngine = request.getfixturevalue(f"{sql_backend}_engine")
    schema = request.getfixturevalue("postgres_schema") if sql_backend == "postgres" else None
    return SqlChannelRepository(engine, schema=schema, table_name="never_created")


async def test_missing_table_is_a_repository_error_without_parameters(
    uncreated: SqlChannelRepository, factory: ChannelFactory
) -> None:
    repo = uncreated
    ch = factory("telegram")
    with pytest.raises(RepositoryError) as info:
        await repo.save(ch)
    assert "TEST-telegram-bot-token" not in str(info.value)
    assert info.value.__cause__ is None
