"""Fake platforms at the HTTP layer, for host tests and the offline demo.

:class:`FakePlatforms` is an ``httpx`` transport that answers like Telegram, WAHA and Meta's
Graph API would, on hosts that cannot be reached by accident (``*.fake``), records every
request, and builds signed webhook deliveries shaped as each platform sends them::

    fakes = FakePlatforms()
    async with fakes.client() as http:                      # an httpx.AsyncClient
        service = ChannelService(repo, http=http, ...)
        channel = await service.create_channel(..., channel_type="telegram",
                                               config=fakes.config("telegram"))
        request = fakes.telegram.text_update(chat_id=42, text="hi")   # a WebhookRequest

Nothing here touches the network.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx

from ventros_channels.adapters.registry import default_registry
from ventros_channels.webhooks.request import WebhookRequest

__all__ = [
    "FakeGraph",
    "FakePlatforms",
    "FakeTelegram",
    "FakeWAHA",
    "SentMessage",
    "SyntheticHistory",
]

TELEGRAM_HOST = "https://telegram.fake"
WAHA_HOST = "http://waha.fake"
GRAPH_HOST = "https://graph.fake"


@attrs.frozen
class SentMessage:
    """One outbound call a fake platform received."""

    platform: str
    chat_id: str
    kind: str
    body: dict[str, Any]


def _json(status: int, data: Any) -> httpx.Response:
    return httpx.Response(status, json=data)


def _signed(channel_type: str, payload: Any, secret: str | None, now: datetime) -> WebhookRequest:
    body = json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()
    headers: dict[str, str] = {"Content-Type": "application/json"}
    if secret is not None:
        headers.update(default_registry().get(channel_type).sign(body, secret, now=now))
    return WebhookRequest("POST", body, headers)


class SyntheticHistory:
    """A large chat history generated on demand (nothing is stored): ``chats`` chats of
    ``per_chat`` messages, one per minute, newest last.
    """

    def __init__(self, chats: int, per_chat: int, start: datetime | None = None) -> None:
        self.chats = chats
        self.per_chat = per_chat
        self.start = int((start or datetime(2025, 6, 1, tzinfo=UTC)).timestamp())

    def chat_id(self, index: int) -> str:
        return f"1555{index:07d}@c.us"

    def messages(
        self, chat_id: str, offset: int, limit: int, since: int | None
    ) -> list[dict[str, Any]]:
        """Newest first, like WAHA's message listing."""
        index = int(chat_id.split("@", 1)[0][4:])
        out = []
        newest = self.per_chat - 1
        for position in range(offset, min(offset + limit, self.per_chat)):
            n = newest - position
            stamp = self.start + index * 7 + n * 60
            if since is not None and stamp < since:
                break
            mine = n % 3 == 0
            out.append(
                {
                    "id": f"{str(mine).lower()}_{chat_id}_H{index:05d}{n:06d}",
                    "timestamp": stamp,
                    "from": "15550001111@c.us" if mine else chat_id,
                    "to": chat_id if mine else "15550001111@c.us",
                    "fromMe": mine,
                    "body": f"history message {n} of chat {index}",
                    "hasMedia": False,
                    "ack": 3,
                }
            )
        return out


class _Fake:
    name = ""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.now = clock
        self.sent: list[SentMessage] = []
        self.requests: list[httpx.Request] = []
        self._ids = itertools.count(1000)

    def sent_to(self, chat_id: str) -> list[SentMessage]:
        return [s for s in self.sent if s.chat_id == chat_id]


