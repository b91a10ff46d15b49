"""WhatsApp Business Cloud API adapter (Meta Graph API).

Webhooks are ``whatsapp_business_account`` batches: every entry, change, message and status
becomes its own event; ``account_id`` is the ``phone_number_id``, so one app-level endpoint can
serve several numbers. Keys: ``whatsapp:{phone_number_id}:msg:{wamid}`` for messages and
``whatsapp:{phone_number_id}:status:{wamid}:{status}`` for statuses.

Senders: ``wa_id`` when present, else the business-scoped ``user_id`` (2026 payloads may omit
``wa_id``); the other identifier goes to ``sender_aliases``.

Webhook registration is app-level at Meta: the callback URL and verify token are set once in
the app dashboard. What can be automated, subscribing the WhatsApp Business Account to the app
(``POST /{waba_id}/subscribed_apps``), is what :meth:`WhatsAppCloudAdapter.register_webhook` does.
There is no history API; numbers shared with the WhatsApp Business app (coexistence) get a
one-off ``history`` sync and ``smb_message_echoes``, mapped as described in ``_inbound``.

Layout: ``_payloads`` (the wire format as TypedDicts), ``_inbound`` (field and message-type
tables), ``_outbound`` (message-class -> body encoder table), ``config``, ``fake``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from ventros_channels.adapters._meta import GraphAdapter
from ventros_channels.adapters.base import Capability, ConnectionInfo, MediaContent, WebhookInfo
from ventros_channels.adapters.whatsapp_cloud._inbound import instant, parse_entry
from ventros_channels.adapters.whatsapp_cloud._limits import MESSAGING_WINDOW, OUTBOUND_LIMITS
from ventros_channels.adapters.whatsapp_cloud._outbound import (
    ACTIONS,
    MEDIA_TYPES,
    action_body,
    encode,
)
from ventros_channels.adapters.whatsapp_cloud._payloads import SendResponse
from ventros_channels.adapters.whatsapp_cloud.config import WhatsAppCloudConfig
from ventros_channels.adapters.whatsapp_cloud.templates import Template, parse_template
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.domain.types import ChannelType
from ventros_channels.errors import InvalidRequestError
from ventros_channels.messaging.inbound import Attachment, InboundEvent, MediaKind
from ventros_channels.messaging.limits import OutboundLimits
from ventros_channels.messaging.outbound import MediaMessage, OutboundMessage, SendResult
from ventros_channels.messaging.window import MessagingWindowRule
from ventros_channels.ratelimit import RateLimit

__all__ = ["WhatsAppCloudAdapter", "WhatsAppCloudConfig"]

TEMPLATE_LIST_FIELDS = "id,name,language,status,category,parameter_format,components"
"""What the catalog listing asks Graph for, named so the answer does not depend on the API
version's default fields."""

_TIMED_LISTS = ("messages", "statuses", "message_echoes")
"""Lists whose items carry the time they were sent: a replay check's evidence. History syncs
are left out on purpose: they describe messages up to months old."""


def _item_stamps(value: dict[str, Any], stamps: list[object]) -> None:
    """Add the times the items of one change's ``value`` were sent to ``stamps``."""
    for name in _TIMED_LISTS:
        items = value.get(name)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    stamps.append(item.get("timestamp"))
    synced = value.get("state_sync")
    for item in synced if isinstance(synced, list) else ():
        meta = item.get("metadata") if isinstance(item, dict) else None
        if isinstance(meta, dict):
            stamps.append(meta.get("timestamp"))


