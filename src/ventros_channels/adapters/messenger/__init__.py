"""Facebook Messenger adapter (Messenger Platform on a Page).

Webhooks are ``object=page`` batches of ``entry[].messaging[]`` (or ``standby[]`` when
another app owns the thread). ``account_id`` is the Page id; ``chat_id`` is always the
customer's PSID, also for echoes of what the Page sent. Delivery and read receipts are
watermarks: :class:`StatusChanged` carries ``watermark`` (and the mids when Meta lists them).

History comes from the Conversations API: :meth:`list_chats` yields conversation ids,
:meth:`fetch_history` pages through one conversation's messages (newest first). Only the most
recent messages of a thread come with details.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from ventros_channels.adapters._meta import GraphAdapter
from ventros_channels.adapters._meta.config import GraphConfig
from ventros_channels.adapters.base import (
    MALFORMED,
    Capability,
    ChatSummary,
    ConnectionInfo,
    HistoryPage,
    MediaContent,
    WebhookInfo,
)
from ventros_channels.adapters.messenger.config import MessengerConfig
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.domain.types import ChannelType
from ventros_channels.errors import CapabilityNotSupportedError, InvalidRequestError
from ventros_channels.messaging.inbound import Attachment, InboundEvent, MediaKind
from ventros_channels.messaging.outbound import (
    ButtonsMessage,
    MarkAsRead,
    MediaMessage,
    OutboundMessage,
    SendResult,
    TextMessage,
    Typing,
)
from ventros_channels.ratelimit import RateLimit

__all__ = ["SUBSCRIBED_FIELDS", "MessengerAdapter", "PageMessagingAdapter"]

SUBSCRIBED_FIELDS = (
    "messages,messaging_postbacks,message_deliveries,message_reads,message_echoes,"
    "message_reactions,message_edits,messaging_referrals"
)
_OUT_MEDIA = {
    MediaKind.IMAGE: "image",
    MediaKind.VIDEO: "video",
    MediaKind.AUDIO: "audio",
    MediaKind.VOICE: "audio",
    MediaKind.DOCUMENT: "file",
}


C = TypeVar("C", bound=GraphConfig)  # Messenger's or Instagram's config


class PageMessagingAdapter(GraphAdapter[C], Generic[C]):
    """The Messenger Platform messaging API, shared by Messenger and Instagram."""

    rate_limits: ClassVar[tuple[RateLimit, ...]] = (
        # Send API per Page (or Instagram account): 300 calls a second, 10 for audio/video
        RateLimit("channel", 300, 1.0),
        RateLimit("channel", 10, 1.0, media_kinds=frozenset({"audio", "voice", "video"})),
    )

    seen_has_mid: ClassVar[bool] = False

    def parse(self, body: bytes, config: C | None = None) -> list[InboundEvent]:
        out: list[InboundEvent] = []
        for entry in self._envelope(body):
            out.extend(self.parse_messaging(entry, seen_has_mid=self.seen_has_mid))
        return out

    def _send_path(self, config: C) -> str:
        raise NotImplementedError

    def _account(self, config: C) -> str:
        raise NotImplementedError

    def _message_body(self, message: OutboundMessage) -> dict[str, Any]:
        body: dict[str, Any] = {"recipient": {"id": message.to}}
        if message.tag:
            body["messaging_type"] = "MESSAGE_TAG"
            body["tag"] = message.tag
        else:
            body["messaging_type"] = "RESPONSE"
        return body

    def _build(self, message: OutboundMessage) -> dict[str, Any]:
        if isinstance(message, Typing):
            return {
                "recipient": {"id": message.to},
                "sender_action": "typing_on" if message.on else "typing_off",
            }
        if isinstance(message, MarkAsRead):
            return {"recipient": {"id": message.to}, "sender_action": "mark_seen"}
        body = self._message_body(message)
        if isinstance(message, TextMessage):
            body["message"] = {"text": message.text}
        elif isinstance(message, ButtonsMessage):
            body["message"] = {
                "text": message.text,
                "quick_replies": [
                    {"content_type": "text", "title": b.title[:20], "payload": b.id}
                    for b in message.buttons
                ],
            }
        elif isinstance(message, MediaMessage):
            kind = _OUT_MEDIA.get(message.media_kind)
            if kind is None or message.data is not None:
                raise CapabilityNotSupportedError(
                    str(self.channel_type), f"send {message.media_kind} media from bytes"
                )
            payload: dict[str, Any] = (
                {"url": message.url, "is_reusable": True}
                if message.url is not None
                else {"attachment_id": message.media_id}
            )
            body["message"] = {"attachment": {"type": kind, "payload": payload}}
        else:
            raise CapabilityNotSupportedError(str(self.channel_type), f"send {message.kind}")
        return body

    async def send(
        self, client: httpx.AsyncClient, config: C, message: OutboundMessage
    ) -> SendResult:
        body = self._build(message)
        action = "sender_action" in body
        answer = await self._graph(
            client, config, "POST", self._send_path(config), idempotent=action, json_body=body
        )
        return SendResult(
            message_id=answer.get("message_id"),
            chat_id=answer.get("recipient_id") or message.to,
            raw=answer,
        )

    async def fetch_history(
        self,
        client: httpx.AsyncClient,
        config: C,
        chat_id: str,
        *,
        cursor: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> HistoryPage[InboundEvent]:
        items, after = await self._page(
            client,
            config,
            f"{chat_id}/messages",
            {"fields": "id,created_time,from,to,message,attachments", "limit": limit},
            cursor,
        )
        account = self._account(config)
        events: list[InboundEvent] = []
        for item in items:
            try:
                events.append(self._history_item(item, account, chat_id))
            except MALFORMED as exc:
                reason = f"malformed ({type(exc).__name__})"
                events.append(self._unsupported(item, account, "", datetime.now(UTC), reason))
        return HistoryPage(tuple(events), after)

    async def download_media(
        self, client: httpx.AsyncClient, config: C, attachment: Attachment
    ) -> MediaContent:
        """Fetch a CDN URL from a webhook (they expire: download promptly)."""
        if attachment.url is None:
            raise InvalidRequestError("attachment has no URL", platform=str(self.channel_type))
        response = await self.http.request(client, "GET", attachment.url, idempotent=True)
        return MediaContent(
            content=response.content,
            mime_type=attachment.mime_type or response.headers.get("content-type"),
            filename=attachment.filename,
        )


class MessengerAdapter(PageMessagingAdapter[MessengerConfig]):
    """Messenger conversations of one Facebook Page."""

    channel_type: ClassVar[ChannelType] = ChannelType.MESSENGER
    config_model: ClassVar[type[ChannelConfig]] = MessengerConfig
    graph_object: ClassVar[str] = "page"
    display_name: ClassVar[str] = "Facebook Messenger"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.INBOUND_MEDIA,
            Capability.OUTBOUND_MEDIA,
            Capability.MEDIA_DOWNLOAD,
            Capability.EDITS,
            Capability.INTERACTIVE,
            Capability.READ_RECEIPTS,
            Capability.TYPING,
            Capability.HISTORY_IMPORT,
            Capability.WEBHOOK_REGISTRATION,
        }
    )
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset(_OUT_MEDIA)

    @staticmethod
    def _token(config: MessengerConfig) -> str:
        return config.page_access_token.get_secret_value()

    def _send_path(self, config: MessengerConfig) -> str:
        return f"{config.page_id}/messages"

    def _account(self, config: MessengerConfig) -> str:
        return config.page_id

    async def test_connection(
        self, client: httpx.AsyncClient, config: MessengerConfig
    ) -> ConnectionInfo:
        data = await self._graph(
            client, config, "GET", "me", idempotent=True, params={"fields": "id,name"}
        )
        return ConnectionInfo(
            ok=True, account_id=str(data.get("id")), display_name=data.get("name")
        )

    async def register_webhook(
        self, client: httpx.AsyncClient, config: MessengerConfig, url: str
    ) -> WebhookInfo:
        """Subscribe the Page to the app; the callback URL is set in the app dashboard."""
        await self._graph(
            client,
            config,
            "POST",
            f"{config.page_id}/subscribed_apps",
            idempotent=True,
            params={"subscribed_fields": SUBSCRIBED_FIELDS},
        )
        return WebhookInfo(url=url, active=True, details={"callback": "set in the Meta dashboard"})

    async def unregister_webhook(self, client: httpx.AsyncClient, config: MessengerConfig) -> None:
        await self._graph(
            client, config, "DELETE", f"{config.page_id}/subscribed_apps", idempotent=True
        )

    async def list_chats(
        self, client: httpx.AsyncClient, config: MessengerConfig, *, cursor: str | None = None
    ) -> HistoryPage[ChatSummary]:
        return await self._conversations(client, config, config.page_id, "messenger", cursor)
