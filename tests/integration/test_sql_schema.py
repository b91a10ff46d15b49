"""Schema, query plans, the PostgreSQL migration file and encryption at rest."""

from __future__ import annotations

import base64
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels import RepositoryError
from ventros_channels.sql import (
    ConfigCipher,
    SqlChannelRepository,
    SqlContactAliasStore,
    SqlConversationStore,
    SqlInbox,
    SqlOutbox,
    postgresql_migrations,
)
from ventros_channels.testing import FixedClock
from ventros_channels.testing.factories import DEFAULT_PROJECT_ID, DEFAULT_TENANT, ChannelFactory

TENANT = DEFAULT_TENANT
ACTIVE_INDEX = "ix_channels_active_project"


def literal_sql(engine: AsyncEngine, stmt: sa.Select[Any]) -> str:
    compiled = stmt.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
    return str(compiled)


async def fill(repo: SqlChannelRepository, clock: FixedClock, projects: int = 20) -> None:
    factory = ChannelFactory(clock)
    for i in range(projects * 5):
        project = DEFAULT_PROJECT_ID if i % projects == 0 else UUID(int=i % projects)
        await repo.save(factory(active=i % 2 == 0, project_id=project, name=f"channel {i}"))
        clock.advance(seconds=1)


# ---------------------------------------------------------------- schema


async def test_create_schema_is_idempotent_and_drop_schema_drops(
    sql_repository: SqlChannelRepository,
) -> None:
    repo = sql_repository
    await repo.create_schema()
    ch = ChannelFactory(FixedClock())()
    await repo.save(ch)
    await repo.create_schema()
    assert (await repo.get(ch.id, tenant_id=TENANT)).id == ch.id
    await repo.drop_schema()
    async with repo.engine.connect() as conn:
        names = await conn.run_sync(
            lambda sync: sa.inspect(sync).get_table_names(schema=repo.table.schema)
        )
    assert "channels" not in names


# ---------------------------------------------------------------- query plans


async def test_sqlite_active_by_project_uses_the_partial_index(
    sqlite_repository: SqlChannelRepository, fixed_clock: FixedClock
) -> None:
    repo = sqlite_repository
    await fill(repo, fixed_clock)
    async with repo.engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")
        stmt = repo.active_by_project_query(DEFAULT_PROJECT_ID, tenant_id=TENANT)
        rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + literal_sql(repo.engine, stmt))
        plan = "\n".join(str(r[-1]) for r in rows)
    assert f"USING INDEX {ACTIVE_INDEX}" in plan, plan
    assert "SCAN channels" not in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # the index order serves ORDER BY


async def test_postgres_active_by_project_uses_the_partial_index(
    postgres_repository: SqlChannelRepository, fixed_clock: FixedClock
) -> None:
    repo = postgres_repository
    await fill(repo, fixed_clock)
    stmt = repo.active_by_project_query(DEFAULT_PROJECT_ID, tenant_id=TENANT)
    async with repo.engine.begin() as conn:
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = await conn.exec_driver_sql("EXPLAIN " + literal_sql(repo.engine, stmt))
        plan = "\n".join(r[0] for r in rows)
    assert ACTIVE_INDEX in plan, plan
    assert "Seq Scan" not in plan, plan


async def test_postgres_substring_match_uses_the_trigram_index(
    postgres_repository: SqlChannelRepository, fixed_clock: FixedClock
) -> None:
    repo = postgres_repository
    await fill(repo, fixed_clock)
    # the text predicate alone (tenant and deleted filters dropped): served by pg_trgm
    text_match = repo._search_conditions("channel 1", tenant_id=TENANT)[-1]
    stmt = sa.select(repo.table.c.id).where(text_match)
    async with repo.engine.begin() as conn:
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = await conn.exec_driver_sql("EXPLAIN " + literal_sql(repo.engine, stmt))
        plan = "\n".join(r[0] for r in rows)
    assert "ix_channels_search_trgm" in plan, plan
    assert (await repo.search("CHANNEL 1", tenant_id=TENANT)).total == 11


