"""The repository behaviour on the in-memory reference, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.integration.repository_behaviour import RepositoryBehaviour
from ventros_channels.repository import ChannelRepository
from ventros_channels.sql import SqlChannelRepository
from ventros_channels.testing import FixedClock, InMemoryChannelRepository


class TestInMemoryReference(RepositoryBehaviour):
    @pytest.fixture
    def repository(self, fixed_clock: FixedClock) -> ChannelRepository:
        return InMemoryChannelRepository(clock=fixed_clock)


class TestSqlite(RepositoryBehaviour):
    @pytest.fixture
    def repository(self, sqlite_repository: SqlChannelRepository) -> ChannelRepository:
        return sqlite_repository


class TestPostgres(RepositoryBehaviour):
    @pytest.fixture
    def repository(self, postgres_repository: SqlChannelRepository) -> ChannelRepository:
        return postgres_repository
