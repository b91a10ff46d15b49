"""What every SQL store keeping one library table shares: the table on the host's engine,
its PostgreSQL schema, idempotent creation, and one translation of database failures."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ventros_channels.errors import VentrosChannelsError
from ventros_channels.sql._errors import translate_errors

__all__ = ["TableStore"]


class TableStore:
    """Base of a store over one table. Subclasses name the table's builder and their errors."""

    what: ClassVar[str]
    """The store's name in error messages (``"outbox store"``)."""
    unavailable_error: ClassVar[type[VentrosChannelsError]]
    store_error: ClassVar[type[VentrosChannelsError]]

    def __init__(
        self,
        engine: AsyncEngine,
        build: Callable[[sa.MetaData, str], sa.Table],
        *,
        schema: str | None,
        table_name: str,
    ) -> None:
        self._engine = engine
        self._schema = schema
        self._metadata = sa.MetaData(schema=schema)
        self._table = build(self._metadata, table_name)
        self._postgres = engine.dialect.name == "postgresql"

    @property
    def table(self) -> sa.Table:
        return self._table

    def _translate(self) -> AbstractContextManager[None]:
        return translate_errors(self.what, self.unavailable_error, self.store_error)

    async def create_schema(self) -> None:
        """Create the schema (PostgreSQL), the table and its indexes if missing. Idempotent."""
        with self._translate():
            async with self._engine.begin() as conn:
                if self._postgres and self._schema:
                    await conn.execute(sa.schema.CreateSchema(self._schema, if_not_exists=True))
                await conn.run_sync(self._metadata.create_all)
