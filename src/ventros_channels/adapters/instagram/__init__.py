"""Instagram messaging adapter (Instagram Direct for professional accounts).

Two token flavours, picked by ``InstagramConfig.login``:

* ``"facebook"``: the Messenger API for Instagram. The account is linked to a Facebook Page,
  the token is that Page's access token, requests go to ``graph.facebook.com`` and the webhook
  signing key is the Facebook app secret.
* ``"instagram"``: the Instagram API with Instagram Login. No Page is needed, the token is an
  Instagram User token (60 days, refreshable), requests go to ``graph.instagram.com`` and the
  signing key is the *Instagram* app secret, which differs from the Facebook one.

Webhooks are ``object=instagram``; ``account_id`` is the Instagram account id. Seen receipts
name the last message seen (no watermark), there are no delivery receipts, ``is_deleted``
messages become :class:`MessageDeleted`, comments (``changes[]``) are not DMs and come out as
:class:`Unsupported`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from ventros_channels.adapters.base import (
    Capability,
    ChatSummary,
    ConnectionInfo,
    HistoryPage,
    WebhookInfo,
)
from ventros_channels.adapters.instagram.config import InstagramConfig
from ventros_channels.adapters.messenger import PageMessagingAdapter
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.domain.types import ChannelType
from ventros_channels.errors import CapabilityNotSupportedError
from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.outbound import (
    ButtonsMessage,
    MarkAsRead,
    MediaMessage,
    OutboundMessage,
    Reaction,
    TextMessage,
    Typing,
)
from ventros_channels.messaging.window import INSTAGRAM_WINDOW, MessagingWindowRule

__all__ = ["InstagramAdapter"]

IG_FIELDS = "messages,messaging_postbacks,messaging_seen,message_reactions,messaging_referral"


class InstagramAdapter(PageMessagingAdapter[InstagramConfig]):
    """Instagram Direct messages of one professional account."""

    channel_type: ClassVar[ChannelType] = ChannelType.INSTAGRAM
    config_model: ClassVar[type[ChannelConfig]] = InstagramConfig
    graph_object: ClassVar[str] = "instagram"
    display_name: ClassVar[str] = "Instagram messaging"
    messaging_window: ClassVar[MessagingWindowRule | None] = INSTAGRAM_WINDOW
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.INBOUND_MEDIA,
            Capability.OUTBOUND_MEDIA,
            Capability.MEDIA_DOWNLOAD,
            Capability.REACTIONS,
            Capability.INTERACTIVE,
            Capability.READ_RECEIPTS,
            Capability.TYPING,
            Capability.HISTORY_IMPORT,
            Capability.WEBHOOK_REGISTRATION,
        }
    )
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset(
        {MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.DOCUMENT}
    )

    seen_has_mid: ClassVar[bool] = True

    @staticmethod
    def _token(config: InstagramConfig) -> str:
        return config.access_token.get_secret_value()

    def _owner(self, config: InstagramConfig) -> str:
        if config.login == "instagram":
            return "me"
        return str(config.page_id or config.account_id)

    def _send_path(self, config: InstagramConfig) -> str:
        return f"{self._owner(config)}/messages"

    def _account(self, config: InstagramConfig) -> str:
        return str(config.account_id)

    def _message_body(self, message: OutboundMessage) -> dict[str, Any]:
        body: dict[str, Any] = {"recipient": {"id": message.to}}
        if message.tag:
            if message.tag != "HUMAN_AGENT":
                raise CapabilityNotSupportedError("instagram", f"message tag {message.tag}")
            body["messaging_type"] = "MESSAGE_TAG"
            body["tag"] = message.tag
        return body

    def _build(self, message: OutboundMessage) -> dict[str, Any]:
        if isinstance(message, Reaction):
            if message.emoji is None:
                return {
                    "recipient": {"id": message.to},
                    "sender_action": "unreact",
                    "payload": {"message_id": message.message_id},
                }
            return {
                "recipient": {"id": message.to},
                "sender_action": "react",
                "payload": {"message_id": message.message_id, "reaction": message.emoji},
            }
        if isinstance(message, TextMessage | ButtonsMessage | MediaMessage | Typing | MarkAsRead):
            return super()._build(message)
        raise CapabilityNotSupportedError("instagram", f"send {message.kind}")

    async def test_connection(
        self, client: httpx.AsyncClient, config: InstagramConfig
    ) -> ConnectionInfo:
        if config.login == "instagram":
            data = await self._graph(
                client, config, "GET", "me", idempotent=True, params={"fields": "user_id,username"}
            )
            return ConnectionInfo(
                ok=True, account_id=str(data.get("user_id")), display_name=data.get("username")
            )
        owner = config.page_id or config.account_id
        data = await self._graph(
            client,
            config,
            "GET",
            str(owner),
            idempotent=True,
            params={"fields": "instagram_business_account{id,username}"},
        )
        account = data.get("instagram_business_account") or {}
        return ConnectionInfo(
            ok=True,
            account_id=str(account.get("id") or config.account_id),
            display_name=account.get("username"),
        )

    async def register_webhook(
        self, client: httpx.AsyncClient, config: InstagramConfig, url: str
    ) -> WebhookInfo:
        """Subscribe the account (or its Page) to the app; the callback URL is set in the
        app dashboard.
        """
        await self._graph(
            client,
            config,
            "POST",
            f"{self._owner(config)}/subscribed_apps",
            idempotent=True,
            params={"subscribed_fields": IG_FIELDS},
        )
        return WebhookInfo(url=url, active=True, details={"callback": "set in the Meta dashboard"})

    async def unregister_webhook(self, client: httpx.AsyncClient, config: InstagramConfig) -> None:
        await self._graph(
            client, config, "DELETE", f"{self._owner(config)}/subscribed_apps", idempotent=True
        )

    async def list_chats(
        self, client: httpx.AsyncClient, config: InstagramConfig, *, cursor: str | None = None
    ) -> HistoryPage[ChatSummary]:
        return await self._conversations(client, config, self._owner(config), "instagram", cursor)
