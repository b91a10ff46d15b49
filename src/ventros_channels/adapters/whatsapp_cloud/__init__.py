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
There is no history API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from ventros_channels.adapters._meta import GraphAdapter
from ventros_channels.adapters._safe import epoch, timestamp_fields
from ventros_channels.adapters.base import (
    MALFORMED,
    Capability,
    ConnectionInfo,
    MediaContent,
    WebhookInfo,
)
from ventros_channels.adapters.whatsapp_cloud.config import WhatsAppCloudConfig
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.domain.types import ChannelType
from ventros_channels.errors import CapabilityNotSupportedError, InvalidRequestError
from ventros_channels.messaging.inbound import (
    Attachment,
    DeliveryError,
    InboundEvent,
    InteractiveReply,
    Location,
    MediaKind,
    MessageDeleted,
    MessageEdited,
    MessageReceived,
    ReactionChanged,
    SharedContact,
    StatusChanged,
    Unsupported,
)
from ventros_channels.messaging.outbound import (
    ButtonsMessage,
    ListMessage,
    MarkAsRead,
    MediaMessage,
    OutboundMessage,
    Reaction,
    SendResult,
    TemplateMessage,
    TextMessage,
    Typing,
)
from ventros_channels.messaging.window import WHATSAPP_CLOUD_WINDOW, MessagingWindowRule
from ventros_channels.ratelimit import RateLimit

__all__ = ["WhatsAppCloudAdapter"]

WHATSAPP = ChannelType.WHATSAPP
_MEDIA_TYPES = {
    "image": MediaKind.IMAGE,
    "video": MediaKind.VIDEO,
    "audio": MediaKind.AUDIO,
    "document": MediaKind.DOCUMENT,
    "sticker": MediaKind.STICKER,
}
_OUT_MEDIA = {
    MediaKind.IMAGE: "image",
    MediaKind.VIDEO: "video",
    MediaKind.AUDIO: "audio",
    MediaKind.VOICE: "audio",
    MediaKind.DOCUMENT: "document",
    MediaKind.STICKER: "sticker",
}


def _interactive(
    kind: str, message: ButtonsMessage | ListMessage, action: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "body": {"text": message.text}, "action": action}
    if message.header:
        out["header"] = {"type": "text", "text": message.header}
    if message.footer:
        out["footer"] = {"text": message.footer}
    return out


