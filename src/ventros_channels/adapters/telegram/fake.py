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

        def ok(result: Any) -> httpx.Response:
            return json_response(200, {"ok": True, "result": result})

        if method == "getMe":
            return ok(
                {
                    "id": self.bot_id,
                    "is_bot": True,
                    "first_name": "Fake",
                    "username": "fake_support_bot",
                }
            )
        if method == "setWebhook":
            self.webhook_url = body.get("url")
            return ok(True)
        if method == "deleteWebhook":
            self.webhook_url = None
            return ok(True)
        if method == "getWebhookInfo":
            return ok({"url": self.webhook_url or "", "pending_update_count": 0})
        if method.startswith("send") and method != "sendChatAction":
            chat = str(body.get("chat_id", ""))
            self.sent.append(SentMessage("telegram", chat, method, body))
            message_id = next(self._ids)
            return ok(
                {
                    "message_id": message_id,
                    "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else chat},
                    "date": int(self.now().timestamp()),
                    "text": body.get("text"),
                }
            )
        if method in ("sendChatAction", "setMessageReaction", "answerCallbackQuery"):
            return ok(True)
        return json_response(
            404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        )

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
