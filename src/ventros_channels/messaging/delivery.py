"""Delivery statuses and their order, so out-of-order status webhooks never go backwards."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DeliveryStatus", "merge_status"]


class DeliveryStatus(StrEnum):
    """Progress of an outbound message: ``pending < sent < delivered < read < played``;
    ``failed`` is terminal.
    """

    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_terminal(self) -> bool:
        return self is DeliveryStatus.FAILED


_RANK = {
    DeliveryStatus.PENDING: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
    DeliveryStatus.PLAYED: 4,
    DeliveryStatus.FAILED: 5,
}


def merge_status(current: DeliveryStatus | None, incoming: DeliveryStatus | str) -> DeliveryStatus:
    """The status a message has after ``incoming`` arrives when it had ``current``.

    Never moves backwards (a late ``delivered`` after ``read`` keeps ``read``), and ``failed``
    wins and stays. Commutative and idempotent, so delivery order does not matter.
    """
    new = DeliveryStatus(incoming)
    if current is None:
        return new
    return current if current.rank >= new.rank else new