class WhatsAppCloudAdapter(GraphAdapter[WhatsAppCloudConfig]):
    """WhatsApp through Meta's Cloud API."""

    channel_type: ClassVar[ChannelType] = WHATSAPP
    config_model: ClassVar[type[ChannelConfig]] = WhatsAppCloudConfig
    graph_object: ClassVar[str] = "whatsapp_business_account"
    display_name: ClassVar[str] = "WhatsApp Cloud API"
    messaging_window: ClassVar[MessagingWindowRule | None] = WHATSAPP_CLOUD_WINDOW
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
            Capability.WEBHOOK_REGISTRATION,
        }
    )
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset(_OUT_MEDIA)

    def _signed_times(self, entries: list[Any]) -> Iterator[datetime | None]:
        """WhatsApp entries carry no ``time``: the messages' and statuses' own times count."""
        for entry in entries:
            changes = entry.get("changes") if isinstance(entry, dict) else None
            for change in changes if isinstance(changes, list) else ():
                value = change.get("value") if isinstance(change, dict) else None
                if not isinstance(value, dict):
                    continue
                for field in ("messages", "statuses"):
                    items = value.get(field)
                    for item in items if isinstance(items, list) else ():
                        if isinstance(item, dict):
                            yield epoch(item.get("timestamp"))

    @staticmethod
    def _token(config: WhatsAppCloudConfig) -> str:
        return config.access_token.get_secret_value()

    # ------------------------------------------------------------------ parsing

    def parse(self, body: bytes, config: WhatsAppCloudConfig | None = None) -> list[InboundEvent]:
        out: list[InboundEvent] = []
        for entry in self._envelope(body):
            changes = entry.get("changes") if isinstance(entry, dict) else None
            if not isinstance(changes, list):
                out.append(self._unsupported(entry, None, "", datetime.now(UTC), "malformed entry"))
                continue
            for change in changes:
                try:
                    out.extend(self._change(change))
                except MALFORMED as exc:
                    reason = f"malformed change ({type(exc).__name__})"
                    out.append(self._unsupported(change, None, "", datetime.now(UTC), reason))
        return out

    def _change(self, change: dict[str, Any]) -> list[InboundEvent]:
        value = change["value"]
        account = str(value["metadata"]["phone_number_id"]) if value.get("metadata") else None
        if change.get("field") != "messages":
            return [
                self._unsupported(
                    change, account, "", datetime.now(UTC), f"field {change.get('field')!r}"
                )
            ]
        names: dict[str, tuple[str | None, str | None, tuple[str, ...]]] = {}
        for contact in value.get("contacts") or ():
            wa_id, user_id = contact.get("wa_id"), contact.get("user_id")
            key = wa_id or user_id
            profile = contact.get("profile") or {}
            aliases = tuple(str(i) for i in (wa_id, user_id) if i and i != key)
            names[str(key)] = (profile.get("name"), profile.get("username"), aliases)
            if wa_id and user_id:
                names[str(user_id)] = names[str(key)]
        out: list[InboundEvent] = []
        for message in value.get("messages") or ():
            try:
                out.append(self._message(message, account, names))
            except MALFORMED as exc:
                stamp = datetime.now(UTC)
                out.append(
                    self._unsupported(
                        message,
                        account,
                        message.get("from", "") if isinstance(message, dict) else "",
                        stamp,
                        f"malformed message ({type(exc).__name__})",
                    )
                )
        for status in value.get("statuses") or ():
            try:
                out.append(self._status(status, account))
            except MALFORMED as exc:
                out.append(
                    self._unsupported(
                        status,
                        account,
                        "",
                        datetime.now(UTC),
                        f"malformed status ({type(exc).__name__})",
                    )
                )
        for error in value.get("errors") or ():
            out.append(
                self._unsupported(
                    {"error": error, "metadata": value.get("metadata")},
                    account,
                    "",
                    datetime.now(UTC),
                    f"platform error {error.get('code')}: "
                    f"{error.get('title') or error.get('message')}",
                )
            )
        return out

    def _message(
        self,
        message: dict[str, Any],
        account: str | None,
        names: dict[str, tuple[str | None, str | None, tuple[str, ...]]],
    ) -> InboundEvent:
        sender = str(message.get("from") or message.get("user_id"))
        wamid = str(message["id"])
        kind = message["type"]
        name, username, aliases = names.get(sender, (None, None, ()))
        if message.get("user_id") and str(message["user_id"]) != sender:
            aliases = (
                (*aliases, str(message["user_id"]))
                if str(message["user_id"]) not in aliases
                else aliases
            )
        fields: dict[str, Any] = {
            "channel_type": WHATSAPP,
            "account_id": account,
            "message_id": wamid,
            "chat_id": sender,
            "sender_id": sender,
            **timestamp_fields(message.get("timestamp")),
            "idempotency_key": f"whatsapp:{account}:msg:{wamid}",
            "raw": message,
        }
        if name:
            fields["sender_name"] = name
        if username:
            fields["sender_username"] = username
        if aliases:
            fields["sender_aliases"] = aliases
        context = message.get("context")
        if context:
            if context.get("id"):
                fields["reply_to"] = str(context["id"])
            if context.get("forwarded") or context.get("frequently_forwarded"):
                fields["forwarded"] = True
                fields.pop("reply_to", None)
        if message.get("referral"):
            fields["referral"] = message["referral"]
        if kind == "text":
            fields["text"] = message["text"]["body"]
        elif kind in _MEDIA_TYPES:
            media = message[kind]
            media_kind = (
                MediaKind.VOICE if kind == "audio" and media.get("voice") else _MEDIA_TYPES[kind]
            )
            if kind == "sticker" and media.get("animated"):
                media_kind = MediaKind.STICKER
            fields["attachments"] = (
                Attachment(
                    kind=media_kind,
                    media_id=str(media["id"]) if media.get("id") else None,
                    url=media.get("url"),
                    mime_type=media.get("mime_type"),
                    sha256=media.get("sha256"),
                    filename=media.get("filename"),
                    caption=media.get("caption"),
                ),
            )
        elif kind == "location":
            loc = message["location"]
            fields["location"] = Location(
                latitude=loc["latitude"],
                longitude=loc["longitude"],
                name=loc.get("name"),
                address=loc.get("address"),
                url=loc.get("url"),
            )
        elif kind == "contacts":
            fields["contacts"] = tuple(
                SharedContact(
                    name=(c.get("name") or {}).get("formatted_name"),
                    phones=tuple(p.get("phone") or p.get("wa_id") for p in c.get("phones") or ()),
                    emails=tuple(e.get("email") for e in c.get("emails") or () if e.get("email")),
                )
                for c in message["contacts"]
            )
        elif kind == "interactive":
            inter = message["interactive"]
            itype = inter["type"]
            if itype == "button_reply":
                r = inter["button_reply"]
                fields["interactive"] = InteractiveReply(
                    type="button", id=r.get("id"), title=r.get("title")
                )
                fields["text"] = r.get("title")
            elif itype == "list_reply":
                r = inter["list_reply"]
                fields["interactive"] = InteractiveReply(
                    type="list",
                    id=r.get("id"),
                    title=r.get("title"),
                    description=r.get("description"),
                )
                fields["text"] = r.get("title")
            elif itype == "nfm_reply":
                r = inter["nfm_reply"]
                fields["interactive"] = InteractiveReply(
                    type="flow",
                    id=r.get("name"),
                    title=r.get("body"),
                    description=r.get("response_json"),
                )
            else:
                return self._unsupported(
                    message, account, sender, fields["timestamp"], f"interactive {itype!r}"
                )
        elif kind == "button":
            b = message["button"]
            fields["interactive"] = InteractiveReply(
                type="template_button", id=b.get("payload"), title=b.get("text")
            )
            fields["text"] = b.get("text")
        elif kind == "order":
            order = message["order"]
            fields["text"] = order.get("text")
            fields["referral"] = {"order": order}
        elif kind == "reaction":
            r = message["reaction"]
            return ReactionChanged(
                channel_type=WHATSAPP,
                account_id=account,
                message_id=wamid,
                chat_id=sender,
                sender_id=sender,
                sender_name=name,
                sender_aliases=aliases,
                timestamp=fields["timestamp"],
                malformed_fields=fields.get("malformed_fields", ()),
                target_message_id=str(r["message_id"]),
                emoji=r.get("emoji") or None,
                idempotency_key=fields["idempotency_key"],
                raw=message,
            )
        elif kind == "edit":
            edit = message["edit"]
            inner = edit.get("message") or {}
            return MessageEdited(
                channel_type=WHATSAPP,
                account_id=account,
                message_id=wamid,
                chat_id=sender,
                sender_id=sender,
                timestamp=fields["timestamp"],
                malformed_fields=fields.get("malformed_fields", ()),
                target_message_id=str(edit["original_message_id"]),
                text=(inner.get("text") or {}).get("body"),
                idempotency_key=fields["idempotency_key"],
                raw=message,
            )
        elif kind == "revoke":
            return MessageDeleted(
                channel_type=WHATSAPP,
                account_id=account,
                message_id=wamid,
                chat_id=sender,
                sender_id=sender,
                timestamp=fields["timestamp"],
                malformed_fields=fields.get("malformed_fields", ()),
                target_message_id=str(message["revoke"]["original_message_id"]),
                idempotency_key=fields["idempotency_key"],
                raw=message,
            )
        else:  # system, unsupported, and types this adapter does not know yet
            errors = message.get("errors") or ()
            detail = f" ({errors[0].get('code')}: {errors[0].get('title')})" if errors else ""
            system = message.get("system")
            reason = (
                f"system message: {system.get('type')}"
                if kind == "system" and system
                else (f"message type {kind!r}{detail}")
            )
            return Unsupported(
                channel_type=WHATSAPP,
                account_id=account,
                message_id=wamid,
                chat_id=sender,
                sender_id=sender,
                sender_name=name,
                timestamp=fields["timestamp"],
                malformed_fields=fields.get("malformed_fields", ()),
                reason=reason,
                idempotency_key=fields["idempotency_key"],
                raw=message,
            )
        return MessageReceived.model_validate(fields)

    def _status(self, status: dict[str, Any], account: str | None) -> InboundEvent:
        wamid = str(status["id"])
        state = status["status"]
        recipient = str(status.get("recipient_id") or status.get("recipient_user_id") or "")
        errors = status.get("errors") or ()
        error = None
        if errors:
            first = errors[0]
            details = (first.get("error_data") or {}).get("details")
            error = DeliveryError(
                code=str(first.get("code")),
                title=first.get("title"),
                message=details or first.get("message"),
            )
        when = timestamp_fields(status.get("timestamp"))
        if state not in ("sent", "delivered", "read", "played", "failed"):
            return self._unsupported(
                status, account, recipient, when["timestamp"], f"status {state!r}"
            )
        return StatusChanged(
            channel_type=WHATSAPP,
            account_id=account,
            message_id=wamid,
            message_ids=(wamid,),
            chat_id=recipient,
            recipient_id=recipient,
            **when,
            status=state,
            error=error,
            correlation_id=_text_or_none(status.get("biz_opaque_callback_data")),
            idempotency_key=f"whatsapp:{account}:status:{wamid}:{state}",
            raw=status,
        )

    # ------------------------------------------------------------------ sending

    def _body(self, config: WhatsAppCloudConfig, message: OutboundMessage) -> dict[str, Any]:
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
        if message.to.startswith("US.") or not message.to.lstrip("+").replace(" ", "").isdigit():
            body["recipient"] = message.to  # business-scoped user id
        else:
            body["to"] = message.to
        if message.reply_to:
            body["context"] = {"message_id": message.reply_to}
        if message.correlation_id:
            body["biz_opaque_callback_data"] = message.correlation_id
        return body

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
        if isinstance(message, MarkAsRead | Typing):
            if isinstance(message, Typing):
                raise CapabilityNotSupportedError(
                    "whatsapp", "typing without a message id (send MarkAsRead with typing)"
                )
            await self._graph(
                client,
                config,
                "POST",
                path,
                idempotent=True,
                json_body={
                    "messaging_product": "whatsapp",
                    "status": "read",
                    "message_id": message.message_id,
                },
            )
            return SendResult(message_id=None, chat_id=message.to)
        body = self._body(config, message)
        if isinstance(message, TextMessage):
            body["type"] = "text"
            body["text"] = {"body": message.text, "preview_url": message.preview_url}
        elif isinstance(message, MediaMessage):
            kind = _OUT_MEDIA.get(message.media_kind)
            if kind is None:
                raise CapabilityNotSupportedError("whatsapp", f"send {message.media_kind} media")
            media: dict[str, Any] = {}
            if message.url is not None:
                media["link"] = message.url
            elif message.media_id is not None:
                media["id"] = message.media_id
            else:
                assert message.data is not None
                assert message.mime_type is not None
                media["id"] = await self.upload_media(
                    client, config, message.data, message.mime_type, message.filename or "file"
                )
            if message.caption and kind in ("image", "video", "document"):
                media["caption"] = message.caption
            if message.filename and kind == "document":
                media["filename"] = message.filename
            body["type"] = kind
            body[kind] = media
        elif isinstance(message, TemplateMessage):
            components = list(message.components)
            if message.body_parameters:
                components.append(
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": p} for p in message.body_parameters
                        ],
                    }
                )
            template: dict[str, Any] = {
                "name": message.name,
                "language": {"code": message.language},
            }
            if components:
                template["components"] = components
            body["type"] = "template"
            body["template"] = template
        elif isinstance(message, ButtonsMessage):
            if len(message.buttons) > 3:
                raise InvalidRequestError(
                    "WhatsApp allows at most 3 reply buttons", platform="whatsapp"
                )
            action: dict[str, Any] = {
                "buttons": [
                    {"type": "reply", "reply": {"id": b.id, "title": b.title[:20]}}
                    for b in message.buttons
                ]
            }
            body["type"] = "interactive"
            body["interactive"] = _interactive("button", message, action)
        elif isinstance(message, ListMessage):
            action = {
                "button": message.button_text,
                "sections": [
                    {
                        **({"title": s.title} if s.title else {}),
                        "rows": [
                            {
                                "id": r.id,
                                "title": r.title,
                                **({"description": r.description} if r.description else {}),
                            }
                            for r in s.rows
                        ],
                    }
                    for s in message.sections
                ],
            }
            body["type"] = "interactive"
            body["interactive"] = _interactive("list", message, action)
        elif isinstance(message, Reaction):
            body.pop("context", None)
            body["type"] = "reaction"
            body["reaction"] = {"message_id": message.message_id, "emoji": message.emoji or ""}
        else:
            raise CapabilityNotSupportedError("whatsapp", f"send {message.kind}")
        answer = await self._graph(client, config, "POST", path, idempotent=False, json_body=body)
        messages = answer.get("messages") or [{}]
        contacts = answer.get("contacts") or [{}]
        return SendResult(
            message_id=messages[0].get("id"),
            chat_id=contacts[0].get("wa_id") or message.to,
            raw=answer,
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

    async def register_webhook(
        self, client: httpx.AsyncClient, config: WhatsAppCloudConfig, url: str
    ) -> WebhookInfo:
        """Subscribe the WABA to the app. The callback URL itself is set in Meta's dashboard."""
        if config.business_account_id is None:
            raise InvalidRequestError(
                "business_account_id is needed to subscribe the WABA to the app",
                platform="whatsapp",
            )
        await self._graph(
            client, config, "POST", f"{config.business_account_id}/subscribed_apps", idempotent=True
        )
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


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
