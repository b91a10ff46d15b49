"""Send API bodies, shared by Messenger and Instagram: a table from message type to encoder.

Each platform's ``_outbound`` module extends :data:`SHARED_ENCODERS` with what only it can send
and states its :class:`Addressing` (which message tags it takes, and whether a reply names its
``messaging_type``). Media go through a second table, by media kind (:data:`SHARED_MEDIA`),
because the two platforms send stickers differently (Messenger by ``sticker_id``, Instagram
only its heart).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from ventros_channels.errors import CapabilityNotSupportedError
from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.outbound import (
    ButtonsMessage,
    MarkAsRead,
    MediaMessage,
    OutboundMessage,
    Reaction,
    TextMessage,
    Typing,
)

__all__ = [
    "OUT_MEDIA",
    "SHARED_ENCODERS",
    "SHARED_MEDIA",
    "Addressing",
    "Encoder",
    "MediaEncoder",
    "SendBody",
    "encode",
    "media_encoder",
    "sender_action",
]

SendBody = dict[str, object]
"""A Send API request body (JSON)."""

OUT_MEDIA: Mapping[MediaKind, str] = {
    MediaKind.IMAGE: "image",
    MediaKind.VIDEO: "video",
    MediaKind.AUDIO: "audio",
    MediaKind.VOICE: "audio",
    MediaKind.DOCUMENT: "file",
}
"""Media kinds the Send API takes as attachments, by their attachment ``type``."""

QUICK_REPLY_TITLE = 20
"""Meta cuts quick-reply titles at 20 characters; cutting first keeps the send from failing."""


@attrs.frozen
class Addressing:
    """How a platform addresses a message: allowed tags (``None``: any) and the
    ``messaging_type`` of an untagged reply (``None``: left out)."""

    platform: str
    tags: frozenset[str] | None
    reply_type: str | None

    def head(self, message: OutboundMessage) -> SendBody:
        """``recipient`` plus ``messaging_type`` / ``tag`` of a message (not an action)."""
        body: SendBody = {"recipient": {"id": message.to}}
        tag = message.tag
        if tag:
            if self.tags is not None and tag not in self.tags:
                raise CapabilityNotSupportedError(self.platform, f"message tag {tag}")
            body["messaging_type"] = "MESSAGE_TAG"
            body["tag"] = tag
        elif self.reply_type:
            body["messaging_type"] = self.reply_type
        return body


Encoder = Callable[..., SendBody]
"""``(message, addressing) -> body`` for one outbound message type."""


def sender_action(message: OutboundMessage, action: str, **extra: object) -> SendBody:
    """A body that performs an action in the thread instead of sending a message."""
    return {"recipient": {"id": message.to}, "sender_action": action, **extra}


def _text(message: TextMessage, to: Addressing) -> SendBody:
    return {**to.head(message), "message": {"text": message.text}}


def _buttons(message: ButtonsMessage, to: Addressing) -> SendBody:
    replies = [
        {"content_type": "text", "title": b.title[:QUICK_REPLY_TITLE], "payload": b.id}
        for b in message.buttons
    ]
    return {**to.head(message), "message": {"text": message.text, "quick_replies": replies}}


MediaEncoder = Callable[[MediaMessage, Addressing], SendBody]
"""``(message, addressing) -> body`` for one media kind."""


def _attachment(kind: str) -> MediaEncoder:
    """The encoder of an ``attachment`` of ``type`` ``kind``, by URL or uploaded attachment id."""

    def encode_attachment(message: MediaMessage, to: Addressing) -> SendBody:
        if message.data is not None:
            raise CapabilityNotSupportedError(
                to.platform, f"send {message.media_kind} media from bytes"
            )
        payload: dict[str, object] = (
            {"url": message.url, "is_reusable": True}
            if message.url is not None
            else {"attachment_id": message.media_id}
        )
        return {**to.head(message), "message": {"attachment": {"type": kind, "payload": payload}}}

    return encode_attachment


SHARED_MEDIA: Mapping[MediaKind, MediaEncoder] = {
    kind: _attachment(kind_type) for kind, kind_type in OUT_MEDIA.items()
}
"""Media both platforms send as attachments; each adds its own sticker encoder."""


def media_encoder(table: Mapping[MediaKind, MediaEncoder]) -> Encoder:
    """The ``MediaMessage`` encoder that picks the media kind's entry of ``table``."""

    def encode_media(message: MediaMessage, to: Addressing) -> SendBody:
        encoder = table.get(message.media_kind)
        if encoder is None:
            raise CapabilityNotSupportedError(to.platform, f"send {message.media_kind} media")
        return encoder(message, to)

    return encode_media


def _typing(message: Typing, to: Addressing) -> SendBody:
    return sender_action(message, "typing_on" if message.on else "typing_off")


def _mark_seen(message: MarkAsRead, to: Addressing) -> SendBody:
    """``mark_seen`` marks the thread's latest message seen: Meta takes no message id."""
    return sender_action(message, "mark_seen")


def _reaction(message: Reaction, to: Addressing) -> SendBody:
    """React to one message of the thread with an emoji; with no emoji, remove our reaction
    (``unreact`` names the message only)."""
    if message.emoji is None:
        return sender_action(message, "unreact", payload={"message_id": message.message_id})
    payload = {"message_id": message.message_id, "reaction": message.emoji}
    return sender_action(message, "react", payload=payload)


SHARED_ENCODERS: Mapping[type[OutboundMessage], Encoder] = {
    TextMessage: _text,
    ButtonsMessage: _buttons,
    MediaMessage: media_encoder(SHARED_MEDIA),
    Typing: _typing,
    MarkAsRead: _mark_seen,
    Reaction: _reaction,
}


def encode(
    encoders: Mapping[type[OutboundMessage], Encoder], to: Addressing, message: OutboundMessage
) -> SendBody:
    """The Send API body of ``message``, or :class:`CapabilityNotSupportedError`."""
    encoder = encoders.get(type(message))
    if encoder is None:
        raise CapabilityNotSupportedError(to.platform, f"send {message.kind}")
    return encoder(message, to)
