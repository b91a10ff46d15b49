"""The webhook dispatcher: one framework-agnostic call from raw request to HTTP answer.

Per delivery, on the request path: find the channel (cached in the process for ``cache_ttl``,
and in a ``shared_cache`` such as Redis when given), check it takes deliveries of
that type, verify the raw bytes, parse, claim each event's idempotency key, count it, and
queue it. The host's handler runs off the request path in background workers, so the
platform gets its answer without waiting on the host.

Answers: 200 accepted (duplicates included: the platform must stop retrying), 400 malformed
body, 401 bad signature, 403 refused handshake or channel not taking deliveries, 404 unknown
channel, 405 wrong method, 503 queue full (nothing was claimed, so the platform's retry is
processed).

When the host's handler fails, it is retried ``handler_attempts`` times; an event that still
fails goes to the ``dead_letter`` hook (default: kept in :attr:`WebhookDispatcher.dead_letters`
and logged), so no event is lost silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol
from uuid import UUID

import attrs
from pydantic import SecretStr

from ventros_channels.adapters.base import ChannelAdapter
from ventros_channels.adapters.registry import AdapterRegistry, default_registry
from ventros_channels.cache import ChannelCache
from ventros_channels.clock import Clock, SystemClock
from ventros_channels.dedupe import DedupeStore, InMemoryDedupeStore
from ventros_channels.domain.channel import Channel, RoutingContext
from ventros_channels.domain.types import ChannelStatus
from ventros_channels.domain.values import MetricsDelta
from ventros_channels.errors import (
    AdapterLoadError,
    AdapterNotFoundError,
    VentrosChannelsError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from ventros_channels.messaging.delivery import DeliveryStatus
from ventros_channels.messaging.inbound import (
    InboundEvent,
    MessageReceived,
    SessionStatusChanged,
    StatusChanged,
)
from ventros_channels.publisher import EventPublisher
from ventros_channels.repository import ChannelRepository
from ventros_channels.webhooks.request import VerificationKeys, WebhookRequest, WebhookResponse

__all__ = ["DeadLetter", "DispatcherStats", "EventHandler", "WebhookDispatcher"]

logger = logging.getLogger("ventros_channels.webhooks")

ACCEPTING = frozenset({ChannelStatus.ACTIVE, ChannelStatus.CONNECTING, ChannelStatus.DISCONNECTED})
"""Statuses in which a channel takes deliveries (a disconnected one may be reconnecting)."""


class EventHandler(Protocol):
    """The host's code for one normalized event and its routing context."""

    def __call__(self, event: InboundEvent, context: RoutingContext) -> Awaitable[None]: ...


@attrs.frozen
class DeadLetter:
    """An event whose handling kept failing, with the last error."""

    event: InboundEvent
    context: RoutingContext
    error: str
    failed_at: datetime


@attrs.define
class DispatcherStats:
    """Counters of what the dispatcher saw since it was created."""

    deliveries: int = 0
    accepted_events: int = 0
    duplicates: int = 0
    rejected_signature: int = 0
    malformed: int = 0
    unknown_channel: int = 0
    not_accepting: int = 0
    queue_full: int = 0
    handled: int = 0
    handler_failures: int = 0
    dead_lettered: int = 0
    unrouted_entries: int = 0


class _Job:
    __slots__ = ("context", "event", "key", "token")

    def __init__(self, event: InboundEvent, context: RoutingContext, key: str, token: str):
        self.event, self.context, self.key, self.token = event, context, key, token


class _Tally:
    """Counter increments of one channel waiting to be written (cheap to bump)."""

    __slots__ = (
        "delivered",
        "failed",
        "last_message_at",
        "last_webhook_at",
        "read",
        "received",
        "tenant_id",
        "webhooks",
    )

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.received = self.delivered = self.read = self.failed = self.webhooks = 0
        self.last_message_at: datetime | None = None
        self.last_webhook_at: datetime | None = None

    def delta(self) -> MetricsDelta:
        return MetricsDelta(
            received=self.received,
            delivered=self.delivered,
            read=self.read,
            failed=self.failed,
            webhooks_accepted=self.webhooks,
            last_message_at=self.last_message_at,
            last_webhook_at=self.last_webhook_at,
        )


