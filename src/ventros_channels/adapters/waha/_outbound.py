"""Outbound messages to WAHA calls, by table: each message class has an encoder that names the
endpoint and builds its body (every body names the session and, where WAHA wants it, the chat).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import attrs

from ventros_channels.errors import CapabilityNotSupportedError
from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.outbound import (
    MarkAsRead,
    MediaMessage,
    OutboundMessage,
    Reaction,
    TextMessage,
    Typing,
)

__all__ = ["ENCODERS", "SEND_ENDPOINTS", "WahaCall"]

SEND_ENDPOINTS = {
    MediaKind.IMAGE: "sendImage",
    MediaKind.VOICE: "sendVoice",
    MediaKind.VIDEO: "sendVideo",
}
"""Media kinds with their own endpoint; the others go through ``sendFile``."""


@attrs.frozen
class WahaCall:
    """One WAHA request; ``sends`` is true when its answer is the sent message."""

    method: str
    path: str
    body: dict[str, Any]
    idempotent: bool = False
    sends: bool = True


def _base(session: str, message: OutboundMessage) -> dict[str, Any]:
    return {"session": session, "chatId": message.to}


def _text(session: str, message: TextMessage) -> WahaCall:
    body = {**_base(session, message), "text": message.text, "linkPreview": message.preview_url}
    if message.reply_to:
        body["reply_to"] = message.reply_to
    return WahaCall("POST", "/api/sendText", body)


def _media(session: str, message: MediaMessage) -> WahaCall:
    if message.media_id is not None:
        raise CapabilityNotSupportedError("waha", "send media by platform media id")
    file: dict[str, Any] = {
        "mimetype": message.mime_type or "application/octet-stream",
        "filename": message.filename or "file",
    }
    if message.url is not None:
        file["url"] = message.url
    else:
        file["data"] = base64.b64encode(message.data or b"").decode()
    body = {**_base(session, message), "file": file}
    if message.caption:
        body["caption"] = message.caption
    if message.reply_to:
        body["reply_to"] = message.reply_to
    endpoint = SEND_ENDPOINTS.get(message.media_kind, "sendFile")
    return WahaCall("POST", f"/api/{endpoint}", body)


def _seen(session: str, message: MarkAsRead) -> WahaCall:
    ids = {"messageIds": [message.message_id], "messageId": message.message_id}
    body = {**_base(session, message), **ids}
    return WahaCall("POST", "/api/sendSeen", body, idempotent=True, sends=False)


def _reaction(session: str, message: Reaction) -> WahaCall:
    body = {"session": session, "messageId": message.message_id, "reaction": message.emoji or ""}
    return WahaCall("PUT", "/api/reaction", body, idempotent=True, sends=False)


def _typing(session: str, message: Typing) -> WahaCall:
    path = "/api/startTyping" if message.on else "/api/stopTyping"
    return WahaCall("POST", path, _base(session, message), idempotent=True, sends=False)


ENCODERS: dict[type[OutboundMessage], Callable[[str, Any], WahaCall]] = {
    TextMessage: _text,
    MediaMessage: _media,
    MarkAsRead: _seen,
    Reaction: _reaction,
    Typing: _typing,
}
"""Outbound class -> encoder (given the session name and the message)."""
