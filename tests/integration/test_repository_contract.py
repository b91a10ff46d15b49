"""The shipped ``RepositoryContract`` kit on SQLite and PostgreSQL.

The kit lives in ``ventros_channels.testing.contract.repository``; until it is in the tree this
module is skipped with that reason, and runs by itself once it is.
"""

from __future__ import annotations

from typing import Any

import pytest

from ventros_channels.sql import SqlChannelRepository

_kit = pytest.importorskip(
    "ventros_channels.testing.contract.repository",
    reason="RepositoryContract kit not in this tree yet",
)
RepositoryContract: Any = _kit.RepositoryContract


class TestSqliteRepositoryContract(RepositoryContract):  # type: ignore[misc]
    @pytest.fixture
    async def repository(self, sqlite_repository: SqlChannelRepository) -> SqlChannelRepository:
        return sqlite_repository


class TestPostgresRepositoryContract(RepositoryContract):  # type: ignore[misc]
    @pytest.fixture
    async def repository(self, postgres_repository: SqlChannelRepository) -> SqlChannelRepository:
        return postgres_repository
