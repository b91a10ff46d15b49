"""Outbound messages to WAHA calls, by table: each message class has an encoder that names the
endpoint and builds its body (every body names the session and, where WAHA wants it, the chat).

The requests follow WAHA's API reference (https://waha.devlike.pro/docs/how-to/send-messages/
and the swagger of its server): edits and deletions address the message under its chat
(``/api/{session}/chats/{chatId}/messages/{messageId}``), a recording indicator is the session
presence ``recording``. WAHA has no sticker endpoint (``sendImage`` would send a picture), and
its deletion always revokes for everyone, so neither a sticker nor a deletion for our own
account only can be sent: both are refused before any request.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import attrs

from ventros_channels.errors import CapabilityNotSupportedError
from ventros_channels.messaging.inbound import MediaKind, SharedContact
from ventros_channels.messaging.outbound import (
    ContactsMessage,
    DeleteMessage,
    EditMessage,
    LocationMessage,
    MarkAsRead,
    MediaMessage,
    OutboundMessage,
    PollMessage,
    Reaction,
    TextMessage,
    Typing,
)

__all__ = ["ENCODERS", "SEND_ENDPOINTS", "WahaCall", "vcard"]

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
    body: dict[str, Any] | None
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
    if message.activity == "recording":  # no endpoint of its own: the chat presence
        presence = "recording" if message.on else "paused"
        body = {"chatId": message.to, "presence": presence}
        return WahaCall("POST", f"/api/{session}/presence", body, idempotent=True, sends=False)
    path = "/api/startTyping" if message.on else "/api/stopTyping"
    return WahaCall("POST", path, _base(session, message), idempotent=True, sends=False)


def _message_path(session: str, message: EditMessage | DeleteMessage) -> str:
    chat, ident = quote(message.to, safe="@"), quote(message.message_id, safe="@")
    return f"/api/{session}/chats/{chat}/messages/{ident}"


def _edit(session: str, message: EditMessage) -> WahaCall:
    return WahaCall("PUT", _message_path(session, message), {"text": message.text}, sends=False)


def _delete(session: str, message: DeleteMessage) -> WahaCall:
    if not message.for_everyone:
        raise CapabilityNotSupportedError("waha", "delete a message for our account only")
    return WahaCall("DELETE", _message_path(session, message), None, sends=False)


def _location(session: str, message: LocationMessage) -> WahaCall:
    """WAHA takes one ``title``: a venue's name and address go into it on two lines, as
    WhatsApp shows them."""
    body = {**_base(session, message), "latitude": message.latitude, "longitude": message.longitude}
    title = "\n".join(p for p in (message.name, message.address) if p)
    if title:
        body["title"] = title
    if message.reply_to:
        body["reply_to"] = message.reply_to
    return WahaCall("POST", "/api/sendLocation", body)


def _vcard_text(value: str) -> str:
    """A vCard 3.0 text value: backslash, comma, semicolon and line breaks escaped."""
    escaped = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return escaped.replace("\r\n", "\\n").replace("\n", "\\n")


def vcard(card: SharedContact) -> str:
    """The card as a vCard 3.0, for cards WAHA's simple contact shape cannot hold (several
    phones, emails)."""
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{_vcard_text(card.name or '')}"]
    lines += [f"TEL;type=CELL:{_vcard_text(phone)}" for phone in card.phones]
    lines += [f"EMAIL:{_vcard_text(email)}" for email in card.emails]
    return "\n".join([*lines, "END:VCARD"])


def _card(card: SharedContact) -> dict[str, str]:
    """WAHA's contact: the vCard given, the simple shape for a name and one phone, or a
    vCard built from the card."""
    if card.vcard is not None:
        return {"vcard": card.vcard}
    if len(card.phones) == 1 and not card.emails and card.name:
        simple = {"fullName": card.name, "phoneNumber": card.phones[0]}
        if card.user_id and card.user_id.endswith("@c.us"):  # WAHA wants the bare digits
            simple["whatsappId"] = card.user_id.split("@", 1)[0]
        return simple
    return {"vcard": vcard(card)}


def _contacts(session: str, message: ContactsMessage) -> WahaCall:
    body = {**_base(session, message), "contacts": [_card(c) for c in message.contacts]}
    return WahaCall("POST", "/api/sendContactVcard", body)


def _poll(session: str, message: PollMessage) -> WahaCall:
    """WhatsApp polls are never anonymous: ``anonymous`` has no counterpart here."""
    poll = {
        "name": message.question,
        "options": list(message.options),
        "multipleAnswers": message.multiple_answers,
    }
    body: dict[str, Any] = {**_base(session, message), "poll": poll}
    if message.reply_to:
        body["reply_to"] = message.reply_to
    return WahaCall("POST", "/api/sendPoll", body)


ENCODERS: Mapping[type[OutboundMessage], Callable[[str, Any], WahaCall]] = {
    TextMessage: _text,
    MediaMessage: _media,
    MarkAsRead: _seen,
    Reaction: _reaction,
    Typing: _typing,
    EditMessage: _edit,
    DeleteMessage: _delete,
    LocationMessage: _location,
    ContactsMessage: _contacts,
    PollMessage: _poll,
}
"""Outbound class -> encoder (given the session name and the message)."""
