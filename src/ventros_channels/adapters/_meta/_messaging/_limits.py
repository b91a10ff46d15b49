"""What the Send API limits the same way on Messenger and Instagram.

Each platform's ``_limits`` module builds its :class:`OutboundLimits` and messaging window from
these and its own numbers, each with the page that states it.
"""

from __future__ import annotations

from datetime import timedelta

from ventros_channels.messaging.inbound import MediaKind

__all__ = ["CUSTOMER_WINDOW", "HUMAN_AGENT_WINDOW", "NO_CAPTIONS", "QUICK_REPLIES_MAX"]

NO_CAPTIONS = frozenset(MediaKind)
"""A Send API attachment carries no caption: text goes out as a message of its own, so a
caption is refused rather than dropped."""

QUICK_REPLIES_MAX = 13
"""Quick replies on one message (``ButtonsMessage`` buttons)."""

CUSTOMER_WINDOW = timedelta(hours=24)
"""Free-form messages are accepted for 24 hours after the customer's last message."""

HUMAN_AGENT_WINDOW = timedelta(days=7)
"""A ``HUMAN_AGENT``-tagged message (a person answering) is accepted for 7 days."""
