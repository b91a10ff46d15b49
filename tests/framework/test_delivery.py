"""Delivery statuses never move backwards, whatever order webhooks arrive in."""

from __future__ import annotations

from functools import reduce

from hypothesis import given
from hypothesis import strategies as st

from ventros_channels.messaging import DeliveryStatus, merge_status

statuses = st.sampled_from(list(DeliveryStatus))


def test_late_delivered_after_read_keeps_read() -> None:
    assert merge_status(DeliveryStatus.READ, "delivered") is DeliveryStatus.READ


def test_failed_is_terminal() -> None:
    assert merge_status(DeliveryStatus.FAILED, "read") is DeliveryStatus.FAILED
    assert merge_status(DeliveryStatus.SENT, "failed") is DeliveryStatus.FAILED


@given(st.lists(statuses, min_size=1))
def test_any_order_gives_the_same_final_status(updates: list[DeliveryStatus]) -> None:
    forward = reduce(merge_status, updates, None)
    backward = reduce(merge_status, reversed(updates), None)
    assert forward == backward == max(updates, key=lambda s: s.rank)


@given(statuses, statuses)
def test_merge_never_lowers_the_rank(current: DeliveryStatus, incoming: DeliveryStatus) -> None:
    merged = merge_status(current, incoming)
    assert merged.rank >= current.rank
    assert merge_status(merged, incoming) is merged
