"""The shipped repository contract on the in-memory reference, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from ventros_channels.repository import ChannelRepository
from ventros_channels.sql import SqlChannelRepository
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.contract import RepositoryContract


class TestInMemoryReference(RepositoryContract):
    @pytest.fixture
    def repository(self, fixed_clock: FixedClock) -> ChannelRepository:
        return InMemoryChannelRepository(clock=fixed_clock)


class TestSqlite(RepositoryContract):
    @pytest.fixture
    def repository(self, sqlite_repository: SqlChannelRepository) -> ChannelRepository:
        return sqlite_repository


class TestPostgres(RepositoryContract):
    @pytest.fixture
    def repository(self, postgres_repository: SqlChannelRepository) -> ChannelRepository:
        return postgres_repository
