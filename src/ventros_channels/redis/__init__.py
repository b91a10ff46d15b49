"""Redis-backed dedupe store and channel cache (extra ``[redis]``), shared by processes.

Both take a host-provided ``redis.asyncio.Redis`` client and keep their keys under
``<prefix>:<namespace>:``. Connection failures raise
:class:`~ventros_channels.errors.RepositoryUnavailableError`.
"""

from ventros_channels.redis.cache import RedisChannelCache
from ventros_channels.redis.dedupe import RedisDedupeStore
from ventros_channels.redis.outbox import RedisOutbox

__all__ = ["RedisChannelCache", "RedisDedupeStore", "RedisOutbox"]
