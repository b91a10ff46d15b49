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
:class:`Unsupported` carrying the comment id, its author and the media id as ``chat_id``.
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from ventros_channels.adapters._meta._messaging import MessagingAdapter
from ventros_channels.adapters.base import ConnectionInfo
from ventros_channels.adapters.instagram._inbound import DIALECT
from ventros_channels.adapters.instagram._limits import MESSAGING_WINDOW, OUTBOUND_LIMITS
from ventros_channels.adapters.instagram._outbound import ADDRESSING, ENCODERS
from ventros_channels.adapters.instagram._profile import PROFILE
from ventros_channels.adapters.instagram.config import InstagramConfig
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.domain.types import ChannelType
from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.limits import OutboundLimits
from ventros_channels.messaging.window import MessagingWindowRule

__all__ = ["IG_FIELDS", "InstagramAdapter", "InstagramConfig"]

IG_FIELDS = "messages,messaging_postbacks,messaging_seen,message_reactions,messaging_referral"


class InstagramAdapter(MessagingAdapter[InstagramConfig]):
    """Instagram Direct messages of one professional account."""

    channel_type: ClassVar[ChannelType] = ChannelType.INSTAGRAM
    config_model: ClassVar[type[ChannelConfig]] = InstagramConfig
    graph_object: ClassVar[str] = "instagram"
    display_name: ClassVar[str] = "Instagram messaging"
    messaging_window: ClassVar[MessagingWindowRule | None] = MESSAGING_WINDOW
    outbound_limits: ClassVar[OutboundLimits] = OUTBOUND_LIMITS
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset(
        {MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.DOCUMENT, MediaKind.STICKER}
    )
    """The only sticker is the heart: ``media_kind=sticker, media_id="like_heart"``."""
    dialect = DIALECT
    encoders = ENCODERS
    addressing = ADDRESSING
    subscribed_fields = IG_FIELDS
    profile = PROFILE
    conversations_platform = "instagram"

    @staticmethod
    def _token(config: InstagramConfig) -> str:
        return config.access_token.get_secret_value()

    def _owner(self, config: InstagramConfig) -> str:
        if config.login == "instagram":
            return "me"
        return str(config.page_id or config.account_id)

    def _account(self, config: InstagramConfig) -> str:
        return str(config.account_id)

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
        data = await self._graph(
            client,
            config,
            "GET",
            self._owner(config),
            idempotent=True,
            params={"fields": "instagram_business_account{id,username}"},
        )
        account = data.get("instagram_business_account") or {}
        return ConnectionInfo(
            ok=True,
            account_id=str(account.get("id") or config.account_id),
            display_name=account.get("username"),
        )
