"""Workers: take deliveries from an inbox and run the host's handler on each.

A worker leases a delivery, calls the handler with the event and its routing context, and
completes it; a failure gives it back to be retried later (exponential back-off with jitter),
and after ``max_attempts`` it is dead-lettered in the inbox, where it can be listed and
replayed. Handling is **at least once**: a worker that dies mid-way, or whose lease runs out,
means the delivery is handled again. ``event.idempotency_key`` and :func:`current_delivery`
(attempt number, inbox id) let a handler make its own side effects idempotent.

An unreachable inbox store never kills a worker: it backs off, reports itself unhealthy
(:attr:`Worker.health`) and resumes by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime, timedelta

import attrs

from ventros_channels import telemetry
from ventros_channels.clock import Clock, SystemClock
from ventros_channels.domain.channel import RoutingContext
from ventros_channels.errors import DeliveryUncertainError, NotStartedError
from ventros_channels.inbox import Inbox, Leased
from ventros_channels.logging import log_fields
from ventros_channels.messaging.inbound import InboundEvent

__all__ = [
    "EventHandler",
    "HandlerRetry",
    "Worker",
    "WorkerHealth",
    "WorkerStats",
    "current_delivery",
    "next_send_position",
]

logger = logging.getLogger(__name__)

EventHandler = Callable[[InboundEvent, RoutingContext], Awaitable[None]]
"""The host's code for one normalized event and its routing context (any parameter names)."""

_current: ContextVar[Leased | None] = ContextVar("ventros_current_delivery", default=None)
_sends: ContextVar[list[int] | None] = ContextVar("ventros_send_positions", default=None)


def current_delivery() -> Leased | None:
    """The delivery the running handler was called for (attempt number, inbox id, key), or
    ``None`` outside a handler.
    """
    return _current.get()


def next_send_position() -> int | None:
    """0, 1, 2... for each send a running handler makes (``None`` outside a handler): with the
    delivery's key it names a reply the same way when the handler runs again.
    """
    counter = _sends.get()
    if counter is None:
        return None
    counter[0] += 1
    return counter[0] - 1


@attrs.frozen
class HandlerRetry:
    """When a failed delivery is tried again, and when it is given up on."""

    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=5)
    jitter: float = attrs.field(
        default=0.25,
        validator=attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.le(1.0)),
    )
    """Each delay is shortened by a random fraction up to this, so retries spread out."""
    final_errors: tuple[type[BaseException], ...] = (DeliveryUncertainError,)
    """Failures never retried: the delivery is dead-lettered at once. By default a send that
    may have reached the platform, since running the handler again cannot help and the host
    has to decide (see ``DeliveryUncertainError.idempotency_key``)."""

    def delay(self, attempt: int) -> timedelta:
        """Wait before attempt ``attempt + 1`` after attempt ``attempt`` failed."""
        full = min(self.max_delay, self.base_delay * (1 << min(max(0, attempt - 1), 30)))
        return full * (1 - random.random() * self.jitter)  # noqa: S311 (not security)

    def exhausted(self, attempt: int, error: BaseException | None = None) -> bool:
        """Whether to give up after attempt ``attempt`` failed with ``error``."""
        return attempt >= self.max_attempts or isinstance(error, self.final_errors)


@attrs.define
class WorkerStats:
    """What a worker did since it was created."""

    leased: int = 0
    handled: int = 0
    failures: int = 0
    dead_lettered: int = 0
    lost_leases: int = 0
    store_errors: int = 0


@attrs.frozen
class WorkerHealth:
    """Whether the worker can reach its inbox, and the last problem it had."""

    ok: bool
    since: datetime
    last_error: str | None = None


