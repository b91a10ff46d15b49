"""Small frozen value objects held by the Channel aggregate."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import attrs
from pydantic import SecretStr

from ventros_channels.domain.types import HistoryImportState, ImportStrategy, WAHASessionStatus
from ventros_channels.errors import FieldError, InvalidMetricsError

__all__ = [
    "MAX_METRIC_INCREMENT",
    "ChannelMetrics",
    "HistoryImport",
    "MetricsDelta",
    "RetiredSecret",
    "WAHASession",
    "WebhookSettings",
]


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


@attrs.frozen
class WebhookSettings:
    """Where the platform delivers to, and whether it is registered there."""

    url: str | None = None
    webhook_id: str | None = None
    configured_at: datetime | None = None
    active: bool = False
    accept_unsigned: bool = False
    """The host explicitly accepts deliveries without a signature (only where no secret exists)."""

    @property
    def is_configured(self) -> bool:
        return self.url is not None and self.configured_at is not None


@attrs.frozen
class RetiredSecret:
    """A previous webhook secret still accepted until ``valid_until`` (rotation grace)."""

    secret: SecretStr
    valid_until: datetime


MAX_METRIC_INCREMENT: Final = 1_000_000
"""Largest count one increment may carry: more in one step means a bug, not traffic."""
_COUNTS = (
    "received",
    "sent",
    "errors",
    "delivered",
    "read",
    "failed",
    "webhooks_accepted",
    "webhooks_rejected",
    "send_time_ms",
    "timed_sends",
)


def _count_errors(values: dict[str, Any]) -> list[FieldError]:
    out = []
    for name, value in values.items():
        if type(value) is not int:
            out.append(FieldError(name, "must be an integer"))
        elif not 0 <= value <= MAX_METRIC_INCREMENT:
            out.append(FieldError(name, f"must be between 0 and {MAX_METRIC_INCREMENT}"))
    return out


@attrs.frozen
class MetricsDelta:
    """Increments to apply atomically to a channel's metrics (see ``record_metrics``).

    Every count must be an integer from 0 to :data:`MAX_METRIC_INCREMENT`;
    anything else raises :class:`~ventros_channels.errors.InvalidMetricsError`.
    """

    received: int = 0
    sent: int = 0
    errors: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    webhooks_accepted: int = 0
    webhooks_rejected: int = 0
    send_time_ms: int = 0
    """Milliseconds the platform took to answer the sends counted in ``timed_sends``."""
    timed_sends: int = 0
    last_message_at: datetime | None = None
    last_webhook_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise :class:`InvalidMetricsError` unless every count is a sane increment.

        Repositories call it again before writing, so a delta built around the constructor
        is refused too.
        """
        errors = _count_errors({name: getattr(self, name) for name in _COUNTS})
        if errors:
            raise InvalidMetricsError(errors)

    def __add__(self, other: MetricsDelta) -> MetricsDelta:
        """Both increments together. Each was checked when built, so the sum is only
        non-negative integers; it may pass :data:`MAX_METRIC_INCREMENT` (many increments
        pending on one object) and is not refused for that.
        """
        newer_error = other.last_error_at is not None and (
            self.last_error_at is None or other.last_error_at >= self.last_error_at
        )
        fields: dict[str, Any] = {n: getattr(self, n) + getattr(other, n) for n in _COUNTS}
        fields.update(
            last_message_at=_later(self.last_message_at, other.last_message_at),
            last_webhook_at=_later(self.last_webhook_at, other.last_webhook_at),
            last_error_at=_later(self.last_error_at, other.last_error_at),
            last_error=other.last_error if newer_error else self.last_error,
        )
        summed = object.__new__(MetricsDelta)
        for name, value in fields.items():
            object.__setattr__(summed, name, value)  # skips the per-increment bound only
        return summed

    @property
    def is_empty(self) -> bool:
        return self == _EMPTY


_EMPTY = MetricsDelta()


@attrs.frozen
class ChannelMetrics:
    """Counters of what the library saw on a channel."""

    messages_received: int = 0
    messages_sent: int = 0
    errors: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    webhooks_accepted: int = 0
    webhooks_rejected: int = 0
    send_time_ms: int = 0
    """Total milliseconds the platform took to answer timed sends."""
    timed_sends: int = 0
    """Sends whose answer time is in ``send_time_ms``."""
    last_message_at: datetime | None = None
    last_webhook_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None

    @property
    def average_send_time_ms(self) -> float | None:
        """Mean time the platform took to answer a send (``None`` before any timed send)."""
        return self.send_time_ms / self.timed_sends if self.timed_sends else None

    def apply(self, d: MetricsDelta) -> ChannelMetrics:
        """The metrics after ``d`` (timestamps only move forward)."""
        newer_error = d.last_error_at is not None and (
            self.last_error_at is None or d.last_error_at >= self.last_error_at
        )
        return ChannelMetrics(
            messages_received=self.messages_received + d.received,
            messages_sent=self.messages_sent + d.sent,
            errors=self.errors + d.errors,
            delivered=self.delivered + d.delivered,
            read=self.read + d.read,
            failed=self.failed + d.failed,
            webhooks_accepted=self.webhooks_accepted + d.webhooks_accepted,
            webhooks_rejected=self.webhooks_rejected + d.webhooks_rejected,
            send_time_ms=self.send_time_ms + d.send_time_ms,
            timed_sends=self.timed_sends + d.timed_sends,
            last_message_at=_later(self.last_message_at, d.last_message_at),
            last_webhook_at=_later(self.last_webhook_at, d.last_webhook_at),
            last_error_at=_later(self.last_error_at, d.last_error_at),
            last_error=d.last_error if newer_error else self.last_error,
        )


@attrs.frozen
class WAHASession:
    """The WAHA session behind a channel and its pairing QR code."""

    status: WAHASessionStatus | None = None
    status_changed_at: datetime | None = None
    qr_code: str | None = attrs.field(default=None, repr=False)
    qr_expires_at: datetime | None = None
    qr_attempts: int = 0


@attrs.frozen
class HistoryImport:
    """The latest history import of a channel and its outcome."""

    state: HistoryImportState
    strategy: ImportStrategy
    requested_at: datetime
    since: datetime | None = None
    until: datetime | None = None
    per_chat_limit: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    chats: int = 0
    messages: int = 0
    skipped: int = 0
    error: str | None = None

    @property
    def in_progress(self) -> bool:
        return self.state in (HistoryImportState.REQUESTED, HistoryImportState.RUNNING)
