"""WAHA's webhook wire format, as far as the adapter reads it (https://waha.devlike.pro/docs/how-to/events/).

WAHA normalizes the three engines (WEBJS, NOWEB, GOWS) into one ``WAMessage`` shape, but the ids,
the participant fields and the engine data under ``_data`` still differ per engine, so every
object is ``total=False`` and read defensively. Fields named ``from`` or starting with ``_``
need the functional ``TypedDict`` form.
"""

from __future__ import annotations

from typing import Required, TypedDict

__all__ = [
    "AckPayload",
    "Contact",
    "EngineData",
    "EngineInfo",
    "EngineKey",
    "Envelope",
    "Me",
    "MediaData",
    "MessageKey",
    "PresenceData",
    "PresencePayload",
    "ReactionData",
    "ReactionPayload",
    "RevokedPayload",
    "SessionStatusPayload",
    "WAMessage",
]


class Me(TypedDict, total=False):
    id: str
    lid: str
    pushName: str


class Envelope(TypedDict, total=False):
    """One delivery. ``timestamp`` is in milliseconds (releases since 2025)."""

    id: str
    timestamp: int
    event: Required[str]
    session: str
    me: Me
    engine: str
    payload: Required[dict[str, object]]


class MessageKey(TypedDict, total=False):
    fromMe: bool
    remote: str
    id: str
    participant: str
    _serialized: str


"""A message id as an object (WEBJS engine data, some payloads' ``id``)."""


class EngineKey(TypedDict, total=False):
    """NOWEB's message key (``_data.key``)."""

    remoteJid: str
    fromMe: bool
    id: str
    participant: str
    participantAlt: str
    remoteJidAlt: str
    senderPn: str
    participantPn: str


class EngineInfo(TypedDict, total=False):
    """GOWS's message info (``_data.Info``)."""

    Chat: str
    Sender: str
    SenderAlt: str
    RecipientAlt: str
    PushName: str
    IsFromMe: bool
    IsGroup: bool


class EngineData(TypedDict, total=False):
    """The engine's own message under ``_data``: one of the three shapes."""

    id: MessageKey  # WEBJS
    notifyName: str  # WEBJS
    type: str  # WEBJS message type (chat, ptt, sticker, image...)
    isForwarded: bool
    key: EngineKey  # NOWEB
    pushName: str  # NOWEB
    Info: EngineInfo  # GOWS


class MediaData(TypedDict, total=False):
    url: str
    mimetype: str
    filename: str
    error: object


class _Location(TypedDict, total=False):
    latitude: float | str
    longitude: float | str
    description: str
    name: str


class _ReplyTo(TypedDict, total=False):
    id: str
    participant: str
    body: str


WAMessage = TypedDict(
    "WAMessage",
    {
        "id": str | MessageKey,
        "timestamp": int | str,
        "from": str,
        "fromMe": bool,
        "to": str,
        "participant": str,
        "author": str,
        "body": str,
        "hasMedia": bool,
        "media": MediaData,
        "mediaUrl": str,
        "ack": int,
        "ackName": str,
        "location": _Location,
        "vCards": list[str],
        "replyTo": _ReplyTo,
        "editedMessageId": str,
        "_data": EngineData,
    },
    total=False,
)
"""A message (``message``, ``message.any``, ``message.edited``, history items)."""


class AckPayload(WAMessage, total=False):
    """``message.ack``: ``from`` is the chat the message went to."""


class ReactionData(TypedDict, total=False):
    text: str
    messageId: Required[str]


class ReactionPayload(WAMessage, total=False):
    reaction: Required[ReactionData]


class RevokedPayload(TypedDict, total=False):
    after: WAMessage
    before: WAMessage
    revokedMessageId: Required[str]


class SessionStatusPayload(TypedDict, total=False):
    name: str
    status: Required[str]


class PresenceData(TypedDict, total=False):
    """One member's presence in a ``presence.update``."""

    participant: str
    lastKnownPresence: str  # offline | online | typing | recording | paused
    lastSeen: int | None


class PresencePayload(TypedDict, total=False):
    """``presence.update``: the chat and the presence of each member who changed."""

    id: Required[str]
    presences: list[PresenceData]


class Contact(TypedDict, total=False):
    """``GET /api/contacts``: the engine's contact (``id`` may be an object in WEBJS)."""

    id: str | MessageKey
    number: str
    name: str
    pushname: str
    shortName: str
    isBusiness: bool
