"""A :class:`~ventros_channels.ChannelRepository` on SQLAlchemy 2 (async): SQLite and PostgreSQL.

Every query runs in SQL: filters, sort, pages, totals and text search. Writes run in one
transaction each. Saves use optimistic concurrency (``UPDATE ... WHERE version = :expected``)
and metric counters are incremented in the ``UPDATE`` itself, never read, changed and written
back, so concurrent writers on any number of processes never lose an increment.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from ventros_channels.cipher import ConfigCipher, warn_plaintext_once
from ventros_channels.clock import Clock, SystemClock
from ventros_channels.domain.channel import Channel
from ventros_channels.domain.snapshot import reveal_snapshot, snapshot_secrets
from ventros_channels.domain.types import ChannelStatus, ChannelType
from ventros_channels.domain.values import MetricsDelta
from ventros_channels.errors import (
    ChannelNotFoundError,
    ConcurrencyError,
    CorruptChannelError,
    DomainError,
    FieldError,
    InvalidInputError,
    RepositoryError,
    RepositoryUnavailableError,
    raise_unchained,
)
from ventros_channels.http import log_redaction_installed, register_secrets
from ventros_channels.repository import ChannelFilters, ChannelPage, _check_page
from ventros_channels.sql._errors import translate_errors
from ventros_channels.sql._schema import (
    COUNTER_COLUMNS,
    TIMESTAMP_COLUMNS,
    TRIGRAM_OPTION,
    UTCDateTime,
    build_events_table,
    build_table,
    create_trigram_index,
)
from ventros_channels.sql.events import event_rows

__all__ = ["ConfigCipher", "SqlChannelRepository", "create_engine"]

logger = logging.getLogger(__name__)

# Snapshot keys that live in their own columns; everything else goes to the ``data`` JSON.
_COLUMN_KEYS = frozenset(
    {
        "id",
        "tenant_id",
        "project_id",
        "user_id",
        "name",
        "channel_type",
        "status",
        "external_id",
        "pipeline_id",
        "ai_enabled",
        "ai_agents_enabled",
        "created_at",
        "updated_at",
        "deleted_at",
        "version",
        "metrics",
        "config",
        "retired_secrets",
    }
)
_SORT_NULLABLE = frozenset({"last_message_at"})


def create_engine(url: str | sa.URL, **options: Any) -> AsyncEngine:
    """An :class:`AsyncEngine` with settings suited to the repository.

    A convenience only: the repository never creates engines itself. Defaults:
    ``hide_parameters=True`` (SQL parameters hold channel secrets, keep them out of logs and
    error messages) and ``pool_pre_ping=True`` except for SQLite, where a connection cannot
    go stale; an in-memory SQLite database (``sqlite+aiosqlite:///:memory:``) gets one shared
    connection (``StaticPool``), since each new connection would see an empty database of its
    own. Anything passed in ``options`` wins.
    Example URLs: ``sqlite+aiosqlite:///channels.db``,
    ``postgresql+asyncpg://user@host/db``.
    """
    parsed = sa.make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    settings: dict[str, Any] = {"hide_parameters": True, "pool_pre_ping": not sqlite}
    if _in_memory_sqlite(parsed):
        settings["poolclass"] = StaticPool
    settings.update(options)
    return create_async_engine(url, **settings)


def _in_memory_sqlite(url: sa.URL) -> bool:
    if url.get_backend_name() != "sqlite":
        return False
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


class _Conflict(Exception):
    """Internal: the optimistic concurrency check failed inside the transaction."""


class SqlChannelRepository:
    """Channel store on a host-provided :class:`AsyncEngine` (SQLite or PostgreSQL).

    :param engine: the host's engine; the repository neither creates nor disposes it.
    :param schema: PostgreSQL schema (or SQLite attached database) holding the table.
    :param cipher: optional :class:`ConfigCipher`; when given, the config and retired
        webhook secrets are stored encrypted (rows written before keep loading as plain).
    :param table_name: name of the table (``channels``).
    :param clock: clock handed to the channels it loads.
    :param event_outbox: write each save's domain events to ``events_table_name`` in the
        same transaction; an :class:`~ventros_channels.sql.EventRelay` publishes them.

    Create the table with the Alembic migrations (``ventros-channels db upgrade``),
    :meth:`create_schema` or the PostgreSQL SQL files in ``ventros_channels/sql/migrations``.
    Database failures raise
    :class:`RepositoryUnavailableError` (connection refused, lost, timed out, locked) or
    :class:`RepositoryError`; their messages never hold SQL parameters.

    An in-memory SQLite database lives in one connection, so the engine must share it
    (``StaticPool``, as :func:`create_engine` sets up); the repository then runs one unit of
    work at a time on it, so concurrent callers never see each other's open transactions.
    Any other pool for an in-memory database is refused with :class:`InvalidInputError`.

    A stored row that does not load raises :class:`CorruptChannelError` naming the channel from
    the single-channel reads; listings leave it out and log it (pages list it in
    ``ChannelPage.unreadable``).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        schema: str | None = None,
        cipher: ConfigCipher | None = None,
        table_name: str = "channels",
        clock: Clock | None = None,
        event_outbox: bool = False,
        events_table_name: str = "channel_events",
    ) -> None:
        self._engine = engine
        self._serial: asyncio.Lock | None = None
        if _in_memory_sqlite(engine.url):
            if not isinstance(engine.pool, StaticPool):
                raise InvalidInputError(
                    "engine",
                    [
                        FieldError(
                            "engine",
                            "an in-memory SQLite database needs one shared connection: create "
                            "the engine with poolclass=StaticPool (create_engine does), or use "
                            "a file",
                        )
                    ],
                )
            self._serial = asyncio.Lock()
        # PostgreSQL reads run each statement on its own: no BEGIN / ROLLBACK round trips
        # (on SQLite switching the mode costs more than it saves)
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._schema = schema
        self._cipher = cipher
        if cipher is None:
            warn_plaintext_once("SqlChannelRepository", "the config column", logger)
        self._clock = clock or SystemClock()
        self._metadata = sa.MetaData(schema=schema)
        self._table = build_table(
            self._metadata, table_name, trigram=engine.dialect.name == "postgresql"
        )
        self._events = (
            build_events_table(self._metadata, events_table_name) if event_outbox else None
        )

    @property
    def records_events(self) -> bool:
        """Whether saves write domain events to the outbox table (published by the relay)."""
        return self._events is not None

    @property
    def events_table(self) -> sa.Table | None:
        """The domain-event outbox table, when ``event_outbox=True``."""
        return self._events

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction (one at a time on a shared in-memory database)."""
        if self._serial is None:
            async with self._engine.begin() as conn:
                yield conn
            return
        async with self._serial, self._engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        if self._serial is None:
            async with self._reader.connect() as conn:
                yield conn
            return
        async with self._serial, self._reader.connect() as conn:
            yield conn

    @property
    def engine(self) -> AsyncEngine:
        """The engine the repository runs on."""
        return self._engine

    @property
    def table(self) -> sa.Table:
        """The SQLAlchemy table (for hosts' own reporting queries and migrations)."""
        return self._table

    # ---------------------------------------------------------------- schema

    async def create_schema(self, *, trigram: bool | None = None) -> None:
        """Create the schema (PostgreSQL), the table and its indexes if missing. Idempotent.

        On PostgreSQL a trigram (``pg_trgm`` GIN) index speeds up :meth:`search`. With
        ``trigram=None`` it is created when the extension is installed or can be installed
        (``CREATE EXTENSION IF NOT EXISTS pg_trgm``), and skipped with a log line
        otherwise; ``True`` makes a failure an error, ``False`` skips it.
        """
        with _translate_errors():
            async with self._begin() as conn:
                postgres = conn.dialect.name == "postgresql"
                if postgres and self._schema:
                    await conn.execute(sa.schema.CreateSchema(self._schema, if_not_exists=True))
                # the trigram index needs its extension: created below, on its own savepoint
                await conn.execution_options(**{TRIGRAM_OPTION: False})
                await conn.run_sync(self._metadata.create_all)
                if postgres and trigram is not False:
                    await self._create_trigram_index(conn, required=bool(trigram))

    async def _create_trigram_index(self, conn: AsyncConnection, *, required: bool) -> None:
        await conn.run_sync(create_trigram_index, self._table, required=required)

    async def drop_schema(self) -> None:
        """Drop the table and its indexes (not the PostgreSQL schema itself)."""
        with _translate_errors():
            async with self._begin() as conn:
                await conn.run_sync(self._metadata.drop_all)

    async def reencrypt(self, *, batch: int = 500) -> int:
        """Write every channel's secrets again with the cipher's current key (rotation), and
        seal rows stored in clear before a cipher was configured. Returns how many rows were
        rewritten. Safe to run while the application works: a row saved meanwhile is skipped
        (its save already used the current key). Needs a cipher.
        """
        if self._cipher is None:
            raise RepositoryError("reencrypt needs a cipher: create the repository with cipher=")
        t = self._table
        done, after = 0, None
        while True:
            query = sa.select(t.c.id, t.c.version, t.c.config, t.c.config_sealed)
            if after is not None:
                query = query.where(t.c.id > after)
            with _translate_errors():
                async with self._read() as conn:
                    rows = (await conn.execute(query.order_by(t.c.id).limit(batch))).all()
            if not rows:
                return done
            for row in rows:
                config, sealed = self._seal(self._unseal(row))
                stmt = (
                    sa.update(t)
                    .where(t.c.id == row.id, t.c.version == row.version)
                    .values(config=config, config_sealed=sealed)
                )
                with _translate_errors():
                    async with self._begin() as conn:
                        done += (await conn.execute(stmt)).rowcount
            after = rows[-1].id

    # ---------------------------------------------------------------- rows

    def _seal(self, payload: Mapping[str, Any]) -> tuple[Any, bytes | None]:
        if self._cipher is None:
            return dict(payload), None
        raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return None, self._cipher.encrypt(raw)

    def _unseal(self, row: Any) -> dict[str, Any]:
        """The config and retired secrets of a row (any row with ``config``, ``config_sealed``)."""
        sealed = row.config_sealed
        if sealed is None:
            return dict(row.config or {})
        if self._cipher is None:
            raise RepositoryError(
                f"channel {row.id} has an encrypted config and the repository has no cipher"
            )
        try:
            data = json.loads(self._cipher.decrypt(bytes(sealed)))
        except Exception as exc:
            raise_unchained(
                RepositoryError(
                    f"channel {row.id}: the encrypted config could not be decrypted "
                    f"({type(exc).__name__})"
                )
            )
        if not isinstance(data, dict):
            raise RepositoryError(f"channel {row.id}: the decrypted config is not an object")
        return data

    def _values(self, channel: Channel) -> dict[str, Any]:
        """Every column but the id, the version and the metric columns."""
        snap = channel.to_snapshot()
        if log_redaction_installed():  # before the driver can log the statement's parameters
            register_secrets(snapshot_secrets(snap))
        config, sealed = self._seal(  # the secrets, revealed only to be sealed or kept
            reveal_snapshot({"config": snap["config"], "retired_secrets": snap["retired_secrets"]})
        )
        return {
            "tenant_id": channel.tenant_id,
            "project_id": channel.project_id,
            "user_id": channel.user_id,
            "name": channel.name,
            "name_key": channel.name.casefold(),
            "channel_type": str(channel.channel_type),
            "status": channel.status.value,
            "external_id": channel.external_id,
            "external_key": (channel.external_id or "").casefold(),
            "pipeline_id": channel.pipeline_id,
            "ai_enabled": channel.ai_enabled,
            "ai_agents_enabled": channel.ai_agents_enabled,
            "webhook_id": channel.webhook.webhook_id,
            "created_at": channel.created_at,
            "updated_at": channel.updated_at,
            "deleted_at": channel.deleted_at,
            "data": {k: v for k, v in snap.items() if k not in _COLUMN_KEYS},
            "config": config,
            "config_sealed": sealed,
        }

    def _increments(self, delta: MetricsDelta) -> dict[str, Any]:
        """SET clauses adding ``delta`` to the stored metrics in SQL."""
        c = self._table.c
        out: dict[str, Any] = {}
        for column, field in COUNTER_COLUMNS:
            n = getattr(delta, field)
            if n:
                out[column] = c[column] + n
        for column in TIMESTAMP_COLUMNS:
            at = getattr(delta, column)
            if at is not None:
                out[column] = _later(c[column], at)
        if delta.last_error_at is not None:
            at = sa.literal(delta.last_error_at, UTCDateTime())
            message = sa.literal(delta.last_error, sa.Text())
            newer = sa.or_(c.last_error_at.is_(None), c.last_error_at <= at)
            out["last_error"] = sa.case((newer, message), else_=c.last_error)
        return out

    def _load(self, row: sa.Row[Any]) -> Channel:
        """The channel of a row; :class:`CorruptChannelError` naming it if the row is bad."""
        try:
            return self._build(row)
        except (InvalidInputError, DomainError) as exc:
            errors = getattr(exc, "errors", None) or [FieldError("<row>", type(exc).__name__)]
            raise CorruptChannelError(str(row.id), errors) from None

    def _load_all(self, rows: Iterable[sa.Row[Any]]) -> tuple[list[Channel], list[Any]]:
        """Channels of the rows that load, and the errors of those that do not (logged)."""
        good: list[Channel] = []
        bad: list[CorruptChannelError] = []
        for row in rows:
            try:
                good.append(self._load(row))
            except CorruptChannelError as exc:
                logger.error("skipping unreadable channel: %s", exc)
                bad.append(exc)
        return good, bad

    def _build(self, row: sa.Row[Any]) -> Channel:
        secret = self._unseal(row)
        snap: dict[str, Any] = dict(row.data)
        snap.update(
            id=row.id,
            tenant_id=row.tenant_id,
            project_id=row.project_id,
            user_id=row.user_id,
            name=row.name,
            channel_type=row.channel_type,
            status=row.status,
            external_id=row.external_id,
            pipeline_id=row.pipeline_id,
            ai_enabled=row.ai_enabled,
            ai_agents_enabled=row.ai_agents_enabled,
            created_at=row.created_at,
            updated_at=row.updated_at,
            deleted_at=row.deleted_at,
            version=row.version,
            config=secret.get("config", {}),
            retired_secrets=secret.get("retired_secrets", []),
            metrics={
                **{column: getattr(row, column) for column, _ in COUNTER_COLUMNS},
                **{column: getattr(row, column) for column in TIMESTAMP_COLUMNS},
                "last_error": row.last_error,
            },
        )
        channel = Channel.from_snapshot(snap, clock=self._clock)
        if log_redaction_installed():
            register_secrets(snapshot_secrets(channel.to_snapshot()))
        return channel

    async def _rows(self, stmt: sa.Select[Any]) -> list[sa.Row[Any]]:
        with _translate_errors():
            async with self._read() as conn:
                return list((await conn.execute(stmt)).all())

    async def _fetch(self, stmt: sa.Select[Any]) -> list[Channel]:
        """Every channel the statement selects that loads (bad rows logged and left out)."""
        return self._load_all(await self._rows(stmt))[0]

    async def _fetch_one(self, stmt: sa.Select[Any]) -> Channel | None:
        rows = await self._rows(stmt)
        return self._load(rows[0]) if rows else None

    def _oldest_first(self, *conditions: sa.ColumnElement[bool]) -> sa.Select[Any]:
        t = self._table
        return sa.select(t).where(*conditions).order_by(t.c.created_at, t.c.id)

    # ---------------------------------------------------------------- protocol

    async def save(self, channel: Channel) -> None:
        """Insert (version 0) or update with ``WHERE version = channel.version``.

        Pending metric increments are added in SQL. On any failure the channel keeps its
        pending increments, so saving it again (after a reload) loses nothing.
        """
        t = self._table
        expected = channel.version
        delta = channel.take_pending_metrics()
        try:
            values = self._values(channel)
            with _translate_errors():
                async with self._begin() as conn:
                    if self._events is not None and channel.pending_events:
                        rows = event_rows(channel.pending_events)
                        await conn.execute(sa.insert(self._events), rows)
                    if expected == 0:
                        await self._insert(conn, channel, values)
                    else:
                        stmt = (
                            sa.update(t)
                            .where(
                                t.c.id == channel.id,
                                t.c.tenant_id == channel.tenant_id,
                                t.c.version == expected,
                            )
                            .values(**values, **self._increments(delta), version=expected + 1)
                        )
                        if (await conn.execute(stmt)).rowcount != 1:
                            raise _Conflict
        except _Conflict:
            _restore_pending(channel, delta)
            actual = await self._stored_version(channel.id, channel.tenant_id)
            raise_unchained(ConcurrencyError(str(channel.id), expected, actual))
        except BaseException:
            _restore_pending(channel, delta)
            raise
        channel.mark_persisted(expected + 1)

    def _insert_row(self, channel: Channel, values: dict[str, Any]) -> dict[str, Any]:
        """The whole row of a first save (version 1, the channel's full metrics)."""
        m = channel.metrics
        row = {"id": channel.id, "version": 1, "last_error": m.last_error, **values}
        row.update({column: getattr(m, column) for column, _ in COUNTER_COLUMNS})
        row.update({column: getattr(m, column) for column in TIMESTAMP_COLUMNS})
        return row

    async def _insert(
        self, conn: AsyncConnection, channel: Channel, values: dict[str, Any]
    ) -> None:
        stmt = sa.insert(self._table).values(self._insert_row(channel, values))
        try:
            await conn.execute(stmt)
        except sa_exc.IntegrityError:  # the id exists (in this tenant or another)
            raise_unchained(_Conflict())

    async def _stored_version(self, channel_id: UUID, tenant_id: str) -> int | None:
        t = self._table
        stmt = sa.select(t.c.version).where(t.c.id == channel_id, t.c.tenant_id == tenant_id)
        try:
            with _translate_errors():
                async with self._read() as conn:
                    version: int | None = (await conn.execute(stmt)).scalar()
        except RepositoryError:
            return None
        return version

    async def get(self, channel_id: UUID, *, tenant_id: str) -> Channel:
        """The channel (deleted ones included) or :class:`ChannelNotFoundError`."""
        t = self._table
        found = await self._fetch_one(
            sa.select(t).where(t.c.id == channel_id, t.c.tenant_id == tenant_id)
        )
        if found is None:
            raise ChannelNotFoundError(str(channel_id))
        return found

    async def lookup(self, channel_id: UUID) -> Channel | None:
        """Cross-tenant lookup for the inbound webhook path; deleted channels excluded."""
        t = self._table
        return await self._fetch_one(
            sa.select(t).where(t.c.id == channel_id, t.c.deleted_at.is_(None))
        )

    async def find_by_external_id(
        self, channel_type: ChannelType | str, external_id: str, *, tenant_id: str | None = None
    ) -> list[Channel]:
        """Channels of a type bound to a platform account id (deleted excluded)."""
        c = self._table.c
        conditions = [
            c.external_id == external_id,
            c.channel_type == str(channel_type),
            c.deleted_at.is_(None),
        ]
        if tenant_id is not None:
            conditions.append(c.tenant_id == tenant_id)
        return await self._fetch(self._oldest_first(*conditions))

    async def find_by_project(self, project_id: UUID, *, tenant_id: str) -> list[Channel]:
        """All non-deleted channels of a project, oldest first."""
        c = self._table.c
        return await self._fetch(
            self._oldest_first(
                c.tenant_id == tenant_id, c.project_id == project_id, c.deleted_at.is_(None)
            )
        )

    def active_by_project_query(self, project_id: UUID, *, tenant_id: str) -> sa.Select[Any]:
        """The statement behind :meth:`find_active_by_project` (for EXPLAIN and tests).

        The status is a literal, not a parameter, so the planner can prove that the partial
        index ``ix_<table>_active_project`` (``WHERE status = 'active'``) applies.
        """
        c = self._table.c
        return self._oldest_first(
            c.tenant_id == tenant_id,
            c.project_id == project_id,
            c.status == sa.literal_column(f"'{ChannelStatus.ACTIVE.value}'"),
            c.deleted_at.is_(None),
        )

    async def find_active_by_project(self, project_id: UUID, *, tenant_id: str) -> list[Channel]:
        """Active, non-deleted channels of a project, oldest first (partial index)."""
        return await self._fetch(self.active_by_project_query(project_id, tenant_id=tenant_id))

    async def find(self, filters: ChannelFilters) -> ChannelPage:
        """Filtered, sorted, paginated listing within one tenant, all in SQL."""
        f = filters
        c = self._table.c
        conditions: list[sa.ColumnElement[bool]] = [c.tenant_id == f.tenant_id]
        if f.project_id is not None:
            conditions.append(c.project_id == f.project_id)
        if not f.include_deleted:
            conditions.append(c.deleted_at.is_(None))
        if f.channel_types is not None:
            conditions.append(c.channel_type.in_(sorted(f.channel_types)))
        if f.statuses is not None:
            conditions.append(c.status.in_(sorted(f.statuses)))
        if f.pipeline_id is not None:
            conditions.append(c.pipeline_id == f.pipeline_id)
        if f.ai_enabled is not None:
            conditions.append(c.ai_enabled.is_(f.ai_enabled))
        if f.ai_agents_enabled is not None:
            conditions.append(c.ai_agents_enabled.is_(f.ai_agents_enabled))
        if f.created_from is not None:
            conditions.append(c.created_at >= f.created_from)
        if f.created_to is not None:
            conditions.append(c.created_at < f.created_to)
        key = c.name_key if f.sort_by == "name" else c[f.sort_by]
        if f.descending:
            primary = key.desc().nulls_first() if f.sort_by in _SORT_NULLABLE else key.desc()
            order = (primary, c.id.desc())
        else:
            primary = key.asc().nulls_last() if f.sort_by in _SORT_NULLABLE else key.asc()
            order = (primary, c.id.asc())
        return await self._page(conditions, order, f.limit, f.offset)

    async def search(
        self, text: str, *, tenant_id: str, limit: int = 50, offset: int = 0
    ) -> ChannelPage:
        """Case-insensitive substring search over name and external id within one tenant.

        Matching is on case-folded copies of both (``str.casefold``), so it agrees with the
        in-memory store for any script; on PostgreSQL a trigram index serves it.
        """
        _check_page(limit, offset)
        c = self._table.c
        conditions = self._search_conditions(text, tenant_id=tenant_id)
        return await self._page(conditions, (c.name_key.asc(), c.id.asc()), limit, offset)

    def _search_conditions(self, text: str, *, tenant_id: str) -> list[sa.ColumnElement[bool]]:
        c = self._table.c
        needle = text.strip().casefold()
        conditions: list[sa.ColumnElement[bool]] = [
            c.tenant_id == tenant_id,
            c.deleted_at.is_(None),
        ]
        if needle:
            conditions.append(
                sa.or_(
                    c.name_key.contains(needle, autoescape=True),
                    c.external_key.contains(needle, autoescape=True),
                )
            )
        return conditions

    async def _page(
        self,
        conditions: list[sa.ColumnElement[bool]],
        order: tuple[sa.ColumnElement[Any], ...],
        limit: int,
        offset: int,
    ) -> ChannelPage:
        t = self._table
        rows_stmt = sa.select(t).where(*conditions).order_by(*order).limit(limit).offset(offset)
        count_stmt = sa.select(sa.func.count()).select_from(t).where(*conditions)
        with _translate_errors():
            async with self._read() as conn:
                rows = (await conn.execute(rows_stmt)).all()
                total = int((await conn.execute(count_stmt)).scalar_one())
        good, bad = self._load_all(rows)
        return ChannelPage(tuple(good), total, unreadable=tuple(bad))

    async def delete(self, channel_id: UUID, *, tenant_id: str) -> None:
        """Remove the record for good; :class:`ChannelNotFoundError` if absent."""
        t = self._table
        stmt = sa.delete(t).where(t.c.id == channel_id, t.c.tenant_id == tenant_id)
        with _translate_errors():
            async with self._begin() as conn:
                deleted = (await conn.execute(stmt)).rowcount
        if deleted != 1:
            raise ChannelNotFoundError(str(channel_id))

    async def record_metrics(
        self, channel_id: UUID, delta: MetricsDelta, *, tenant_id: str
    ) -> None:
        """Add counter increments in one ``UPDATE`` (no version check or bump).

        Refuses negative or absurd increments (:class:`InvalidMetricsError`) before writing.
        """
        delta.check()
        t = self._table
        scope = (t.c.id == channel_id, t.c.tenant_id == tenant_id)
        with _translate_errors():
            async with self._begin() as conn:
                if delta.is_empty:
                    stmt: Any = sa.select(sa.func.count()).select_from(t).where(*scope)
                    matched = int((await conn.execute(stmt)).scalar_one())
                else:
                    stmt = sa.update(t).where(*scope).values(**self._increments(delta))
                    matched = (await conn.execute(stmt)).rowcount
        if matched != 1:
            raise ChannelNotFoundError(str(channel_id))


def _later(column: sa.ColumnElement[Any], at: Any) -> sa.ColumnElement[Any]:
    """``GREATEST(column, at)`` where NULL counts as the earliest time, on every backend."""
    value = sa.literal(at, UTCDateTime())
    return sa.case((sa.or_(column.is_(None), column < value), value), else_=column)


def _restore_pending(channel: Channel, delta: MetricsDelta) -> None:
    """Hand back increments taken for a save that did not happen (they stay pending)."""
    if not delta.is_empty:
        channel.restore_pending_metrics(delta)


def _translate_errors() -> AbstractContextManager[None]:
    return translate_errors(
        "channel store",
        RepositoryUnavailableError,
        RepositoryError,
        passthrough=(_Conflict,),
    )
