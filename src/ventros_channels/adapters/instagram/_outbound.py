"""Instagram's outbound table: the shared Send API encoders plus reactions. Instagram takes
one message tag (``HUMAN_AGENT``, a human reply within seven days) and no ``messaging_type``
on replies."""

from __future__ import annotations

from ventros_channels.adapters._meta._messaging._outbound import (
    SHARED_ENCODERS,
    Addressing,
    SendBody,
    sender_action,
)
from ventros_channels.messaging.outbound import Reaction

__all__ = ["ADDRESSING", "ENCODERS"]


def _reaction(message: Reaction, to: Addressing) -> SendBody:
    """React to (or, with no emoji, unreact from) one message of the thread."""
    if message.emoji is None:
        return sender_action(message, "unreact", payload={"message_id": message.message_id})
    payload = {"message_id": message.message_id, "reaction": message.emoji}
    return sender_action(message, "react", payload=payload)


ENCODERS = {**SHARED_ENCODERS, Reaction: _reaction}
ADDRESSING = Addressing("instagram", tags=frozenset({"HUMAN_AGENT"}), reply_type=None)
