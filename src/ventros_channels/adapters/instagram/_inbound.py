"""Instagram's inbound table: the shared Messenger Platform fields plus Instagram's own.

Instagram adds attachment types for shared content (posts, reels, story mentions, the legacy
``share``), a seen receipt naming the message seen (``read.mid``) instead of a watermark,
messages the sender unsent (``is_deleted``) or that the API cannot show (``is_unsupported``),
and, on the same endpoint, comment changes on the account's media.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ventros_channels.adapters._meta._messaging._inbound import (
    SHARED_ATTACHMENTS,
    SHARED_EVENTS,
    Dialect,
    Facts,
    Host,
    media,
    read_watermark,
)
from ventros_channels.adapters._meta._messaging._payloads import Change, Message
from ventros_channels.adapters._meta._time import graph_time
from ventros_channels.messaging.delivery import DeliveryStatus
from ventros_channels.messaging.inbound import (
    InboundEvent,
    MediaKind,
    MessageDeleted,
    StatusChanged,
    Unsupported,
)

__all__ = ["DIALECT"]


def _seen(facts: Facts) -> InboundEvent:
    """``messaging_seen``: the customer saw ``mid`` (and everything before it)."""
    mid = facts.item["read"].get("mid")
    if not mid:
        return read_watermark(facts)
    return StatusChanged(
        status=DeliveryStatus.READ,
        message_id=str(mid),
        message_ids=(str(mid),),
        recipient_id=facts.customer,
        idempotency_key=facts.key("read", mid),
        **facts.common(facts.customer),
    )


def _deleted(facts: Facts, message: Message, mid: str) -> InboundEvent:
    """The customer unsent ``mid``."""
    return MessageDeleted(
        message_id=mid,
        target_message_id=mid,
        idempotency_key=facts.key("del", mid),
        **facts.common(facts.customer),
    )


def _not_shown(facts: Facts, message: Message, mid: str) -> InboundEvent:
    """A message Instagram does not show to the API (e.g. some shared content)."""
    return Unsupported(
        message_id=mid,
        reason="message type not supported by the platform",
        idempotency_key=facts.key("msg", mid),
        **facts.common(facts.customer),
    )


def _comment(
    host: Host, change: Change, account: str | None, entry_time: datetime | None
) -> InboundEvent:
    """A comment on the account's media: not a direct message, so it is not filed as one, but
    the comment, its author, the media (as the chat) and the time are all kept."""
    value = change["value"]
    author = value.get("from")
    author = author if isinstance(author, dict) else {}
    media_obj = value.get("media")
    media_id = media_obj.get("id") if isinstance(media_obj, dict) else None
    comment_id = str(value["id"])
    parent = value.get("parent_id")
    return Unsupported(
        channel_type=host.channel_type,
        account_id=account,
        message_id=comment_id,
        chat_id=str(media_id or ""),
        thread_id=str(parent) if parent else None,
        sender_id=str(author["id"]) if author.get("id") else None,
        sender_username=author.get("username"),
        timestamp=graph_time(value.get("timestamp")) or entry_time or datetime.now(UTC),
        reason=f"instagram {change.get('field')} (not a direct message)",
        idempotency_key=host.event_key(account, "comment", comment_id),
        raw=change,
    )


_SHARE = media(MediaKind.SHARE)

DIALECT = Dialect(
    events={**SHARED_EVENTS, "read": _seen},
    attachments={
        **SHARED_ATTACHMENTS,
        "share": _SHARE,
        "ig_post": _SHARE,
        "ig_reel": _SHARE,
        "reel": _SHARE,
        "story_mention": _SHARE,
        "animated_image": media(MediaKind.ANIMATION),
        "like_heart": media(MediaKind.STICKER),
    },
    message_flags={"is_deleted": _deleted, "is_unsupported": _not_shown},
    changes={"comments": _comment, "live_comments": _comment},
)
