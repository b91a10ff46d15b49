"""What WhatsApp Cloud accepts in one outbound message, and when it accepts free-form messages.

:data:`OUTBOUND_LIMITS` is the adapter's ``outbound_limits`` and :data:`MESSAGING_WINDOW` its
``messaging_window``; both are checked by the channel service before any request. Every number
has the page of Meta's documentation that states it in :data:`LIMIT_SOURCES`. Limits Meta
enforces by cutting (reply-button titles are shortened, not refused) are left unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.limits import OutboundLimits
from ventros_channels.messaging.window import ACTIONS, MessagingWindowRule

__all__ = ["LIMIT_SOURCES", "MESSAGING_WINDOW", "OUTBOUND_LIMITS"]

_MB = 1024 * 1024
_KB = 1024

OUTBOUND_LIMITS = OutboundLimits(
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
    contacts_max=257,
)
"""The sizes and counts Meta documents for ``POST /{phone_number_id}/messages``."""

_WA = "https://developers.facebook.com/documentation/business-messaging/whatsapp"
_BUTTONS = f"{_WA}/messages/interactive-reply-buttons-messages"
_LIST = f"{_WA}/messages/interactive-list-messages"

LIMIT_SOURCES: Mapping[str, str] = MappingProxyType(
    {
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
        "contacts_max": f"{_WA}/messages/contacts-messages",
    }
)
"""Where each limit of :data:`OUTBOUND_LIMITS` is documented, by limit name."""

MESSAGING_WINDOW = MessagingWindowRule(
    free_form=timedelta(hours=24), exempt_kinds=ACTIONS | {"template"}
)
"""Free-form messages for 24 hours after the customer's last message (Meta's customer service
window, error 131047 past it); approved templates, read receipts and typing indicators at any
time. Source: https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/send-messages#customer-service-windows"""