class Worker:
    """Runs ``handler`` on deliveries from ``inbox`` in ``concurrency`` loops.

    A handler still running after ``handler_timeout`` is cancelled and counts as a failure
    (retried, then dead-lettered), so one stuck call (a socket with no timeout, a lock never
    released) cannot hold its chat for ever while the lease keeps being renewed.

    Use as an async context manager, or ``await worker.start()`` / ``await worker.stop()``.
    """

    def __init__(
        self,
        inbox: Inbox,
        handler: EventHandler,
        *,
        name: str | None = None,
        concurrency: int = 4,
        visibility: timedelta = timedelta(seconds=60),
        handler_timeout: timedelta | None = timedelta(minutes=5),
        retry: HandlerRetry | None = None,
        poll_interval: float = 0.5,
        clock: Clock | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.inbox = inbox
        self.handler = handler
        self.name = name or f"worker-{os.getpid()}-{os.urandom(2).hex()}"
        self.concurrency = concurrency
        self.visibility = visibility
        self.handler_timeout = handler_timeout
        self.retry = retry or HandlerRetry()
        self.poll_interval = poll_interval
        self.clock = clock or SystemClock()
        self.stats = WorkerStats()
        self._health = WorkerHealth(True, self.clock.now())
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    def __repr__(self) -> str:
        return f"Worker(name={self.name!r}, concurrency={self.concurrency})"

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    @property
    def health(self) -> WorkerHealth:
        return self._health

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the handling loops (no-op when running)."""
        if self._tasks:
            return
        self._stopping = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._loop(f"{self.name}-{n}"), name=f"{self.name}-{n}")
            for n in range(self.concurrency)
        ]

    async def stop(self, *, grace: float | None = 30.0) -> None:
        """Stop taking deliveries and let the ones being handled finish; after ``grace``
        seconds the rest are cancelled and given back to the inbox.
        """
        self._stopping.set()
        self._wake.set()
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def notify(self) -> None:
        """Wake idle loops now (called by an in-process dispatcher after it accepted)."""
        self._wake.set()

    async def run_once(self, *, limit: int = 100) -> int:
        """Lease up to ``limit`` ready deliveries and handle them here; returns how many.

        For tests and scripts; a running worker does this continuously.
        """
        leases = await self.inbox.lease(self.name, limit=limit, visibility=self.visibility)
        self.stats.leased += len(leases)
        for lease in leases:
            await self._handle(lease)
        return len(leases)

    async def wait_until_idle(self, *, within: float = 30.0) -> None:
        """Wait until the inbox has nothing ready, scheduled or in flight."""
        if not self._tasks:
            raise NotStartedError("the worker is not running: call start() first")
        async with asyncio.timeout(within):
            while (await self.inbox.stats()).backlog:
                self._wake.set()
                await asyncio.sleep(0.005)

    # ------------------------------------------------------------------ loops

    async def _loop(self, name: str) -> None:
        outages = 0
        while not self._stopping.is_set():
            try:
                leases = await self.inbox.lease(name, limit=1, visibility=self.visibility)
            except Exception as exc:  # an outage must never end the loop
                outages += 1
                self._trouble(exc)
                await self._pause(self._outage_delay(outages))
                continue
            if outages:
                outages = 0
                self._recovered()
            if not leases:
                await self._idle()
                continue
            self.stats.leased += len(leases)
            for lease in leases:
                await self._handle(lease)

    async def _idle(self) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _outage_delay(self, outages: int) -> float:
        return min(30.0, 0.1 * (1 << min(outages, 10))) * (0.5 + random.random() / 2)  # noqa: S311

    def _trouble(self, exc: BaseException) -> None:
        self.stats.store_errors += 1
        message = f"{type(exc).__name__}: {exc}"
        if self._health.ok:
            logger.error("worker %s cannot reach its inbox: %s", self.name, message)
            self._health = WorkerHealth(False, self.clock.now(), message)
        else:
            self._health = WorkerHealth(False, self._health.since, message)

    def _recovered(self) -> None:
        logger.warning("worker %s reaches its inbox again", self.name)
        self._health = WorkerHealth(True, self.clock.now(), self._health.last_error)

    # ------------------------------------------------------------------ one delivery

    async def _handle(self, lease: Leased) -> None:
        holder = [lease]
        beat = asyncio.create_task(self._heartbeat(holder))
        token = _current.set(lease)
        positions = _sends.set([0])
        error: Exception | None = None
        limit = self.handler_timeout.total_seconds() if self.handler_timeout else None
        delivery = lease.delivery
        platform = str(delivery.context.channel_type)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(limit):  # a stuck handler must not hold its chat forever
                with telemetry.span(
                    telemetry.HANDLE,
                    _span_attributes(lease),
                    parent=delivery.trace or {},  # a delivery without one starts its own trace
                    kind="consumer",
                ):
                    await self.handler(delivery.event, delivery.context)
        except asyncio.CancelledError:
            beat.cancel()
            await self._give_back(holder[0])
            raise
        except Exception as exc:
            error = exc
        finally:
            _current.reset(token)
            _sends.reset(positions)
            beat.cancel()
        took = time.perf_counter() - started
        if error is None:
            telemetry.record_handling(platform, "handled", took)
            await self._settle(holder[0], "complete")
            self.stats.handled += 1
            return
        self.stats.failures += 1
        description = f"{type(error).__name__}: {error}"[:2000]
        extra = log_fields(delivery.channel_id, platform, delivery.key)
        if self.retry.exhausted(lease.attempt, error):
            telemetry.record_handling(platform, "dead_letter", took)
            logger.error(
                "delivery %s dead-lettered after %d attempts: %s",
                lease.delivery.key,
                lease.attempt,
                description,
                extra=extra,
            )
            await self._settle(holder[0], "dead_letter", error=description)
            self.stats.dead_lettered += 1
            return
        logger.warning(
            "handler failed for %s (attempt %d): %s",
            lease.delivery.key,
            lease.attempt,
            description,
            extra=extra,
        )
        telemetry.record_handling(platform, "retry", took)
        retry_at = self.clock.now() + self.retry.delay(lease.attempt)
        await self._settle(holder[0], "fail", error=description, retry_at=retry_at)

    async def _heartbeat(self, holder: list[Leased]) -> None:
        """Renew the lease while the handler runs, so a slow handler keeps its delivery."""
        every = max(0.05, self.visibility.total_seconds() / 3)
        while True:
            await asyncio.sleep(every)
            try:
                renewed = await self.inbox.extend(holder[0], visibility=self.visibility)
            except Exception as exc:
                self._trouble(exc)
                continue
            if renewed is None:
                logger.warning(
                    "lease of %s was lost while handling",
                    holder[0].delivery.key,
                    extra=_fields(holder[0]),
                )
                return
            holder[0] = renewed

    async def _settle(
        self,
        lease: Leased,
        outcome: str,
        *,
        error: str = "",
        retry_at: datetime | None = None,
    ) -> None:
        """Record the outcome, retrying while the store is unreachable and the lease lasts.

        If the lease runs out first, the delivery is handed out again (at least once).
        """
        outages = 0
        while True:
            try:
                if outcome == "complete":
                    done = await self.inbox.complete(lease)
                elif outcome == "dead_letter":
                    done = await self.inbox.dead_letter(lease, error=error)
                else:
                    assert retry_at is not None
                    done = await self.inbox.fail(lease, error=error, retry_at=retry_at)
            except Exception as exc:
                outages += 1
                self._trouble(exc)
                if self.clock.now() >= lease.leased_until:
                    logger.warning(
                        "lease of %s ran out before it was settled",
                        lease.delivery.key,
                        extra=_fields(lease),
                    )
                    return
                await asyncio.sleep(self._outage_delay(outages))
                continue
            if outages:
                self._recovered()
            if not done:
                self.stats.lost_leases += 1
                logger.warning(
                    "lease of %s was lost; it will be handled again",
                    lease.delivery.key,
                    extra=_fields(lease),
                )
            return

    async def _give_back(self, lease: Leased) -> None:
        """Cancelled mid-way: make the delivery available again at once (best effort)."""
        with contextlib.suppress(Exception):
            await asyncio.shield(
                self.inbox.fail(lease, error="worker stopped", retry_at=self.clock.now())
            )


def _fields(lease: Leased) -> dict[str, str | None]:
    delivery = lease.delivery
    return log_fields(delivery.channel_id, str(delivery.context.channel_type), delivery.key)


def _span_attributes(lease: Leased) -> dict[str, str | int]:
    """What the handling span says: no key or chat id (they may hold a phone number)."""
    delivery = lease.delivery
    return {
        "ventros.platform": str(delivery.context.channel_type),
        "ventros.channel_id": str(delivery.channel_id),
        "ventros.event.kind": delivery.event.kind,
        "ventros.delivery.attempt": lease.attempt,
        "ventros.inbox.id": lease.id,
    }
