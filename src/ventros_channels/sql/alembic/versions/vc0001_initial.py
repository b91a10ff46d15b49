"""The schema of the releases before Alembic: channels, inbox, outbox, domain events.

Revision ID: vc0001
Revises:
Create Date: 2026-11-29

The same tables and indexes as the plain SQL files 0001-0005 and ``create_schema()``. A
database built by either of those is adopted as it is: every table, column and index is
created only when missing (the two counters of 0003 included), so ``upgrade`` works on a
fresh database, on a complete one and on one that stopped half way through the SQL files.

The columns are written out here rather than taken from the code's table builders, so that
this revision keeps meaning the same schema when the code moves on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.schema import SchemaItem

from ventros_channels.sql.migrate import BRANCH_LABEL, migration_schema

revision = "vc0001"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = (BRANCH_LABEL,)
depends_on: str | None = None

logger = logging.getLogger("ventros_channels.sql")

_TIME = sa.DateTime(timezone=True)
_FOLDED = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COUNTERS = (
    "messages_received",
    "messages_sent",
    "errors",
    "delivered",
    "read",
    "failed",
    "webhooks_accepted",
    "webhooks_rejected",
)
_LATER_COUNTERS = ("send_time_ms", "timed_sends")  # added by 0003, default 0


def _partial(where: str) -> dict[str, Any]:
    clause = sa.text(where)
    return {"sqlite_where": clause, "postgresql_where": clause}


def _index(name: str, table: str, columns: list[str], where: str | None = None) -> None:
    op.create_index(
        name,
        table,
        columns,
        schema=migration_schema(),
        if_not_exists=True,
        **(_partial(where) if where else {}),
    )


def _channels() -> list[SchemaItem]:
    return [
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
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("deleted_at", _TIME),
        sa.Column("version", sa.Integer(), nullable=False),
        *(sa.Column(c, sa.BigInteger(), nullable=False) for c in _COUNTERS),
        *_later_counters(),
        sa.Column("last_message_at", _TIME),
        sa.Column("last_webhook_at", _TIME),
        sa.Column("last_error_at", _TIME),
        sa.Column("last_error", sa.Text()),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("config", _JSON),
        sa.Column("config_sealed", sa.LargeBinary()),
    ]


def _later_counters() -> list[sa.Column[int]]:
    return [
        sa.Column(c, sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        for c in _LATER_COUNTERS
    ]


def _channels_indexes() -> None:
    _index("ix_channels_tenant", "channels", ["tenant_id", "created_at"])
    _index("ix_channels_project", "channels", ["project_id", "tenant_id"])
    _index("ix_channels_type", "channels", ["channel_type"])
    _index("ix_channels_status", "channels", ["status"])
    _index("ix_channels_external_id", "channels", ["external_id", "channel_type"])
    _index("ix_channels_webhook_id", "channels", ["webhook_id"])
    _index(
        "ix_channels_active_project",
        "channels",
        ["tenant_id", "project_id", "created_at", "id"],
        "status = 'active'",
    )


_PG_TRGM_INSTALLED = "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"


def _trigram_index() -> None:
    """The ``pg_trgm`` index of text search, where the extension exists or can be created.

    Runs on a savepoint: without the privilege or the extension the rest of the migration
    goes on and search works unindexed (the warning says so).
    """
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            if bind.exec_driver_sql(_PG_TRGM_INSTALLED).first() is None:
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            op.create_index(
                "ix_channels_search_trgm",
                "channels",
                ["name_key", "external_key"],
                schema=migration_schema(),
                if_not_exists=True,
                postgresql_using="gin",
                postgresql_ops={"name_key": "gin_trgm_ops", "external_key": "gin_trgm_ops"},
            )
    except sa.exc.DBAPIError as exc:
        logger.warning(
            "pg_trgm is not available (%s): text search runs without a trigram index",
            type(exc.orig).__name__,
        )


def _inbox() -> list[SchemaItem]:
    return [
        sa.Column("id", _SERIAL, sa.Identity(always=True), primary_key=True),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("idem_key", sa.Text(), nullable=False),
        sa.Column("ordering_key", sa.Text(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("payload", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", _TIME, nullable=False),
        sa.Column("leased_until", _TIME),
        sa.Column("lease_token", sa.Text()),
        sa.Column("last_error", sa.Text()),
        sa.Column("accepted_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME),
        sa.UniqueConstraint("channel_id", "idem_key", name="uq_channel_inbox_key"),
        sa.CheckConstraint("state IN ('ready', 'done', 'dead')", name="ck_channel_inbox_state"),
    ]


def _inbox_indexes() -> None:
    ready = "state = 'ready'"
    _index("ix_channel_inbox_chat", "channel_inbox", ["channel_id", "ordering_key", "id"], ready)
    _index("ix_channel_inbox_ready", "channel_inbox", ["id"], ready)
    _index(
        "ix_channel_inbox_held",
        "channel_inbox",
        ["channel_id", "ordering_key"],
        "state = 'ready' AND leased_until IS NOT NULL",
    )
    _index("ix_channel_inbox_done", "channel_inbox", ["finished_at"], "state = 'done'")
    _index("ix_channel_inbox_dead", "channel_inbox", ["channel_id", "id"], "state = 'dead'")


def _outbox() -> list[SchemaItem]:
    return [
        sa.Column("seq", _SERIAL, primary_key=True, autoincrement=True),
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
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("available_at", _TIME),
        sa.Column("lease_token", sa.Text()),
        sa.Column("leased_until", _TIME),
        sa.UniqueConstraint("channel_id", "idem_key", name="uq_channel_outbox_key"),
    ]


def _outbox_indexes() -> None:
    _index(
        "ix_channel_outbox_queue",
        "channel_outbox",
        ["channel_id", "chat_id", "seq"],
        "state = 'queued' OR lease_token IS NOT NULL",
    )
    _index("ix_channel_outbox_state", "channel_outbox", ["state", "created_at"])


def _events() -> list[SchemaItem]:
    return [
        sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("occurred_at", _TIME, nullable=False),
        sa.Column("published_at", _TIME),
        sa.UniqueConstraint("event_id", name="uq_channel_events_event_id"),
    ]


def _events_indexes() -> None:
    _index("ix_channel_events_unpublished", "channel_events", ["id"], "published_at IS NULL")


_TABLES: tuple[tuple[str, Callable[[], list[SchemaItem]], Callable[[], None]], ...] = (
    ("channels", _channels, _channels_indexes),
    ("channel_inbox", _inbox, _inbox_indexes),
    ("channel_outbox", _outbox, _outbox_indexes),
    ("channel_events", _events, _events_indexes),
)


def upgrade() -> None:
    schema = migration_schema()
    if schema and op.get_bind().dialect.name == "postgresql":
        op.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
    inspector = sa.inspect(op.get_bind())
    for name, columns, indexes in _TABLES:
        if not inspector.has_table(name, schema=schema):
            extra = {"sqlite_autoincrement": True} if name == "channel_inbox" else {}
            op.create_table(name, *columns(), schema=schema, **extra)
        indexes()
    have = {c["name"] for c in inspector.get_columns("channels", schema=schema)}
    for column in _later_counters():
        if column.name not in have:  # a database that stopped before the SQL file 0003
            op.add_column("channels", column, schema=schema)
    if op.get_bind().dialect.name == "postgresql":
        _trigram_index()


def downgrade() -> None:
    schema = migration_schema()
    for name, _, _ in reversed(_TABLES):
        op.drop_table(name, schema=schema)
