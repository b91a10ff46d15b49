"""The webhook dispatcher: one framework-agnostic call from raw request to HTTP answer.

It wires three parts, each usable on its own:

* :class:`~ventros_channels.services.intake.WebhookIntake` finds the channel, verifies the raw
  bytes and parses them;
* an :class:`~ventros_channels.inbox.Inbox` records the events, deduplicated, **before** the
  platform is answered 200;
* a :class:`~ventros_channels.services.worker.Worker` runs the host's handler off the request
  path (in this process, or in ``ventros-channels worker`` processes sharing the inbox).

Answers: 200 recorded (duplicates included: the platform must stop retrying), 400 malformed
body, 401 bad signature, 403 refused handshake or channel not taking deliveries, 404 unknown
channel, 405 wrong method, 413 body too large, 503 the inbox could not record the delivery, the
repository could not be read or the dispatcher was not started (nothing was recorded, so the
platform's retry is processed).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from ventros_channels.adapters.registry import AdapterRegistry, default_registry
from ventros_channels.cache import ChannelCache
from ventros_channels.clock import Clock, SystemClock
from ventros_channels.domain.channel import Channel, RoutingContext
from ventros_channels.errors import (
    NotStartedError,
    RepositoryError,
    VentrosChannelsError,
    WebhookPayloadError,
)
from ventros_channels.inbox import DeadLetter, Delivery, Inbox, InMemoryInbox
from ventros_channels.messaging.inbound import InboundEvent, SessionStatusChanged
from ventros_channels.outbox import Outbox
from ventros_channels.publisher import EventPublisher
from ventros_channels.repository import ChannelRepository
from ventros_channels.services.intake import (
    RESP_BAD,
    RESP_BUSY,
    RESP_OK,
    DispatcherStats,
    IntakeSettings,
    Verified,
    WebhookIntake,
)
from ventros_channels.services.metrics import MetricsBuffer, event_delta
from ventros_channels.services.sending import confirm_sends
from ventros_channels.services.worker import EventHandler, RetryPolicy, Worker
from ventros_channels.webhooks.request import WebhookRequest, WebhookResponse

__all__ = [
    "DeadLetter",
    "DispatcherStats",
    "EventHandler",
    "IntakeSettings",
    "SessionStatusHook",
    "WebhookDispatcher",
    "with_session_status",
]

logger = logging.getLogger("ventros_channels.webhooks")

SessionStatusHook = Callable[[Channel, SessionStatusChanged], Awaitable[None]]
"""Replaces the default handling of a platform session status (see ``with_session_status``)."""


def with_session_status(
    handler: EventHandler,
    repository: ChannelRepository,
    *,
    hook: SessionStatusHook | None = None,
    publisher: EventPublisher | None = None,
    on_change: Callable[[UUID], Awaitable[None]] | None = None,
) -> EventHandler:
    """``handler``, preceded for session-status events by applying the status to the channel
    (saved, its domain events published, ``on_change`` told) so the channel follows the
    platform. Workers in other processes wrap their handler with this too.
    """

    async def apply(channel_id: UUID, tenant_id: str, event: SessionStatusChanged) -> None:
        channel = await repository.get(channel_id, tenant_id=tenant_id)
        if hook is not None:
            await hook(channel, event)
            return
        try:
            channel.record_session_status(event.status)
        except (VentrosChannelsError, ValueError) as exc:
            logger.warning("session status %r not applied to %s: %s", event.status, channel.id, exc)
            return
        events = channel.pending_events
        await repository.save(channel)
        channel.pull_events()
        if on_change is not None:
            await on_change(channel.id)
        if publisher is not None and events and not getattr(repository, "records_events", False):
            await publisher.publish(events)

    async def handle(event: InboundEvent, context: RoutingContext) -> None:
        if type(event) is SessionStatusChanged:
            await apply(context.channel_id, context.tenant_id, event)
        await handler(event, context)

    return handle


class WebhookDispatcher:
    """Routes platform deliveries into an inbox and, with a ``handler``, handles them here.

    * ``inbox``: where deliveries are recorded before the 200. The default in-memory inbox is
      not crash-safe; pass a ``SqlInbox`` or ``RedisInbox`` for that promise.
    * ``handler`` and ``workers``: run that many handling loops in this process (default 4).
    * ``outbox``: the service's outbox; delivery statuses that carry a send's key confirm
      sends recorded as uncertain.
      A web-only process passes no handler (``workers=0``) and runs ``ventros-channels worker``
      elsewhere on the same inbox.

    Use as an async context manager (or ``start`` / ``stop``): until started it answers 503.
    """

    def __init__(
        self,
        repository: ChannelRepository,
        handler: EventHandler | None = None,
        *,
        inbox: Inbox | None = None,
        workers: int | None = None,
        retry: RetryPolicy | None = None,
        settings: IntakeSettings | None = None,
        registry: AdapterRegistry | None = None,
        clock: Clock | None = None,
        shared_cache: ChannelCache | None = None,
        publisher: EventPublisher | None = None,
        session_status_hook: SessionStatusHook | None = None,
        outbox: Outbox | None = None,
        metrics_flush_interval: float = 1.0,
    ) -> None:
        workers = (4 if handler is not None else 0) if workers is None else workers
        if workers and handler is None:
            raise ValueError("in-process workers need a handler")
        if inbox is None and not workers:
            raise ValueError(
                "the default in-memory inbox is only read in this process: give a handler "
                "(and workers), or a shared inbox that ventros-channels worker reads"
            )
        self.repository = repository
        self.clock = clock or SystemClock()
        self.inbox: Inbox = inbox if inbox is not None else InMemoryInbox()
        self.stats = DispatcherStats()
        self.metrics = MetricsBuffer(repository, interval=metrics_flush_interval)
        self.shared_cache = shared_cache
        self.publisher = publisher
        self.intake = WebhookIntake(
            repository,
            registry or default_registry(),
            self.clock,
            settings=settings,
            shared_cache=shared_cache,
            metrics=self.metrics,
            stats=self.stats,
        )
        self.handler = handler
        self.retry = retry
        self.outbox = outbox
        self._session_hook = session_status_hook
        self.worker: Worker | None = None
        if handler is not None and workers:
            self.worker = self.make_worker(handler, concurrency=workers, retry=retry)
        self._started = False

    @property
    def settings(self) -> IntakeSettings:
        return self.intake.settings

    @property
    def registry(self) -> AdapterRegistry:
        return self.intake.registry

    def make_worker(self, handler: EventHandler, **options: Any) -> Worker:
        """A :class:`Worker` on this dispatcher's inbox whose handler also applies platform
        session statuses to the channel. ``options`` go to :class:`Worker`.
        """
        if self.outbox is not None:
            handler = confirm_sends(handler, self.outbox)
        wrapped = with_session_status(
            handler,
            self.repository,
            hook=self._session_hook,
            publisher=self.publisher,
            on_change=self.on_channel_changed,
        )
        if self.retry is not None:
            options.setdefault("retry", self.retry)
        return Worker(self.inbox, wrapped, **options)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the metrics flusher and the in-process workers."""
        self.metrics.start()
        if self.worker is not None:
            await self.worker.start()
        self._started = True

    async def stop(self, *, grace: float | None = 30.0) -> None:
        """Stop answering, let the in-process workers finish what they hold, write counters."""
        self._started = False
        if self.worker is not None:
            await self.worker.stop(grace=grace)
        await self.metrics.stop()

    async def __aenter__(self) -> WebhookDispatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def drain(self, *, within: float = 30.0) -> None:
        """Wait until the inbox is empty and counters are written (tests, shutdown)."""
        if self.worker is None:
            raise NotStartedError("this dispatcher runs no workers, so it cannot drain")
        await self.worker.wait_until_idle(within=within)
        await self.metrics.flush()

    async def flush_metrics(self) -> None:
        """Write the batched counter increments to the repository now."""
        await self.metrics.flush()

    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """The inbox's dead letters (events whose handling kept failing)."""
        return await self.inbox.dead_letters(limit=limit)

    async def on_channel_changed(self, channel_id: UUID) -> None:
        """Hook for ``ChannelService.on_change``: drop the cached channel here and in the
        shared cache (so every process sharing it reloads).
        """
        self.intake.invalidate(channel_id)
        if self.shared_cache is not None:
            await self.shared_cache.invalidate(channel_id)

    def invalidate(self, channel_id: UUID | str) -> None:
        """Forget the channel cached in this process."""
        self.intake.invalidate(channel_id)

    # ------------------------------------------------------------------ entry points

    async def handle(
        self, channel_type: str, channel_id: str | UUID, request: WebhookRequest
    ) -> WebhookResponse:
        """Handle a delivery to ``/webhooks/{channel_type}/{channel_id}``."""
        if not self._started:
            return self._not_started()
        try:
            checked = await self.intake.channel_delivery(channel_type, channel_id, request)
        except RepositoryError as exc:
            return self._store_down(exc)
        if isinstance(checked, WebhookResponse):
            return checked
        answer = await self._record(checked)
        return answer if answer is not None else checked.adapter.success_response(checked.events)

    async def handle_app(self, channel_type: str, request: WebhookRequest) -> WebhookResponse:
        """Handle a delivery to the app-level ``/webhooks/{channel_type}``: each event routed
        to its channel by the platform's account id.
        """
        if not self._started:
            return self._not_started()
        try:
            checked = await self.intake.app_delivery(channel_type, request)
        except RepositoryError as exc:
            return self._store_down(exc)
        if isinstance(checked, WebhookResponse):
            return checked
        for group in checked:
            answer = await self._record(group)
            if answer is not None:
                return answer
        return RESP_OK

    def _not_started(self) -> WebhookResponse:
        self.stats.not_started += 1
        logger.error(
            "WebhookDispatcher.handle called before start(): answering 503 so the platform "
            "retries (use 'async with dispatcher' or the ASGI app's lifespan)"
        )
        return RESP_BUSY

    def _store_down(self, exc: RepositoryError) -> WebhookResponse:
        self.stats.repository_unavailable += 1
        logger.error("channel lookup failed (answering 503): %s", type(exc).__name__)
        return RESP_BUSY

    async def _record(self, checked: Verified) -> WebhookResponse | None:
        """Accept the events into the inbox; ``None`` when every one is recorded."""
        channel = checked.channel
        deliveries = [Delivery(event, checked.context) for event in checked.events]
        try:
            result = await self.inbox.accept(deliveries)
        except WebhookPayloadError as exc:
            self.stats.malformed += 1
            logger.warning("delivery for channel %s cannot be stored: %s", channel.id, exc.reason)
            return RESP_BAD
        except Exception as exc:  # whatever the store did, nothing is known to be recorded
            self.stats.inbox_unavailable += 1
            logger.error(
                "inbox could not record a delivery for channel %s (answering 503): %s",
                channel.id,
                type(exc).__name__,
                extra={"channel_id": str(channel.id)},
            )
            return RESP_BUSY
        self.stats.accepted_events += len(result.accepted)
        self.stats.duplicates += result.duplicates
        self.intake.remember(checked)
        delta = event_delta(
            (d.event for d in result.accepted),
            webhooks_accepted=1,
            last_webhook_at=self.clock.now(),
        )
        await self.metrics.add(channel.id, channel.tenant_id, delta)
        if self.worker is not None and result.accepted:
            self.worker.notify()
        return None
