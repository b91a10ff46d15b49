"""What every fake platform server shares: recorded sends, JSON answers, signed deliveries."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
import httpx

from ventros_channels.adapters.registry import default_registry
from ventros_channels.webhooks.request import WebhookRequest

__all__ = ["FakePlatform", "SentMessage", "json_response", "signed_request"]


@attrs.frozen
class SentMessage:
    """One outbound call a fake platform received."""

    platform: str
    chat_id: str
    kind: str
    body: dict[str, Any]


def json_response(status: int, data: Any) -> httpx.Response:
    return httpx.Response(status, json=data)


def signed_request(
    channel_type: str, payload: Any, secret: str | None, now: datetime
) -> WebhookRequest:
    body = json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()
    headers: dict[str, str] = {"Content-Type": "application/json"}
    if secret is not None:
        headers.update(default_registry().get(channel_type).sign(body, secret, now=now))
    return WebhookRequest("POST", body, headers)


class FakePlatform:
    """Base of the fake platform servers: a clock, what was sent, every request seen."""

    name = ""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.now = clock
        self.sent: list[SentMessage] = []
        self.requests: list[httpx.Request] = []
        self._ids = itertools.count(1000)

    def sent_to(self, chat_id: str) -> list[SentMessage]:
        return [s for s in self.sent if s.chat_id == chat_id]
