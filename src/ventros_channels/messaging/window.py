"""Messaging windows: how long after a customer's last message a business may write freely.

WhatsApp Cloud, Messenger and Instagram accept free-form messages only for a while after the
customer last wrote (24 hours); after that only some kinds go through (a WhatsApp template,
a Messenger/Instagram message with a tag). Each adapter declares its platform's rule as data
(:attr:`~ventros_channels.adapters.base.ChannelAdapter.messaging_window`); the channel service
checks it against the chat's last inbound time before any request, so a send the platform
would refuse is refused here with :class:`~ventros_channels.errors.MessagingWindowClosedError`.

Pure values, no IO: time is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

import attrs

__all__ = ["ACTIONS", "MessagingWindow", "MessagingWindowRule"]

ACTIONS: frozenset[str] = frozenset({"mark_as_read", "typing"})
"""Outbound kinds that deliver no content (read receipts, typing indicators): no window applies."""


def _frozen_tags(value: Mapping[str, timedelta | None]) -> Mapping[str, timedelta | None]:
    return MappingProxyType(dict(value))


def _positive(_: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if value <= timedelta(0):
        raise ValueError(f"{attribute.name} must be a positive duration")


@attrs.frozen
class MessagingWindowRule:
    """A platform's rule for writing to a customer, declared by its adapter.

    ``free_form``: how long after the customer's last inbound message anything may be sent.
    ``exempt_kinds``: outbound kinds allowed at any time (a WhatsApp template, actions).
    ``tags``: message tags that extend the window (``None``: the tag is allowed at any time);
    a message carrying one of them is allowed until ``last inbound + tag window``.
    """

    free_form: timedelta = attrs.field(validator=_positive)
    exempt_kinds: frozenset[str] = ACTIONS
    tags: Mapping[str, timedelta | None] = attrs.field(
        factory=dict, converter=_frozen_tags, eq=False, hash=False
    )

    def _until(self, tag: str | None, last_inbound_at: datetime | None) -> datetime | None:
        """When a message with ``tag`` stops being allowed (``None``: never allowed)."""
        if last_inbound_at is None:
            return None
        extra = self.tags.get(tag) if tag is not None else None
        return last_inbound_at + max(extra or self.free_form, self.free_form)

    def allows(
        self, kind: str, tag: str | None, last_inbound_at: datetime | None, now: datetime
    ) -> bool:
        """Whether a message of ``kind`` (carrying ``tag``) may be sent at ``now``."""
        if kind in self.exempt_kinds:
            return True
        if tag is not None and tag in self.tags and self.tags[tag] is None:
            return True
        until = self._until(tag, last_inbound_at)
        return until is not None and now < until

    def window(self, last_inbound_at: datetime | None, now: datetime) -> MessagingWindow:
        """The state of a chat's window at ``now``."""
        closes = None if last_inbound_at is None else last_inbound_at + self.free_form
        return MessagingWindow(
            restricted=True,
            last_inbound_at=last_inbound_at,
            closes_at=closes,
            open=closes is not None and now < closes,
            allowed_when_closed=tuple(sorted(self.exempt_kinds)),
            tags=tuple(sorted(self.tags)),
        )


@attrs.frozen
class MessagingWindow:
    """Whether a chat can be written to freely now, as the host sees it.

    ``restricted`` is ``False`` on platforms without a window (Telegram, WAHA): then ``open``
    is always ``True``. ``closes_at`` is when free-form messages stop being accepted
    (``None`` when the customer never wrote, as far as the library saw). When closed, only
    ``allowed_when_closed`` kinds, or messages with one of ``tags`` (within the tag's own
    window), go through.
    """

    restricted: bool
    last_inbound_at: datetime | None
    closes_at: datetime | None
    open: bool
    allowed_when_closed: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @classmethod
    def unrestricted(cls, last_inbound_at: datetime | None) -> MessagingWindow:
        """The window of a platform that has none."""
        return cls(restricted=False, last_inbound_at=last_inbound_at, closes_at=None, open=True)
