"""A fake Meta Graph API (WhatsApp Cloud, Messenger, Instagram) for tests and the demo."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from ventros_channels.testing._fake import FakePlatform, SentMessage, json_response, signed_request
from ventros_channels.webhooks.request import WebhookRequest

__all__ = ["GRAPH_HOST", "FakeGraph"]

GRAPH_HOST = "https://graph.fake"

_Route = Callable[[str, list[str], httpx.Request], httpx.Response]

SAMPLE_TEMPLATES: tuple[dict[str, Any], ...] = (
    {
        "name": "hello_world",
        "parameter_format": "POSITIONAL",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
            {
                "type": "BODY",
                "text": "Welcome and congratulations!! This message demonstrates your ability "
                "to send a WhatsApp message notification from the Cloud API, hosted by Meta.",
            },
            {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"},
        ],
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "id": "1192339204654487",
    },
    {
        "name": "order_shipped",
        "parameter_format": "POSITIONAL",
        "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1h"]}},
            {
                "type": "BODY",
                "text": "Hi {{1}}, your order {{2}} of {{3}} ships on {{4}}.",
                "example": {"body_text": [["Ana", "#1234", "$12.50", "May 2"]]},
            },
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": "Stop updates"},
                    {
                        "type": "URL",
                        "text": "Track",
                        "url": "https://shop.example.test/track/{{1}}",
                        "example": ["https://shop.example.test/track/1234"],
                    },
                ],
            },
        ],
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "id": "2245637728840211",
    },
    {
        "name": "order_shipped",
        "parameter_format": "POSITIONAL",
        "components": [{"type": "BODY", "text": "Oi {{1}}, seu pedido {{2}} saiu."}],
        "language": "pt_BR",
        "status": "PAUSED",
        "category": "UTILITY",
        "id": "2245637728840212",
    },
)
"""A fake WhatsApp account's templates, shaped as Meta's template management page shows
them: the sample ``hello_world`` every account starts with, and an order update in two
languages (one paused)."""


def _error(message: str, code: int, kind: str | None = None) -> dict[str, Any]:
    """A Graph API error body."""
    error: dict[str, Any] = {"message": message, "code": code, "fbtrace_id": "FAKE"}
    if kind:
        error["type"] = kind
    return {"error": error}


class FakeGraph(FakePlatform):
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
        self._init_messaging()
        self.templates: list[dict[str, Any]] = [dict(t) for t in SAMPLE_TEMPLATES]
        """The WhatsApp account's template catalog, as ``message_templates`` lists it."""

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
        if token not in self._owners():
            return json_response(401, _error("Invalid OAuth access token.", 190, "OAuthException"))
        parts = request.url.path.strip("/").split("/")[1:]  # drop the version
        route = self._route(parts, request.method)
        if route is None:
            return json_response(404, _error("Unknown path", 100))
        return route(token, parts, request)

    def _owners(self) -> dict[str, str]:
        """Whose node each token opens."""
        return {
            self.wa_token: self.phone_number_id,
            self.page_token: self.page_id,
            self.ig_token: self.ig_id,
        }

    def _route(self, parts: list[str], method: str) -> _Route | None:
        if len(parts) == 2 and parts[1] == "messages" and method == "POST":
            return self._messages
        if len(parts) == 2 and parts[1] == "subscribed_apps":
            return self._subscribe
        if len(parts) == 2 and parts[1] == "message_templates" and method == "GET":
            return self._templates
        if len(parts) == 1 and method == "GET":
            return self._node
        return None

    def _messages(self, token: str, parts: list[str], request: httpx.Request) -> httpx.Response:
        json_body = request.headers.get("content-type", "").startswith("application/json")
        body = json.loads(request.content) if request.content and json_body else {}
        if "sender_action" in body:
            return self._sender_action(token, body)
        if body.get("status") == "read":
            recipient = (body.get("recipient") or {}).get("id")
            return json_response(200, {"success": True, "recipient_id": recipient})
        if token == self.wa_token:
            to = body.get("to") or body.get("recipient")
            self.sent.append(SentMessage("whatsapp", str(to), body.get("type", ""), body))
            return json_response(
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
        return json_response(200, {"recipient_id": to, "message_id": f"m_FAKE{next(self._ids)}"})

    def _templates(self, token: str, parts: list[str], request: httpx.Request) -> httpx.Response:
        """``GET /{waba_id}/message_templates``: cursor pages of ``limit`` (default 25), only
        the requested ``fields`` (``id`` always), filtered by ``status`` when given."""
        if token != self.wa_token or parts[0] != self.waba_id:
            return json_response(
                400, _error("Unsupported get request.", 100, "GraphMethodException")
            )
        query = request.url.params
        chosen = [t for t in self.templates if query.get("status", t["status"]) == t["status"]]
        start = int(query.get("after", "0") or 0)
        limit = int(query.get("limit", "25"))
        fields = set(query.get("fields", ",".join(chosen[0]) if chosen else "id").split(","))
        page = [
            {k: v for k, v in t.items() if k in fields | {"id"}}
            for t in chosen[start : start + limit]
        ]
        paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + limit)}}
        if start + limit < len(chosen):
            paging["next"] = (
                f"{GRAPH_HOST}/{self.version}/{parts[0]}/message_templates?after={start + limit}"
            )
        return json_response(200, {"data": page, "paging": paging})

    def _subscribe(self, token: str, parts: list[str], request: httpx.Request) -> httpx.Response:
        """``POST`` subscribes the node to the app, ``DELETE`` unsubscribes it."""
        if request.method == "DELETE":
            self.subscribed.discard(parts[0])
        else:
            self.subscribed.add(parts[0])
        return json_response(200, {"success": True})

    def _node(self, token: str, parts: list[str], request: httpx.Request) -> httpx.Response:
        nodes: dict[str, dict[str, Any]] = {
            self.phone_number_id: {
                "id": self.phone_number_id,
                "verified_name": "Fake Shop",
                "display_phone_number": "15550783881",
            },
            "me": {"id": self._owners()[token], "name": "Fake Shop Page"},
            self.page_id: {
                "instagram_business_account": {"id": self.ig_id, "username": "fake.shop"}
            },
        }
        node = nodes.get(parts[0])
        if node is None:
            return self._profile(token, parts[0], request)
        return json_response(200, node)

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
        return signed_request("whatsapp", payload, self.app_secret, self.now())

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
        return signed_request(channel_type, payload, self.app_secret, self.now())

    def messenger_text(self, *, sender: str, text: str) -> WebhookRequest:
        self.opted_in.add((self.page_id, sender))
        return self._page_text("messenger", self.page_id, sender, text)

    def instagram_text(self, *, sender: str, text: str) -> WebhookRequest:
        self.opted_in.add((self.ig_id, sender))
        return self._page_text("instagram", self.ig_id, sender, text)

    # ------------------------------------------------- Messenger / Instagram: actions, profiles
    # Sender actions (typing, mark_seen, react / unreact) and the User Profile API, answered as
    # Meta documents them:
    # https://developers.facebook.com/docs/messenger-platform/send-messages/sender-actions
    # https://developers.facebook.com/docs/messenger-platform/identity/user-profile
    # https://developers.facebook.com/docs/messenger-platform/instagram/features/user-profile

    def _init_messaging(self) -> None:
        self.actions: list[SentMessage] = []
        """Sender actions received, in order (``kind`` is the action)."""
        self.profiles: dict[str, dict[str, Any]] = {}
        """Every profile field the fake knows per scoped id (PSID or IGSID)."""
        self.opted_in: set[tuple[str, str]] = set()
        """``(account, user)`` pairs whose profile may be read: the user wrote to the account."""
        self.no_profile: set[str] = set()
        """PSIDs of Messenger accounts made with a phone number: they have no profile."""

    def add_profile(self, user_id: str, *, opted_in: bool = True, **fields: Any) -> None:
        """Know ``user_id`` with ``fields`` (Messenger's or Instagram's names); ``opted_in``
        as if the user had written to both the Page and the Instagram account."""
        self.profiles[user_id] = {"id": user_id, **fields}
        if opted_in:
            self.opted_in |= {(self.page_id, user_id), (self.ig_id, user_id)}

    _ACTIONS = frozenset({"typing_on", "typing_off", "mark_seen", "react", "unreact"})

    def _sender_action(self, token: str, body: dict[str, Any]) -> httpx.Response:
        action = body.get("sender_action")
        recipient = str((body.get("recipient") or {}).get("id") or "")
        problem = self._action_problem(action, body)
        if problem or not recipient:
            return json_response(400, _error(problem or "recipient is required", 100))
        platform = {self.page_token: "messenger", self.ig_token: "instagram"}.get(token, "")
        self.actions.append(SentMessage(platform, recipient, str(action), body))
        return json_response(200, {"recipient_id": recipient})

    def _action_problem(self, action: object, body: dict[str, Any]) -> str | None:
        """Why Meta would refuse this sender action (``None``: it would not)."""
        if action not in self._ACTIONS:
            return f"(#100) Param sender_action must be one of {sorted(self._ACTIONS)}"
        if "message" in body:
            return "(#100) sender_action cannot be sent with a message"
        payload = body.get("payload")
        wants = {"react": {"message_id", "reaction"}, "unreact": {"message_id"}}.get(str(action))
        given = set(payload) if isinstance(payload, dict) else None
        if wants is not None and given != wants:
            return f"(#100) payload must hold exactly {sorted(wants)}"
        if wants is None and payload is not None:
            return "(#100) payload is only taken by react and unreact"
        return None

    def _profile(self, token: str, user_id: str, request: httpx.Request) -> httpx.Response:
        owner = self._owners().get(token)
        known = self.profiles.get(user_id)
        if owner not in (self.page_id, self.ig_id) or known is None:
            message = f"Unsupported get request. Object with ID '{user_id}' does not exist"
            return json_response(
                400, {"error": {**_error(message, 100)["error"], "error_subcode": 33}}
            )
        if owner == self.page_id and user_id in self.no_profile:
            error = _error("(#100) No profile available for this user.", 100, "OAuthException")
            return json_response(400, {"error": {**error["error"], "error_subcode": 2018218}})
        if (owner, user_id) not in self.opted_in:
            error = _error("User consent is required to access user profile", 230)
            return json_response(400, error)
        asked = request.url.params.get("fields", "").split(",")
        answer = {f: known.get(f) for f in asked if f}
        return json_response(200, {**answer, "id": user_id})
