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

_WA = "https://developers.facebook.com/documentation/business-messaging/whatsapp"
WHATSAPP_CLOUD = OutboundLimits(
    text_max=4096,
    caption_max=1024,
    captionless_kinds=frozenset({MediaKind.AUDIO, MediaKind.VOICE, MediaKind.STICKER}),
    media_max_bytes={
        MediaKind.IMAGE: 5 * _MB,
        MediaKind.VIDEO: 16 * _MB,
        MediaKind.AUDIO: 16 * _MB,
        MediaKind.VOICE: 16 * _MB,
        MediaKind.DOCUMENT: 100 * _MB,
        MediaKind.STICKER: 500 * _KB,
    },
    interactive_text_max=1024,
    header_max=60,
    footer_max=60,
    buttons_max=3,
    button_title_max=20,
    button_id_max=256,
    list_button_text_max=20,
    list_sections_max=10,
    list_rows_max=10,
    section_title_max=24,
    row_title_max=24,
    row_description_max=72,
    row_id_max=200,
)
_BUTTONS = f"{_WA}/messages/interactive-reply-buttons-messages"
_LIST = f"{_WA}/messages/interactive-list-messages"
_WHATSAPP_SOURCES = {
    "text_max": f"{_WA}/messages/text-messages/",
    "caption_max": f"{_WA}/messages/image-messages/",
    "captionless_kinds": f"{_WA}/messages/audio-messages",
    "media_max_bytes": "https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types",
    "interactive_text_max": _BUTTONS,
    "header_max": _BUTTONS,
    "footer_max": _BUTTONS,
    "buttons_max": _BUTTONS,
    "button_title_max": _BUTTONS,
    "button_id_max": _BUTTONS,
    "list_button_text_max": _LIST,
    "list_sections_max": _LIST,
    "list_rows_max": _LIST,
    "section_title_max": _LIST,
    "row_title_max": _LIST,
    "row_description_max": _LIST,
    "row_id_max": _LIST,
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

BUILT_IN_LIMITS: Mapping[str, OutboundLimits] = MappingProxyType(
    {
        "whatsapp": WHATSAPP_CLOUD,
        "messenger": MESSENGER,
        "instagram": INSTAGRAM,
    }
)
"""Limits per built-in channel type (the adapters' ``channel_type``)."""

SOURCES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "whatsapp": _WHATSAPP_SOURCES,
        "messenger": _MESSENGER_SOURCES,
        "instagram": _INSTAGRAM_SOURCES,
    }
)
"""Where each set limit of :data:`BUILT_IN_LIMITS` is documented, by limit name."""
