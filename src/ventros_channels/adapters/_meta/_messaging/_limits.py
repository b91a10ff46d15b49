"""What the Send API limits the same way on Messenger and Instagram.

Each platform's ``_limits`` module builds its :class:`OutboundLimits` and messaging window from
these and its own numbers, each with the page that states it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.limits import LengthUnit, OutboundLimits
from ventros_channels.messaging.window import MessagingWindowRule

__all__ = [
    "CUSTOMER_WINDOW",
    "HUMAN_AGENT_WINDOW",
    "NO_CAPTIONS",
    "QUICK_REPLIES_MAX",
    "customer_window",
    "send_api_limits",
]

NO_CAPTIONS = frozenset(MediaKind)
"""A Send API attachment carries no caption: text goes out as a message of its own, so a
caption is refused rather than dropped."""

QUICK_REPLIES_MAX = 13
"""Quick replies on one message (``ButtonsMessage`` buttons)."""

CUSTOMER_WINDOW = timedelta(hours=24)
"""Free-form messages are accepted for 24 hours after the customer's last message."""

HUMAN_AGENT_WINDOW = timedelta(days=7)
"""A ``HUMAN_AGENT``-tagged message (a person answering) is accepted for 7 days."""


def send_api_limits(text_max: int, text_unit: LengthUnit = LengthUnit.CHARACTERS) -> OutboundLimits:
    """A platform's limits: its own text length, and the Send API's captions and quick replies."""
    return OutboundLimits(
        text_max=text_max,
        text_unit=text_unit,
        captionless_kinds=NO_CAPTIONS,
        buttons_max=QUICK_REPLIES_MAX,
    )


def customer_window(extra_tags: Mapping[str, timedelta | None]) -> MessagingWindowRule:
    """The 24-hour window, ``HUMAN_AGENT`` for 7 days, and the platform's other tags."""
    return MessagingWindowRule(
        free_form=CUSTOMER_WINDOW, tags={"HUMAN_AGENT": HUMAN_AGENT_WINDOW, **extra_tags}
    )
