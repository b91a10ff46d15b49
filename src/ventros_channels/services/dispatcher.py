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

from ventros_channels import telemetry
from ventros_channels.adapters.base import SessionPairing
from ventros_channels.adapters.registry import AdapterRegistry, default_registry
from ventros_channels.cache import ChannelCache
from ventros_channels.clock import Clock, SystemClock
from ventros_channels.domain.channel import Channel, RoutingContext
from ventros_channels.errors import (
    CapabilityNotSupportedError,
    NotStartedError,
    RepositoryError,
    VentrosChannelsError,
    WebhookPayloadError,
)
from ventros_channels.inbox import DeadLetter, Delivery, Inbox, InMemoryInbox
from ventros_channels.logging import log_fields
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
from ventros_channels.services.worker import EventHandler, HandlerRetry, Worker
from ventros_channels.webhooks.request import WebhookRequest, WebhookResponse

_OUTCOMES = {
    200: "handshake",
    400: "malformed",
    401: "rejected_signature",
    403: "refused",
    404: "unknown_channel",
    405: "method_not_allowed",
    413: "too_large",
    503: "unavailable",
}
"""What a delivery answered by intake (not recorded) is counted as, by its status."""


def _outcome(answer: WebhookResponse, request: WebhookRequest) -> str:
    """Intake answers a POST with 200 only for bytes it saw recorded: a platform's retry."""
    if answer.status == 200 and request.method == "POST":
        return "duplicate"
    return _OUTCOMES.get(answer.status, "refused")


__all__ = [
    "DeadLetter",
    "DispatcherStats",
    "EventHandler",
    "IntakeSettings",
    "SessionStatusHook",
    "WebhookDispatcher",
    "with_session_status",
]

logger = logging.getLogger(__name__)

SessionStatusHook = Callable[[Channel, SessionStatusChanged], Awaitable[None]]
"""Replaces the default handling of a platform session status (see ``with_session_status``)."""


