"""The tables: ``channels`` (typed columns for what queries touch, JSON for the rest) and the
inbox of deliveries (``channel_inbox``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.ddl import BaseDDLElement
from sqlalchemy.sql.schema import SchemaItem

from ventros_channels.clock import ensure_utc

__all__ = [
    "COUNTER_COLUMNS",
    "INBOX_STATES",
    "TIMESTAMP_COLUMNS",
    "TRIGRAM_OPTION",
    "UTCDateTime",
    "build_aliases_table",
    "build_conversations_table",
    "build_events_table",
    "build_inbox_table",
    "build_outbox_table",
    "build_table",
    "create_trigram_index",
    "trigram_index",
]

logger = logging.getLogger(__name__)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones, so values are normalised to
    UTC and stored naive, in SQLAlchemy's fixed-width text form, which keeps text comparison
    and ordering the same as time ordering; they come back aware (UTC).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = ensure_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


COUNTER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("messages_received", "received"),
    ("messages_sent", "sent"),
    ("errors", "errors"),
    ("delivered", "delivered"),
    ("read", "read"),
    ("failed", "failed"),
    ("webhooks_accepted", "webhooks_accepted"),
    ("webhooks_rejected", "webhooks_rejected"),
    ("send_time_ms", "send_time_ms"),
    ("timed_sends", "timed_sends"),
)
"""(column, ``MetricsDelta`` field) for every counter."""
_ADDED_LATER = frozenset({"send_time_ms", "timed_sends"})
"""Counters added by migration 0002: they default to 0 for rows written before."""

TIMESTAMP_COLUMNS: tuple[str, ...] = ("last_message_at", "last_webhook_at", "last_error_at")
"""Metric timestamps that only move forward (same name on the column and the delta)."""

# Case-folded copies of name / external id for search and name ordering. PostgreSQL compares
# them byte-wise (collation "C") so the order is the code-point order the in-memory store uses.
_FOLDED = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


TRIGRAM_OPTION = "ventros_channels_trigram"
"""Execution option that decides whether ``create_all`` emits the trigram index: ``False``
skips it, ``True`` creates it; unset, it is created when ``pg_trgm`` is installed."""

_PG_TRGM_INSTALLED = "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"


def _trigram_wanted(
    ddl: BaseDDLElement,
    target: SchemaItem | str,
    bind: sa.Connection | None,
    tables: list[sa.Table] | None = None,
    state: Any | None = None,
    *,
    dialect: Dialect,
    compiler: DDLCompiler | None = None,
    checkfirst: bool = False,
) -> bool:
    """``ddl_if`` rule of the trigram index: the extension is optional, so plain
    ``create_all`` only emits the index where its operator class exists."""
    if bind is None:  # compiled to text (offline SQL): the reader decides
        return True
    wanted = bind.get_execution_options().get(TRIGRAM_OPTION)
    if wanted is not None:
        return bool(wanted)
    return bind.exec_driver_sql(_PG_TRGM_INSTALLED).first() is not None


def build_table(
    metadata: sa.MetaData, name: str = "channels", *, trigram: bool = False
) -> sa.Table:
    """Declare the channels table (and its indexes) in ``metadata``.

    ``trigram=True`` (PostgreSQL) adds the ``pg_trgm`` GIN index that serves text search on
    the case-folded name and external id; see :func:`trigram_index`.
    """
    table = sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid()),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_key", _FOLDED, nullable=False),
        sa.Column("channel_type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("external_id", sa.Text()),
        sa.Column("external_key", _FOLDED, nullable=False),
        sa.Column("pipeline_id", sa.Uuid()),
        sa.Column("ai_enabled", sa.Boolean(), nullable=False),
        sa.Column("ai_agents_enabled", sa.Boolean(), nullable=False),
        sa.Column("webhook_id", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime()),
        sa.Column("version", sa.Integer(), nullable=False),
        *(
            sa.Column(
                c,
                sa.BigInteger(),
                nullable=False,
                server_default=sa.text("0") if c in _ADDED_LATER else None,
            )
            for c, _ in COUNTER_COLUMNS
        ),
        *(sa.Column(c, UTCDateTime()) for c in TIMESTAMP_COLUMNS),
        sa.Column("last_error", sa.Text()),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("config", _JSON),
        sa.Column("config_sealed", sa.LargeBinary()),
    )
    c = table.c
    active = c.status == sa.text("'active'")
    sa.Index(f"ix_{name}_tenant", c.tenant_id, c.created_at)
    sa.Index(f"ix_{name}_project", c.project_id, c.tenant_id)
    sa.Index(f"ix_{name}_type", c.channel_type)
    sa.Index(f"ix_{name}_status", c.status)
    sa.Index(f"ix_{name}_external_id", c.external_id, c.channel_type)
    sa.Index(f"ix_{name}_webhook_id", c.webhook_id)
    sa.Index(
        f"ix_{name}_active_project",
        c.tenant_id,
        c.project_id,
        c.created_at,
        c.id,
        sqlite_where=active,
        postgresql_where=active,
    )
    if trigram:
        sa.Index(
            f"ix_{name}_search_trgm",
            c.name_key,
            c.external_key,
            postgresql_using="gin",
            postgresql_ops={"name_key": "gin_trgm_ops", "external_key": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql", callable_=_trigram_wanted)
    return table


def trigram_index(table: sa.Table) -> sa.Index | None:
    """The trigram index of a channels table, when it was declared with ``trigram=True``.

    The operator class is named without its schema, so ``pg_trgm`` must be installed in a
    schema on the search path (``public`` by default).
    """
    return next((i for i in table.indexes if i.name == f"ix_{table.name}_search_trgm"), None)


def create_trigram_index(conn: sa.Connection, table: sa.Table, *, required: bool) -> bool:
    """Create ``pg_trgm`` (when missing) and the trigram index of ``table`` on a savepoint.

    Returns whether the index exists afterwards. Where the extension cannot be created
    (no privilege, not shipped with the server) the savepoint is rolled back and a warning
    logged, unless ``required``: then the error propagates. Search works either way; the
    index only makes substring matches fast.
    """
    index = trigram_index(table)
    if index is None:
        return False
    try:
        with conn.begin_nested():
            if conn.exec_driver_sql(_PG_TRGM_INSTALLED).first() is None:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
    except sa_exc.DBAPIError as exc:
        if required:
            raise
        logger.warning(
            "pg_trgm is not available (%s): text search runs without a trigram index",
            type(exc.orig).__name__,
        )
        return False
    return True


def build_events_table(metadata: sa.MetaData, name: str = "channel_events") -> sa.Table:
    """Declare the domain-event outbox: events written with the channel row, published by
    the relay in ``id`` order.
    """
    table = sa.Table(
        name,
        metadata,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime()),
        sa.UniqueConstraint("event_id", name=f"uq_{name}_event_id"),
    )
    unpublished = table.c.published_at.is_(None)
    sa.Index(
        f"ix_{name}_unpublished",
        table.c.id,
        sqlite_where=unpublished,
        postgresql_where=unpublished,
    )
    return table


def build_outbox_table(metadata: sa.MetaData, name: str = "channel_outbox") -> sa.Table:
    """Declare the outbox: one row per outbound send, unique by (channel, key); ``seq`` orders
    the queued sends of a chat.
    """
    table = sa.Table(
        name,
        metadata,
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("idem_key", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("chat_id", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message", sa.LargeBinary()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Text()),
        sa.Column("error_type", sa.String(128)),
        sa.Column("error", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("available_at", UTCDateTime()),
        sa.Column("lease_token", sa.Text()),
        sa.Column("leased_until", UTCDateTime()),
        sa.UniqueConstraint("channel_id", "idem_key", name=f"uq_{name}_key"),
    )
    c = table.c
    in_queue = sa.or_(c.state == "queued", c.lease_token.is_not(None))
    sa.Index(
        f"ix_{name}_queue",
        c.channel_id,
        c.chat_id,
        c.seq,
        sqlite_where=in_queue,
        postgresql_where=in_queue,
    )
    sa.Index(f"ix_{name}_state", c.state, c.created_at)
    return table


INBOX_STATES: tuple[str, ...] = ("ready", "done", "dead")
"""Row states of the inbox: waiting or leased, handled (kept for dedupe), dead-lettered."""

# A BIGINT identity on PostgreSQL; SQLite needs INTEGER for its rowid alias (AUTOINCREMENT
# keeps ids from being reused after rows are pruned).
_INBOX_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def build_inbox_table(metadata: sa.MetaData, name: str = "channel_inbox") -> sa.Table:
    """Declare the inbox table (and its indexes) in ``metadata``.

    One row per recorded delivery. The unique key on (channel, idempotency key) is the
    deduplication; the id gives the accept order. Partial indexes cover only the rows a
    query can want: the ``ready`` ones (per chat, and in id order), those of them under a
    lease (per chat), the ``done`` ones by age (for pruning) and the ``dead`` ones.
    """
    states = ", ".join(f"'{s}'" for s in INBOX_STATES)
    table = sa.Table(
        name,
        metadata,
        sa.Column("id", _INBOX_ID, sa.Identity(always=True), primary_key=True),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("idem_key", sa.Text(), nullable=False),
        sa.Column("ordering_key", sa.Text(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("payload", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", UTCDateTime(), nullable=False),
        sa.Column("leased_until", UTCDateTime()),
        sa.Column("lease_token", sa.Text()),
        sa.Column("last_error", sa.Text()),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.UniqueConstraint("channel_id", "idem_key", name=f"uq_{name}_key"),
        sa.CheckConstraint(f"state IN ({states})", name=f"ck_{name}_state"),
        sqlite_autoincrement=True,
    )
    c = table.c

    def state_is(state: str) -> sa.ColumnElement[bool]:
        return c.state == sa.text(f"'{state}'")

    def partial(index: str, where: sa.ColumnElement[bool], *columns: sa.Column[Any]) -> None:
        sa.Index(f"ix_{name}_{index}", *columns, sqlite_where=where, postgresql_where=where)

    partial("chat", state_is("ready"), c.channel_id, c.ordering_key, c.id)
    partial("ready", state_is("ready"), c.id)
    held = sa.and_(state_is("ready"), c.leased_until.is_not(None))
    partial("held", held, c.channel_id, c.ordering_key)
    partial("done", state_is("done"), c.finished_at)
    partial("dead", state_is("dead"), c.channel_id, c.id)
    return table


def build_conversations_table(
    metadata: sa.MetaData, name: str = "channel_conversations"
) -> sa.Table:
    """Declare the conversations: one row per (channel, chat); ``expires_at`` is when the
    running session ends, so the active sessions are one range over the index."""
    table = sa.Table(
        name,
        metadata,
        sa.Column("channel_id", sa.Uuid(), primary_key=True),
        sa.Column("chat_id", sa.Text(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("session_started_at", UTCDateTime()),
        sa.Column("last_inbound_at", UTCDateTime()),
        sa.Column("last_outbound_at", UTCDateTime()),
        sa.Column("expires_at", UTCDateTime()),
        sa.Column("closed_at", UTCDateTime()),
        sa.Column("pipeline_id", sa.Uuid()),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    c = table.c
    sa.Index(f"ix_{name}_expires", c.channel_id, c.expires_at)
    sa.Index(f"ix_{name}_started", c.channel_id, c.session_started_at)
    return table


def build_aliases_table(metadata: sa.MetaData, name: str = "contact_aliases") -> sa.Table:
    """Declare the contact aliases: one row per (tenant, channel, alias) naming its group."""
    table = sa.Table(
        name,
        metadata,
        sa.Column("tenant_id", sa.Text(), primary_key=True),
        sa.Column("channel_id", sa.Uuid(), primary_key=True),
        sa.Column("alias", sa.Text(), primary_key=True),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
    )
    c = table.c
    sa.Index(f"ix_{name}_group", c.tenant_id, c.channel_id, c.group_id)
    return table
