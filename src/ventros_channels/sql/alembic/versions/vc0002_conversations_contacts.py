"""Conversations and contact aliases.

Revision ID: vc0002
Revises: vc0001
Create Date: 2026-12-06

Two new tables: ``channel_conversations`` (one row per channel and chat: sessions, last
inbound and outbound times) and ``contact_aliases`` (the ids of one person on a channel).
Like the first revision, each table and index is created only when missing, so a database
built by ``create_schema()`` or the plain SQL file 0006 is adopted as it is.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.schema import SchemaItem

from ventros_channels.sql.migrate import migration_schema

revision = "vc0002"
down_revision: str | None = "vc0001"
branch_labels: tuple[str, ...] | None = None
depends_on: str | None = None

_TIME = sa.DateTime(timezone=True)


def _conversations() -> list[SchemaItem]:
    return [
        sa.Column("channel_id", sa.Uuid(), primary_key=True),
        sa.Column("chat_id", sa.Text(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("first_seen_at", _TIME, nullable=False),
        sa.Column("session_started_at", _TIME),
        sa.Column("last_inbound_at", _TIME),
        sa.Column("last_outbound_at", _TIME),
        sa.Column("expires_at", _TIME),
        sa.Column("closed_at", _TIME),
        sa.Column("pipeline_id", sa.Uuid()),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def _conversations_indexes() -> None:
    table = "channel_conversations"
    _index("ix_channel_conversations_expires", table, ["channel_id", "expires_at"])
    _index("ix_channel_conversations_started", table, ["channel_id", "session_started_at"])


def _aliases() -> list[SchemaItem]:
    return [
        sa.Column("tenant_id", sa.Text(), primary_key=True),
        sa.Column("channel_id", sa.Uuid(), primary_key=True),
        sa.Column("alias", sa.Text(), primary_key=True),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("linked_at", _TIME, nullable=False),
    ]


def _aliases_indexes() -> None:
    _index("ix_contact_aliases_group", "contact_aliases", ["tenant_id", "channel_id", "group_id"])


def _index(name: str, table: str, columns: list[str]) -> None:
    op.create_index(name, table, columns, schema=migration_schema(), if_not_exists=True)


_TABLES: tuple[tuple[str, Callable[[], list[SchemaItem]], Callable[[], None]], ...] = (
    ("channel_conversations", _conversations, _conversations_indexes),
    ("contact_aliases", _aliases, _aliases_indexes),
)


def upgrade() -> None:
    schema = migration_schema()
    inspector = sa.inspect(op.get_bind())
    for name, columns, indexes in _TABLES:
        if not inspector.has_table(name, schema=schema):
            op.create_table(name, *columns(), schema=schema)
        indexes()


def downgrade() -> None:
    schema = migration_schema()
    for name, _, _ in reversed(_TABLES):
        op.drop_table(name, schema=schema)
