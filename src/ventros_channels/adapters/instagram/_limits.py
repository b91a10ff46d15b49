"""Instagram's published limits on outbound messages and its messaging window, each with the
page that states it.

Text is counted in UTF-8 bytes (1000), not characters; quick-reply titles past 20 characters
are cut by Meta, so they are not refused here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ventros_channels.adapters._meta._messaging._limits import (
    CUSTOMER_WINDOW,
    HUMAN_AGENT_WINDOW,
    NO_CAPTIONS,
    QUICK_REPLIES_MAX,
)
from ventros_channels.messaging.limits import LengthUnit, OutboundLimits
from ventros_channels.messaging.window import MessagingWindowRule

__all__ = ["INSTAGRAM_LIMITS", "INSTAGRAM_WINDOW", "LIMIT_SOURCES", "WINDOW_SOURCE"]

_SEND = "https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message"

INSTAGRAM_LIMITS = OutboundLimits(
    text_max=1000,
    text_unit=LengthUnit.UTF8_BYTES,
    captionless_kinds=NO_CAPTIONS,
    buttons_max=QUICK_REPLIES_MAX,
)

LIMIT_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "text_max": _SEND,
        "captionless_kinds": _SEND,
        "buttons_max": "https://developers.facebook.com/docs/messenger-platform/instagram/features/quick-replies/",
    }
)
"""Where each limit of :data:`INSTAGRAM_LIMITS` is documented, by limit name."""

INSTAGRAM_WINDOW = MessagingWindowRule(
    free_form=CUSTOMER_WINDOW, tags={"HUMAN_AGENT": HUMAN_AGENT_WINDOW}
)
"""24 hours after the customer's last message; then only ``HUMAN_AGENT`` for 7 days
(Instagram takes no other tag)."""

WINDOW_SOURCE = _SEND
