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

WAHA = OutboundLimits(poll_options_max=12)
"""WAHA passes messages to WhatsApp Web, which publishes no limits of its own; only the
poll size is described (by WhatsApp Web API vendors, as WhatsApp's cap of 12 options)."""
_WAHA_SOURCES = {
    "poll_options_max": "https://green-api.com/docs/api/sending/SendPoll/",
}

BUILT_IN_LIMITS: Mapping[str, OutboundLimits] = MappingProxyType(
    {
        "telegram": TELEGRAM,
        "waha": WAHA,
    }
)
"""Limits per built-in channel type (the adapters' ``channel_type``)."""

SOURCES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "telegram": _TELEGRAM_SOURCES,
        "waha": _WAHA_SOURCES,
    }
)
"""Where each set limit of :data:`BUILT_IN_LIMITS` is documented, by limit name."""
