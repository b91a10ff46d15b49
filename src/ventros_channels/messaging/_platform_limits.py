"""The built-in platforms' outbound limits, each number with the page that states it.

TO BE MOVED: each platform's entry belongs in its package (``adapters/<platform>/``) as the
adapter's ``outbound_limits`` class attribute, with its sources next to it. Until the
platform packages declare them, :func:`ventros_channels.capabilities.limits_of` falls back to
this table for the built-in adapters that declare none. Delete an entry once its package
declares it; the test of this module checks that every number has a source.

A limit the platform enforces by cutting instead of refusing is left out (Meta cuts quick
reply titles past 20 characters), and so is one no documentation states.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.limits import LengthUnit, OutboundLimits

__all__ = ["BUILT_IN_LIMITS", "SOURCES"]

_MB = 1024 * 1024
_KB = 1024

_TG = "https://core.telegram.org/bots/api"
TELEGRAM = OutboundLimits(
    text_max=4096,
    caption_max=1024,
    captionless_kinds=frozenset({MediaKind.STICKER, MediaKind.VIDEO_NOTE}),
    media_max_bytes={
        MediaKind.IMAGE: 10 * _MB,
        **{
            k: 50 * _MB
            for k in (
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
_TELEGRAM_SOURCES = {
    "text_max": f"{_TG}#sendmessage",
    "caption_max": f"{_TG}#sendphoto",
    "captionless_kinds": f"{_TG}#sendsticker",
    "media_max_bytes": f"{_TG}#sending-files",
    "button_id_max": f"{_TG}#inlinekeyboardbutton",
    "row_id_max": f"{_TG}#inlinekeyboardbutton",
    "poll_question_max": f"{_TG}#sendpoll",
    "poll_options_max": f"{_TG}#sendpoll",
    "poll_option_max": f"{_TG}#inputpolloption",
    "contacts_max": f"{_TG}#sendcontact",
}

_NO_CAPTIONS = frozenset(MediaKind)
"""Meta's Send API attachments carry no caption: the text goes out as its own message."""

MESSENGER = OutboundLimits(text_max=2000, captionless_kinds=_NO_CAPTIONS, buttons_max=13)
_MESSENGER_SOURCES = {
    "text_max": "https://developers.facebook.com/docs/messenger-platform/reference/send-api/",
    "captionless_kinds": "https://developers.facebook.com/docs/messenger-platform/reference/send-api/",
    "buttons_max": "https://developers.facebook.com/docs/messenger-platform/send-messages/quick-replies/",
}

INSTAGRAM = OutboundLimits(
    text_max=1000,
    text_unit=LengthUnit.UTF8_BYTES,
    captionless_kinds=_NO_CAPTIONS,
    buttons_max=13,
)
_INSTAGRAM_SOURCES = {
    "text_max": "https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message",
    "captionless_kinds": "https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message",
    "buttons_max": "https://developers.facebook.com/docs/messenger-platform/instagram/features/quick-replies/",
}

WAHA = OutboundLimits(poll_options_max=12)
"""WAHA passes messages to WhatsApp Web, which publishes no limits of its own; only the
poll size is described (by WhatsApp Web API vendors, as WhatsApp's cap of 12 options)."""
_WAHA_SOURCES = {
    "poll_options_max": "https://green-api.com/docs/api/sending/SendPoll/",
}

BUILT_IN_LIMITS: Mapping[str, OutboundLimits] = MappingProxyType(
    {
        "telegram": TELEGRAM,
        "messenger": MESSENGER,
        "instagram": INSTAGRAM,
        "waha": WAHA,
    }
)
"""Limits per built-in channel type (the adapters' ``channel_type``)."""

SOURCES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "telegram": _TELEGRAM_SOURCES,
        "messenger": _MESSENGER_SOURCES,
        "instagram": _INSTAGRAM_SOURCES,
        "waha": _WAHA_SOURCES,
    }
)
"""Where each set limit of :data:`BUILT_IN_LIMITS` is documented, by limit name."""
