"""The Bot API's sizes and counts for outbound messages, each with the page that states it.

The adapter declares them as ``TelegramAdapter.outbound_limits``; the service checks every send
against them before the request. Text with a ``parse_mode`` is not measured: Telegram counts it
after removing the markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.limits import LengthUnit, OutboundLimits

__all__ = ["LIMIT_SOURCES", "OUTBOUND_LIMITS"]

_MB = 1024 * 1024
_API = "https://core.telegram.org/bots/api"

OUTBOUND_LIMITS = OutboundLimits(
    text_max=4096,
    caption_max=1024,
    captionless_kinds=frozenset({MediaKind.STICKER, MediaKind.VIDEO_NOTE}),
    media_max_bytes={
        MediaKind.IMAGE: 10 * _MB,
        **{
            kind: 50 * _MB
            for kind in (
                MediaKind.VIDEO,
                MediaKind.AUDIO,
                MediaKind.VOICE,
                MediaKind.DOCUMENT,
                MediaKind.ANIMATION,
                MediaKind.VIDEO_NOTE,
                MediaKind.STICKER,
            )
        },
    },
    button_id_max=64,
    row_id_max=64,
    id_unit=LengthUnit.UTF8_BYTES,
    poll_question_max=300,
    poll_options_max=12,
    poll_option_max=100,
    contacts_max=1,
)
"""``contacts_max`` is 1 because ``sendContact`` carries one phone contact: a message with
several cards is refused before any request instead of being split into several messages
(which would give one send several results, half of them lost if a later call failed)."""

LIMIT_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "text_max": f"{_API}#sendmessage",
        "caption_max": f"{_API}#sendphoto",
        "captionless_kinds": f"{_API}#sendsticker",
        "media_max_bytes": f"{_API}#sending-files",
        "button_id_max": f"{_API}#inlinekeyboardbutton",
        "row_id_max": f"{_API}#inlinekeyboardbutton",
        "poll_question_max": f"{_API}#sendpoll",
        "poll_options_max": f"{_API}#sendpoll",
        "poll_option_max": f"{_API}#inputpolloption",
        "contacts_max": f"{_API}#sendcontact",
    }
)
"""Where each limit of :data:`OUTBOUND_LIMITS` is documented, by limit name."""
