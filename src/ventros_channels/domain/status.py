"""The channel status state machine: a table of allowed moves and one check.

Staying in the same status is never a transition: the aggregate treats it as a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ventros_channels.domain.types import ChannelStatus
from ventros_channels.errors import InvalidTransitionError

__all__ = ["TRANSITIONS", "can_transition", "check_transition"]

_S = ChannelStatus

TRANSITIONS: Mapping[ChannelStatus, frozenset[ChannelStatus]] = MappingProxyType(
    {
        # a new channel is inactive; activation may go through connecting (WAHA QR pairing)
        _S.INACTIVE: frozenset({_S.CONNECTING, _S.ACTIVE}),
        _S.CONNECTING: frozenset({_S.ACTIVE, _S.DISCONNECTED, _S.ERROR, _S.INACTIVE}),
        # active -> connecting: the platform asks to pair again (WAHA SCAN_QR_CODE)
        _S.ACTIVE: frozenset({_S.INACTIVE, _S.CONNECTING, _S.DISCONNECTED, _S.ERROR}),
        _S.DISCONNECTED: frozenset({_S.CONNECTING, _S.ACTIVE, _S.ERROR, _S.INACTIVE}),
        _S.ERROR: frozenset({_S.CONNECTING, _S.ACTIVE, _S.DISCONNECTED, _S.INACTIVE}),
    }
)
"""Allowed status changes: ``TRANSITIONS[from_status]`` is the set of reachable statuses."""


def can_transition(from_status: ChannelStatus, to_status: ChannelStatus) -> bool:
    """True if the table allows moving from ``from_status`` to ``to_status``."""
    return to_status in TRANSITIONS[from_status]


def check_transition(from_status: ChannelStatus, to_status: ChannelStatus) -> None:
    """Raise :class:`InvalidTransitionError` unless the move is in the table."""
    if not can_transition(from_status, to_status):
        raise InvalidTransitionError(from_status.value, to_status.value)
