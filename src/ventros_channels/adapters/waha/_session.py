"""What WAHA's session statuses mean for a channel: the one place that reads them.

The channel aggregate keeps the pairing rules themselves (``record_session_status``: WORKING
activates, STARTING / SCAN_QR_CODE mean connecting, STOPPED disconnects, FAILED is an error;
``update_qr_code`` and its expiry). This module turns a status, read from WAHA or delivered by
webhook, into those calls and tells the caller what pairing needs next.
"""

from __future__ import annotations

from ventros_channels.adapters.base import PairingStep
from ventros_channels.domain.channel import Channel
from ventros_channels.domain.types import WAHASessionStatus

__all__ = ["STOPPED", "apply_status", "current_step"]

STOPPED = WAHASessionStatus.STOPPED
_SCAN = WAHASessionStatus.SCAN_QR_CODE
_WORKING = WAHASessionStatus.WORKING


def current_step(channel: Channel) -> PairingStep:
    """The pairing state recorded on ``channel`` (a channel of another type has none)."""
    session = channel.waha_session
    status = session.status if session is not None else None
    return PairingStep(
        status=status,
        wants_qr_code=status is not _WORKING and channel.needs_new_qr_code(),
        stopped=status is STOPPED,
    )


def apply_status(channel: Channel, status: str) -> PairingStep:
    """Record ``status`` on the channel; a fresh QR code is wanted whenever WAHA waits for a
    scan (SCAN_QR_CODE) or the stored code has expired while the session is not paired.

    Raises :class:`~ventros_channels.errors.UnknownSessionStatusError` for a status WAHA does
    not define, and the aggregate's errors for one the channel cannot take.
    """
    parsed = WAHASessionStatus.parse(status)
    channel.record_session_status(parsed)
    step = current_step(channel)
    if parsed is _SCAN and not step.wants_qr_code:
        return PairingStep(status=parsed, wants_qr_code=True, stopped=False)
    return step
