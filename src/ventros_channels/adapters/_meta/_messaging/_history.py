"""The Conversations API (history import), shared by Messenger and Instagram.

``GET /{owner}/conversations?platform=...`` lists threads; ``GET /{thread}/messages`` pages
through one thread, newest first, with ISO-8601 ``created_time`` and attachments described by
MIME type instead of the webhook's attachment ``type``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ventros_channels.adapters._meta._messaging._payloads import HistoryAttachment, HistoryMessage
from ventros_channels.adapters._meta._time import iso_time
from ventros_channels.adapters.base import ChatSummary
from ventros_channels.messaging.inbound import (
    Attachment,
    MediaKind,
    MessageEcho,
    MessageReceived,
)

__all__ = ["HISTORY_FIELDS", "chat_summary", "history_message"]

HISTORY_FIELDS = "id,created_time,from,to,message,attachments"

_MIME_KINDS: Mapping[str, MediaKind] = {
    "image": MediaKind.IMAGE,
    "video": MediaKind.VIDEO,
    "audio": MediaKind.AUDIO,
}
"""Attachment kind by the MIME type's major part; anything else is a document."""


def chat_summary(item: Mapping[str, object]) -> ChatSummary | None:
    """One listed conversation (``None`` for an entry without an id)."""
    cid = item.get("id")
    if not cid:
        return None
    updated = item.get("updated_time")
    return ChatSummary(
        chat_id=str(cid),
        last_activity_at=iso_time(updated) if isinstance(updated, str) else None,
    )


def _attachment(att: HistoryAttachment) -> Attachment:
    mime = att.get("mime_type") or ""
    url = (
        (att.get("image_data") or {}).get("url")
        or att.get("file_url")
        or (att.get("video_data") or {}).get("url")
    )
    return Attachment(
        kind=_MIME_KINDS.get(mime.partition("/")[0], MediaKind.DOCUMENT),
        url=url,
        mime_type=mime or None,
        filename=att.get("name"),
    )


def history_message(
    channel_type: str, key: str, item: HistoryMessage, account: str, conversation: str
) -> MessageReceived | MessageEcho:
    """One message of a thread; ours (``from`` is the account) is an echo."""
    sender = item.get("from") or {}
    sender_id = str(sender.get("id", ""))
    mine = sender_id == account
    recipients = (item.get("to") or {}).get("data") or [{}]
    when = iso_time(item["created_time"])
    if when is None:
        raise ValueError("created_time")
    attachments = tuple(
        _attachment(att) for att in (item.get("attachments") or {}).get("data") or ()
    )
    event = MessageEcho if mine else MessageReceived
    return event(
        channel_type=channel_type,
        account_id=account,
        message_id=str(item["id"]),
        chat_id=str(recipients[0].get("id", "")) if mine else sender_id,
        sender_id=sender_id,
        sender_name=sender.get("name") or sender.get("username"),
        sender_username=sender.get("username"),
        timestamp=when,
        text=item.get("message") or None,
        attachments=attachments,
        idempotency_key=key,
        raw={**item, "conversation_id": conversation},
    )
