"""A :class:`~ventros_channels.outbox.Outbox` on SQLAlchemy 2 (async): PostgreSQL and SQLite.

One row per send, unique by ``(channel_id, idem_key)``: ``reserve`` is an
``INSERT ... ON CONFLICT DO NOTHING``, so of two concurrent sends with one key exactly one
goes on. Outcomes are conditional ``UPDATE``s (on the state, or on the lease token), so a
record is written once by whoever holds it. Queued sends are claimed with one ``UPDATE`` over
the head of each chat (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer), and a
lease that runs out turns its send ``uncertain`` rather than sending it again.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels.clock import Clock, SystemClock
from ventros_channels.errors import OutboxError, OutboxUnavailableError, VentrosChannelsError
from ventros_channels.outbox import LeasedSend, SendRecord, SendState
from ventros_channels.sql._schema import build_outbox_table
from ventros_channels.sql._store import TableStore

__all__ = ["SqlOutbox"]

_EXPIRED = "the sender's lease ran out before it recorded an outcome"


class SqlOutbox(TableStore):
    """Outbound send records in the ``channel_outbox`` table; see the module docstring.

    :param engine: the host's engine (the same one as the repository's, typically).
    :param schema: PostgreSQL schema holding the table.
    """

    what: ClassVar[str] = "outbox store"
    unavailable_error: ClassVar[type[VentrosChannelsError]] = OutboxUnavailableError
    store_error: ClassVar[type[VentrosChannelsError]] = OutboxError

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        schema: str | None = None,
        table_name: str = "channel_outbox",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(engine, build_outbox_table, schema=schema, table_name=table_name)
        self._clock = clock or SystemClock()

    # ------------------------------------------------------------------ direct sends

    async def reserve(self, record: SendRecord) -> tuple[SendRecord, bool]:
        insert = postgresql.insert if self._postgres else sqlite.insert
        stmt = (
            insert(self._table)
            .values(_row(record))
            .on_conflict_do_nothing(index_elements=["channel_id", "idem_key"])
            .returning(*self._table.c)
        )
        with self._translate():
            async with self._engine.begin() as conn:
                created = (await conn.execute(stmt)).first()
                if created is not None:
                    return _record(created), True
                known = (await conn.execute(self._where(record.channel_id, record.key))).one()
        return _record(known), False

    async def finish(
        self,
        channel_id: UUID,
        key: str,
        *,
        state: SendState,
        message_id: str | None = None,
        error_type: str | None = None,
        error: str | None = None,
    ) -> SendRecord | None:
        c = self._table.c
        return await self._update_one(
            (
                c.channel_id == channel_id,
                c.idem_key == key,
                c.state == SendState.PENDING.value,
                c.lease_token.is_(None),
            ),
            state=state.value,
            message_id=message_id,
            error_type=error_type,
            error=error,
        )

    async def reopen(self, channel_id: UUID, key: str) -> SendRecord | None:
        c = self._table.c
        return await self._update_one(
            (c.channel_id == channel_id, c.idem_key == key, c.state != SendState.SENT.value),
            state=SendState.PENDING.value,
            attempts=c.attempts + 1,
            lease_token=None,
            leased_until=None,
        )

    async def resolve(self, channel_id: UUID, key: str, *, message_id: str | None) -> bool:
        await self._expire_leases()
        c = self._table.c
        updated = await self._update_one(
            (
                c.channel_id == channel_id,
                c.idem_key == key,
                c.state.in_((SendState.UNCERTAIN.value, SendState.PENDING.value)),
                c.lease_token.is_(None),
            ),
            state=SendState.SENT.value,
            message_id=message_id,
            error_type=None,
            error=None,
        )
        return updated is not None

    async def get(self, channel_id: UUID, key: str) -> SendRecord | None:
        await self._expire_leases()
        with self._translate():
            async with self._engine.connect() as conn:
                row = (await conn.execute(self._where(channel_id, key))).first()
        return None if row is None else _record(row)

    async def find(
        self, *, state: SendState | None = None, channel_id: UUID | None = None, limit: int = 100
    ) -> list[SendRecord]:
        await self._expire_leases()
        c = self._table.c
        stmt = sa.select(self._table).order_by(c.created_at, c.seq).limit(limit)
        if state is not None:
            stmt = stmt.where(c.state == state.value)
        if channel_id is not None:
            stmt = stmt.where(c.channel_id == channel_id)
        with self._translate():
            async with self._engine.connect() as conn:
                return [_record(row) for row in (await conn.execute(stmt)).all()]

    # ------------------------------------------------------------------ queued sends

    async def lease(self, worker: str, *, limit: int, visibility: timedelta) -> list[LeasedSend]:
        await self._expire_leases()
        t, c = self._table, self._table.c
        now = self._clock.now()
        earlier = t.alias("earlier")
        head = (
            sa.select(c.seq)
            .where(
                c.state == SendState.QUEUED.value,
                sa.or_(c.available_at.is_(None), c.available_at <= now),
                ~sa.exists().where(
                    earlier.c.channel_id == c.channel_id,
                    earlier.c.chat_id == c.chat_id,
                    earlier.c.seq < c.seq,
                    sa.or_(
                        earlier.c.state == SendState.QUEUED.value,
                        earlier.c.lease_token.is_not(None),
                    ),
                ),
            )
            .order_by(c.seq)
            .limit(limit)
        )
        if self._postgres:
            head = head.with_for_update(skip_locked=True)
        token = f"{worker}:{secrets.token_hex(8)}"
        until = now + visibility
        stmt = (
            sa.update(t)
            .where(c.seq.in_(head.scalar_subquery()), c.state == SendState.QUEUED.value)
            .values(
                state=SendState.PENDING.value,
                attempts=c.attempts + 1,
                lease_token=token,
                leased_until=until,
                updated_at=now,
            )
            .returning(*t.c)
        )
        with self._translate():
            async with self._engine.begin() as conn:
                rows = sorted((await conn.execute(stmt)).all(), key=lambda row: row.seq)
        return [LeasedSend(_record(row), token, until) for row in rows]

    async def settle(
        self,
        leased: LeasedSend,
        *,
        state: SendState,
        message_id: str | None = None,
        error_type: str | None = None,
        error: str | None = None,
    ) -> bool:
        return await self._held_update(
            leased,
            state=state.value,
            message_id=message_id,
            error_type=error_type,
            error=error,
        )

    async def requeue(
        self, leased: LeasedSend, *, retry_at: datetime, error_type: str, error: str
    ) -> bool:
        return await self._held_update(
            leased,
            state=SendState.QUEUED.value,
            available_at=retry_at,
            error_type=error_type,
            error=error,
        )

    # ------------------------------------------------------------------ internals

    def _where(self, channel_id: UUID, key: str) -> sa.Select[Any]:
        c = self._table.c
        return sa.select(self._table).where(c.channel_id == channel_id, c.idem_key == key)

    async def _update_one(
        self, conditions: Sequence[sa.ColumnElement[bool]], **values: Any
    ) -> SendRecord | None:
        stmt = (
            sa.update(self._table)
            .where(*conditions)
            .values(updated_at=self._clock.now(), **values)
            .returning(*self._table.c)
        )
        with self._translate():
            async with self._engine.begin() as conn:
                row = (await conn.execute(stmt)).first()
        return None if row is None else _record(row)

    async def _held_update(self, leased: LeasedSend, **values: Any) -> bool:
        c = self._table.c
        record = leased.record
        updated = await self._update_one(
            (
                c.channel_id == record.channel_id,
                c.idem_key == record.key,
                c.lease_token == leased.token,
                c.leased_until > self._clock.now(),
            ),
            lease_token=None,
            leased_until=None,
            **values,
        )
        return updated is not None

    async def _expire_leases(self) -> None:
        """A queued send whose sender vanished may have gone out: it becomes uncertain."""
        c = self._table.c
        now = self._clock.now()
        stmt = (
            sa.update(self._table)
            .where(c.lease_token.is_not(None), c.leased_until <= now)
            .values(
                state=SendState.UNCERTAIN.value,
                lease_token=None,
                leased_until=None,
                error_type="LeaseExpired",
                error=_EXPIRED,
                updated_at=now,
            )
        )
        with self._translate():
            async with self._engine.begin() as conn:
                await conn.execute(stmt)


def _row(record: SendRecord) -> dict[str, Any]:
    return {
        "channel_id": record.channel_id,
        "idem_key": record.key,
        "tenant_id": record.tenant_id,
        "chat_id": record.chat_id,
        "state": record.state.value,
        "message": record.message,
        "attempts": record.attempts,
        "message_id": record.message_id,
        "error_type": record.error_type,
        "error": record.error,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "available_at": record.available_at,
    }


def _record(row: sa.Row[Any]) -> SendRecord:
    return SendRecord(
        channel_id=row.channel_id,
        key=row.idem_key,
        tenant_id=row.tenant_id,
        chat_id=row.chat_id,
        state=SendState(row.state),
        created_at=row.created_at,
        updated_at=row.updated_at,
        message=None if row.message is None else bytes(row.message),
        attempts=row.attempts,
        message_id=row.message_id,
        error_type=row.error_type,
        error=row.error,
        available_at=row.available_at,
    )
