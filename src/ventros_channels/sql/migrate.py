"""Alembic migrations of the library's tables (extra ``[sql]``).

The migration scripts live in the package (``ventros_channels/sql/alembic``). They run on a
connection of an async engine (Alembic's async pattern: the work runs in ``run_sync``), keep
their own version table (:data:`VERSION_TABLE`) so they never mix with the host's Alembic
history, and take an optional PostgreSQL schema.

Three ways to use them:

- the CLI: ``ventros-channels db upgrade`` (see ``ventros-channels db --help``);
- from code: ``await upgrade(engine)``, :func:`downgrade`, :func:`stamp`, :func:`current`,
  :func:`history`, :func:`drift`;
- from the host's own Alembic environment: add :data:`VERSIONS_RESOURCE` to its
  ``version_locations`` and filter the host's autogenerate with :func:`exclude_library_tables`
  (see the persistence guide).

The first revision builds the whole schema of the previous releases and adopts a database
that already has it (made by ``create_schema()`` or the plain SQL files): what exists is
kept, what is missing is created.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa
from alembic import command
from alembic import context as alembic_context
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels.errors import FieldError, InvalidInputError
from ventros_channels.sql._schema import (
    build_aliases_table,
    build_conversations_table,
    build_events_table,
    build_inbox_table,
    build_outbox_table,
    build_table,
)
from ventros_channels.sql.repository import _translate_errors, create_engine

__all__ = [
    "BRANCH_LABEL",
    "SCHEMA_OPTION",
    "TABLE_NAMES",
    "URL_ENV",
    "VERSIONS_RESOURCE",
    "VERSION_TABLE",
    "alembic_config",
    "current",
    "downgrade",
    "drift",
    "exclude_library_tables",
    "history",
    "migration_schema",
    "run_command",
    "run_env",
    "script_location",
    "stamp",
    "target_metadata",
    "upgrade",
]

VERSION_TABLE = "ventros_channels_alembic_version"
"""The library's own Alembic version table (the host's ``alembic_version`` stays its own)."""
BRANCH_LABEL = "ventros_channels"
"""Branch label of the library's revisions, for ``alembic upgrade ventros_channels@head``."""
SCHEMA_OPTION = "ventros_channels_schema"
"""Config key (main option or ``Config.attributes``) naming the PostgreSQL schema."""
URL_ENV = "VENTROS_DATABASE_URL"
"""Environment variable the CLI reads the database URL from when ``--url`` is not given."""
VERSIONS_RESOURCE = "ventros_channels.sql:alembic/versions"
"""The revisions as a package resource, for the host's ``version_locations``."""
TABLE_NAMES: tuple[str, ...] = (
    "channels",
    "channel_inbox",
    "channel_outbox",
    "channel_events",
    "channel_conversations",
    "contact_aliases",
)
"""The tables the migrations manage (their default names)."""

_LIBRARY_NAMES = frozenset((*TABLE_NAMES, VERSION_TABLE))


def script_location() -> str:
    """Filesystem path of the library's Alembic environment (``env.py``, ``versions/``)."""
    return str(Path(__file__).with_name("alembic"))


def target_metadata(schema: str | None = None, *, dialect: str = "postgresql") -> sa.MetaData:
    """All the tables as the code declares them (what the stores' ``create_schema()`` build).

    The trigram index of ``channels`` is declared for PostgreSQL only, as there is no such
    index on SQLite.
    """
    metadata = sa.MetaData(schema=schema)
    build_table(metadata, trigram=dialect == "postgresql")
    build_inbox_table(metadata)
    build_outbox_table(metadata)
    build_events_table(metadata)
    build_conversations_table(metadata)
    build_aliases_table(metadata)
    return metadata


def _table_of(obj: Any, type_: str) -> str | None:
    if type_ == "table":
        return str(obj.name)
    table = getattr(obj, "table", None)
    return None if table is None else str(table.name)


