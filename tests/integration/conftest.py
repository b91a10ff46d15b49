"""Backends for the integration tests: SQLite always; PostgreSQL and Redis when configured.

``VENTROS_TEST_POSTGRES_URL`` (e.g. ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``) and
``VENTROS_TEST_REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/0``) turn those backends on. Each run
works in its own PostgreSQL schemas (``vct_<run>_<n>``, one per test, dropped afterwards) and
under its own Redis key prefix (deleted afterwards; those fixtures are in ``tests/conftest.py``).
A missing variable skips its tests with the reason, and the terminal summary lists the skipped
backends.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels.sql import SqlChannelRepository, create_engine
from ventros_channels.testing import FixedClock

POSTGRES_ENV = "VENTROS_TEST_POSTGRES_URL"
REDIS_ENV = "VENTROS_TEST_REDIS_URL"
BACKENDS = {"PostgreSQL": POSTGRES_ENV, "Redis": REDIS_ENV}

RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"
_serial = itertools.count(1)


def skip_reason(backend: str) -> str:
    return f"{backend} integration tests SKIPPED: set {BACKENDS[backend]} to run them"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    missing = [name for name, env in BACKENDS.items() if not os.environ.get(env)]
    if not missing:
        return
    terminalreporter.write_sep("=", "integration backends skipped", yellow=True, bold=True)
    for name in missing:
        terminalreporter.write_line(
            f"SKIPPED BACKEND {name}: {BACKENDS[name]} is not set", yellow=True, bold=True
        )


# ---------------------------------------------------------------- SQLite


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'channels.db'}")
    yield engine
    await engine.dispose()


@pytest.fixture
async def sqlite_repository(
    sqlite_engine: AsyncEngine, fixed_clock: FixedClock
) -> SqlChannelRepository:
    repo = SqlChannelRepository(sqlite_engine, clock=fixed_clock)
    await repo.create_schema()
    return repo


# ---------------------------------------------------------------- PostgreSQL


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(skip_reason("PostgreSQL"))
    return url


async def _drop_schemas(url: str, like: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            names = (
                await conn.execute(
                    sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"),
                    {"p": like},
                )
            ).scalars()
            prep = conn.dialect.identifier_preparer
            for name in list(names):
                await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {prep.quote(name)} CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_run() -> Iterator[str]:
    """This run's schema prefix; every schema left under it is dropped at the end."""
    prefix = f"vct_{RUN_ID}"
    yield prefix
    url = os.environ.get(POSTGRES_ENV)
    if url:
        asyncio.run(_drop_schemas(url, prefix + "\\_%"))


@pytest.fixture
async def postgres_engine() -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url())
    yield engine
    await engine.dispose()


@pytest.fixture
async def postgres_schema(postgres_engine: AsyncEngine, postgres_run: str) -> AsyncIterator[str]:
    """A fresh schema name for one test, dropped (with everything in it) afterwards."""
    name = f"{postgres_run}_{next(_serial)}"
    yield name
    async with postgres_engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


@pytest.fixture
async def postgres_repository(
    postgres_engine: AsyncEngine, postgres_schema: str, fixed_clock: FixedClock
) -> SqlChannelRepository:
    repo = SqlChannelRepository(postgres_engine, schema=postgres_schema, clock=fixed_clock)
    await repo.create_schema()
    return repo


@pytest.fixture(params=["sqlite", "postgres"])
def sql_backend(request: pytest.FixtureRequest) -> str:
    """Runs a test once per SQL backend (PostgreSQL skips when not configured)."""
    return str(request.param)


@pytest.fixture
def sql_repository(sql_backend: str, request: pytest.FixtureRequest) -> SqlChannelRepository:
    """A fresh repository on each SQL backend."""
    repository: SqlChannelRepository = request.getfixturevalue(f"{sql_backend}_repository")
    return repository


# Redis: the `redis_client` and `redis_prefix` fixtures live in tests/conftest.py.
