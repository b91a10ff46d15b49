"""The normalized inbound event model every adapter produces.

One frozen pydantic model per kind, discriminated by ``kind``. Every event carries the
routing facts (chat, sender, time, ``from_me``), an ``idempotency_key`` that is stable across
the platform's retries of the same delivery, and ``raw``: the platform's own item, so nothing
the platform sent is lost. ``event.to_json_dict()`` is the documented JSON form.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ventros_channels.messaging.delivery import DeliveryStatus

__all__ = [
    "Attachment",
    "BotMembershipChanged",
    "ChatMigrated",
    "ChatType",
    "DeliveryError",
    "InboundEvent",
    "InteractiveReply",
    "Location",
    "MediaKind",
    "MessageDeleted",
    "MessageEcho",
    "MessageEdited",
    "MessageReceived",
    "Postback",
    "Presence",
    "PresenceChanged",
    "ReactionChanged",
    "SessionStatusChanged",
    "SharedContact",
    "StatusChanged",
    "Unsupported",
    "content_key",
    "inbound_event_adapter",
    "inbound_event_from_json",
]


def content_key(prefix: str, payload: Any) -> str:
    """A stable idempotency key from a payload's content, for items with no id of their own.

    The same payload gives the same key in every process (canonical JSON, SHA-256).
    """
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return f"{prefix}:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"


class ChatType(StrEnum):
    """Kind of conversation an event belongs to."""

    DIRECT = "direct"
    GROUP = "group"
    CHANNEL = "channel"
    """A broadcast channel (Telegram channel, WhatsApp newsletter)."""
    BROADCAST = "broadcast"
    """WhatsApp status updates (``status@broadcast``)."""


class MediaKind(StrEnum):
    """Kind of media an attachment holds."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    VOICE = "voice"
    DOCUMENT = "document"
    STICKER = "sticker"
    ANIMATION = "animation"
    VIDEO_NOTE = "video_note"
    SHARE = "share"
    """A shared post, reel or story (Instagram); ``url`` points at it."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Attachment(_Frozen):
    """A handle to media on the platform; download it later with the adapter.

    ``url`` expiry differs per platform: WhatsApp Cloud gives no URL in the webhook (ask for
    one, valid ~5 minutes); Messenger/Instagram CDN URLs expire after hours to days; WAHA URLs
    are served by the WAHA server and need its API key; Telegram gives only a ``media_id``
    (``file_id``) which ``getFile`` turns into a link valid at least an hour.
    """

    kind: MediaKind
    media_id: str | None = None
    url: str | None = None
    mime_type: str | None = None
    file_size: int | None = None
    sha256: str | None = None
    filename: str | None = None
    caption: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    variants: tuple[Attachment, ...] = ()
    """Other renditions of the same media (Telegram photo sizes), smallest first."""


class Location(_Frozen):
    """A shared location."""

    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    url: str | None = None


class SharedContact(_Frozen):
    """A contact card shared in a message."""

    name: str | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    user_id: str | None = None
    vcard: str | None = None


class InteractiveReply(_Frozen):
    """The user tapped a reply button, a list row, a quick reply or a template button."""

    type: Literal["button", "list", "quick_reply", "template_button", "flow"]
    id: str | None = None
    """The payload / id the business attached to the option."""
    title: str | None = None
    description: str | None = None


class DeliveryError(_Frozen):
    """Why the platform failed to deliver a message."""

    code: str | None = None
    title: str | None = None
    message: str | None = None


class _Event(_Frozen):
    channel_type: str
    account_id: str | None = None
    """The platform's id of *our* account (phone number id, page id, bot id, WAHA session)."""
    message_id: str | None = None
    chat_id: str
    chat_type: ChatType = ChatType.DIRECT
    thread_id: str | None = None
    sender_id: str | None = None
    sender_name: str | None = None
    sender_username: str | None = None
    sender_aliases: tuple[str, ...] = ()
    """Every other identifier of the sender the payload carried (e.g. ``@lid`` and phone JID)."""
    timestamp: datetime
    from_me: bool = False
    idempotency_key: str
    malformed_fields: tuple[str, ...] = ()
    """Fields the platform sent in a form the adapter could not use, each as ``"name: why"``;
    the event holds a fallback (or ``None``) there instead of being dropped."""
    raw: Any = Field(default=None, repr=False)

    @property
    def is_group(self) -> bool:
        return self.chat_type is ChatType.GROUP

    def to_json_dict(self) -> dict[str, Any]:
        """The documented JSON form (ISO-8601 UTC timestamps, plus ``is_group``)."""
        out = self.model_dump(mode="json")
        out["is_group"] = self.chat_type is ChatType.GROUP
        return out


