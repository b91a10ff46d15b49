"""Facebook Messenger adapter (Messenger Platform on a Page).

Webhooks are ``object=page`` batches of ``entry[].messaging[]`` (or ``standby[]`` when
another app owns the thread). ``account_id`` is the Page id; ``chat_id`` is always the
customer's PSID, also for echoes of what the Page sent. Delivery and read receipts are
watermarks: :class:`StatusChanged` carries ``watermark`` (and the mids when Meta lists them),
and is dated by it when Meta sends no ``timestamp``.

History comes from the Conversations API: :meth:`list_chats` yields conversation ids,
:meth:`fetch_history` pages through one conversation's messages (newest first). Only the most
recent messages of a thread come with details.
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from ventros_channels.adapters._meta._messaging import MessagingAdapter
from ventros_channels.adapters._meta._messaging._outbound import OUT_MEDIA
from ventros_channels.adapters.base import Capability, ConnectionInfo
from ventros_channels.adapters.messenger._inbound import DIALECT
from ventros_channels.adapters.messenger._limits import MESSAGING_WINDOW, OUTBOUND_LIMITS
from ventros_channels.adapters.messenger._outbound import ADDRESSING, ENCODERS
from ventros_channels.adapters.messenger._profile import PROFILE
from ventros_channels.adapters.messenger.config import MessengerConfig
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.domain.types import ChannelType
from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.limits import OutboundLimits
from ventros_channels.messaging.window import MessagingWindowRule

__all__ = ["SUBSCRIBED_FIELDS", "MessengerAdapter", "MessengerConfig"]

SUBSCRIBED_FIELDS = (
    "messages,messaging_postbacks,message_deliveries,message_reads,message_echoes,"
    "message_reactions,message_edits,messaging_referrals"
)


class MessengerAdapter(MessagingAdapter[MessengerConfig]):
    """Messenger conversations of one Facebook Page."""

    channel_type: ClassVar[ChannelType] = ChannelType.MESSENGER
    config_model: ClassVar[type[ChannelConfig]] = MessengerConfig
    graph_object: ClassVar[str] = "page"
    display_name: ClassVar[str] = "Facebook Messenger"
    messaging_window: ClassVar[MessagingWindowRule | None] = MESSAGING_WINDOW
    outbound_limits: ClassVar[OutboundLimits] = OUTBOUND_LIMITS
    capabilities: ClassVar[frozenset[Capability]] = MessagingAdapter.capabilities | {
        Capability.EDITS
    }
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset({*OUT_MEDIA, MediaKind.STICKER})
    """Every Send API attachment kind, and stickers by Meta's catalog ``sticker_id``
    (``MediaMessage.media_id``)."""
    dialect = DIALECT
    encoders = ENCODERS
    addressing = ADDRESSING
    subscribed_fields = SUBSCRIBED_FIELDS
    profile = PROFILE
    conversations_platform = "messenger"

    @staticmethod
    def _token(config: MessengerConfig) -> str:
        return config.page_access_token.get_secret_value()

    def _owner(self, config: MessengerConfig) -> str:
        return config.page_id

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
