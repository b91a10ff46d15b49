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
            return json_response(
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
                return json_response(
                    200, {"success": True, "recipient_id": (body.get("recipient") or {}).get("id")}
                )
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
            return json_response(
                200, {"recipient_id": to, "message_id": f"m_FAKE{next(self._ids)}"}
            )
        if len(parts) == 2 and parts[1] == "subscribed_apps":
            self.subscribed.add(parts[0])
            return json_response(200, {"success": True})
        if len(parts) == 1 and request.method == "GET":
            if parts[0] == self.phone_number_id:
                return json_response(
                    200,
                    {
                        "id": self.phone_number_id,
                        "verified_name": "Fake Shop",
                        "display_phone_number": "15550783881",
                    },
                )
            if parts[0] == "me":
                return json_response(200, {"id": owners[token], "name": "Fake Shop Page"})
            if parts[0] == self.page_id:
                return json_response(
                    200, {"instagram_business_account": {"id": self.ig_id, "username": "fake.shop"}}
                )
        return json_response(
            404, {"error": {"message": "Unknown path", "code": 100, "fbtrace_id": "FAKE"}}
        )

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
        return self._page_text("messenger", self.page_id, sender, text)

    def instagram_text(self, *, sender: str, text: str) -> WebhookRequest:
        return self._page_text("instagram", self.ig_id, sender, text)
