"""The SQL conversation and contact alias stores pass their contracts on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels.errors import RepositoryUnavailableError
from ventros_channels.sql import SqlContactAliasStore, SqlConversationStore, create_engine
from ventros_channels.testing.contract import ContactAliasStoreContract, ConversationStoreContract


class TestSqliteConversationStore(ConversationStoreContract):
    @pytest.fixture
    async def store(self, sqlite_engine: AsyncEngine) -> SqlConversationStore:
        store = SqlConversationStore(sqlite_engine)
        await store.create_schema()
        return store


class TestPostgresConversationStore(ConversationStoreContract):
    @pytest.fixture
    async def store(
        self, postgres_engine: AsyncEngine, postgres_schema: str
    ) -> SqlConversationStore:
        store = SqlConversationStore(postgres_engine, schema=postgres_schema)
        await store.create_schema()
        return store


class TestSqliteContactAliasStore(ContactAliasStoreContract):
    @pytest.fixture
    async def store(self, sqlite_engine: AsyncEngine) -> SqlContactAliasStore:
        store = SqlContactAliasStore(sqlite_engine)
        await store.create_schema()
        return store


class TestPostgresContactAliasStore(ContactAliasStoreContract):
    @pytest.fixture
    async def store(
        self, postgres_engine: AsyncEngine, postgres_schema: str
    ) -> SqlContactAliasStore:
        store = SqlContactAliasStore(postgres_engine, schema=postgres_schema)
        await store.create_schema()
        return store


@pytest.fixture
async def dead_engine() -> AsyncIterator[AsyncEngine]:
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    yield engine
    await engine.dispose()


async def test_an_unreachable_store_is_a_typed_error(dead_engine: AsyncEngine) -> None:
    with pytest.raises(RepositoryUnavailableError):
        await SqlConversationStore(dead_engine).get(uuid4(), "chat", tenant_id="t")
    with pytest.raises(RepositoryUnavailableError):
        await SqlContactAliasStore(dead_engine).link(["a", "b"], tenant_id="t", channel_id=uuid4())
