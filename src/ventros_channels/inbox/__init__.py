"""The inbox: where verified webhook deliveries wait, durably, until a worker handles them.

The webhook endpoint answers 200 only after :meth:`Inbox.accept` returned, so with a durable
store (:class:`~ventros_channels.sql.SqlInbox`, :class:`~ventros_channels.redis.RedisInbox`) a
delivery the platform was told about survives any crash of the web or worker processes.
:class:`InMemoryInbox` is for tests and single-process demos.
"""

from ventros_channels.inbox._model import (
    AcceptResult,
    DeadLetter,
    Delivery,
    InboxStats,
    Leased,
    decode_delivery,
    encode_delivery,
)
from ventros_channels.inbox._port import Inbox
from ventros_channels.inbox.memory import InMemoryInbox

__all__ = [
    "AcceptResult",
    "DeadLetter",
    "Delivery",
    "InMemoryInbox",
    "Inbox",
    "InboxStats",
    "Leased",
    "decode_delivery",
    "encode_delivery",
]
