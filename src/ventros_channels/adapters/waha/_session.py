"""What WAHA's session statuses mean for a channel: the one place that reads them.

The channel aggregate keeps the pairing rules themselves (``record_session_status``: WORKING
activates, STARTING / SCAN_QR_CODE mean connecting, STOPPED disconnects, FAILED is an error;
``update_qr_code`` and its expiry). This module turns a status, read from WAHA or delivered by
webhook, into those calls and tells the caller what pairing needs next, including whether a
FAILED session is to be restarted (the channel's ``auto_restart``).

Restarts are bounded: :class:`RestartBudget` counts the restarts made for each session since
it last reached WORKING, and refuses more than the policy's ``max_attempts``; the wait before
each one doubles (:meth:`WAHARestartPolicy.delay`). The count lives in the process that
restarts (the adapter), so a process restarted itself begins again from zero.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ventros_channels.adapters.base import PairingStep
from ventros_channels.adapters.waha.config import WAHAConfig
from ventros_channels.domain.channel import Channel
from ventros_channels.domain.types import WAHASessionStatus
from ventros_channels.messaging.inbound import SessionStatusChanged

__all__ = [
    "FAILED",
    "STOPPED",
    "WORKING",
    "RestartBudget",
    "SessionStatusHook",
    "apply_status",
    "current_step",
]

STOPPED = WAHASessionStatus.STOPPED
FAILED = WAHASessionStatus.FAILED
_SCAN = WAHASessionStatus.SCAN_QR_CODE
WORKING = _WORKING = WAHASessionStatus.WORKING

SessionStatusHook = Callable[[Channel, SessionStatusChanged], Awaitable[None]]
"""What a webhook dispatcher calls with each session status (``with_session_status``)."""


def _key(config: WAHAConfig) -> tuple[str, str]:
    return str(config.base_url), config.session_id


class RestartBudget:
    """Restarts made per WAHA session since it last worked; see the module docstring."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, str], int] = {}

    def next_delay(self, config: WAHAConfig) -> float | None:
        """Take one restart for the session: the seconds to wait first, or ``None`` when the
        policy is off or its attempts are used up."""
        policy = config.auto_restart
        made = self._made.get(_key(config), 0)
        if not policy.enabled or made >= policy.max_attempts:
            return None
        self._made[_key(config)] = made + 1
        return policy.delay(made)

    def made(self, config: WAHAConfig) -> int:
        return self._made.get(_key(config), 0)

    def reset(self, config: WAHAConfig) -> None:
        """The session works again: the next failure starts a new series."""
        self._made.pop(_key(config), None)


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
    if parsed is FAILED and _restarts(channel):
        return PairingStep(status=parsed, wants_qr_code=step.wants_qr_code, restart=True)
    return step


def _restarts(channel: Channel) -> bool:
    config = channel.config
    return isinstance(config, WAHAConfig) and config.auto_restart.enabled