class WhatsAppCloudAdapter(GraphAdapter[WhatsAppCloudConfig]):
    """WhatsApp through Meta's Cloud API."""

    channel_type: ClassVar[ChannelType] = ChannelType.WHATSAPP
    config_model: ClassVar[type[ChannelConfig]] = WhatsAppCloudConfig
    graph_object: ClassVar[str] = "whatsapp_business_account"
    display_name: ClassVar[str] = "WhatsApp Cloud API"
    messaging_window: ClassVar[MessagingWindowRule | None] = MESSAGING_WINDOW
    outbound_limits: ClassVar[OutboundLimits] = OUTBOUND_LIMITS
    rate_limits: ClassVar[tuple[RateLimit, ...]] = (
        # throughput per business number: 80 messages a second by default (higher tiers on
        # request); the pair rate to one user averages one message every 6 seconds, counted
        # over a minute so that a reply of a few messages in a row is not spread out
        RateLimit("channel", 80, 1.0),
        RateLimit("chat", 10, 60.0),
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.INBOUND_MEDIA,
            Capability.OUTBOUND_MEDIA,
            Capability.MEDIA_UPLOAD,
            Capability.MEDIA_DOWNLOAD,
            Capability.REACTIONS,
            Capability.EDITS,
            Capability.TEMPLATES,
            Capability.INTERACTIVE,
            Capability.READ_RECEIPTS,
            Capability.TYPING,
            Capability.LOCATION_MESSAGES,
            Capability.CONTACT_MESSAGES,
            Capability.TEMPLATE_CATALOG,
            Capability.WEBHOOK_REGISTRATION,
        }
    )
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset(MEDIA_TYPES)

    _instant = staticmethod(instant)

    def _stamps(self, entries: list[Any]) -> list[object]:
        """Account-level entries carry ``time`` (seconds); message changes carry their items'
        own times (``history`` excepted: it describes the past)."""
        stamps: list[object] = []
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            if "time" in entry:
                stamps.append(entry["time"])
            changes = entry.get("changes")
            for change in changes if isinstance(changes, list) else ():
                value = change.get("value") if isinstance(change, dict) else None
                if isinstance(value, dict) and change.get("field") != "history":
                    _item_stamps(value, stamps)
        return stamps

    @staticmethod
    def _token(config: WhatsAppCloudConfig) -> str:
        return config.access_token.get_secret_value()

    # ------------------------------------------------------------------ parsing

    def parse(self, body: bytes, config: WhatsAppCloudConfig | None = None) -> list[InboundEvent]:
        out: list[InboundEvent] = []
        for entry in self._envelope(body):
            out.extend(parse_entry(entry, self.event_key))
        return out

    # ------------------------------------------------------------------ sending

    async def upload_media(
        self,
        client: httpx.AsyncClient,
        config: WhatsAppCloudConfig,
        data: bytes,
        mime_type: str,
        filename: str = "file",
    ) -> str:
        """Upload bytes to Meta and return the media id to send by."""
        answer = await self._graph(
            client,
            config,
            "POST",
            f"{config.phone_number_id}/media",
            idempotent=True,
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, data, mime_type)},
        )
        return str(answer["id"])

    async def send(
        self, client: httpx.AsyncClient, config: WhatsAppCloudConfig, message: OutboundMessage
    ) -> SendResult:
        path = f"{config.phone_number_id}/messages"
        if type(message) in ACTIONS:
            action = action_body(message)
            if action is not None:
                await self._graph(client, config, "POST", path, idempotent=True, json_body=action)
            return SendResult(message_id=None, chat_id=message.to)
        if isinstance(message, MediaMessage) and message.data is not None:
            media_id = await self.upload_media(
                client, config, message.data, message.mime_type or "", message.filename or "file"
            )
            message = message.model_copy(update={"data": None, "media_id": media_id})
        body = encode(message)
        answer: SendResponse = await self._graph(
            client, config, "POST", path, idempotent=False, json_body=body
        )
        sent = (answer.get("messages") or [{}])[0]
        contact = (answer.get("contacts") or [{}])[0]
        return SendResult(
            message_id=sent.get("id"), chat_id=contact.get("wa_id") or message.to, raw=answer
        )

    # ------------------------------------------------------------------ account

    async def test_connection(
        self, client: httpx.AsyncClient, config: WhatsAppCloudConfig
    ) -> ConnectionInfo:
        data = await self._graph(
            client,
            config,
            "GET",
            config.phone_number_id,
            idempotent=True,
            params={"fields": "display_phone_number,verified_name,quality_rating"},
        )
        return ConnectionInfo(
            ok=True,
            account_id=str(data.get("id") or config.phone_number_id),
            display_name=data.get("verified_name"),
            details={k: data[k] for k in ("display_phone_number", "quality_rating") if k in data},
        )

    # ------------------------------------------------------------------ templates

    @staticmethod
    def _waba(config: WhatsAppCloudConfig, what: str) -> str:
        if config.business_account_id is None:
            raise InvalidRequestError(
                f"business_account_id is needed to {what}", platform="whatsapp"
            )
        return config.business_account_id

    async def list_templates(
        self,
        client: httpx.AsyncClient,
        config: WhatsAppCloudConfig,
        *,
        status: str | None = None,
        page_size: int = 100,
    ) -> list[Template]:
        """Every template of the account (``GET /{waba_id}/message_templates``, all pages),
        optionally only those with ``status`` (``APPROVED``, ...)."""
        path = f"{self._waba(config, 'list message templates')}/message_templates"
        params: dict[str, Any] = {"fields": TEMPLATE_LIST_FIELDS, "limit": page_size}
        if status is not None:
            params["status"] = status
        templates: list[Template] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            items, cursor = await self._page(client, config, path, params, cursor)
            templates.extend(parse_template(item) for item in items)
            if cursor is None or cursor in seen:  # a repeated cursor would never end
                return templates
            seen.add(cursor)

    async def register_webhook(
        self, client: httpx.AsyncClient, config: WhatsAppCloudConfig, url: str
    ) -> WebhookInfo:
        """Subscribe the WABA to the app. The callback URL itself is set in Meta's dashboard."""
        waba = self._waba(config, "subscribe the WABA to the app")
        await self._graph(client, config, "POST", f"{waba}/subscribed_apps", idempotent=True)
        return WebhookInfo(url=url, active=True, details={"callback": "set in the Meta dashboard"})

    async def unregister_webhook(
        self, client: httpx.AsyncClient, config: WhatsAppCloudConfig
    ) -> None:
        if config.business_account_id is not None:
            await self._graph(
                client,
                config,
                "DELETE",
                f"{config.business_account_id}/subscribed_apps",
                idempotent=True,
            )

    async def download_media(
        self, client: httpx.AsyncClient, config: WhatsAppCloudConfig, attachment: Attachment
    ) -> MediaContent:
        """Two steps: ask Meta for a short-lived URL, then fetch it with the same token."""
        if attachment.media_id is None:
            raise InvalidRequestError("attachment has no media id", platform="whatsapp")
        info = await self._graph(client, config, "GET", attachment.media_id, idempotent=True)
        token = self._token(config)
        response = await self.http.request(
            client,
            "GET",
            str(info["url"]),
            idempotent=True,
            secrets=(token,),
            headers={"Authorization": f"Bearer {token}"},
        )
        return MediaContent(
            content=response.content,
            mime_type=info.get("mime_type") or attachment.mime_type,
            filename=attachment.filename,
        )
