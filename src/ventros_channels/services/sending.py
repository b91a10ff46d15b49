"""Outbound sends made at most once per idempotency key, directly or through a queue.

:class:`OutboundSender` wraps an adapter's ``send``: it records the send in the outbox before
the request and its outcome after, so a second send with the same key returns the recorded
result instead of calling the platform again. What is recorded decides what a repeated send
does:

========== ===================================================================
sent        the recorded result (``replayed=True``), no request
failed      the recorded error again; a failure the platform provably did not act
            on (throttled, unreachable) is tried again instead
uncertain   ``DeliveryUncertainError`` with the key, unless ``resend=True``
pending     as uncertain: the earlier attempt stopped mid-way (a crash)
queued      the queued result; the sender worker will send it
========== ===================================================================

:class:`SendWorker` delivers queued sends (``send(..., queued=True)``) in order per chat,
waiting out rate limits and outages without dropping or repeating a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from uuid import UUID, uuid4

import httpx

from ventros_channels import errors as error_types
from ventros_channels import telemetry
from ventros_channels.adapters.base import ChannelAdapter
from ventros_channels.capabilities import check_outbound
from ventros_channels.clock import Clock, SystemClock
from ventros_channels.domain.channel import RoutingContext
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.errors import (
    AdapterError,
    ChannelInactiveError,
    DeliveryUncertainError,
    InvalidInputError,
    PlatformError,
    RateLimitedError,
    RepositoryUnavailableError,
    VentrosChannelsError,
)
from ventros_channels.logging import log_fields
from ventros_channels.messaging.inbound import InboundEvent, StatusChanged
from ventros_channels.messaging.outbound import OutboundMessage, SendResult
from ventros_channels.outbox import (
    LeasedSend,
    Outbox,
    SendRecord,
    SendState,
    decode_message,
    encode_message,
)
from ventros_channels.ratelimit import SendRateLimiter
from ventros_channels.services.worker import (
    EventHandler,
    HandlerRetry,
    current_delivery,
    next_send_position,
)

__all__ = ["OutboundSender", "SendWorker", "confirm_sends", "derive_send_key"]

logger = logging.getLogger(__name__)

_MAX_CORRELATION = 512
"""The longest correlation value a platform is asked to echo back in its status webhooks."""

AdapterSend = Callable[[OutboundMessage], Awaitable[SendResult]]


def derive_send_key(given: str | None) -> str:
    """The key of a send: the host's, else the handled delivery's key and the send's position
    in the handler (the same on every run of the handler), else a fresh random key.
    """
    if given:
        return given
    lease = current_delivery()
    position = next_send_position()
    if lease is not None and position is not None:
        return f"reply:{lease.delivery.key}:{position}"
    return f"send:{uuid4().hex}"


def confirm_sends(handler: EventHandler, outbox: Outbox) -> EventHandler:
    """``handler``, preceded for delivery statuses that carry a send's key (its correlation
    id) by confirming that send in the outbox: an ``uncertain`` one becomes ``sent``.
    """

    async def handle(event: InboundEvent, context: RoutingContext) -> None:
        if isinstance(event, StatusChanged) and event.correlation_id:
            confirmed = await outbox.resolve(
                context.channel_id, event.correlation_id, message_id=event.message_id
            )
            if confirmed:
                logger.info(
                    "send %s confirmed by the platform's status webhook",
                    event.correlation_id,
                    extra={"channel_id": str(context.channel_id)},
                )
        await handler(event, context)

    return handle


def _correlated(message: OutboundMessage, key: str) -> OutboundMessage:
    """``message`` carrying its send's key as correlation id, which platforms that echo it in
    status webhooks send back, so an uncertain send can be confirmed.
    """
    if message.correlation_id is None and len(key) <= _MAX_CORRELATION:
        return message.model_copy(update={"correlation_id": key})
    return message


def _retryable(error: PlatformError) -> bool:
    """The platform provably did not act (throttled, not reached): trying again is safe."""
    return error.retryable and not isinstance(error, DeliveryUncertainError)


def _recorded_error(record: SendRecord) -> PlatformError:
    """The typed error a failed send recorded, raised again for a repeated send."""
    cls = getattr(error_types, record.error_type or "", None)
    if not (isinstance(cls, type) and issubclass(cls, PlatformError)):
        cls = PlatformError
    text = f"{record.error or 'failed'} (recorded for send {record.key!r})"
    try:
        return cls(text)
    except TypeError:  # an error class with required arguments of its own
        return PlatformError(text)


def _uncertain(record: SendRecord) -> DeliveryUncertainError:
    exc = DeliveryUncertainError(
        f"send {record.key!r} may have reached the platform ({record.state.value}); "
        "send again with resend=True to force it"
    )
    exc.idempotency_key = record.key
    return exc


class OutboundSender:
    """Sends through the outbox; see the module docstring."""

    def __init__(self, outbox: Outbox, *, clock: Clock | None = None) -> None:
        self.outbox = outbox
        self.clock = clock or SystemClock()

    async def send(
        self,
        channel_id: UUID,
        tenant_id: str,
        message: OutboundMessage,
        deliver: AdapterSend,
        *,
        key: str,
        resend: bool = False,
        platform: str = "unknown",
    ) -> SendResult:
        """Send ``message`` with ``deliver`` at most once for ``key`` (unless ``resend``).

        ``platform`` (the channel type) only labels the send's span and counter.
        """
        with telemetry.send_span(platform, channel_id, message.kind) as scope:
            result = await self._send(channel_id, tenant_id, message, deliver, key, resend)
            if result.replayed:
                scope.outcome = "replayed"
            elif result.queued:
                scope.outcome = "queued"
            return result

    async def _send(
        self,
        channel_id: UUID,
        tenant_id: str,
        message: OutboundMessage,
        deliver: AdapterSend,
        key: str,
        resend: bool,
    ) -> SendResult:
        message = _correlated(message, key)
        now = self.clock.now()
        fresh = SendRecord(channel_id, key, tenant_id, message.to, SendState.PENDING, now, now)
        record, created = await self.outbox.reserve(fresh)
        if not created:
            replay = await self._repeat(record, resend)
            if replay is not None:
                return replay
        try:
            result = await deliver(message)
        except DeliveryUncertainError as exc:
            exc.idempotency_key = key
            await self.outbox.finish(
                channel_id,
                key,
                state=SendState.UNCERTAIN,
                error_type=type(exc).__name__,
                error=exc.description,
            )
            raise
        except (PlatformError, AdapterError, InvalidInputError) as exc:
            # refused by the platform, or by the adapter before any request: nothing was sent
            await self.outbox.finish(
                channel_id,
                key,
                state=SendState.FAILED,
                error_type=type(exc).__name__,
                error=getattr(exc, "description", None) or str(exc),
            )
            raise
        await self.outbox.finish(
            channel_id, key, state=SendState.SENT, message_id=result.message_id
        )
        return result.model_copy(update={"idempotency_key": key})

    async def _repeat(self, record: SendRecord, resend: bool) -> SendResult | None:
        """The answer to a send whose key is recorded; ``None`` to make the request."""
        state = record.state
        if state is SendState.SENT:
            return SendResult(
                message_id=record.message_id,
                chat_id=record.chat_id,
                idempotency_key=record.key,
                replayed=True,
            )
        if state is SendState.QUEUED:
            return SendResult(
                message_id=None, chat_id=record.chat_id, idempotency_key=record.key, queued=True
            )
        if state is SendState.FAILED:
            error = _recorded_error(record)
            if not (resend or _retryable(error)):
                raise error
        elif not resend:  # uncertain, or pending after a crash
            raise _uncertain(record)
        if await self.outbox.reopen(record.channel_id, record.key) is None:
            raise _uncertain(record)  # sent or taken meanwhile: do not race it
        return None

    async def enqueue(
        self,
        channel_id: UUID,
        tenant_id: str,
        message: OutboundMessage,
        *,
        key: str,
        platform: str = "unknown",
    ) -> SendResult:
        """Record ``message`` for the sender worker and return at once."""
        telemetry.record_send(platform, message.kind, "queued")
        now = self.clock.now()
        record = SendRecord(
            channel_id,
            key,
            tenant_id,
            message.to,
            SendState.QUEUED,
            now,
            now,
            message=encode_message(_correlated(message, key)),
            available_at=now,
        )
        stored, created = await self.outbox.reserve(record)
        if created or stored.state in (SendState.QUEUED, SendState.PENDING):
            return SendResult(message_id=None, chat_id=message.to, idempotency_key=key, queued=True)
        if stored.state is SendState.FAILED:
            raise _recorded_error(stored)
        replay = await self._repeat(stored, resend=False)  # sent, or raises for uncertain
        assert replay is not None
        return replay


ChannelLookup = Callable[
    [UUID, str], Awaitable[tuple[ChannelAdapter[ChannelConfig], ChannelConfig]]
]
"""Finds the adapter and config of an active channel (raises ``ChannelInactiveError``)."""


class SendWorker:
    """Delivers queued sends: in order per chat, retried while the platform did not act,
    never repeated once it may have (those become ``uncertain``).
    """

    def __init__(
        self,
        outbox: Outbox,
        lookup: ChannelLookup,
        http: httpx.AsyncClient,
        *,
        concurrency: int = 4,
        visibility: timedelta = timedelta(minutes=5),
        retry: HandlerRetry | None = None,
        poll_interval: float = 0.2,
        clock: Clock | None = None,
        name: str | None = None,
        rate_limiter: SendRateLimiter | None = None,
    ) -> None:
        self.outbox = outbox
        self.rate_limiter = rate_limiter
        self.lookup = lookup
        self.http = http
        self.concurrency = concurrency
        self.visibility = visibility
        self.retry = retry or HandlerRetry(max_attempts=10)
        self.poll_interval = poll_interval
        self.clock = clock or SystemClock()
        self.name = name or f"sender-{os.getpid()}-{os.urandom(2).hex()}"
        self.sent = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        if not self._tasks:
            self._stopping = asyncio.Event()
            self._tasks = [asyncio.create_task(self._loop()) for _ in range(self.concurrency)]

    async def stop(self, *, grace: float = 30.0) -> None:
        self._stopping.set()
        tasks, self._tasks = self._tasks, []
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def __aenter__(self) -> SendWorker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def run_once(self, *, limit: int = 100) -> int:
        """Deliver up to ``limit`` due queued sends here; returns how many were tried."""
        leases = await self.outbox.lease(self.name, limit=limit, visibility=self.visibility)
        for lease in leases:
            await self._deliver(lease)
        return len(leases)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                tried = await self.run_once(limit=1)
            except Exception as exc:  # an outage of the store must not end the loop
                logger.error("sender %s cannot reach its outbox: %s", self.name, type(exc).__name__)
                tried = 0
            if not tried:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.poll_interval)

    async def _deliver(self, lease: LeasedSend) -> None:
        record = lease.record
        platform = "unknown"
        try:
            message = decode_message(record.message or b"")
            adapter, config = await self.lookup(record.channel_id, record.tenant_id)
            platform = str(adapter.channel_type)
            check_outbound(adapter, message)  # queued by an older release or another host
            with telemetry.send_span(platform, record.channel_id, message.kind):
                if self.rate_limiter is None:
                    result = await adapter.send(self.http, config, message)
                else:  # a wait past its bound is a RateLimitedError: requeued below
                    limiter = self.rate_limiter
                    result = await limiter.send(
                        adapter, self.http, record.channel_id, config, message
                    )
        except DeliveryUncertainError as exc:
            logger.error(
                "queued send %s may have gone out: %s",
                record.key,
                exc.description,
                extra=log_fields(record.channel_id, platform, record.key),
            )
            await self.outbox.settle(
                lease,
                state=SendState.UNCERTAIN,
                error_type=type(exc).__name__,
                error=exc.description,
            )
        except VentrosChannelsError as exc:  # not sent: tried again or recorded failed
            await self._failed(lease, exc)
        else:
            await self.outbox.settle(lease, state=SendState.SENT, message_id=result.message_id)
            self.sent += 1

    async def _failed(self, lease: LeasedSend, exc: VentrosChannelsError) -> None:
        again = isinstance(exc, ChannelInactiveError | RepositoryUnavailableError) or (
            isinstance(exc, PlatformError) and _retryable(exc)
        )
        description = getattr(exc, "description", None) or str(exc)
        if again and not self.retry.exhausted(lease.record.attempts):
            wait = self.retry.delay(lease.record.attempts)
            if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
                wait = max(wait, timedelta(seconds=exc.retry_after))
            await self.outbox.requeue(
                lease,
                retry_at=self.clock.now() + wait,
                error_type=type(exc).__name__,
                error=description,
            )
            return
        logger.error(
            "queued send %s failed: %s",
            lease.record.key,
            description,
            extra=log_fields(lease.record.channel_id, None, lease.record.key),
        )
        await self.outbox.settle(
            lease, state=SendState.FAILED, error_type=type(exc).__name__, error=description
        )