def with_session_status(
    handler: EventHandler,
    repository: ChannelRepository,
    *,
    hook: SessionStatusHook | None = None,
    publisher: EventPublisher | None = None,
    on_change: Callable[[UUID], Awaitable[None]] | None = None,
    registry: AdapterRegistry | None = None,
) -> EventHandler:
    """``handler``, preceded for session-status events by applying the status to the channel
    through its adapter's session hook (``SessionPairing.apply_session_status``; saved, its
    domain events published, ``on_change`` told) so the channel follows the platform.
    Workers in other processes wrap their handler with this too. ``hook`` replaces that
    default; ``registry`` finds the adapters (default: the installed ones).
    """
    adapters = registry

    async def apply(channel_id: UUID, tenant_id: str, event: SessionStatusChanged) -> None:
        nonlocal adapters
        channel = await repository.get(channel_id, tenant_id=tenant_id)
        if hook is not None:
            await hook(channel, event)
            return
        adapters = adapters or default_registry()
        adapter = adapters.get(str(channel.channel_type))
        try:
            if not isinstance(adapter, SessionPairing):
                raise CapabilityNotSupportedError(str(channel.channel_type), "session_pairing")
            adapter.apply_session_status(channel, event.status)
        except (VentrosChannelsError, ValueError) as exc:
            logger.warning(
                "session status %r not applied to %s: %s",
                event.status,
                channel.id,
                exc,
                extra=log_fields(channel.id, str(channel.channel_type), event.idempotency_key),
            )
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
        retry: HandlerRetry | None = None,
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
        self.inbox_gauge = telemetry.InboxGauge(self.inbox)
        """Reports the inbox's depth and oldest age to OpenTelemetry while started."""

    @property
    def started(self) -> bool:
        """Whether deliveries are taken (between ``start`` and ``stop``)."""
        return self._started

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
            registry=self.registry,
        )
        if self.retry is not None:
            options.setdefault("retry", self.retry)
        return Worker(self.inbox, wrapped, **options)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the metrics flusher and the in-process workers."""
        self.metrics.start()
        self.inbox_gauge.start()
        if self.worker is not None:
            await self.worker.start()
        self._started = True

    async def stop(self, *, grace: float | None = 30.0) -> None:
        """Stop answering, let the in-process workers finish what they hold, write counters."""
        self._started = False
        if self.worker is not None:
            await self.worker.stop(grace=grace)
        await self.metrics.stop()
        await self.inbox_gauge.stop()

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
        labels = {"ventros.platform": channel_type, "ventros.channel_id": str(channel_id)}
        with telemetry.span(telemetry.WEBHOOK, labels) as span:
            answer = await self._handle(channel_type, channel_id, request)
            span.set_attribute("http.response.status_code", answer.status)
            return answer

    async def _handle(
        self, channel_type: str, channel_id: str | UUID, request: WebhookRequest
    ) -> WebhookResponse:
        if not self._started:
            return self._not_started(channel_type)
        try:
            checked = await self.intake.channel_delivery(channel_type, channel_id, request)
        except RepositoryError as exc:
            return self._store_down(exc, channel_type)
        if isinstance(checked, WebhookResponse):
            telemetry.record_delivery(channel_type, _outcome(checked, request))
            return checked
        answer = await self._record(checked)
        return answer if answer is not None else checked.adapter.success_response(checked.events)

    async def handle_app(self, channel_type: str, request: WebhookRequest) -> WebhookResponse:
        """Handle a delivery to the app-level ``/webhooks/{channel_type}``: each event routed
        to its channel by the platform's account id.
        """
        with telemetry.span(telemetry.WEBHOOK, {"ventros.platform": channel_type}) as span:
            answer = await self._handle_app(channel_type, request)
            span.set_attribute("http.response.status_code", answer.status)
            return answer

    async def _handle_app(self, channel_type: str, request: WebhookRequest) -> WebhookResponse:
        if not self._started:
            return self._not_started(channel_type)
        try:
            checked = await self.intake.app_delivery(channel_type, request)
        except RepositoryError as exc:
            return self._store_down(exc, channel_type)
        if isinstance(checked, WebhookResponse):
            telemetry.record_delivery(channel_type, _outcome(checked, request))
            return checked
        for group in checked:
            answer = await self._record(group)
            if answer is not None:
                return answer
        return RESP_OK

    def _not_started(self, platform: str) -> WebhookResponse:
        self.stats.not_started += 1
        telemetry.record_delivery(platform, "not_started")
        logger.error(
            "WebhookDispatcher.handle called before start(): answering 503 so the platform "
            "retries (use 'async with dispatcher' or the ASGI app's lifespan)"
        )
        return RESP_BUSY

    def _store_down(self, exc: RepositoryError, platform: str) -> WebhookResponse:
        self.stats.repository_unavailable += 1
        telemetry.record_delivery(platform, "unavailable")
        logger.error(
            "channel lookup failed (answering 503): %s",
            type(exc).__name__,
            extra=log_fields(None, platform, None),
        )
        return RESP_BUSY

    async def _record(self, checked: Verified) -> WebhookResponse | None:
        """Accept the events into the inbox; ``None`` when every one is recorded."""
        channel = checked.channel
        platform = str(channel.channel_type)
        labels = {"ventros.platform": platform, "ventros.channel_id": str(channel.id)}
        try:
            with telemetry.span(telemetry.ACCEPT, labels) as span:
                trace = telemetry.current_trace()
                deliveries = [Delivery(e, checked.context, trace) for e in checked.events]
                result = await self.inbox.accept(deliveries)
                span.set_attribute("ventros.accepted", len(result.accepted))
                span.set_attribute("ventros.duplicates", result.duplicates)
        except WebhookPayloadError as exc:
            self.stats.malformed += 1
            telemetry.record_delivery(platform, "malformed")
            logger.warning(
                "delivery for channel %s cannot be stored: %s",
                channel.id,
                exc.reason,
                extra=_fields(checked),
            )
            return RESP_BAD
        except Exception as exc:  # whatever the store did, nothing is known to be recorded
            self.stats.inbox_unavailable += 1
            telemetry.record_delivery(platform, "unavailable")
            logger.error(
                "inbox could not record a delivery for channel %s (answering 503): %s",
                channel.id,
                type(exc).__name__,
                extra=_fields(checked),
            )
            return RESP_BUSY
        self.stats.accepted_events += len(result.accepted)
        self.stats.duplicates += result.duplicates
        self.intake.remember(checked)
        telemetry.record_delivery(platform, "accepted" if result.accepted else "duplicate")
        telemetry.record_events(
            platform, accepted=len(result.accepted), duplicates=result.duplicates
        )
        delta = event_delta(
            (d.event for d in result.accepted),
            webhooks_accepted=1,
            last_webhook_at=self.clock.now(),
        )
        await self.metrics.add(channel.id, channel.tenant_id, delta)
        if self.worker is not None and result.accepted:
            self.worker.notify()
        return None


def _fields(checked: Verified) -> dict[str, str | None]:
    """The structured fields of a log record about a delivery (its first event's key)."""
    events = checked.events
    return log_fields(
        checked.channel.id,
        str(checked.channel.channel_type),
        events[0].idempotency_key if events else None,
    )
