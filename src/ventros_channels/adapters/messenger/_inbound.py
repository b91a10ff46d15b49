"""Messenger's inbound table: the shared Messenger Platform fields plus Messenger's own.

Messenger alone sends delivery receipts, read receipts as watermarks (everything before the
watermark was read; Instagram names the message seen instead) and plugin / notification
opt-ins.
"""

from __future__ import annotations

from ventros_channels.adapters._meta._messaging._inbound import (
    SHARED_ATTACHMENTS,
    SHARED_EVENTS,
    Dialect,
    Facts,
    read_watermark,
    watermark_fields,
)
from ventros_channels.messaging.delivery import DeliveryStatus
from ventros_channels.messaging.inbound import InboundEvent, Postback, StatusChanged

__all__ = ["DIALECT"]


def _delivery(facts: Facts) -> InboundEvent:
    """``message_deliveries``: ``mids`` may be absent (older clients); ``watermark`` is not."""
    d = facts.item["delivery"]
    value = d.get("watermark")
    mark, fields = watermark_fields(facts, value)
    mids = tuple(str(m) for m in d.get("mids") or ())
    return StatusChanged(
        status=DeliveryStatus.DELIVERED,
        watermark=mark,
        message_ids=mids,
        message_id=mids[0] if len(mids) == 1 else None,
        recipient_id=facts.customer,
        idempotency_key=facts.key("delivered", facts.customer, value, ",".join(mids)),
        **fields,
    )


def _optin(facts: Facts) -> InboundEvent:
    """``messaging_optins``: a checkbox / send-to-Messenger plugin or a notification-messages
    opt-in. A checkbox user has no PSID yet: the ``user_ref`` names the chat until one exists."""
    optin = facts.item["optin"]
    chat = facts.sender or optin.get("user_ref")
    if not chat:
        raise KeyError("sender")
    return Postback(
        payload=optin.get("ref") or optin.get("payload"),
        title=f"optin:{optin.get('type') or 'plugin'}",
        idempotency_key=facts.key("optin", chat, facts.stamp_part()),
        **facts.common(str(chat)),
    )


DIALECT = Dialect(
    events={
        **SHARED_EVENTS,
        "delivery": _delivery,
        "read": read_watermark,
        "optin": _optin,
    },
    attachments=SHARED_ATTACHMENTS,
)
