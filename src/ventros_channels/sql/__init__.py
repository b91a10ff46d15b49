"""SQL persistence (extra ``[sql]``, plus ``[postgres]`` for PostgreSQL).

:class:`SqlChannelRepository` stores channels through a host-provided SQLAlchemy
:class:`~sqlalchemy.ext.asyncio.AsyncEngine`; :class:`SqlInbox` is the durable inbox of
webhook deliveries on the same engines; :class:`SqlConversationStore` and
:class:`SqlContactAliasStore` keep conversations and contact aliases; :func:`create_engine`
is an optional helper. Migrate the schema with Alembic (``ventros-channels db upgrade`` or
:mod:`ventros_channels.sql.migrate`), or build it with their ``create_schema()``, or on
PostgreSQL with the plain SQL files listed by :func:`postgresql_migrations`.
"""

from ventros_channels.sql.contacts import SqlContactAliasStore
from ventros_channels.sql.conversations import SqlConversationStore
from ventros_channels.sql.events import EventRelay
from ventros_channels.sql.inbox import SqlInbox
from ventros_channels.sql.migrations import postgresql_migrations
from ventros_channels.sql.outbox import SqlOutbox
from ventros_channels.sql.repository import ConfigCipher, SqlChannelRepository, create_engine

__all__ = [
    "ConfigCipher",
    "EventRelay",
    "SqlChannelRepository",
    "SqlContactAliasStore",
    "SqlConversationStore",
    "SqlInbox",
    "SqlOutbox",
    "create_engine",
    "postgresql_migrations",
]