# ---------------------------------------------------------------- PostgreSQL migration


async def _catalog(engine: AsyncEngine, schema: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        columns = (
            await conn.execute(
                sa.text(
                    "SELECT table_name, column_name, data_type, is_nullable,"
                    " character_maximum_length, collation_name, is_identity"
                    " FROM information_schema.columns WHERE table_schema = :s"
                    " ORDER BY table_name, column_name"
                ),
                {"s": schema},
            )
        ).all()
        indexes = (
            await conn.execute(
                sa.text(
                    "SELECT indexname, replace(indexdef, :s || '.', '') FROM pg_indexes"
                    " WHERE schemaname = :s ORDER BY indexname"
                ),
                {"s": schema},
            )
        ).all()
        constraints = (
            await conn.execute(
                sa.text(
                    "SELECT r.relname, c.conname, pg_get_constraintdef(c.oid)"
                    " FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid"
                    " JOIN pg_namespace n ON n.oid = c.connamespace"
                    " WHERE n.nspname = :s ORDER BY r.relname, c.conname"
                ),
                {"s": schema},
            )
        ).all()
    return {
        "columns": [tuple(c) for c in columns],
        "indexes": [tuple(i) for i in indexes],
        "constraints": [tuple(c) for c in constraints],
    }


async def test_postgres_migration_file_builds_the_same_schema_as_create_schema(
    postgres_engine: AsyncEngine, postgres_schema: str, fixed_clock: FixedClock
) -> None:
    by_code = postgres_schema + "_code"
    by_file = postgres_schema
    try:
        await SqlChannelRepository(
            postgres_engine, schema=by_code, event_outbox=True
        ).create_schema()
        await SqlInbox(postgres_engine, schema=by_code).create_schema()
        await SqlOutbox(postgres_engine, schema=by_code).create_schema()
        await SqlConversationStore(postgres_engine, schema=by_code).create_schema()
        await SqlContactAliasStore(postgres_engine, schema=by_code).create_schema()
        async with postgres_engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{by_file}"')
            await conn.exec_driver_sql(f'SET LOCAL search_path TO "{by_file}", public')
            raw = await conn.get_raw_connection()
            for _, sql in postgresql_migrations():
                for _ in range(2):  # idempotent
                    await raw.driver_connection.execute(sql)  # type: ignore[union-attr]
        assert await _catalog(postgres_engine, by_file) == await _catalog(postgres_engine, by_code)
        catalog = await _catalog(postgres_engine, by_file)
        assert {name for name, _ in catalog["indexes"]} >= {
            "channels_pkey",
            ACTIVE_INDEX,
            "ix_channels_search_trgm",
            "ix_channels_webhook_id",
            "uq_channel_inbox_key",
            "ix_channel_inbox_chat",
        }
        assert {table for table, *_ in catalog["columns"]} == {
            "channels",
            "channel_inbox",
            "channel_outbox",
            "channel_events",
            "channel_conversations",
            "contact_aliases",
        }
        repo = SqlChannelRepository(postgres_engine, schema=by_file, clock=fixed_clock)
        ch = ChannelFactory(fixed_clock)(active=True)
        await repo.save(ch)
        assert [c.id for c in await repo.find_active_by_project(ch.project_id, tenant_id=TENANT)]
    finally:
        async with postgres_engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{by_code}" CASCADE')


# ---------------------------------------------------------------- encryption at rest


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


async def test_config_is_encrypted_at_rest(
    sql_repository: SqlChannelRepository, fixed_clock: FixedClock
) -> None:
    plain = sql_repository
    cipher = ToyCipher()
    assert isinstance(cipher, ConfigCipher)
    sealed = SqlChannelRepository(
        plain.engine, schema=plain.table.schema, cipher=cipher, clock=fixed_clock
    )
    factory = ChannelFactory(fixed_clock)
    ch = factory("waha", active=True)
    ch.rotate_webhook_secret("test-new-hmac-key-0001")
    await sealed.save(ch)
    async with plain.engine.connect() as conn:
        row = (await conn.execute(sa.select(plain.table))).one()
    stored = " ".join(repr(v) for v in row)
    for secret in ("test-waha-api-key", "test-waha-hmac-key", "test-new-hmac-key-0001"):
        assert secret not in stored
    assert row.config is None
    assert bytes(row.config_sealed).startswith(b"toy1")
    assert (await sealed.get(ch.id, tenant_id=TENANT)).to_snapshot() == ch.to_snapshot()
    with pytest.raises(RepositoryError, match="no cipher"):
        await plain.get(ch.id, tenant_id=TENANT)
    with pytest.raises(RepositoryError, match="could not be decrypted"):
        await SqlChannelRepository(
            plain.engine, schema=plain.table.schema, cipher=ToyCipher(key=1)
        ).get(ch.id, tenant_id=TENANT)


async def test_plain_rows_stay_readable_after_a_cipher_is_added(
    sqlite_repository: SqlChannelRepository, fixed_clock: FixedClock
) -> None:
    plain = sqlite_repository
    ch = ChannelFactory(fixed_clock)("telegram")
    await plain.save(ch)
    sealed = SqlChannelRepository(plain.engine, cipher=ToyCipher(), clock=fixed_clock)
    loaded = await sealed.get(ch.id, tenant_id=TENANT)
    assert loaded.to_snapshot() == ch.to_snapshot()
    loaded.rename("now sealed")
    await sealed.save(loaded)
    async with plain.engine.connect() as conn:
        row = (await conn.execute(sa.select(plain.table))).one()
    assert row.config is None
    assert row.config_sealed is not None


async def test_ids_are_uuids_and_unknown_ids_are_not_found(
    sqlite_repository: SqlChannelRepository,
) -> None:
    assert await sqlite_repository.lookup(uuid4()) is None


# ---------------------------------------------------------------- trigram fallback


async def _index_names(repo: SqlChannelRepository) -> set[str]:
    async with repo.engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = :s"),
            {"s": repo.table.schema},
        )
        return {str(r[0]) for r in rows}


