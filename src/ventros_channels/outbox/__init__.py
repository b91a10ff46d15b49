"""The outbox: every outbound send recorded by idempotency key, so none is made twice.

None of the platforms takes an idempotency key on send, so a handler that is retried, or
re-run after a crash, would send its reply again. The channel service records each send in
an :class:`Outbox` before calling the platform and its outcome after; a second send with the
same key gets the recorded result instead of a second request. Queued sends
(``send(..., queued=True)``) wait in the outbox for the sender worker.
"""

from ventros_channels.outbox._model import (
    LeasedSend,
    SendRecord,
    SendState,
    decode_message,
    encode_message,
)
from ventros_channels.outbox._port import Outbox
from ventros_channels.outbox.memory import InMemoryOutbox

__all__ = [
    "InMemoryOutbox",
    "LeasedSend",
    "Outbox",
    "SendRecord",
    "SendState",
    "decode_message",
    "encode_message",
]