class _MessageContent(_Event):
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    contacts: tuple[SharedContact, ...] = ()
    interactive: InteractiveReply | None = None
    reply_to: str | None = None
    forwarded: bool = False
    media_group_id: str | None = None
    referral: dict[str, Any] | None = None


class MessageReceived(_MessageContent):
    """A message from a customer (or another member of a group)."""

    kind: Literal["message"] = "message"


class MessageEcho(_MessageContent):
    """A message our own account sent, through this library or elsewhere (phone, inbox)."""

    kind: Literal["message_echo"] = "message_echo"
    from_me: bool = True


class StatusChanged(_Event):
    """Delivery progress of a message we sent (merge with :func:`merge_status`).

    Watermark platforms (Messenger) set ``watermark``: everything sent up to it has the status.
    """

    kind: Literal["status"] = "status"
    status: DeliveryStatus
    recipient_id: str | None = None
    error: DeliveryError | None = None
    watermark: datetime | None = None
    message_ids: tuple[str, ...] = ()
    from_me: bool = True
    correlation_id: str | None = None
    """What the send attached for the platform to echo back (WhatsApp Cloud's
    ``biz_opaque_callback_data``): the library uses the send's idempotency key, so a send
    recorded as uncertain is confirmed when its status arrives."""


class ReactionChanged(_Event):
    """A reaction was added to (``emoji`` set) or removed from (``emoji`` None) a message."""

    kind: Literal["reaction"] = "reaction"
    target_message_id: str | None
    emoji: str | None

    @property
    def removed(self) -> bool:
        return self.emoji is None


class MessageEdited(_Event):
    """A message was edited; ``target_message_id`` names it, ``text`` is the new text."""

    kind: Literal["edit"] = "edit"
    target_message_id: str
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()


class MessageDeleted(_Event):
    """A message was deleted / revoked; ``target_message_id`` names it."""

    kind: Literal["delete"] = "delete"
    target_message_id: str


class Postback(_Event):
    """A button press that is not a message: postback, callback query, icebreaker.

    Telegram callback queries must be answered: ``callback_id`` is the query id.
    """

    kind: Literal["postback"] = "postback"
    payload: str | None = None
    title: str | None = None
    callback_id: str | None = None


class SessionStatusChanged(_Event):
    """The platform session behind the channel changed state (WAHA ``session.status``)."""

    kind: Literal["session_status"] = "session_status"
    status: str


class BotMembershipChanged(_Event):
    """Our bot was blocked, unblocked, added to or removed from a chat."""

    kind: Literal["membership"] = "membership"
    old_status: str | None = None
    new_status: str
    blocked: bool = False


class ChatMigrated(_Event):
    """A chat moved to a new id (Telegram group → supergroup); re-key stored records."""

    kind: Literal["chat_migrated"] = "chat_migrated"
    new_chat_id: str


Presence = Literal["typing", "recording", "paused", "online", "offline"]
"""What a member of a chat is doing: typing, recording a voice message, stopped typing
(``paused``), or whether they are connected at all."""


class PresenceChanged(_Event):
    """A member of the chat started or stopped typing, or came online or went offline.

    ``sender_id`` is the member (in a group, not the group); ``last_seen`` is when they were
    last online, where the platform tells (with ``offline``, and only if their privacy
    settings share it). Presence is fleeting: it is not a message and changes no conversation.
    """

    kind: Literal["presence"] = "presence"
    presence: Presence
    last_seen: datetime | None = None


class Unsupported(_Event):
    """Something the adapter does not map; ``raw`` keeps it whole, ``reason`` says why."""

    kind: Literal["unsupported"] = "unsupported"
    reason: str


InboundEvent = Annotated[
    MessageReceived
    | MessageEcho
    | StatusChanged
    | ReactionChanged
    | MessageEdited
    | MessageDeleted
    | Postback
    | SessionStatusChanged
    | BotMembershipChanged
    | ChatMigrated
    | PresenceChanged
    | Unsupported,
    Field(discriminator="kind"),
]
"""Union of every normalized inbound event, discriminated by ``kind``."""

inbound_event_adapter: TypeAdapter[InboundEvent] = TypeAdapter(InboundEvent)
"""Validates ``event.model_dump(mode="json")`` back into an event; for the documented JSON form
of :meth:`to_json_dict` use :func:`inbound_event_from_json`."""


def inbound_event_from_json(data: dict[str, Any]) -> InboundEvent:
    """The event whose :meth:`to_json_dict` is ``data`` (the derived ``is_group`` is ignored).

    Raises pydantic's ``ValidationError`` naming every bad field.
    """
    return inbound_event_adapter.validate_python({k: v for k, v in data.items() if k != "is_group"})
