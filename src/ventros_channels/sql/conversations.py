"""A :class:`~ventros_channels.conversations.ConversationStore` on SQLAlchemy 2 (async).

One row per (channel, chat). An update reads the row, applies the pure change and writes it
back with one conditional statement (``UPDATE ... WHERE version = ?`` or ``INSERT ... ON
CONFLICT DO NOTHING``); when another writer got there first the statement touches no row and
the update starts again from the new state. No transaction spans the read and the write, so
SQLite's single writer is never held while the change is computed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels.conversations import Conversation, ConversationChange, SessionMetrics
from ventros_channels.conversations._model import foreign_chat
from ventros_channels.errors import (
    RepositoryError,
    RepositoryUnavailableError,
    VentrosChannelsError,
)
from ventros_channels.sql._schema import build_conversations_table
from ventros_channels.sql._store import TableStore

__all__ = ["SqlConversationStore"]

_ATTEMPTS = 64
"""Rounds an update may lose to concurrent writers of the same chat before it gives up."""
_FIELDS = tuple(f.name for f in attrs.fields(Conversation))


class SqlConversationStore(TableStore):
    """Conversations in the ``channel_conversations`` table; see the module docstring.

    :param engine: the host's engine (typically the repository's).
    :param schema: PostgreSQL schema holding the table.
    """

    what: ClassVar[str] = "conversation store"
    unavailable_error: ClassVar[type[VentrosChannelsError]] = RepositoryUnavailableError
    store_error: ClassVar[type[VentrosChannelsError]] = RepositoryError

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        schema: str | None = None,
        table_name: str = "channel_conversations",
    ) -> None:
        super().__init__(engine, build_conversations_table, schema=schema, table_name=table_name)

    async def get(self, channel_id: UUID, chat_id: str, *, tenant_id: str) -> Conversation | None:
        row = await self._read(channel_id, chat_id)
        return None if row is None or row.tenant_id != tenant_id else _conversation(row)

    async def update(
        self,
        channel_id: UUID,
        chat_id: str,
        change: ConversationChange,
        *,
        tenant_id: str,
        at: datetime,
    ) -> Conversation:
        for _ in range(_ATTEMPTS):
            row = await self._read(channel_id, chat_id)
            if row is not None and row.tenant_id != tenant_id:
                raise foreign_chat(channel_id)
            if row is None:
                base = Conversation.first_contact(channel_id, tenant_id, chat_id, at=at)
            else:
                base = _conversation(row)
            changed = attrs.evolve(change(base), version=base.version + 1)
            if await self._write(changed, None if row is None else base.version):
                return changed
        raise RepositoryError(
            f"conversation of channel {channel_id} kept changing under {_ATTEMPTS} updates"
        )

    async def find(
        self,
        channel_id: UUID,
        *,
        tenant_id: str,
        open_at: datetime | None = None,
        limit: int = 100,
    ) -> list[Conversation]:
        c = self._table.c
        stmt = (
            sa.select(self._table)
            .where(c.channel_id == channel_id, c.tenant_id == tenant_id)
            .order_by(c.session_started_at.desc().nulls_last(), c.chat_id.desc())
            .limit(limit)
        )
        if open_at is not None:
            stmt = stmt.where(c.expires_at > open_at)
        with self._translate():
            async with self._engine.connect() as conn:
                return [_conversation(row) for row in (await conn.execute(stmt)).all()]

    async def session_metrics(
        self, channel_id: UUID, *, tenant_id: str, now: datetime
    ) -> SessionMetrics:
        c = self._table.c
        stmt = sa.select(
            sa.func.coalesce(sa.func.sum(c.sessions), 0),
            sa.func.coalesce(sa.func.sum(sa.case((c.expires_at > now, 1), else_=0)), 0),
        ).where(c.channel_id == channel_id, c.tenant_id == tenant_id)
        with self._translate():
            async with self._engine.connect() as conn:
                created, active = (await conn.execute(stmt)).one()
        return SessionMetrics(sessions_created=int(created), active_sessions=int(active))

    # ------------------------------------------------------------------ internals

    async def _read(self, channel_id: UUID, chat_id: str) -> sa.Row[Any] | None:
        c = self._table.c
        stmt = sa.select(self._table).where(c.channel_id == channel_id, c.chat_id == chat_id)
        with self._translate():
            async with self._engine.connect() as conn:
                return (await conn.execute(stmt)).first()

    async def _write(self, conversation: Conversation, expected: int | None) -> bool:
        """Store ``conversation`` if the row is still at version ``expected`` (``None``: if
        there is no row); whether it was stored."""
        values = attrs.asdict(conversation, recurse=False)
        c = self._table.c
        if expected is None:
            insert = postgresql.insert if self._postgres else sqlite.insert
            stmt: Any = insert(self._table).values(values).on_conflict_do_nothing()
        else:
            stmt = (
                sa.update(self._table)
                .where(
                    c.channel_id == conversation.channel_id,
                    c.chat_id == conversation.chat_id,
                    c.version == expected,
                )
                .values(values)
            )
        with self._translate():
            async with self._engine.begin() as conn:
                return bool((await conn.execute(stmt)).rowcount)


def _conversation(row: sa.Row[Any]) -> Conversation:
    data = row._mapping
    return Conversation(**{name: data[name] for name in _FIELDS})
