"""Outbound messages to Bot API calls, by table: each message class has an encoder that names
the method and builds its body (JSON, or a multipart form when bytes are uploaded).

Each encoder follows its method's page of https://core.telegram.org/bots/api. What Telegram
cannot carry is refused with :class:`CapabilityNotSupportedError` before any request, never
dropped: a venue without an address, a contact without a phone number, a video note by URL,
deleting a message for our own account only. Bots cannot mark messages as read (there is no
such method), so ``MarkAsRead`` has no encoder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

from ventros_channels.errors import CapabilityNotSupportedError
from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.outbound import (
    ButtonsMessage,
    ContactsMessage,
    DeleteMessage,
    EditMessage,
    ListMessage,
    LocationMessage,
    MediaMessage,
    OutboundMessage,
    PollMessage,
    Reaction,
    SendResult,
    TextMessage,
    Typing,
    TypingActivity,
)

__all__ = ["CHAT_ACTIONS", "ENCODERS", "SEND_METHODS", "ApiCall", "send_result", "split_id"]

SEND_METHODS: dict[MediaKind, tuple[str, str]] = {
    MediaKind.IMAGE: ("sendPhoto", "photo"),
    MediaKind.DOCUMENT: ("sendDocument", "document"),
    MediaKind.VIDEO: ("sendVideo", "video"),
    MediaKind.AUDIO: ("sendAudio", "audio"),
    MediaKind.VOICE: ("sendVoice", "voice"),
    MediaKind.ANIMATION: ("sendAnimation", "animation"),
    MediaKind.STICKER: ("sendSticker", "sticker"),
    MediaKind.VIDEO_NOTE: ("sendVideoNote", "video_note"),
}
"""Media kind -> (Bot API method, the field that carries the file)."""


@attrs.frozen
class ApiCall:
    """One Bot API call; ``sends`` is true when its result is the sent Message."""

    method: str
    json_body: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str | None]] | None = None
    idempotent: bool = False
    sends: bool = True


def split_id(value: str) -> tuple[str | None, int]:
    """``"chat:msg"`` or ``"msg"`` -> (chat id or None, message id)."""
    chat, sep, msg = value.rpartition(":")
    return (chat if sep else None), int(msg)


def _target(message: OutboundMessage) -> dict[str, Any]:
    body: dict[str, Any] = {"chat_id": message.to}
    if message.thread_id is not None:
        body["message_thread_id"] = int(message.thread_id)
    if message.reply_to is not None:
        _, msg = split_id(message.reply_to)
        body["reply_parameters"] = {"message_id": msg, "allow_sending_without_reply": True}
    return body


def _text(message: TextMessage) -> ApiCall:
    body = {**_target(message), "text": message.text}
    if message.parse_mode:
        body["parse_mode"] = message.parse_mode
    if not message.preview_url:
        body["link_preview_options"] = {"is_disabled": True}
    return ApiCall("sendMessage", body)


def _keyboard(message: OutboundMessage, text: str, rows: list[tuple[str, str]]) -> ApiCall:
    keyboard = [[{"text": title, "callback_data": ident}] for ident, title in rows]
    body = {**_target(message), "text": text, "reply_markup": {"inline_keyboard": keyboard}}
    return ApiCall("sendMessage", body)


def _buttons(message: ButtonsMessage) -> ApiCall:
    return _keyboard(message, message.text, [(b.id, b.title) for b in message.buttons])


def _list(message: ListMessage) -> ApiCall:
    rows = [(r.id, r.title) for s in message.sections for r in s.rows]
    return _keyboard(message, message.text, rows)


def _media(message: MediaMessage) -> ApiCall:
    if message.media_kind is MediaKind.VIDEO_NOTE and message.url is not None:
        # sendVideoNote takes a file id or an upload; Telegram does not fetch video notes by URL
        raise CapabilityNotSupportedError("telegram", "send a video note by URL")
    method, field = SEND_METHODS.get(message.media_kind, ("sendDocument", "document"))
    body = _target(message)
    if message.caption:
        body["caption"] = message.caption
    if message.data is None:
        return ApiCall(method, {**body, field: message.url or message.media_id})
    form = {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in body.items()}
    files = {field: (message.filename or field, message.data, message.mime_type)}
    return ApiCall(method, data=form, files=files)


def _reaction(message: Reaction) -> ApiCall:
    _, msg = split_id(message.message_id)
    reaction = [{"type": "emoji", "emoji": message.emoji}] if message.emoji else []
    body = {"chat_id": message.to, "message_id": msg, "reaction": reaction}
    return ApiCall("setMessageReaction", body, idempotent=True, sends=False)


CHAT_ACTIONS: dict[TypingActivity, str] = {"typing": "typing", "recording": "record_voice"}
"""Typing activity -> the ``sendChatAction`` action that shows it."""


def _typing(message: Typing) -> ApiCall | None:
    if not message.on:  # Telegram's chat action ends by itself after a few seconds
        return None
    body: dict[str, Any] = {"chat_id": message.to, "action": CHAT_ACTIONS[message.activity]}
    if message.thread_id is not None:
        body["message_thread_id"] = int(message.thread_id)
    return ApiCall("sendChatAction", body, idempotent=True, sends=False)


def _in_chat(message: EditMessage | DeleteMessage) -> dict[str, Any]:
    """The chat and message id an edit or a deletion names (``"chat:msg"`` or the bare id)."""
    _, msg = split_id(message.message_id)
    return {"chat_id": message.to, "message_id": msg}


def _edit(message: EditMessage) -> ApiCall:
    body = {**_in_chat(message), "text": message.text}
    if message.parse_mode:
        body["parse_mode"] = message.parse_mode
    # not retried after an ambiguous failure: a repeat of an edit that went through is
    # refused ("message is not modified"), which would report a success as an error
    return ApiCall("editMessageText", body, sends=False)


def _delete(message: DeleteMessage) -> ApiCall:
    if not message.for_everyone:
        raise CapabilityNotSupportedError("telegram", "delete a message for our account only")
    return ApiCall("deleteMessage", _in_chat(message), sends=False)  # a repeat finds nothing


def _location(message: LocationMessage) -> ApiCall:
    point = {**_target(message), "latitude": message.latitude, "longitude": message.longitude}
    if message.name is None:
        return ApiCall("sendLocation", point)
    if message.address is None:  # sendVenue requires both a title and an address
        raise CapabilityNotSupportedError("telegram", "send a named location without an address")
    return ApiCall("sendVenue", {**point, "title": message.name, "address": message.address})


def _contact(message: ContactsMessage) -> ApiCall:
    """One card per message (``contacts_max`` is 1: more are refused before this runs)."""
    card = message.contacts[0]
    if not card.phones:
        raise CapabilityNotSupportedError("telegram", "send a contact without a phone number")
    if not (card.name and card.name.strip()):
        raise CapabilityNotSupportedError("telegram", "send a contact without a name")
    body = {**_target(message), "phone_number": card.phones[0], "first_name": card.name}
    if card.vcard is not None:
        body["vcard"] = card.vcard
    return ApiCall("sendContact", body)


def _poll(message: PollMessage) -> ApiCall:
    body = {
        **_target(message),
        "question": message.question,
        "options": [{"text": option} for option in message.options],
        "is_anonymous": message.anonymous,
        "allows_multiple_answers": message.multiple_answers,
    }
    return ApiCall("sendPoll", body)


ENCODERS: dict[type[OutboundMessage], Callable[[Any], ApiCall | None]] = {
    TextMessage: _text,
    ButtonsMessage: _buttons,
    ListMessage: _list,
    MediaMessage: _media,
    Reaction: _reaction,
    Typing: _typing,
    EditMessage: _edit,
    DeleteMessage: _delete,
    LocationMessage: _location,
    ContactsMessage: _contact,
    PollMessage: _poll,
}
"""Outbound class -> encoder; ``None`` from an encoder means nothing needs sending."""


def send_result(result: object, message: OutboundMessage) -> SendResult:
    """The SendResult of a call's ``result``: the sent Message's ``chat:message`` id."""
    if isinstance(result, dict) and "message_id" in result:
        chat = str(result["chat"]["id"])
        return SendResult(message_id=f"{chat}:{result['message_id']}", chat_id=chat, raw=result)
    return SendResult(message_id=None, chat_id=message.to, raw=result)
