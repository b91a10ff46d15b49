"""Instagram's published limits on outbound messages and its messaging window, each with the
page that states it.

Text is counted in UTF-8 bytes (1000), not characters; quick-reply titles past 20 characters
are cut by Meta, so they are not refused here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ventros_channels.adapters._meta._messaging._limits import customer_window, send_api_limits
from ventros_channels.messaging.limits import LengthUnit

__all__ = ["LIMIT_SOURCES", "MESSAGING_WINDOW", "OUTBOUND_LIMITS", "WINDOW_SOURCE"]

_SEND = "https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message"

OUTBOUND_LIMITS = send_api_limits(text_max=1000, text_unit=LengthUnit.UTF8_BYTES)

LIMIT_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "text_max": _SEND,
        "captionless_kinds": _SEND,
        "buttons_max": "https://developers.facebook.com/docs/messenger-platform/instagram/features/quick-replies/",
    }
)
"""Where each limit of :data:`OUTBOUND_LIMITS` is documented, by limit name."""

MESSAGING_WINDOW = customer_window({})
"""24 hours after the customer's last message; then only ``HUMAN_AGENT`` for 7 days
(Instagram takes no other tag)."""

WINDOW_SOURCE = _SEND
