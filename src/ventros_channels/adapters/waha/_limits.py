"""What WAHA accepts in one outbound message, each number with the page that states it.

WAHA hands messages to WhatsApp Web, which publishes no sizes of its own; only the size of a
poll is described (by WhatsApp Web API vendors, as WhatsApp's cap of 12 options). Everything
else is left to WhatsApp to refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ventros_channels.messaging.limits import OutboundLimits

__all__ = ["LIMIT_SOURCES", "OUTBOUND_LIMITS"]

OUTBOUND_LIMITS = OutboundLimits(poll_options_max=12)

LIMIT_SOURCES: Mapping[str, str] = MappingProxyType(
    {"poll_options_max": "https://green-api.com/docs/api/sending/SendPoll/"}
)
"""Where each limit of :data:`OUTBOUND_LIMITS` is documented, by limit name."""
