"""The SQL outbox passes the outbox contract on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels.errors import OutboxUnavailableError
from ventros_channels.sql import SqlOutbox, create_engine
from ventros_channels.testing.contract import OutboxContract
from ventros_channels.testing.contract.outbox import make_record


class TestSqliteOutbox(OutboxContract):
    @pytest.fixture
    async def outbox(self, sqlite_engine: AsyncEngine) -> SqlOutbox:
        box = SqlOutbox(sqlite_engine)
        await box.create_schema()
        return box


class TestPostgresOutbox(OutboxContract):
    @pytest.fixture
    async def outbox(self, postgres_engine: AsyncEngine, postgres_schema: str) -> SqlOutbox:
        box = SqlOutbox(postgres_engine, schema=postgres_schema)
        await box.create_schema()
        return box


@pytest.fixture
async def dead_engine() -> AsyncIterator[AsyncEngine]:
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    yield engine
    await engine.dispose()


async def test_an_unreachable_store_is_a_typed_error(dead_engine: AsyncEngine) -> None:
    with pytest.raises(OutboxUnavailableError):
        await SqlOutbox(dead_engine).reserve(make_record(uuid4(), "k"))
