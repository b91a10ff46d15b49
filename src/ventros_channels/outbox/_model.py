"""What an outbox stores: one record per outbound send, by idempotency key."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import attrs
from pydantic import TypeAdapter, ValidationError

from ventros_channels.errors import OutboxError
from ventros_channels.messaging.outbound import OutboundMessage

__all__ = [
    "LeasedSend",
    "SendRecord",
    "SendState",
    "decode_message",
    "encode_message",
]

_MESSAGE: TypeAdapter[OutboundMessage] = TypeAdapter(OutboundMessage)


class SendState(StrEnum):
    """Where a send is. ``sent`` and ``failed`` are final; ``uncertain`` waits for the host."""

    QUEUED = "queued"
    """Recorded for the sender worker (``send(..., queued=True)``); nothing sent yet."""
    PENDING = "pending"
    """The request is being made. Found later (after a crash) it counts as uncertain."""
    SENT = "sent"
    FAILED = "failed"
    """The platform refused it: it was not sent."""
    UNCERTAIN = "uncertain"
    """The request may have reached the platform; it is never re-sent unless the host asks."""

    @property
    def is_final(self) -> bool:
        return self in (SendState.SENT, SendState.FAILED)


@attrs.frozen
class SendRecord:
    """One outbound send, keyed by ``(channel_id, key)``."""

    channel_id: UUID
    key: str
    tenant_id: str
    chat_id: str
    state: SendState
    created_at: datetime
    updated_at: datetime
    message: bytes | None = attrs.field(default=None, repr=False)
    """The message (``encode_message``) when it is queued; ``None`` for direct sends."""
    attempts: int = 0
    message_id: str | None = None
    """The platform's id of the sent message."""
    error_type: str | None = None
    """Class name of the library error that failed or clouded the send."""
    error: str | None = None
    available_at: datetime | None = None
    """Queued sends: not before this time (retry back-off)."""


@attrs.frozen
class LeasedSend:
    """A queued send handed to one sender worker until ``leased_until``."""

    record: SendRecord
    token: str
    leased_until: datetime


def encode_message(message: OutboundMessage) -> bytes:
    """The stored form of a queued message (JSON)."""
    if getattr(message, "data", None) is not None:
        raise OutboxError("media given as bytes cannot be queued: upload it and send its media_id")
    return json.dumps(message.model_dump(mode="json"), separators=(",", ":")).encode()


def decode_message(data: bytes | str) -> OutboundMessage:
    """Read back a queued message; a damaged record raises :class:`OutboxError`."""
    try:
        doc: Any = json.loads(data)
        return _MESSAGE.validate_python(doc)
    except (ValueError, ValidationError) as exc:
        raise OutboxError(f"stored message cannot be read: {type(exc).__name__}") from None
