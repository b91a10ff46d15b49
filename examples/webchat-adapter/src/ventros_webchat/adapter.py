"""The web chat adapter: config model, verification, parsing and sending."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr

from ventros_channels import ChannelConfig, ChannelType, PlatformError, WebhookPayloadError
from ventros_channels.adapters import MALFORMED, Capability, ChannelAdapter, ConnectionInfo
from ventros_channels.errors import CapabilityNotSupportedError, WebhookVerificationError
from ventros_channels.http import error_for_status
from ventros_channels.messaging import (
    InboundEvent,
    MessageReceived,
    OutboundMessage,
    SendResult,
    SessionStatusChanged,
    StatusChanged,
    TextMessage,
    Unsupported,
    content_key,
)
from ventros_channels.webhooks import (
    VerificationKeys,
    WebhookRequest,
    check_freshness,
    hmac_hex,
    verify_hmac,
)

WEBCHAT = ChannelType("webchat")


class WebchatConfig(ChannelConfig):
    """Configuration of one web chat site."""

    channel_type: ClassVar[ChannelType] = WEBCHAT
    webhook_secret_field: ClassVar[str | None] = "signing_secret"

    site_id: str = Field(min_length=1)
    base_url: str = Field(pattern=r"^https?://")
    api_key: SecretStr = Field(min_length=1)
    signing_secret: SecretStr | None = None

    def external_id(self) -> str:
        return self.site_id


def _signed_payload(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode() + b"." + body


class WebchatAdapter(ChannelAdapter[WebchatConfig]):
    """Adapter for the example web chat widget."""

    channel_type: ClassVar[ChannelType] = WEBCHAT
    config_model: ClassVar[type[ChannelConfig]] = WebchatConfig
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READ_RECEIPTS})
    display_name: ClassVar[str] = "Web chat (example plug-in)"

    key_name: ClassVar[str] = "signing secret"

    def check_signature(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        headers = request.headers  # names are stored lower-case
        stamp = headers.get("x-webchat-timestamp")
        if not stamp or not stamp.isdigit():
            raise WebhookVerificationError("timestamp header missing or malformed")
        check_freshness(int(stamp), keys.now, keys.tolerance)
        verify_hmac(
            headers.get("x-webchat-signature"),
            _signed_payload(stamp, request.body),
            keys.secret_bytes(),
            prefix="v1=",
        )

    def sign(self, body: bytes, secret: str, *, now: datetime) -> dict[str, str]:
        stamp = str(int(now.timestamp()))
        digest = hmac_hex(secret.encode(), _signed_payload(stamp, body))
        return {"X-Webchat-Timestamp": stamp, "X-Webchat-Signature": f"v1={digest}"}

    def parse(self, body: bytes, config: WebchatConfig | None = None) -> list[InboundEvent]:
        data = self.load_json(body)  # size/depth limits, typed error, serializable strings
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            raise WebhookPayloadError("webchat", "expected an object with an 'events' list")
        site = data.get("site_id")
        site_id = site if isinstance(site, str) else None
        return [self._event(item, site_id) for item in data["events"]]

    def _event(self, item: Any, site_id: str | None) -> InboundEvent:
        try:
            kind = item["type"]
            common: dict[str, Any] = {
                "channel_type": WEBCHAT,
                "account_id": site_id,
                "chat_id": item["conversation_id"],
                "timestamp": datetime.fromisoformat(item["sent_at"]),
                "raw": item,
            }
            if kind == "message":
                sender = item.get("sender") or {}
                common["message_id"] = item["id"]
                common["sender_id"] = sender.get("id")
                common["sender_name"] = sender.get("name")
                common["text"] = item.get("text")
                common["idempotency_key"] = f"webchat:{site_id}:msg:{item['id']}"
                return MessageReceived.model_validate(common)
            if kind == "read":
                return StatusChanged(
                    message_id=item["message_id"],
                    status="read",
                    idempotency_key=f"webchat:{site_id}:read:{item['message_id']}",
                    **common,
                )
            if kind == "session_status":  # the widget backend reports its own connection
                return SessionStatusChanged(
                    status=str(item["status"]),
                    idempotency_key=f"webchat:{site_id}:session:{item['id']}",
                    **common,
                )
            reason = f"event type {kind!r} is not mapped"
        except MALFORMED as exc:
            reason = f"malformed event: {type(exc).__name__}"
        return Unsupported(
            chat_id=str(item.get("conversation_id", "")) if isinstance(item, dict) else "",
            channel_type=WEBCHAT,
            account_id=site_id,
            timestamp=datetime.now(UTC),
            reason=reason,
            idempotency_key=content_key(f"webchat:{site_id}:unsupported", item),
            raw=item,
        )

    def _map_error(
        self, response: httpx.Response, redact: Callable[[str], str]
    ) -> PlatformError | None:
        if response.is_success:
            return None
        return error_for_status(response, "webchat", redact(response.text[:200]) or "error")

    async def send(
        self, client: httpx.AsyncClient, config: WebchatConfig, message: OutboundMessage
    ) -> SendResult:
        if not isinstance(message, TextMessage):
            raise CapabilityNotSupportedError("webchat", f"send {message.kind}")
        key = config.api_key.get_secret_value()
        response = await self.http.request(
            client,
            "POST",
            f"{config.base_url.rstrip('/')}/v1/conversations/{message.to}/messages",
            idempotent=False,
            secrets=(key,),
            headers={"Authorization": f"Bearer {key}"},
            json={"text": message.text, "reply_to": message.reply_to},
        )
        data = response.json()
        return SendResult(message_id=str(data["id"]), chat_id=message.to, raw=data)

    async def test_connection(
        self, client: httpx.AsyncClient, config: WebchatConfig
    ) -> ConnectionInfo:
        key = config.api_key.get_secret_value()
        response = await self.http.request(
            client,
            "GET",
            f"{config.base_url.rstrip('/')}/v1/sites/{config.site_id}",
            idempotent=True,
            secrets=(key,),
            headers={"Authorization": f"Bearer {key}"},
        )
        data = response.json()
        return ConnectionInfo(ok=True, account_id=config.site_id, display_name=data.get("name"))