def exclude_library_tables(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """``include_object`` hook for the host's autogenerate: leaves out the library's tables,
    their indexes and constraints, and the library's version table."""
    return _table_of(obj, type_) not in _LIBRARY_NAMES


def _only_library_tables(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    return _table_of(obj, type_) in _LIBRARY_NAMES - {VERSION_TABLE}


def migration_schema(config: Config | None = None) -> str | None:
    """The PostgreSQL schema the running migration targets (``None``: the search path).

    Read from ``Config.attributes`` or the main option :data:`SCHEMA_OPTION`; the revisions
    call it, so it works under the library's environment and under the host's.
    """
    config = config or alembic_context.config
    value = config.attributes.get(SCHEMA_OPTION) or config.get_main_option(SCHEMA_OPTION)
    return str(value) if value else None


def alembic_config(*, schema: str | None = None, stdout: TextIO | None = None) -> Config:
    """An Alembic :class:`Config` for the library's environment (no ini file needed)."""
    config = Config(stdout=stdout or sys.stdout)
    config.set_main_option("script_location", script_location())
    config.attributes[SCHEMA_OPTION] = schema
    return config


# ---------------------------------------------------------------- env.py


def _compare_options(schema: str | None) -> dict[str, Any]:
    if not schema:
        return {}

    def in_schema(name: str | None, type_: str, parent: Any) -> bool:
        return name == schema if type_ == "schema" else True

    return {"include_schemas": True, "include_name": in_schema}


def _configure(connection: sa.Connection, schema: str | None) -> dict[str, Any]:
    return {
        "connection": connection,
        "target_metadata": target_metadata(schema, dialect=connection.dialect.name),
        "version_table": VERSION_TABLE,
        "version_table_schema": schema,
        "include_object": _only_library_tables,
        "compare_type": True,
        **_compare_options(schema),
    }


def _run_on(connection: sa.Connection, config: Config) -> None:
    schema = migration_schema(config)
    if schema and connection.dialect.name == "postgresql":
        connection.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
    alembic_context.configure(**_configure(connection, schema))
    with alembic_context.begin_transaction():
        alembic_context.run_migrations()


async def _run_on_url(url: str, config: Config) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run_on, config)
    finally:
        await engine.dispose()


def run_env() -> None:
    """The body of the library's ``env.py``.

    Uses the connection handed over in ``Config.attributes["connection"]`` (what the
    functions of this module and the CLI do); otherwise opens an async engine on the
    ``sqlalchemy.url`` main option. Offline (``--sql``) runs are refused: the first
    revision inspects the database; the plain SQL files are the text form of the schema.
    """
    config = alembic_context.config
    if alembic_context.is_offline_mode():
        raise CommandError(
            "the ventros-channels migrations need a database connection (no --sql mode); "
            "the plain SQL files in ventros_channels/sql/migrations are the text form"
        )
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection, config)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise CommandError("no database: set sqlalchemy.url or pass a connection")
    asyncio.run(_run_on_url(url, config))


# ---------------------------------------------------------------- commands


@contextmanager
def _translate() -> Iterator[None]:
    """Alembic's command errors (unknown revision, ...) as bad input; database errors as the
    repository's typed errors, without SQL parameters."""
    try:
        with _translate_errors():
            yield
    except CommandError as exc:
        raise InvalidInputError("revision", [FieldError("revision", str(exc))]) from None


def _engine(target: AsyncEngine | str) -> tuple[AsyncEngine, bool]:
    if isinstance(target, AsyncEngine):
        return target, False
    try:
        return create_engine(target), True
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise InvalidInputError(
            "url", [FieldError("url", f"not a usable database URL ({type(exc).__name__})")]
        ) from None


