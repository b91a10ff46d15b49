"""A fake WAHA server for tests and the offline demo (no network)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from ventros_channels.testing._fake import FakePlatform, SentMessage, json_response, signed_request
from ventros_channels.webhooks.request import WebhookRequest

__all__ = ["QR_PNG", "WAHA_HOST", "FakeWAHA", "SyntheticHistory"]

_SENDS = frozenset(
    {
        "sendText",
        "sendImage",
        "sendFile",
        "sendVoice",
        "sendVideo",
        "sendLocation",
        "sendContactVcard",
        "sendPoll",
    }
)
_ACTIONS = frozenset({"sendSeen", "reaction", "startTyping", "stopTyping"})
_PRESENCES = frozenset({"online", "offline", "typing", "recording", "paused"})
"""What ``POST /api/{session}/presence`` accepts."""

WAHA_HOST = "http://waha.fake"
QR_PNG = b"\x89PNG\r\n\x1a\n fake QR code"
"""What ``/api/{session}/auth/qr?format=image`` answers (a PNG signature, not a real image)."""


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


class FakeWAHA(FakePlatform):
    """A WAHA server with sessions, QR pairing, sends and (synthetic) history.

    A session keeps its pairing when stopped (a restart goes straight to WORKING) and loses it
    when logged out, as WAHA does. :meth:`fail_next` makes the next matching calls fail;
    ``failing_restarts`` makes that many (re)starts end FAILED. Sent messages are kept
    (``messages``) so edits and deletions find them or answer 404; ``contacts`` holds what
    ``/api/contacts`` and its profile picture answer.
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
        self.messages: dict[str, dict[str, Any]] = {}
        """Sent messages not deleted, by id (their ``body`` changes with an edit)."""
        self.presences: list[tuple[str, str]] = []
        """(chat id, presence) set through ``/api/{session}/presence``."""
        self.contacts: dict[str, dict[str, Any]] = {}
        """Contact ids -> ``{"contact": ..., "picture": url or None}``."""
        self.reactions: dict[str, str] = {}
        """Our reaction per message id (``PUT /api/reaction``; an empty string is none)."""
        self.failing_restarts = 0
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
                return json_response(status, {"message": "fake failure"})
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
            return json_response(401, {"message": "Unauthorized"})
        failed = self._failure(request.url.path)
        if failed is not None:
            return failed
        body = json.loads(request.content) if request.content else {}
        parts = request.url.path.strip("/").split("/")
        routes = (
            self._session_route,
            self._pairing_route,
            self._message_route,
            self._presence_route,
            self._contacts_route,
            self._history_route,
            self._reaction_route,
        )
        for route in routes:
            answer = route(parts, request, body)
            if answer is not None:
                return answer
        if len(parts) == 2 and parts[0] == "api" and parts[1] in _SENDS:
            return self._send(parts[1], body)
        if len(parts) == 2 and parts[0] == "api" and parts[1] in _ACTIONS - {"reaction"}:
            return json_response(200, {})
        return json_response(
            404, {"message": f"no fake route for {request.method} {request.url.path}"}
        )

    def _session_route(
        self, parts: list[str], request: httpx.Request, body: dict[str, Any]
    ) -> httpx.Response | None:
        """``/api/sessions[/{name}[/{action}]]``."""
        if parts[:2] != ["api", "sessions"]:
            return None
        method = request.method
        if len(parts) == 2 and method == "POST":
            name = body["name"]
            self.sessions[name] = {"name": name, "status": "STOPPED", "config": body.get("config")}
            return json_response(201, self.sessions[name])
        session = self.sessions.get(parts[2]) if len(parts) > 2 else None
        if session is None:
            return json_response(404, {"message": "Session not found"})
        if len(parts) == 3:
            return self._session_read_or_update(session, method, body)
        return self._session_action(session, parts[2], parts[3]) if len(parts) == 4 else None

    def _session_action(
        self, session: dict[str, Any], name: str, action: str
    ) -> httpx.Response | None:
        """``start`` / ``restart`` (a paired session comes up WORKING), ``stop`` / ``logout``."""
        if action in ("start", "restart"):
            if self.failing_restarts > 0:
                self.failing_restarts -= 1
                session["status"] = "FAILED"
            elif session["status"] != "WORKING" or action == "restart":
                session["status"] = "WORKING" if name in self.paired else "SCAN_QR_CODE"
        elif action in ("stop", "logout"):
            session["status"] = "STOPPED"
            if action == "logout":
                self.paired.discard(name)
        else:
            return None
        return json_response(201, session)

    @staticmethod
    def _session_read_or_update(
        session: dict[str, Any], method: str, body: dict[str, Any]
    ) -> httpx.Response | None:
        if method == "PUT":
            session["config"] = body.get("config")
            return json_response(200, session)
        if method != "GET":
            return None
        working = session["status"] == "WORKING"
        me = {"id": "15550001111@c.us", "pushName": "Fake Shop"} if working else None
        return json_response(200, {**session, "me": me})

    def _pairing_route(
        self, parts: list[str], request: httpx.Request, body: dict[str, Any]
    ) -> httpx.Response | None:
        """``/api/{session}/auth/qr`` and ``/api/{session}/auth/request-code``."""
        if len(parts) != 4 or parts[0] != "api" or parts[2] != "auth":
            return None
        if parts[3] == "qr" and request.url.params.get("format") == "image":
            return httpx.Response(200, content=QR_PNG, headers={"content-type": "image/png"})
        if parts[3] == "qr":
            return json_response(
                200, {"value": f"2@fake-pairing-code-{next(self._qr)},{parts[1]},QRKEY=="}
            )
        if parts[3] == "request-code":
            digits = str(body.get("phoneNumber", ""))
            return json_response(201, {"code": f"FAKE-{digits[-4:]:0>4}"})
        return None

    def _message_route(
        self, parts: list[str], request: httpx.Request, body: dict[str, Any]
    ) -> httpx.Response | None:
        """``PUT`` (edit) and ``DELETE`` ``/api/{session}/chats/{chatId}/messages/{messageId}``."""
        if len(parts) != 6 or parts[0] != "api" or parts[2:5:2] != ["chats", "messages"]:
            return None
        message = self.messages.get(parts[5])
        if request.method not in ("PUT", "DELETE"):
            return None
        if message is None or message["chatId"] != parts[3]:
            return json_response(404, {"message": "Message not found"})
        if request.method == "DELETE":
            del self.messages[parts[5]]
            return json_response(200, {})
        if not isinstance(body.get("text"), str):
            return json_response(400, {"message": "text must be a string"})
        message["text"] = body["text"]
        return json_response(200, {"id": parts[5], "body": body["text"]})

    def _presence_route(
        self, parts: list[str], request: httpx.Request, body: dict[str, Any]
    ) -> httpx.Response | None:
        """``POST /api/{session}/presence`` with ``chatId`` and ``presence``."""
        if len(parts) != 3 or parts[0] != "api" or parts[2] != "presence":
            return None
        if request.method != "POST" or body.get("presence") not in _PRESENCES:
            return json_response(400, {"message": "presence must be one of " + str(_PRESENCES)})
        self.presences.append((str(body.get("chatId")), str(body["presence"])))
        return json_response(201, {})

    def _contacts_route(
        self, parts: list[str], request: httpx.Request, body: dict[str, Any]
    ) -> httpx.Response | None:
        """``GET /api/contacts`` and ``/api/contacts/profile-picture`` (query ``contactId`` and
        ``session``): ``null`` and a null picture for unknown contacts, as NOWEB answers."""
        if parts[:2] != ["api", "contacts"] or request.method != "GET":
            return None
        params = request.url.params
        if params.get("session") not in self.sessions or not params.get("contactId"):
            return json_response(400, {"message": "contactId and a known session are required"})
        known = self.contacts.get(params["contactId"]) or {}
        if parts[2:] == ["profile-picture"]:
            return json_response(200, {"profilePictureURL": known.get("picture")})
        return json_response(200, known.get("contact")) if len(parts) == 2 else None

    def _reaction_route(
        self, parts: list[str], request: httpx.Request, body: dict[str, Any]
    ) -> httpx.Response | None:
        """``PUT /api/reaction`` with ``messageId`` and ``reaction`` (empty: removed)."""
        if parts != ["api", "reaction"] or request.method != "PUT":
            return None
        self.reactions[str(body.get("messageId"))] = str(body.get("reaction", ""))
        return json_response(200, {})

    def _history_route(
        self, parts: list[str], request: httpx.Request, body: dict[str, Any]
    ) -> httpx.Response | None:
        """``/api/{session}/chats`` and ``/api/{session}/chats/{chat}/messages``."""
        if not self.history or parts[:1] != ["api"] or parts[2:3] != ["chats"]:
            return None
        params = request.url.params
        offset = int(params.get("offset", 0))
        limit = int(params.get("limit", 100))
        if len(parts) == 3:
            chats = [
                {"id": self.history.chat_id(i), "name": f"Customer {i}"}
                for i in range(offset, min(offset + limit, self.history.chats))
            ]
            return json_response(200, chats)
        if len(parts) == 5 and parts[4] == "messages":
            since = params.get("filter.timestamp.gte")
            messages = self.history.messages(parts[3], offset, limit, int(since) if since else None)
            return json_response(200, messages)
        return None

    def _send(self, endpoint: str, body: dict[str, Any]) -> httpx.Response:
        chat = str(body.get("chatId"))
        self.sent.append(SentMessage("waha", chat, endpoint, body))
        ident = f"true_{chat}_FAKE{next(self._ids)}"
        self.messages[ident] = {"chatId": chat, "text": body.get("text")}
        return json_response(201, {"id": ident, "timestamp": int(self.now().timestamp())})

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
        return signed_request(
            "waha",
            self._envelope(session, "session.status", payload),
            hmac_key or self.hmac_key,
            self.now(),
        )

    def presence_update(
        self, chat_id: str, presences: list[tuple[str, str]], session: str = "default"
    ) -> WebhookRequest:
        """A signed ``presence.update``: (participant, presence) pairs for the chat."""
        payload = {
            "id": chat_id,
            "presences": [
                {"participant": who, "lastKnownPresence": what, "lastSeen": None}
                for who, what in presences
            ],
        }
        return signed_request(
            "waha", self._envelope(session, "presence.update", payload), self.hmac_key, self.now()
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
        return signed_request(
            "waha", self._envelope(session, event, payload), self.hmac_key, self.now()
        )