class FakeTelegram(_Fake):
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
            return _json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        body: dict[str, Any] = {}
        if request.content and request.headers.get("content-type", "").startswith(
            "application/json"
        ):
            body = json.loads(request.content)

        def ok(result: Any) -> httpx.Response:
            return _json(200, {"ok": True, "result": result})

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
        return _json(
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
        return _signed("telegram", payload, self.webhook_secret, self.now())


class FakeWAHA(_Fake):
    """A WAHA server with sessions, QR pairing, sends and (synthetic) history.

    A session keeps its pairing when stopped (a restart goes straight to WORKING) and loses it
    when logged out, as WAHA does. :meth:`fail_next` makes the next matching calls fail.
    """

    name = "waha"

    def __init__(self, clock: Callable[[], datetime], latency: float = 0.0) -> None:
        super().__init__(clock)
        self.api_key = "fake-waha-api-key"
        self.hmac_key = "fake-waha-hmac-key"
        self.latency = latency
        self.sessions: dict[str, dict[str, Any]] = {}
        self.paired: set[str] = set()
        self.history: SyntheticHistory | None = None
        self._failures: list[tuple[str, int, int]] = []
        self._qr = itertools.count(1)
        self._events = itertools.count(1)

    def fail_next(self, path_part: str, *, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` requests whose path contains ``path_part`` with ``status``."""
        self._failures.append((path_part, status, times))

    def _failure(self, path: str) -> httpx.Response | None:
        for index, (part, status, times) in enumerate(self._failures):
            if part in path:
                if times <= 1:
                    del self._failures[index]
                else:
                    self._failures[index] = (part, status, times - 1)
                return _json(status, {"message": "fake failure"})
        return None

    def config(self, session: str = "default") -> dict[str, Any]:
        return {
            "base_url": WAHA_HOST,
            "session_id": session,
            "auth": {"type": "api_key", "api_key": self.api_key},
            "webhook_hmac_key": self.hmac_key,
        }

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        if request.headers.get("x-api-key") != self.api_key:
            return _json(401, {"message": "Unauthorized"})
        failed = self._failure(request.url.path)
        if failed is not None:
            return failed
        path = request.url.path
        method = request.method
        body = json.loads(request.content) if request.content else {}
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "sessions"]:
            if len(parts) == 2 and method == "POST":
                self.sessions[body["name"]] = {
                    "name": body["name"],
                    "status": "STOPPED",
                    "config": body.get("config"),
                }
                return _json(201, self.sessions[body["name"]])
            session = self.sessions.get(parts[2]) if len(parts) > 2 else None
            if session is None:
                return _json(404, {"message": "Session not found"})
            if len(parts) == 3 and method == "PUT":
                session["config"] = body.get("config")
                return _json(200, session)
            if len(parts) == 3 and method == "GET":
                return _json(
                    200,
                    {
                        **session,
                        "me": {"id": "15550001111@c.us", "pushName": "Fake Shop"}
                        if session["status"] == "WORKING"
                        else None,
                    },
                )
            if len(parts) == 4 and parts[3] in ("start", "restart"):
                if session["status"] != "WORKING":
                    paired = parts[2] in self.paired
                    session["status"] = "WORKING" if paired else "SCAN_QR_CODE"
                return _json(201, session)
            if len(parts) == 4 and parts[3] in ("stop", "logout"):
                session["status"] = "STOPPED"
                if parts[3] == "logout":
                    self.paired.discard(parts[2])
                return _json(201, session)
        if len(parts) == 4 and parts[0] == "api" and parts[2:] == ["auth", "request-code"]:
            digits = str(body.get("phoneNumber", ""))
            return _json(201, {"code": f"FAKE-{digits[-4:]:0>4}"})
        if len(parts) == 4 and parts[0] == "api" and parts[2:] == ["auth", "qr"]:
            return _json(200, {"value": f"2@fake-pairing-code-{next(self._qr)},{parts[1]},QRKEY=="})
        if len(parts) == 3 and parts[0] == "api" and parts[2] == "chats" and self.history:
            offset = int(request.url.params.get("offset", 0))
            limit = int(request.url.params.get("limit", 100))
            chats = [
                {"id": self.history.chat_id(i), "name": f"Customer {i}"}
                for i in range(offset, min(offset + limit, self.history.chats))
            ]
            return _json(200, chats)
        if (
            len(parts) == 5
            and parts[0] == "api"
            and parts[2] == "chats"
            and parts[4] == "messages"
            and self.history
        ):
            params = request.url.params
            since = params.get("filter.timestamp.gte")
            return _json(
                200,
                self.history.messages(
                    parts[3],
                    int(params.get("offset", 0)),
                    int(params.get("limit", 100)),
                    int(since) if since else None,
                ),
            )
        if (
            parts[:1] == ["api"]
            and len(parts) == 2
            and parts[1] in ("sendText", "sendImage", "sendFile", "sendVoice", "sendVideo")
        ):
            chat = str(body.get("chatId"))
            self.sent.append(SentMessage("waha", chat, parts[1], body))
            return _json(
                201,
                {
                    "id": f"true_{chat}_FAKE{next(self._ids)}",
                    "timestamp": int(self.now().timestamp()),
                },
            )
        if (
            parts[:1] == ["api"]
            and len(parts) == 2
            and parts[1] in ("sendSeen", "reaction", "startTyping", "stopTyping")
        ):
            return _json(200, {})
        return _json(404, {"message": f"no fake route for {method} {path}"})

    def _envelope(self, session: str, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        return {
            "id": f"evt_fake{next(self._events):020d}",
            "timestamp": int(now.timestamp() * 1000),
            "event": event,
            "session": session,
            "payload": payload,
            "engine": "NOWEB",
        }

    def pair(self, session: str = "default") -> WebhookRequest:
        """The user scanned the QR code: the session is WORKING and WAHA says so by webhook."""
        self.paired.add(session)
        return self.session_status(session, "WORKING")

    def session_status(
        self, session: str = "default", status: str = "WORKING", *, hmac_key: str | None = None
    ) -> WebhookRequest:
        """The session changed state (e.g. ``FAILED``): WAHA's signed ``session.status``."""
        self.sessions.setdefault(session, {"name": session, "config": None})["status"] = status
        payload = {"name": session, "status": status}
        return _signed(
            "waha",
            self._envelope(session, "session.status", payload),
            hmac_key or self.hmac_key,
            self.now(),
        )

    def webhook_url(self, session: str = "default") -> str | None:
        """The URL the session delivers to (``None`` when no webhook is set)."""
        config = (self.sessions.get(session) or {}).get("config") or {}
        hooks = config.get("webhooks") or []
        return str(hooks[0]["url"]) if hooks else None

    def text_message(
        self,
        *,
        chat_id: str,
        text: str,
        session: str = "default",
        name: str = "Ana",
        event: str = "message",
    ) -> WebhookRequest:
        ident = f"false_{chat_id}_3EBFAKE{next(self._ids)}"
        payload = {
            "id": ident,
            "timestamp": int(self.now().timestamp()),
            "from": chat_id,
            "fromMe": False,
            "source": "app",
            "to": "15550001111@c.us",
            "body": text,
            "hasMedia": False,
            "ack": 2,
            "_data": {"notifyName": name},
        }
        return _signed("waha", self._envelope(session, event, payload), self.hmac_key, self.now())


class FakeGraph(_Fake):
    """Meta's Graph API for one WhatsApp number, one Page and one Instagram account."""

    name = "graph"
    version = "v21.0"

    def __init__(self, clock: Callable[[], datetime]) -> None:
        super().__init__(clock)
        self.app_secret = "fake-meta-app-secret"
        self.verify_token = "fake-verify-token"
        self.phone_number_id, self.waba_id, self.wa_token = (
            "106540352242922",
            "102290129340398",
            "FAKE-WA-TOKEN",
        )
        self.page_id, self.page_token = "104857362819374", "FAKE-PAGE-TOKEN"
        self.ig_id, self.ig_token = "17841405822304914", "FAKE-IG-TOKEN"
        self.subscribed: set[str] = set()

    def config(self, channel_type: str) -> dict[str, Any]:
        common = {
            "app_secret": self.app_secret,
            "verify_token": self.verify_token,
            "graph_base_url": GRAPH_HOST,
            "api_version": self.version,
        }
        if channel_type == "whatsapp":
            return {
                **common,
                "phone_number_id": self.phone_number_id,
                "business_account_id": self.waba_id,
                "access_token": self.wa_token,
            }
        if channel_type == "messenger":
            return {**common, "page_id": self.page_id, "page_access_token": self.page_token}
        return {
            **common,
            "account_id": self.ig_id,
            "access_token": self.ig_token,
            "page_id": self.page_id,
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        owners = {
            self.wa_token: self.phone_number_id,
            self.page_token: self.page_id,
            self.ig_token: self.ig_id,
        }
        if token not in owners:
            return _json(
                401,
                {
                    "error": {
                        "message": "Invalid OAuth access token.",
                        "type": "OAuthException",
                        "code": 190,
                        "fbtrace_id": "FAKE",
                    }
                },
            )
        parts = request.url.path.strip("/").split("/")[1:]  # drop the version
        body = (
            json.loads(request.content)
            if request.content
            and request.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        if len(parts) == 2 and parts[1] == "messages" and request.method == "POST":
            if "sender_action" in body or body.get("status") == "read":
                return _json(
                    200, {"success": True, "recipient_id": (body.get("recipient") or {}).get("id")}
                )
            if token == self.wa_token:
                to = body.get("to") or body.get("recipient")
                self.sent.append(SentMessage("whatsapp", str(to), body.get("type", ""), body))
                return _json(
                    200,
                    {
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": to, "wa_id": to}],
                        "messages": [{"id": f"wamid.FAKE{next(self._ids)}"}],
                    },
                )
            to = str(body["recipient"]["id"])
            platform = "messenger" if token == self.page_token else "instagram"
            self.sent.append(SentMessage(platform, to, "message", body))
            return _json(200, {"recipient_id": to, "message_id": f"m_FAKE{next(self._ids)}"})
        if len(parts) == 2 and parts[1] == "subscribed_apps":
            self.subscribed.add(parts[0])
            return _json(200, {"success": True})
        if len(parts) == 1 and request.method == "GET":
            if parts[0] == self.phone_number_id:
                return _json(
                    200,
                    {
                        "id": self.phone_number_id,
                        "verified_name": "Fake Shop",
                        "display_phone_number": "15550783881",
                    },
                )
            if parts[0] == "me":
                return _json(200, {"id": owners[token], "name": "Fake Shop Page"})
            if parts[0] == self.page_id:
                return _json(
                    200, {"instagram_business_account": {"id": self.ig_id, "username": "fake.shop"}}
                )
        return _json(404, {"error": {"message": "Unknown path", "code": 100, "fbtrace_id": "FAKE"}})

    def whatsapp_text(self, *, sender: str, text: str, name: str = "Sheena") -> WebhookRequest:
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "15550783881",
                "phone_number_id": self.phone_number_id,
            },
            "contacts": [{"profile": {"name": name}, "wa_id": sender}],
            "messages": [
                {
                    "from": sender,
                    "id": f"wamid.IN{next(self._ids)}",
                    "timestamp": str(int(self.now().timestamp())),
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        }
        payload = {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.waba_id, "changes": [{"field": "messages", "value": value}]}],
        }
        return _signed("whatsapp", payload, self.app_secret, self.now())

    def _page_text(self, channel_type: str, account: str, sender: str, text: str) -> WebhookRequest:
        stamp = int(self.now().timestamp() * 1000)
        payload = {
            "object": "page" if channel_type == "messenger" else "instagram",
            "entry": [
                {
                    "id": account,
                    "time": stamp,
                    "messaging": [
                        {
                            "sender": {"id": sender},
                            "recipient": {"id": account},
                            "timestamp": stamp,
                            "message": {"mid": f"m_IN{next(self._ids)}", "text": text},
                        }
                    ],
                }
            ],
        }
        return _signed(channel_type, payload, self.app_secret, self.now())

    def messenger_text(self, *, sender: str, text: str) -> WebhookRequest:
        return self._page_text("messenger", self.page_id, sender, text)

    def instagram_text(self, *, sender: str, text: str) -> WebhookRequest:
        return self._page_text("instagram", self.ig_id, sender, text)


class FakePlatforms:
    """Telegram, WAHA and Meta's Graph API behind one ``httpx`` transport."""

    def __init__(
        self, *, clock: Callable[[], datetime] | None = None, waha_latency: float = 0.0
    ) -> None:
        now = clock or (lambda: datetime.now(UTC))
        self.telegram = FakeTelegram(now)
        self.waha = FakeWAHA(now, waha_latency)
        self.graph = FakeGraph(now)

    def config(self, channel_type: str) -> dict[str, Any]:
        """A channel config pointing at the fake platform (with fake secrets)."""
        if channel_type == "telegram":
            return self.telegram.config()
        if channel_type == "waha":
            return self.waha.config()
        return self.graph.config(channel_type)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        host = f"{request.url.scheme}://{request.url.host}"
        if host == TELEGRAM_HOST:
            self.telegram.requests.append(request)
            return self.telegram.handle(request)
        if host == WAHA_HOST:
            self.waha.requests.append(request)
            return await self.waha.handle(request)
        if host == GRAPH_HOST:
            self.graph.requests.append(request)
            return self.graph.handle(request)
        return httpx.Response(502, text=f"no fake platform at {host}")

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def client(self) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` whose requests go to the fakes."""
        return httpx.AsyncClient(transport=self.transport())

    @property
    def sent(self) -> list[SentMessage]:
        """Everything sent to any fake platform, in order per platform."""
        return [*self.telegram.sent, *self.waha.sent, *self.graph.sent]
