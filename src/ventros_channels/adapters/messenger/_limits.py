"""Messenger's published limits on outbound messages and its messaging window, each with the
page that states it.

A limit Meta enforces by cutting instead of refusing is left out (quick-reply titles past 20
characters are cut, so the encoder cuts them first).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ventros_channels.adapters._meta._messaging._limits import customer_window, send_api_limits

__all__ = ["LIMIT_SOURCES", "MESSAGING_WINDOW", "OUTBOUND_LIMITS", "WINDOW_SOURCE"]

_SEND_API = "https://developers.facebook.com/docs/messenger-platform/reference/send-api/"

OUTBOUND_LIMITS = send_api_limits(text_max=2000)

LIMIT_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "text_max": _SEND_API,
        "captionless_kinds": _SEND_API,
        "buttons_max": "https://developers.facebook.com/docs/messenger-platform/send-messages/quick-replies/",
    }
)
"""Where each limit of :data:`OUTBOUND_LIMITS` is documented, by limit name."""

MESSAGING_WINDOW = customer_window(
    {"ACCOUNT_UPDATE": None, "CONFIRMED_EVENT_UPDATE": None, "POST_PURCHASE_UPDATE": None}
)
"""The standard 24-hour window; outside it only tagged messages: ``HUMAN_AGENT`` for 7 days
after the customer's last message (a person answering; the Page needs Meta's Human Agent
permission), the three update tags at any time."""

WINDOW_SOURCE = (
    "https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags/"
)
