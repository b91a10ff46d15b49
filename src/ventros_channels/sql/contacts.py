"""A :class:`~ventros_channels.contacts.ContactAliasStore` on SQLAlchemy 2 (async).

One row per (tenant, channel, alias) naming its group. Linking ids that are already one group
is a single read. Any other link runs in one transaction that first takes the scope's write
lock (a transaction-level advisory lock on PostgreSQL; SQLite's only writer lock), so two
links that touch the same person merge instead of splitting the group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ventros_channels.clock import Clock, SystemClock
from ventros_channels.contacts._port import AliasGroup, clean_aliases
from ventros_channels.errors import (
    FieldError,
    InvalidInputError,
    RepositoryError,
    RepositoryUnavailableError,
    VentrosChannelsError,
)
from ventros_channels.sql._schema import build_aliases_table
from ventros_channels.sql._store import TableStore

__all__ = ["SqlContactAliasStore"]


def _lock_key(tenant_id: str, channel_id: UUID) -> int:
    """A signed 64-bit advisory lock key for one scope."""
    digest = hashlib.sha256(f"ventros-aliases\x1f{tenant_id}\x1f{channel_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SqlContactAliasStore(TableStore):
    """Alias groups in the ``contact_aliases`` table; see the module docstring."""

    what: ClassVar[str] = "contact alias store"
    unavailable_error: ClassVar[type[VentrosChannelsError]] = RepositoryUnavailableError
    store_error: ClassVar[type[VentrosChannelsError]] = RepositoryError

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        schema: str | None = None,
        table_name: str = "contact_aliases",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(engine, build_aliases_table, schema=schema, table_name=table_name)
        self._clock = clock or SystemClock()

    async def link(self, aliases: Iterable[str], *, tenant_id: str, channel_id: UUID) -> AliasGroup:
        wanted = clean_aliases(aliases)
        if not wanted:
            raise InvalidInputError("aliases", [FieldError("aliases", "give at least one id")])
        with self._translate():
            async with self._engine.connect() as conn:
                known = await self._groups_of(conn, wanted, tenant_id, channel_id)
                if len(known) == len(wanted) and len(set(known.values())) == 1:
                    return await self._group(
                        conn, next(iter(known.values())), tenant_id, channel_id
                    )
            async with self._engine.begin() as conn:
                await self._lock(conn, tenant_id, channel_id)
                known = await self._groups_of(conn, wanted, tenant_id, channel_id)
                target = min(known.values()) if known else uuid4()
                await self._merge(
                    conn, set(known.values()) - {target}, target, tenant_id, channel_id
                )
                missing = wanted - known.keys()
                if missing:
                    await self._insert(conn, missing, target, tenant_id, channel_id)
                return await self._group(conn, target, tenant_id, channel_id)

    async def find(self, alias: str, *, tenant_id: str, channel_id: UUID) -> AliasGroup | None:
        c = self._table.c
        with self._translate():
            async with self._engine.connect() as conn:
                group = (
                    await conn.execute(
                        sa.select(c.group_id).where(
                            c.tenant_id == tenant_id, c.channel_id == channel_id, c.alias == alias
                        )
                    )
                ).scalar()
                return (
                    None if group is None else await self._group(conn, group, tenant_id, channel_id)
                )

    # ------------------------------------------------------------------ internals

    async def _lock(self, conn: AsyncConnection, tenant_id: str, channel_id: UUID) -> None:
        if self._postgres:
            key = _lock_key(tenant_id, channel_id)
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        else:  # a write that changes nothing still takes SQLite's writer lock
            c = self._table.c
            await conn.execute(sa.update(self._table).where(sa.false()).values(group_id=c.group_id))

    async def _groups_of(
        self, conn: AsyncConnection, aliases: frozenset[str], tenant_id: str, channel_id: UUID
    ) -> dict[str, UUID]:
        c = self._table.c
        rows = await conn.execute(
            sa.select(c.alias, c.group_id).where(
                c.tenant_id == tenant_id, c.channel_id == channel_id, c.alias.in_(aliases)
            )
        )
        return {row.alias: row.group_id for row in rows}

    async def _merge(
        self,
        conn: AsyncConnection,
        others: set[UUID],
        target: UUID,
        tenant_id: str,
        channel_id: UUID,
    ) -> None:
        if not others:
            return
        c = self._table.c
        await conn.execute(
            sa.update(self._table)
            .where(c.tenant_id == tenant_id, c.channel_id == channel_id, c.group_id.in_(others))
            .values(group_id=target)
        )

    async def _insert(
        self,
        conn: AsyncConnection,
        aliases: frozenset[str],
        group: UUID,
        tenant_id: str,
        channel_id: UUID,
    ) -> None:
        now: datetime = self._clock.now()
        rows: list[dict[str, Any]] = [
            {
                "tenant_id": tenant_id,
                "channel_id": channel_id,
                "alias": alias,
                "group_id": group,
                "linked_at": now,
            }
            for alias in sorted(aliases)
        ]
        insert = postgresql.insert if self._postgres else sqlite.insert
        await conn.execute(insert(self._table).values(rows).on_conflict_do_nothing())

    async def _group(
        self, conn: AsyncConnection, group: UUID, tenant_id: str, channel_id: UUID
    ) -> AliasGroup:
        c = self._table.c
        members = await conn.execute(
            sa.select(c.alias).where(
                c.tenant_id == tenant_id, c.channel_id == channel_id, c.group_id == group
            )
        )
        return AliasGroup(group, frozenset(members.scalars()))
