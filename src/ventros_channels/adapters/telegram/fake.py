"""A fake Telegram Bot API for tests and the offline demo (no network).

It keeps the messages it sent, so edits and deletions find them or fail as Telegram does
("message to edit not found", "message is not modified"), checks the required parameters of
the send methods, and knows the users a test registers (``add_user``) for ``getChat``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from ventros_channels.testing._fake import FakePlatform, SentMessage, json_response, signed_request
from ventros_channels.webhooks.request import WebhookRequest

__all__ = ["TELEGRAM_HOST", "FakeTelegram"]

TELEGRAM_HOST = "https://telegram.fake"

_REQUIRED: dict[str, tuple[str, ...]] = {
    "sendMessage": ("chat_id", "text"),
    "sendLocation": ("chat_id", "latitude", "longitude"),
    "sendVenue": ("chat_id", "latitude", "longitude", "title", "address"),
    "sendContact": ("chat_id", "phone_number", "first_name"),
    "sendPoll": ("chat_id", "question", "options"),
    "sendPhoto": ("chat_id", "photo"),
    "sendDocument": ("chat_id", "document"),
    "sendVideo": ("chat_id", "video"),
    "sendAudio": ("chat_id", "audio"),
    "sendVoice": ("chat_id", "voice"),
    "sendAnimation": ("chat_id", "animation"),
    "sendSticker": ("chat_id", "sticker"),
    "sendVideoNote": ("chat_id", "video_note"),
    "setMessageReaction": ("chat_id", "message_id"),
    "sendChatAction": ("chat_id", "action"),
    "editMessageText": ("chat_id", "message_id", "text"),
    "deleteMessage": ("chat_id", "message_id"),
    "getChat": ("chat_id",),
}
"""Parameters the Bot API requires per method (a missing one is a 400, as Telegram answers)."""
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
"""The actions ``sendChatAction`` accepts."""


class ApiRefusal(Exception):
    """A Bot API error answer (``ok: false``) with its code and description."""

    def __init__(self, description: str, code: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class FakeTelegram(FakePlatform):
    """The Bot API for one bot: ``bot_token``, ``webhook_secret``."""

    name = "telegram"

    def __init__(self, clock: Callable[[], datetime]) -> None:
        super().__init__(clock)
        self.bot_id = 7000000001
        self.bot_token = f"{self.bot_id}:FAKE-telegram-token-0000000000"
        self.webhook_secret = "fake-telegram-secret"
        self.webhook_url: str | None = None
        self.messages: dict[tuple[str, int], dict[str, Any]] = {}
        """Messages the bot sent and has not deleted, by (chat id, message id)."""
        self.users: dict[str, dict[str, Any]] = {}
        """Private chats ``getChat`` knows, by chat id (see :meth:`add_user`)."""
        self.chat_actions: list[tuple[str, str]] = []
        self.reactions: dict[tuple[str, int], list[dict[str, Any]]] = {}
        """The bot's reaction per (chat id, message id); an empty list is none."""
        self._updates = itertools.count(900001)

    def config(self) -> dict[str, Any]:
        return {
            "bot_token": self.bot_token,
            "bot_username": "fake_support_bot",
            "webhook_secret_token": self.webhook_secret,
            "api_base_url": TELEGRAM_HOST,
        }

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        bio: str | None = None,
        photo_file_id: str | None = None,
    ) -> None:
        """A user who wrote to the bot, as ``getChat`` describes their private chat."""
        chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        optional = {"last_name": last_name, "username": username, "bio": bio}
        chat.update({k: v for k, v in optional.items() if v is not None})
        if photo_file_id is not None:
            chat["photo"] = {
                "small_file_id": f"{photo_file_id}-small",
                "small_file_unique_id": "small",
                "big_file_id": photo_file_id,
                "big_file_unique_id": "big",
            }
        self.users[str(user_id)] = chat

    def handle(self, request: httpx.Request) -> httpx.Response:
        prefix, _, method = request.url.path.lstrip("/").partition("/")
        if prefix != f"bot{self.bot_token}":
            return json_response(
                401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
        body: dict[str, Any] = {}
        if request.content and request.headers.get("content-type", "").startswith(
            "application/json"
        ):
            body = json.loads(request.content)
        answer = self._methods.get(method)
        if answer is None and method.startswith("send"):
            answer = self._sent
        if answer is None:
            return json_response(
                404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
            )
        try:
            self._check_required(method, body, request)
            return json_response(200, {"ok": True, "result": answer(method, body)})
        except ApiRefusal as refusal:
            error = {"ok": False, "error_code": refusal.code, "description": refusal.description}
            return json_response(refusal.code, error)

    @staticmethod
    def _check_required(method: str, body: dict[str, Any], request: httpx.Request) -> None:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return  # multipart uploads are not checked
        for name in _REQUIRED.get(method, ()):
            if body.get(name) in (None, "", []):
                raise ApiRefusal(f"Bad Request: parameter {name} is required")

    @property
    def _methods(self) -> dict[str, Callable[[str, dict[str, Any]], object]]:
        """Bot API method -> its result (``send*`` methods not listed here send a message)."""
        return {
            "getMe": lambda _m, _b: {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": "Fake",
                "username": "fake_support_bot",
            },
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._set_webhook,
            "getWebhookInfo": lambda _m, _b: {
                "url": self.webhook_url or "",
                "pending_update_count": 0,
            },
            "sendChatAction": self._chat_action,
            "setMessageReaction": self._react,
            "answerCallbackQuery": lambda _m, _b: True,
            "editMessageText": self._edit,
            "deleteMessage": self._delete,
            "getChat": self._get_chat,
        }

    def _set_webhook(self, method: str, body: dict[str, Any]) -> bool:
        self.webhook_url = body.get("url") if method == "setWebhook" else None
        return True

    def _chat_action(self, _method: str, body: dict[str, Any]) -> bool:
        if body["action"] not in _CHAT_ACTIONS:
            raise ApiRefusal("Bad Request: wrong parameter action in request")
        self.chat_actions.append((str(body["chat_id"]), str(body["action"])))
        return True

    def _react(self, _method: str, body: dict[str, Any]) -> bool:
        reaction = body.get("reaction", [])
        if not isinstance(reaction, list) or len(reaction) > 1:  # bots set one reaction at most
            raise ApiRefusal("Bad Request: REACTIONS_TOO_MANY")
        if any(r.get("type") != "emoji" or not r.get("emoji") for r in reaction):
            raise ApiRefusal("Bad Request: REACTION_INVALID")
        self.reactions[(str(body["chat_id"]), int(body["message_id"]))] = reaction
        return True

    def _find(self, body: dict[str, Any], what: str) -> tuple[tuple[str, int], dict[str, Any]]:
        key = (str(body["chat_id"]), int(body["message_id"]))
        message = self.messages.get(key)
        if message is None:
            raise ApiRefusal(f"Bad Request: message to {what} not found")
        return key, message

    def _edit(self, _method: str, body: dict[str, Any]) -> dict[str, Any]:
        _, message = self._find(body, "edit")
        if message.get("text") == body["text"]:
            raise ApiRefusal(
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message"
            )
        message.update(text=body["text"], edit_date=int(self.now().timestamp()))
        return message

    def _delete(self, _method: str, body: dict[str, Any]) -> bool:
        key, _ = self._find(body, "delete")
        del self.messages[key]
        return True

    def _get_chat(self, _method: str, body: dict[str, Any]) -> dict[str, Any]:
        chat = self.users.get(str(body["chat_id"]))
        if chat is None:
            raise ApiRefusal("Bad Request: chat not found")
        return chat

    def _sent(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        chat = str(body.get("chat_id", ""))
        self.sent.append(SentMessage("telegram", chat, method, body))
        message_id = next(self._ids)
        message = {
            "message_id": message_id,
            "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else chat},
            "date": int(self.now().timestamp()),
            "text": body.get("text"),
        }
        self.messages[(chat, message_id)] = message
        return message

    def text_update(
        self, *, chat_id: int, text: str, name: str = "Ana", message_id: int | None = None
    ) -> WebhookRequest:
        """A signed delivery of a private text message."""
        update_id = next(self._updates)
        payload = {
            "update_id": update_id,
            "message": {
                "message_id": message_id or update_id,
                "from": {"id": chat_id, "is_bot": False, "first_name": name},
                "chat": {"id": chat_id, "type": "private", "first_name": name},
                "date": int(self.now().timestamp()),
                "text": text,
            },
        }
        return signed_request("telegram", payload, self.webhook_secret, self.now())
