"""The Messenger Platform: the webhook format and Send / Conversations APIs that Messenger
and Instagram messaging share.

:class:`MessagingAdapter` carries the operations; each platform's package states what differs
as data: its :class:`~._inbound.Dialect` (event fields, attachment types, message flags,
changes), its encoder table and :class:`~._outbound.Addressing`, the fields it subscribes to,
and whose id owns the conversations (:meth:`MessagingAdapter._owner`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar, cast

import httpx

from ventros_channels.adapters._meta import GraphAdapter
from ventros_channels.adapters._meta._messaging._history import (
    HISTORY_FIELDS,
    chat_summary,
    history_message,
)
from ventros_channels.adapters._meta._messaging._inbound import Dialect, parse_entries
from ventros_channels.adapters._meta._messaging._outbound import Addressing, Encoder, encode
from ventros_channels.adapters._meta._messaging._payloads import HistoryMessage
from ventros_channels.adapters._meta._messaging._profile import ProfileLookup, check_scoped_id
from ventros_channels.adapters._meta.config import GraphConfig
from ventros_channels.adapters.base import (
    MALFORMED,
    Capability,
    ChatSummary,
    ContactProfile,
    HistoryPage,
    MediaContent,
    WebhookInfo,
)
from ventros_channels.errors import InvalidRequestError
from ventros_channels.messaging.inbound import Attachment, InboundEvent
from ventros_channels.messaging.outbound import OutboundMessage, SendResult
from ventros_channels.ratelimit import RateLimit

__all__ = ["MessagingAdapter"]

C = TypeVar("C", bound=GraphConfig)


class MessagingAdapter(GraphAdapter[C], Generic[C]):
    """Base of the Messenger and Instagram adapters."""

    dialect: ClassVar[Dialect]
    """The platform's inbound tables."""
    encoders: ClassVar[Mapping[type[OutboundMessage], Encoder]]
    """The platform's outbound table."""
    addressing: ClassVar[Addressing]
    subscribed_fields: ClassVar[str]
    """Webhook fields the account is subscribed to by :meth:`register_webhook`."""
    conversations_platform: ClassVar[str]
    """``platform`` of the Conversations API listing."""
    profile: ClassVar[ProfileLookup]
    """The platform's User Profile API fields and how its answer is read."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.INBOUND_MEDIA,
            Capability.OUTBOUND_MEDIA,
            Capability.MEDIA_DOWNLOAD,
            Capability.INTERACTIVE,
            Capability.READ_RECEIPTS,
            Capability.TYPING,
            Capability.REACTIONS,
            Capability.HISTORY_IMPORT,
            Capability.WEBHOOK_REGISTRATION,
            Capability.PROFILES,
        }
    )
    """What both platforms offer; each adds its own (Messenger reports the customer's edits).
    Neither delivers typing events, nor lets a sent message be edited or deleted."""

    rate_limits: ClassVar[tuple[RateLimit, ...]] = (
        # Send API per Page (or Instagram account): 300 calls a second, 10 for audio/video
        RateLimit("channel", 300, 1.0),
        RateLimit("channel", 10, 1.0, media_kinds=frozenset({"audio", "voice", "video"})),
    )

    def _owner(self, config: C) -> str:
        """The node that sends and owns the conversations (Page, account or ``me``)."""
        raise NotImplementedError

    def _account(self, config: C) -> str:
        """The id webhooks name as ``entry.id`` (our side of every conversation)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ sans-IO

    def parse(self, body: bytes, config: C | None = None) -> list[InboundEvent]:
        return parse_entries(self, self.dialect, self._envelope(body))

    # ------------------------------------------------------------------ network

    async def send(
        self, client: httpx.AsyncClient, config: C, message: OutboundMessage
    ) -> SendResult:
        body = encode(self.encoders, self.addressing, message)
        action = "sender_action" in body  # repeating an action is harmless: retry freely
        answer = await self._graph(
            client,
            config,
            "POST",
            f"{self._owner(config)}/messages",
            idempotent=action,
            json_body=body,
        )
        return SendResult(
            message_id=answer.get("message_id"),
            chat_id=answer.get("recipient_id") or message.to,
            raw=answer,
        )

    async def register_webhook(self, client: httpx.AsyncClient, config: C, url: str) -> WebhookInfo:
        """Subscribe the Page / account to the app; the callback URL is set in the app
        dashboard."""
        await self._graph(
            client,
            config,
            "POST",
            f"{self._owner(config)}/subscribed_apps",
            idempotent=True,
            params={"subscribed_fields": self.subscribed_fields},
        )
        return WebhookInfo(url=url, active=True, details={"callback": "set in the Meta dashboard"})

    async def unregister_webhook(self, client: httpx.AsyncClient, config: C) -> None:
        await self._graph(
            client, config, "DELETE", f"{self._owner(config)}/subscribed_apps", idempotent=True
        )

    async def list_chats(
        self, client: httpx.AsyncClient, config: C, *, cursor: str | None = None
    ) -> HistoryPage[ChatSummary]:
        items, after = await self._page(
            client,
            config,
            f"{self._owner(config)}/conversations",
            {"platform": self.conversations_platform, "fields": "id,updated_time"},
            cursor,
        )
        chats = (chat_summary(c) for c in items if isinstance(c, dict))
        return HistoryPage(tuple(c for c in chats if c is not None), after)

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
            {"fields": HISTORY_FIELDS, "limit": limit},
            cursor,
        )
        account = self._account(config)
        return HistoryPage(tuple(self._history_item(i, account, chat_id) for i in items), after)

    def _history_item(self, item: Any, account: str, conversation: str) -> InboundEvent:
        try:
            message = cast(HistoryMessage, item)
            key = self.event_key(account, "msg", message["id"])
            return history_message(str(self.channel_type), key, message, account, conversation)
        except MALFORMED as exc:
            reason = f"malformed ({type(exc).__name__})"
            mid = item.get("id") if isinstance(item, dict) else None
            return self._unsupported(
                item,
                account,
                "",
                datetime.now(UTC),
                reason,
                message_id=str(mid) if isinstance(mid, str | int) else None,
            )

    async def fetch_profile(
        self, client: httpx.AsyncClient, config: C, user_id: str
    ) -> ContactProfile:
        """The User Profile API's answer for a scoped id (PSID, IGSID). Meta answers only for
        people who wrote to the account (or opened it from a button or menu); otherwise it
        refuses, which raises :class:`PermissionDeniedError`. The access token travels in the
        ``Authorization`` header only, so it is never part of the profile or an error."""
        path = check_scoped_id(user_id)
        answer = await self._graph(
            client, config, "GET", path, idempotent=True, params={"fields": self.profile.fields}
        )
        if not isinstance(answer, dict):
            raise InvalidRequestError(
                "profile answer is not an object", platform=str(self.channel_type)
            )
        return self.profile.read(user_id, answer)

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
