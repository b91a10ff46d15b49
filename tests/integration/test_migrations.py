"""Alembic migrations: the code and the migrated database agree, on SQLite and PostgreSQL;
databases of the previous release are adopted; the CLI; the host's own Alembic."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels import InvalidInputError
from ventros_channels.cli import cli
from ventros_channels.sql import (
    SqlChannelRepository,
    SqlContactAliasStore,
    SqlConversationStore,
    SqlInbox,
    SqlOutbox,
    create_engine,
    migrate,
)
from ventros_channels.sql.migrations import postgresql_migrations
from ventros_channels.testing import FixedClock
from ventros_channels.testing.factories import DEFAULT_TENANT, ChannelFactory

HEAD = ("vc0002",)
RELEASE_BEFORE_ALEMBIC = "vc0001"
"""The revision that is exactly the schema of the releases before Alembic (SQL files 0001-0005)."""
TRIGRAM = "ix_channels_search_trgm"

Target = tuple[AsyncEngine, str | None]


@pytest.fixture
def target(sql_backend: str, request: pytest.FixtureRequest) -> Target:
    """An empty database on each backend: the engine and the PostgreSQL schema to use."""
    if sql_backend == "sqlite":
        engine: AsyncEngine = request.getfixturevalue("sqlite_engine")
        return engine, None
    engine = request.getfixturevalue("postgres_engine")
    return engine, str(request.getfixturevalue("postgres_schema"))


async def tables(engine: AsyncEngine, schema: str | None) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names(schema=schema))
    return set(names)


async def indexes(engine: AsyncEngine, schema: str | None, table: str) -> set[str]:
    async with engine.connect() as conn:
        found = await conn.run_sync(lambda c: sa.inspect(c).get_indexes(table, schema=schema))
    return {str(i["name"]) for i in found}


async def previous_release(engine: AsyncEngine, schema: str | None, files: int = 5) -> None:
    """The schema as the release before Alembic built it: the plain SQL files 0001-0005 on
    PostgreSQL, ``create_schema()`` on SQLite (which has no SQL files)."""
    if engine.dialect.name == "sqlite":  # the stores of that release, not the newer ones
        await SqlChannelRepository(engine, event_outbox=True).create_schema()
        await SqlInbox(engine).create_schema()
        await SqlOutbox(engine).create_schema()
        return
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        await conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}", public')
        raw = await conn.get_raw_connection()
        for _, sql in postgresql_migrations()[:files]:
            await raw.driver_connection.execute(sql)  # type: ignore[union-attr]


# ---------------------------------------------------------------- code and migrations agree


async def test_upgrade_head_builds_what_the_code_declares(target: Target) -> None:
    engine, schema = target
    await migrate.upgrade(engine, schema=schema)
    assert await migrate.current(engine, schema=schema) == HEAD
    assert await migrate.drift(engine, schema=schema) == []
    assert await tables(engine, schema) >= set(migrate.TABLE_NAMES) | {migrate.VERSION_TABLE}
    if engine.dialect.name == "postgresql":
        assert TRIGRAM in await indexes(engine, schema, "channels")
    # the repository works on the migrated tables
    clock = FixedClock()
    repo = SqlChannelRepository(engine, schema=schema, clock=clock, event_outbox=True)
    channel = ChannelFactory(clock)(active=True)
    await repo.save(channel)
    assert (await repo.get(channel.id, tenant_id=DEFAULT_TENANT)).id == channel.id


async def test_drift_reports_a_difference(target: Target) -> None:
    """The agreement check can fail: a dropped index and an extra column show up."""
    engine, schema = target
    await migrate.upgrade(engine, schema=schema)
    prefix = f'"{schema}".' if schema else ""
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"DROP INDEX {prefix}ix_channel_outbox_state")
        await conn.exec_driver_sql(f"ALTER TABLE {prefix}channel_events ADD COLUMN extra TEXT")
    diffs = await migrate.drift(engine, schema=schema)
    kinds = {(d[0], getattr(d[1], "name", None)) for d in diffs if isinstance(d, tuple)}
    kinds |= {(d[0][0], d[0][3]) for d in diffs if isinstance(d, list)}
    assert ("add_index", "ix_channel_outbox_state") in kinds, diffs
    assert any(d[0] == "remove_column" for d in diffs if isinstance(d, tuple)), diffs


async def test_downgrade_base_then_upgrade_head(target: Target) -> None:
    engine, schema = target
    await migrate.upgrade(engine, schema=schema)
    await migrate.downgrade(engine, "base", schema=schema)
    assert await migrate.current(engine, schema=schema) == ()
    assert not (await tables(engine, schema)) & set(migrate.TABLE_NAMES)
    await migrate.upgrade(engine, "head", schema=schema)
    assert await migrate.current(engine, schema=schema) == HEAD
    assert await migrate.drift(engine, schema=schema) == []


async def test_unknown_revision_is_bad_input(target: Target) -> None:
    engine, schema = target
    with pytest.raises(InvalidInputError, match="no-such-revision"):
        await migrate.upgrade(engine, "no-such-revision", schema=schema)


async def test_target_metadata_create_all_is_the_migrated_schema(target: Target) -> None:
    """The host's own ``create_all`` of the declared tables (the trigram index included where
    pg_trgm is installed) gives the schema the migrations give."""
    engine, schema = target
    metadata = migrate.target_metadata(schema, dialect=engine.dialect.name)
    async with engine.begin() as conn:
        if schema:
            await conn.execute(sa.schema.CreateSchema(schema))
        await conn.run_sync(metadata.create_all)
    await migrate.stamp(engine, schema=schema)
    assert await migrate.drift(engine, schema=schema) == []
    declared = {
        i.name for i in metadata.tables[f"{schema}.channels" if schema else "channels"].indexes
    }
    assert (TRIGRAM in declared) == (engine.dialect.name == "postgresql")


# ---------------------------------------------------------------- the previous release


async def test_previous_release_database_upgrades_in_place(target: Target) -> None:
    engine, schema = target
    await previous_release(engine, schema)
    clock = FixedClock()
    repo = SqlChannelRepository(engine, schema=schema, clock=clock)
    channel = ChannelFactory(clock)(active=True)
    await repo.save(channel)
    await migrate.upgrade(engine, schema=schema)
    assert await migrate.current(engine, schema=schema) == HEAD
    assert await migrate.drift(engine, schema=schema) == []
    loaded = await repo.get(channel.id, tenant_id=DEFAULT_TENANT)
    assert loaded.to_snapshot() == channel.to_snapshot()
    await migrate.upgrade(engine, schema=schema)  # nothing left to do
    assert await migrate.current(engine, schema=schema) == HEAD


async def test_stamp_adopts_a_previous_release_database(target: Target) -> None:
    """Stamped at the revision that is its schema, it lacks only the later tables, which the
    next upgrade adds."""
    engine, schema = target
    await previous_release(engine, schema)
    await migrate.stamp(engine, RELEASE_BEFORE_ALEMBIC, schema=schema)
    assert await migrate.current(engine, schema=schema) == (RELEASE_BEFORE_ALEMBIC,)
    missing = {d[1].name for d in await migrate.drift(engine, schema=schema) if d[0] == "add_table"}
    assert missing == {"channel_conversations", "contact_aliases"}
    await migrate.upgrade(engine, schema=schema)
    assert await migrate.current(engine, schema=schema) == HEAD
    assert await migrate.drift(engine, schema=schema) == []


async def test_downgrade_one_revision_drops_only_the_new_tables(target: Target) -> None:
    engine, schema = target
    await migrate.upgrade(engine, schema=schema)
    await migrate.downgrade(engine, RELEASE_BEFORE_ALEMBIC, schema=schema)
    left = await tables(engine, schema)
    assert {"channel_conversations", "contact_aliases"}.isdisjoint(left)
    assert {"channels", "channel_inbox", "channel_outbox", "channel_events"} <= left
    await migrate.upgrade(engine, schema=schema)
    assert await migrate.drift(engine, schema=schema) == []


async def test_new_tables_built_by_create_schema_are_adopted(target: Target) -> None:
    """A database whose conversation and alias tables came from the stores' create_schema()
    upgrades without touching them."""
    engine, schema = target
    await migrate.upgrade(engine, RELEASE_BEFORE_ALEMBIC, schema=schema)
    await SqlConversationStore(engine, schema=schema).create_schema()
    await SqlContactAliasStore(engine, schema=schema).create_schema()
    await migrate.upgrade(engine, schema=schema)
    assert await migrate.current(engine, schema=schema) == HEAD
    assert await migrate.drift(engine, schema=schema) == []


async def test_postgres_database_stopped_half_way_through_the_sql_files(
    postgres_engine: AsyncEngine, postgres_schema: str
) -> None:
    """0001 and 0002 only: the counters of 0003 and the tables of 0004-0005 are added."""
    await previous_release(postgres_engine, postgres_schema, files=2)
    assert "channel_outbox" not in await tables(postgres_engine, postgres_schema)
    await migrate.upgrade(postgres_engine, schema=postgres_schema)
    assert await migrate.drift(postgres_engine, schema=postgres_schema) == []


def _refuse_trigram(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    if "gin_trgm_ops" in statement or "CREATE EXTENSION" in statement:
        raise sa.exc.ProgrammingError(statement, {}, Exception("permission denied (injected)"))


async def test_postgres_upgrade_without_pg_trgm_goes_on(
    postgres_engine: AsyncEngine, postgres_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    sa.event.listen(postgres_engine.sync_engine, "before_cursor_execute", _refuse_trigram)
    try:
        with caplog.at_level("WARNING", logger="ventros_channels.sql._schema"):
            await migrate.upgrade(postgres_engine, schema=postgres_schema)
    finally:
        sa.event.remove(postgres_engine.sync_engine, "before_cursor_execute", _refuse_trigram)
    assert "without a trigram index" in caplog.text
    assert await migrate.current(postgres_engine, schema=postgres_schema) == HEAD
    names = await indexes(postgres_engine, postgres_schema, "channels")
    assert "ix_channels_active_project" in names
    assert TRIGRAM not in names
    # the only difference from the code is the optional index; the next upgrade that can
    # create it is create_schema() (the revision has already run)
    diffs = await migrate.drift(postgres_engine, schema=postgres_schema)
    assert [(d[0], d[1].name) for d in diffs] == [("add_index", TRIGRAM)]
    await SqlChannelRepository(postgres_engine, schema=postgres_schema).create_schema()
    assert await migrate.drift(postgres_engine, schema=postgres_schema) == []


# ---------------------------------------------------------------- CLI


def _db(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["db", *args], env=env)


def test_cli_upgrade_current_history_downgrade_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    before = _db("current", "--url", url)
    assert before.exit_code == 0, before.output
    assert "base" in before.output
    up = _db("upgrade", env={migrate.URL_ENV: url})
    assert up.exit_code == 0, up.output
    assert "at vc0002" in up.output
    now = _db("current", "--url", url)
    assert now.output.strip() == "at vc0002"
    history = _db("history")
    assert history.exit_code == 0
    assert history.output.startswith("vc0002 (head) ")
    down = _db("downgrade", "base", "--url", url)
    assert down.exit_code == 0, down.output
    assert "at base" in down.output
    engine = create_engine(url)
    try:
        assert not asyncio.run(tables(engine, None)) & set(migrate.TABLE_NAMES)
    finally:
        asyncio.run(engine.dispose())


def test_cli_stamp_and_errors(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    stamped = _db("stamp", "head", "--url", url)
    assert stamped.exit_code == 0, stamped.output
    assert "at vc0002" in stamped.output
    bad = _db("upgrade", "nope", "--url", url)
    assert bad.exit_code == 2
    assert "InvalidInputError" in bad.output
    no_url = _db("current", env={migrate.URL_ENV: ""})
    assert no_url.exit_code == 2
    assert "--url" in no_url.output
    unusable = _db("current", "--url", "nosuchdriver://x")
    assert unusable.exit_code == 2
    assert "not a usable database URL" in unusable.output


# ---------------------------------------------------------------- the host's own Alembic

HOST_ENV = """
import sqlalchemy as sa
from alembic import context

