"""A fake Telegram Bot API for tests and the offline demo (no network)."""

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


class FakeTelegram(FakePlatform):
    """The Bot API for one bot: ``bot_token``, ``webhook_secret``."""

    name = "telegram"

    def __init__(self, clock: Callable[[], datetime]) -> None:
        super().__init__(clock)
        self.bot_id = 7000000001
        self.bot_token = f"{self.bot_id}:FAKE-telegram-token-0000000000"
        self.webhook_secret = "fake-telegram-secret"
        self.webhook_url: str | None = None
        self._updates = itertools.count(900001)

    def config(self) -> dict[str, Any]:
        return {
            "bot_token": self.bot_token,
            "bot_username": "fake_support_bot",
            "webhook_secret_token": self.webhook_secret,
            "api_base_url": TELEGRAM_HOST,
        }

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
        return json_response(200, {"ok": True, "result": answer(method, body)})

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
            "sendChatAction": lambda _m, _b: True,
            "setMessageReaction": lambda _m, _b: True,
            "answerCallbackQuery": lambda _m, _b: True,
        }

    def _set_webhook(self, method: str, body: dict[str, Any]) -> bool:
        self.webhook_url = body.get("url") if method == "setWebhook" else None
        return True

    def _sent(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        chat = str(body.get("chat_id", ""))
        self.sent.append(SentMessage("telegram", chat, method, body))
        return {
            "message_id": next(self._ids),
            "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else chat},
            "date": int(self.now().timestamp()),
            "text": body.get("text"),
        }

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