async def _run(
    target: AsyncEngine | str,
    action: Callable[[sa.Connection, Config], Any],
    *,
    schema: str | None,
    stdout: TextIO | None,
) -> Any:
    engine, owned = _engine(target)
    config = alembic_config(schema=schema, stdout=stdout)

    def on_connection(connection: sa.Connection) -> Any:
        config.attributes["connection"] = connection
        return action(connection, config)

    try:
        with _translate():
            async with engine.begin() as conn:
                return await conn.run_sync(on_connection)
    finally:
        if owned:
            await engine.dispose()


async def upgrade(
    target: AsyncEngine | str,
    revision: str = "head",
    *,
    schema: str | None = None,
    stdout: TextIO | None = None,
) -> None:
    """Migrate up to ``revision`` (``head`` by default) in one transaction.

    ``target`` is an engine (kept open) or a URL (an engine is made and disposed).
    """
    await _run(
        target,
        lambda _, config: command.upgrade(config, revision),
        schema=schema,
        stdout=stdout,
    )


async def downgrade(
    target: AsyncEngine | str,
    revision: str,
    *,
    schema: str | None = None,
    stdout: TextIO | None = None,
) -> None:
    """Migrate down to ``revision`` (``base`` drops every table of the library)."""
    await _run(
        target,
        lambda _, config: command.downgrade(config, revision),
        schema=schema,
        stdout=stdout,
    )


async def stamp(
    target: AsyncEngine | str,
    revision: str = "head",
    *,
    schema: str | None = None,
    stdout: TextIO | None = None,
) -> None:
    """Record ``revision`` as applied without running anything."""
    await _run(
        target,
        lambda _, config: command.stamp(config, revision),
        schema=schema,
        stdout=stdout,
    )


def _heads(connection: sa.Connection, config: Config) -> tuple[str, ...]:
    context = MigrationContext.configure(
        connection,
        opts={"version_table": VERSION_TABLE, "version_table_schema": migration_schema(config)},
    )
    return tuple(context.get_current_heads())


async def current(target: AsyncEngine | str, *, schema: str | None = None) -> tuple[str, ...]:
    """The revisions the database is at (empty before the first upgrade)."""
    heads: tuple[str, ...] = await _run(target, _heads, schema=schema, stdout=None)
    return heads


def history() -> list[str]:
    """One line per revision, newest first: ``id (head) message``."""
    scripts = ScriptDirectory.from_config(alembic_config())
    heads = set(scripts.get_heads())
    return [
        f"{rev.revision}{' (head)' if rev.revision in heads else ''} {rev.doc}"
        for rev in scripts.walk_revisions()
    ]


def _compare(connection: sa.Connection, config: Config) -> list[Any]:
    schema = migration_schema(config)
    options = _configure(connection, schema)
    context = MigrationContext.configure(
        connection,
        opts={k: v for k, v in options.items() if k not in ("connection", "target_metadata")},
    )
    return list(compare_metadata(context, options["target_metadata"]))


async def drift(target: AsyncEngine | str, *, schema: str | None = None) -> list[Any]:
    """What autogenerate would change to make the database match the code (empty when they
    agree): Alembic's diff tuples, for checks in CI."""
    diffs: list[Any] = await _run(target, _compare, schema=schema, stdout=None)
    return diffs


_COMMANDS: dict[str, Callable[..., Any]] = {
    "upgrade": upgrade,
    "downgrade": downgrade,
    "stamp": stamp,
}


async def run_command(
    action: str, target: AsyncEngine | str, revision: str | None = None, *, schema: str | None
) -> tuple[str, ...]:
    """Run ``upgrade``, ``downgrade`` or ``stamp`` to ``revision`` (or just read ``current``)
    on one engine; returns the revisions the database is at afterwards (what the CLI runs)."""
    engine, owned = _engine(target)
    try:
        if action != "current":
            run = _COMMANDS.get(action)
            if run is None or revision is None:
                raise InvalidInputError(
                    "action", [FieldError("action", f"unknown migration command {action!r}")]
                )
            await run(engine, revision, schema=schema, stdout=io.StringIO())
        return await current(engine, schema=schema)
    finally:
        if owned:
            await engine.dispose()