from ventros_channels.sql.migrate import exclude_library_tables

metadata = sa.MetaData()
sa.Table("host_notes", metadata, sa.Column("id", sa.Integer, primary_key=True))

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    include_object=exclude_library_tables,
)
with context.begin_transaction():
    context.run_migrations()
"""

HOST_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "host0001"
down_revision = None
branch_labels = ("host",)
depends_on = None


def upgrade():
    op.create_table("host_notes", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("host_notes")
"""


def _host_config(tmp_path: Path) -> Config:
    """The host's Alembic: its own environment and revisions, plus the library's."""
    home = tmp_path / "host_migrations"
    (home / "versions").mkdir(parents=True)
    (home / "env.py").write_text(textwrap.dedent(HOST_ENV))
    (home / "versions" / "host0001_notes.py").write_text(textwrap.dedent(HOST_REVISION))
    config = Config()
    config.set_main_option("script_location", str(home))
    config.set_main_option("path_separator", "space")
    config.set_main_option("version_locations", f"{home / 'versions'} {migrate.VERSIONS_RESOURCE}")
    return config


async def test_host_alembic_runs_the_library_revisions(target: Target, tmp_path: Path) -> None:
    engine, schema = target
    config = _host_config(tmp_path)
    if schema:  # the library's tables through the ini option; the host's own via search_path
        config.set_main_option(migrate.SCHEMA_OPTION, schema)

    def host_upgrade(conn: sa.Connection) -> list[Any]:
        if schema:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}", public')
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")
        context = MigrationContext.configure(conn)
        heads = set(context.get_current_heads())
        host_metadata = sa.MetaData()
        sa.Table("host_notes", host_metadata, sa.Column("id", sa.Integer, primary_key=True))
        filtered = compare_metadata(
            MigrationContext.configure(
                conn, opts={"include_object": migrate.exclude_library_tables}
            ),
            host_metadata,
        )
        unfiltered = compare_metadata(context, host_metadata)
        return [heads, filtered, unfiltered]

    async with engine.begin() as conn:
        heads, filtered, unfiltered = await conn.run_sync(host_upgrade)
    assert heads == {"host0001", "vc0002"}  # both branches in the host's alembic_version
    assert filtered == []  # the host's autogenerate leaves the library's tables alone
    assert {d[1].name for d in unfiltered if d[0] == "remove_table"} >= {"channels"}
    assert await tables(engine, schema) >= {*migrate.TABLE_NAMES, "host_notes"}
    # the library's own version table is not involved: its CLI would start from base
    assert await migrate.current(engine, schema=schema) == ()
    assert await migrate.drift(engine, schema=schema) == []


def test_alembic_command_line_style_config_with_a_url(tmp_path: Path) -> None:
    """Alembic's own commands on the library's environment, given only a URL (what
    ``alembic -c`` with ``script_location`` pointing at the package does): the environment
    opens an async engine itself."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'alembic.db'}"
    config = migrate.alembic_config()
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")
    engine = create_engine(url)
    try:
        assert asyncio.run(migrate.current(engine)) == HEAD
        assert asyncio.run(migrate.drift(engine)) == []
    finally:
        asyncio.run(engine.dispose())