_KEYS_REUSE = timedelta(seconds=1)
_RESP_OK = WebhookResponse(200, b"OK")
_RESP_BAD = WebhookResponse(400, b"malformed payload")
_RESP_SIG = WebhookResponse(401, b"signature verification failed")
_RESP_FORBIDDEN = WebhookResponse(403, b"forbidden")
_RESP_UNKNOWN = WebhookResponse(404, b"unknown channel")
_RESP_METHOD = WebhookResponse(405, b"method not allowed")
_RESP_BUSY = WebhookResponse(503, b"busy, retry later")


class WebhookDispatcher:
    """Routes platform deliveries to the host's :class:`EventHandler`.

    Use as an async context manager (or call :meth:`start` / :meth:`stop`) so the
    background workers run. ``app_secrets`` holds, per channel type, the secrets of the
    app-level endpoint (one Meta app or one WAHA server for many channels), and
    ``app_verify_tokens`` the tokens its subscription handshake accepts.
    """

    def __init__(
        self,
        repository: ChannelRepository,
        handler: EventHandler,
        *,
        registry: AdapterRegistry | None = None,
        dedupe: DedupeStore | None = None,
        clock: Clock | None = None,
        workers: int = 4,
        queue_size: int = 10_000,
        handler_attempts: int = 3,
        dead_letter: Callable[[DeadLetter], Awaitable[None]] | None = None,
        dedupe_lease: timedelta = timedelta(minutes=5),
        dedupe_retain: timedelta = timedelta(days=7),
        cache_ttl: timedelta = timedelta(seconds=60),
        shared_cache: ChannelCache | None = None,
        tolerance: timedelta = timedelta(minutes=5),
        app_secrets: dict[str, Sequence[str]] | None = None,
        app_verify_tokens: dict[str, Sequence[str]] | None = None,
        metrics_flush_interval: float = 1.0,
        session_status_hook: Callable[[Channel, SessionStatusChanged], Awaitable[None]]
        | None = None,
        mode: Literal["background", "inline"] = "background",
        publisher: EventPublisher | None = None,
    ) -> None:
        self.repository = repository
        self.handler = handler
        self.registry = registry or default_registry()
        self.clock = clock or SystemClock()
        self.dedupe = dedupe or InMemoryDedupeStore(clock=self.clock)
        self.stats = DispatcherStats()
        self.dead_letters: list[DeadLetter] = []
        self.mode = mode
        self._workers = workers
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=queue_size)
        self._tasks: list[asyncio.Task[None]] = []
        self._attempts = max(1, handler_attempts)
        self._dead_letter = dead_letter
        self._lease = dedupe_lease
        self._retain = dedupe_retain
        self._cache_ttl = cache_ttl
        self.shared_cache = shared_cache
        self._tolerance = tolerance
        self._cache: dict[str, tuple[datetime, Channel]] = {}
        self._contexts: dict[UUID, tuple[Channel, RoutingContext, str]] = {}
        self._keys_cache: dict[UUID, tuple[Channel, VerificationKeys]] = {}
        self._tally: dict[UUID, _Tally] = {}
        self._flush_interval = metrics_flush_interval
        self._flusher: asyncio.Task[None] | None = None
        self._recent: OrderedDict[bytes, None] = OrderedDict()
        self._recent_max = 100_000
        self._app_secrets = app_secrets or {}
        self._app_tokens = app_verify_tokens or {}
        self._session_hook = session_status_hook
        self.publisher = publisher

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if not self._tasks and self.mode == "background":
            self._tasks = [asyncio.create_task(self._worker()) for _ in range(self._workers)]
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_loop())

    async def stop(self, *, drain: bool = True) -> None:
        """Stop the workers, first finishing queued events unless ``drain`` is false."""
        if drain and self._tasks:
            await self._queue.join()
        tasks = [*self._tasks, *([self._flusher] if self._flusher else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks, self._flusher = [], None
        await self.flush_metrics()

    async def __aenter__(self) -> WebhookDispatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def drain(self) -> None:
        """Wait until every queued event was handled and counted (tests, shutdown)."""
        await self._queue.join()
        await self.flush_metrics()

    async def on_channel_changed(self, channel_id: UUID) -> None:
        """Hook for ``ChannelService.on_change``: drop the cached channel here and in the
        shared cache (so every process sharing it reloads).
        """
        self.invalidate(channel_id)
        if self.shared_cache is not None:
            await self.shared_cache.invalidate(channel_id)

    def invalidate(self, channel_id: UUID | str) -> None:
        """Forget the cached channel (call after changing it; ChannelService can do it)."""
        key = str(channel_id)
        self._cache.pop(key, None)
        for known in [k for k in self._contexts if str(k) == key]:
            del self._contexts[known]
        for known in [k for k in self._keys_cache if str(k) == key]:
            del self._keys_cache[known]

    # ------------------------------------------------------------------ lookups

    async def _channel(self, key: str, now: datetime) -> Channel | None:
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            channel_id = UUID(key)
        except ValueError:
            return None
        channel: Channel | None = None
        shared = self.shared_cache
        if shared is not None:
            snapshot = await shared.get(channel_id)
            if snapshot is not None:
                channel = Channel.from_snapshot(snapshot, clock=self.clock)
        if channel is None:
            channel = await self.repository.lookup(channel_id)
            if channel is not None and shared is not None:
                await shared.set(channel_id, channel.to_snapshot(), ttl=self._cache_ttl)
        if channel is not None:
            self._cache[key] = (now + self._cache_ttl, channel)
        else:
            self._cache.pop(key, None)
        return channel

    def _adapter(self, channel_type: str) -> ChannelAdapter[Any] | None:
        try:
            return self.registry.get(channel_type)
        except (AdapterNotFoundError, AdapterLoadError):
            return None

    # ------------------------------------------------------------------ entry points

    async def handle(
        self, channel_type: str, channel_id: str | UUID, request: WebhookRequest
    ) -> WebhookResponse:
        """Handle a delivery to ``/webhooks/{channel_type}/{channel_id}``."""
        self.stats.deliveries += 1
        now = self.clock.now()
        channel = await self._channel(str(channel_id), now)
        adapter = self._adapter(channel_type)
        if channel is None or adapter is None or channel.channel_type != channel_type:
            self.stats.unknown_channel += 1
            return _RESP_UNKNOWN
        if request.method == "GET":
            return self._handshake(adapter, channel, request)
        if request.method != "POST":
            return _RESP_METHOD
        if channel.status not in ACCEPTING:
            self.stats.not_accepting += 1
            return _RESP_FORBIDDEN
        cid = channel.id
        keys = self._keys(channel, now)
        try:
            adapter.verify(request, keys)
        except WebhookVerificationError as exc:
            self.stats.rejected_signature += 1
            logger.warning("rejected delivery for channel %s: %s", cid, exc.reason)
            await self._count(channel, MetricsDelta(webhooks_rejected=1, last_webhook_at=now))
            return _RESP_SIG
        digest = hashlib.blake2b(request.body, digest_size=16, key=cid.bytes).digest()
        if digest in self._recent:  # the exact bytes were accepted before: a platform retry
            self.stats.duplicates += 1
            self._recent.move_to_end(digest)
            return adapter.success_response(())
        try:
            events = adapter.parse(request.body, channel.config)
        except WebhookPayloadError as exc:
            return await self._malformed(channel, request, exc, now)
        answer = await self._accept(adapter, channel, events, now)
        if answer.status == 200:
            self._recent[digest] = None
            if len(self._recent) > self._recent_max:
                self._recent.popitem(last=False)
        return answer

    async def handle_app(self, channel_type: str, request: WebhookRequest) -> WebhookResponse:
        """Handle a delivery to the app-level ``/webhooks/{channel_type}``: verified with the
        app's secret, then each event routed to its channel by the platform's account id.
        """
        self.stats.deliveries += 1
        adapter = self._adapter(channel_type)
        if adapter is None:
            self.stats.unknown_channel += 1
            return _RESP_UNKNOWN
        if request.method not in ("POST", "GET"):
            return _RESP_METHOD
        secrets = tuple(SecretStr(s) for s in self._app_secrets.get(channel_type, ()))
        now = self.clock.now()
        if request.method == "GET":
            try:
                answer = adapter.app_handshake(request, self._app_tokens.get(channel_type, ()))
            except WebhookVerificationError:
                return _RESP_FORBIDDEN
            return answer if answer is not None else _RESP_METHOD
        try:
            adapter.verify(request, VerificationKeys(secrets, now=now, tolerance=self._tolerance))
        except WebhookVerificationError as exc:
            self.stats.rejected_signature += 1
            logger.warning("rejected app-level %s delivery: %s", channel_type, exc.reason)
            return _RESP_SIG
        try:
            events = adapter.parse(request.body, None)
        except WebhookPayloadError as exc:
            self.stats.malformed += 1
            logger.warning("malformed app-level %s delivery: %s", channel_type, exc.reason)
            return _RESP_BAD
        by_account: dict[str | None, list[InboundEvent]] = {}
        for event in events:
            by_account.setdefault(event.account_id, []).append(event)
        busy = False
        for account, group in by_account.items():
            matches = (
                await self.repository.find_by_external_id(channel_type, account)
                if account is not None
                else []
            )
            if len(matches) != 1:
                self.stats.unrouted_entries += len(group)
                logger.error(
                    "%d %s event(s) for account %r not routed: %s",
                    len(group),
                    channel_type,
                    account,
                    "no channel" if not matches else "several channels claim it",
                )
                continue
            answer = await self._accept(adapter, matches[0], group, now)
            busy |= answer.status == 503
        return _RESP_BUSY if busy else _RESP_OK

    # ------------------------------------------------------------------ steps

    def _keys(self, channel: Channel, now: datetime) -> VerificationKeys:
        """Verification keys of a channel, reused for up to a second (the clock in them only
        serves replay windows of minutes; rotation grace ends are honoured to the second).
        """
        cached = self._keys_cache.get(channel.id)
        if cached is not None and cached[0] is channel and now - cached[1].now < _KEYS_REUSE:
            return cached[1]
        keys = VerificationKeys(
            channel.webhook_secrets(),
            now=now,
            allow_unsigned=channel.webhook.accept_unsigned,
            tolerance=self._tolerance,
        )
        self._keys_cache[channel.id] = (channel, keys)
        return keys

    def _handshake(
        self, adapter: ChannelAdapter[Any], channel: Channel, request: WebhookRequest
    ) -> WebhookResponse:
        try:
            answer = adapter.handshake(request, channel.config)
        except WebhookVerificationError:
            return _RESP_FORBIDDEN
        return answer if answer is not None else _RESP_METHOD

    async def _malformed(
        self, channel: Channel, request: WebhookRequest, exc: WebhookPayloadError, now: datetime
    ) -> WebhookResponse:
        self.stats.malformed += 1
        delivery = (
            request.header("x-webhook-request-id")
            or request.header("x-request-id")
            or f"{len(request.body)} bytes"
        )
        logger.warning("malformed delivery %s for channel %s: %s", delivery, channel.id, exc.reason)
        await self._count(
            channel,
            MetricsDelta(
                webhooks_rejected=1,
                errors=1,
                last_webhook_at=now,
                last_error_at=now,
                last_error=f"malformed webhook payload: {exc.reason}",
            ),
        )
        return _RESP_BAD

    async def _accept(
        self,
        adapter: ChannelAdapter[Any],
        channel: Channel,
        events: Sequence[InboundEvent],
        now: datetime,
    ) -> WebhookResponse:
        known = self._contexts.get(channel.id)
        if known is not None and known[0] is channel:
            _, context, prefix = known
        else:
            context, prefix = channel.routing_context(), f"{channel.id}:"
            self._contexts[channel.id] = (channel, context, prefix)
        claimed: list[_Job] = []
        tally = _Tally(channel.tenant_id)
        tally.webhooks = 1
        tally.last_webhook_at = now
        for event in events:
            key = prefix + event.idempotency_key
            claim = await self.dedupe.claim(key, lease=self._lease)
            if claim.token is None:
                self.stats.duplicates += 1
                continue
            claimed.append(_Job(event, context, key, claim.token))
            kind = type(event)
            if kind is MessageReceived:
                tally.received += 1
                tally.last_message_at = event.timestamp
            elif kind is StatusChanged:
                status = event.status  # type: ignore[union-attr]
                if status is DeliveryStatus.DELIVERED:
                    tally.delivered += 1
                elif status is DeliveryStatus.READ or status is DeliveryStatus.PLAYED:
                    tally.read += 1
                elif status is DeliveryStatus.FAILED:
                    tally.failed += 1
        if self.mode == "inline":
            return await self._run_inline(adapter, channel, claimed, events, tally)
        for position, job in enumerate(claimed):
            try:
                self._queue.put_nowait(job)
            except asyncio.QueueFull:
                self.stats.queue_full += 1
                for pending in claimed[position:]:
                    await self.dedupe.release(pending.key, pending.token)
                logger.error("queue full: delivery for channel %s refused (503)", channel.id)
                return _RESP_BUSY
        self.stats.accepted_events += len(claimed)
        await self._count_tally(channel.id, tally)
        return adapter.success_response(events)

    async def _run_inline(
        self,
        adapter: ChannelAdapter[Any],
        channel: Channel,
        jobs: list[_Job],
        events: Sequence[InboundEvent],
        tally: _Tally,
    ) -> WebhookResponse:
        for position, job in enumerate(jobs):
            try:
                await self._deliver(job)
            except Exception:
                self.stats.handler_failures += 1
                logger.exception("handler failed for %s; the platform will retry", job.key)
                for pending in jobs[position:]:
                    await self.dedupe.release(pending.key, pending.token)
                return WebhookResponse(500, b"handler failed")
            await self.dedupe.complete(job.key, job.token, retain=self._retain)
            self.stats.handled += 1
        self.stats.accepted_events += len(jobs)
        await self._count_tally(channel.id, tally)
        return adapter.success_response(events)

    async def _count(self, channel: Channel, delta: MetricsDelta) -> None:
        """Write counters of a rejected delivery (rare: no batching needed)."""
        await self._write_metrics(channel.id, channel.tenant_id, delta)

    async def _count_tally(self, channel_id: UUID, tally: _Tally) -> None:
        """Add an accepted delivery's counters: batched while the flusher runs."""
        if self._flusher is None:
            await self._write_metrics(channel_id, tally.tenant_id, tally.delta())
            return
        pending = self._tally.get(channel_id)
        if pending is None:
            self._tally[channel_id] = tally
            return
        pending.received += tally.received
        pending.delivered += tally.delivered
        pending.read += tally.read
        pending.failed += tally.failed
        pending.webhooks += tally.webhooks
        if tally.last_message_at is not None and (
            pending.last_message_at is None or tally.last_message_at > pending.last_message_at
        ):
            pending.last_message_at = tally.last_message_at
        if tally.last_webhook_at is not None and (
            pending.last_webhook_at is None or tally.last_webhook_at > pending.last_webhook_at
        ):
            pending.last_webhook_at = tally.last_webhook_at

    async def _write_metrics(self, channel_id: UUID, tenant_id: str, delta: MetricsDelta) -> None:
        try:
            await self.repository.record_metrics(channel_id, delta, tenant_id=tenant_id)
        except VentrosChannelsError as exc:  # metrics must never cost a delivery
            logger.warning("could not record metrics for %s: %s", channel_id, exc)

    async def flush_metrics(self) -> None:
        """Write the batched counter increments to the repository now."""
        tallies, self._tally = self._tally, {}
        for channel_id, tally in tallies.items():
            await self._write_metrics(channel_id, tally.tenant_id, tally.delta())

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            await self.flush_metrics()

    # ------------------------------------------------------------------ workers

    async def _deliver(self, job: _Job) -> None:
        event = job.event
        if type(event) is SessionStatusChanged:
            await self._apply_session_status(job.context, event)
        await self.handler(event, job.context)

    async def _apply_session_status(
        self, context: RoutingContext, event: SessionStatusChanged
    ) -> None:
        channel = await self.repository.get(context.channel_id, tenant_id=context.tenant_id)
        if self._session_hook is not None:
            await self._session_hook(channel, event)
            return
        try:
            channel.record_session_status(event.status)
        except (VentrosChannelsError, ValueError) as exc:
            logger.warning("session status %r not applied to %s: %s", event.status, channel.id, exc)
            return
        events = channel.pending_events
        await self.repository.save(channel)
        channel.pull_events()
        await self.on_channel_changed(channel.id)
        if self.publisher is not None and events:
            await self.publisher.publish(events)

    async def _worker(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._process(job)
            finally:
                self._queue.task_done()

    async def _process(self, job: _Job) -> None:
        error: BaseException | None = None
        for attempt in range(self._attempts):
            try:
                await self._deliver(job)
            except asyncio.CancelledError:
                await self.dedupe.release(job.key, job.token)
                raise
            except Exception as exc:
                error = exc
                self.stats.handler_failures += 1
                logger.warning("handler failed for %s (attempt %d): %r", job.key, attempt + 1, exc)
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
                continue
            await self.dedupe.complete(job.key, job.token, retain=self._retain)
            self.stats.handled += 1
            return
        letter = DeadLetter(job.event, job.context, repr(error), self.clock.now())
        try:
            if self._dead_letter is not None:
                await self._dead_letter(letter)
            else:
                self.dead_letters.append(letter)
                logger.error("event %s dead-lettered after %d attempts", job.key, self._attempts)
        except Exception:
            logger.exception("dead-letter hook failed for %s; releasing it", job.key)
            await self.dedupe.release(job.key, job.token)
            return
        self.stats.dead_lettered += 1
        await self.dedupe.complete(job.key, job.token, retain=self._retain)
