"""Channel counters seen on the webhook path, added up in memory and written in batches.

One definition of what an inbound event counts for (:func:`event_delta`), one buffer that
adds :class:`~ventros_channels.domain.values.MetricsDelta` values per channel and writes them
with the repository's atomic ``record_metrics``. Counters are best effort by design: a write
that fails is logged and given back to the buffer, never allowed to cost a delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from ventros_channels.domain.values import MetricsDelta
from ventros_channels.errors import RepositoryUnavailableError
from ventros_channels.messaging.delivery import DeliveryStatus
from ventros_channels.messaging.inbound import InboundEvent, MessageReceived, StatusChanged
from ventros_channels.repository import ChannelRepository

__all__ = ["MetricsBuffer", "event_delta"]

logger = logging.getLogger(__name__)

_STATUS_COUNTERS: dict[DeliveryStatus, str] = {
    DeliveryStatus.DELIVERED: "delivered",
    DeliveryStatus.READ: "read",
    DeliveryStatus.PLAYED: "read",
    DeliveryStatus.FAILED: "failed",
}
"""Which counter a delivery status webhook adds to."""


def event_delta(events: Iterable[InboundEvent], **extra: Any) -> MetricsDelta:
    """What accepted events add to their channel's counters (plus ``extra`` fields)."""
    counts: dict[str, Any] = {}
    last_message: datetime | None = None
    for event in events:
        kind = type(event)
        if kind is MessageReceived:
            counts["received"] = counts.get("received", 0) + 1
            if last_message is None or event.timestamp > last_message:
                last_message = event.timestamp
        elif isinstance(event, StatusChanged):
            counter = _STATUS_COUNTERS.get(event.status)
            if counter is not None:
                counts[counter] = counts.get(counter, 0) + 1
    if last_message is not None:
        counts["last_message_at"] = last_message
    return MetricsDelta(**counts, **extra)


class MetricsBuffer:
    """Adds up counter increments per channel and writes them every ``interval`` seconds.

    Without a running flusher (``start`` not called) every ``add`` is written at once.
    """

    def __init__(self, repository: ChannelRepository, *, interval: float = 1.0) -> None:
        self.repository = repository
        self.interval = interval
        self._pending: dict[UUID, tuple[str, list[MetricsDelta]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def add(self, channel_id: UUID, tenant_id: str, delta: MetricsDelta) -> None:
        """Count ``delta`` for the channel (buffered while the flusher runs)."""
        if self._task is None:
            await self._write(channel_id, tenant_id, delta)
            return
        known = self._pending.get(channel_id)
        if known is None:
            self._pending[channel_id] = (tenant_id, [delta])
        else:  # added up at flush time, off the request path
            known[1].append(delta)

    async def flush(self) -> None:
        """Write everything buffered now."""
        pending, self._pending = self._pending, {}
        for channel_id, (tenant_id, deltas) in pending.items():
            total = deltas[0]
            for delta in deltas[1:]:
                total = total + delta
            await self._write(channel_id, tenant_id, total)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="ventros-metrics-flush")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def _write(self, channel_id: UUID, tenant_id: str, delta: MetricsDelta) -> None:
        try:
            await self.repository.record_metrics(channel_id, delta, tenant_id=tenant_id)
        except Exception as exc:  # counters must never cost a delivery or kill the flusher
            logger.warning(
                "could not record metrics for channel %s: %s",
                channel_id,
                type(exc).__name__,
                extra={"channel_id": str(channel_id)},
            )
            if self._task is not None and isinstance(exc, RepositoryUnavailableError):
                known = self._pending.get(channel_id)  # keep them for the next flush
                self._pending[channel_id] = (tenant_id, [delta, *(known[1] if known else ())])
