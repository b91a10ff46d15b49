"""Redis stores shared by processes (extra ``[redis]``): channel cache, inbox, outbox.

All take a host-provided ``redis.asyncio.Redis`` client and keep their keys under
``<prefix>:<namespace>:``. Connection failures raise
:class:`~ventros_channels.errors.RepositoryUnavailableError` (for the inbox its subclass
:class:`~ventros_channels.errors.InboxUnavailableError`).
"""

from ventros_channels.redis.cache import RedisChannelCache
from ventros_channels.redis.inbox import RedisInbox
from ventros_channels.redis.outbox import RedisOutbox

__all__ = ["RedisChannelCache", "RedisInbox", "RedisOutbox"]