def _refuse_trigram(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    if "gin_trgm_ops" in statement or "CREATE EXTENSION" in statement:
        raise sa.exc.ProgrammingError(statement, {}, Exception("permission denied (injected)"))


async def test_postgres_without_pg_trgm_falls_back_gracefully(
    postgres_engine: AsyncEngine,
    postgres_schema: str,
    fixed_clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo = SqlChannelRepository(postgres_engine, schema=postgres_schema, clock=fixed_clock)
    sa.event.listen(postgres_engine.sync_engine, "before_cursor_execute", _refuse_trigram)
    try:
        with pytest.raises(RepositoryError):
            await repo.create_schema(trigram=True)
        with caplog.at_level("WARNING", logger="ventros_channels.sql._schema"):
            await repo.create_schema()
    finally:
        sa.event.remove(postgres_engine.sync_engine, "before_cursor_execute", _refuse_trigram)
    assert "without a trigram index" in caplog.text
    names = await _index_names(repo)
    assert ACTIVE_INDEX in names
    assert "ix_channels_search_trgm" not in names
    await fill(repo, fixed_clock, projects=2)
    assert (await repo.search("CHANNEL 1", tenant_id=TENANT)).total == 1


async def test_postgres_trigram_can_be_turned_off(
    postgres_engine: AsyncEngine, postgres_schema: str
) -> None:
    repo = SqlChannelRepository(postgres_engine, schema=postgres_schema)
    await repo.create_schema(trigram=False)
    assert "ix_channels_search_trgm" not in await _index_names(repo)
    await repo.create_schema()
    assert "ix_channels_search_trgm" in await _index_names(repo)
