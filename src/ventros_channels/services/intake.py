"""Webhook intake: from a raw request to verified, parsed events of a known channel.

Finds the channel (cached in the process for ``cache_ttl``, and in a shared cache such as Redis
when given), checks that it takes deliveries of that type, verifies the raw bytes and parses.
Nothing here records or handles events: the dispatcher hands what intake returns to the inbox.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
from pydantic import SecretStr

from ventros_channels import telemetry
from ventros_channels.adapters.base import ChannelAdapter
from ventros_channels.adapters.registry import AdapterRegistry
from ventros_channels.cache import ChannelCache
from ventros_channels.clock import Clock
from ventros_channels.domain.channel import Channel, RoutingContext
from ventros_channels.domain.types import ChannelStatus
from ventros_channels.domain.values import MetricsDelta
from ventros_channels.errors import (
    AdapterLoadError,
    AdapterNotFoundError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from ventros_channels.logging import log_fields
from ventros_channels.messaging.inbound import InboundEvent, SessionStatusChanged
from ventros_channels.repository import ChannelRepository
from ventros_channels.services.metrics import MetricsBuffer
from ventros_channels.webhooks.request import VerificationKeys, WebhookRequest, WebhookResponse

__all__ = ["ACCEPTING", "DispatcherStats", "IntakeSettings", "Verified", "WebhookIntake"]

logger = logging.getLogger(__name__)

ACCEPTING = frozenset({ChannelStatus.ACTIVE, ChannelStatus.CONNECTING, ChannelStatus.DISCONNECTED})
"""Statuses in which a channel takes every delivery (a disconnected one may be reconnecting).

In the other non-deleted statuses a channel still takes deliveries that only report its own
session status, so a platform can bring a channel back out of ``error`` by itself.
"""

RESP_OK = WebhookResponse(200, b"OK")
RESP_BAD = WebhookResponse(400, b"malformed payload")
RESP_SIG = WebhookResponse(401, b"signature verification failed")
RESP_FORBIDDEN = WebhookResponse(403, b"forbidden")
RESP_UNKNOWN = WebhookResponse(404, b"unknown channel")
RESP_METHOD = WebhookResponse(405, b"method not allowed")
RESP_TOO_LARGE = WebhookResponse(413, b"payload too large")
RESP_MEDIA_TYPE = WebhookResponse(415, b"unsupported media type")
RESP_BUSY = WebhookResponse(503, b"busy, retry later")

_KEYS_REUSE = timedelta(seconds=1)
_RECENT_MAX = 100_000


@attrs.frozen
class IntakeSettings:
    """How deliveries are checked. The defaults suit most hosts."""

    tolerance: timedelta = timedelta(minutes=5)
    """Freshness window for platforms that sign a timestamp."""
    cache_ttl: timedelta = timedelta(seconds=60)
    """How long a channel read from the repository is reused for deliveries."""
    app_secrets: Mapping[str, Sequence[str]] = attrs.field(factory=dict, repr=False)
    """Per channel type, the secrets of the app-level endpoint (one app serving many channels)."""
    app_verify_tokens: Mapping[str, Sequence[str]] = attrs.field(factory=dict, repr=False)
    """Per channel type, the tokens the app-level subscription handshake accepts."""
    max_body_bytes: int = 4 * 1024 * 1024
    """Larger bodies are refused with 413 (checked while reading in the ASGI app)."""


@attrs.define
class DispatcherStats:
    """What the webhook path saw since the dispatcher was created."""

    deliveries: int = 0
    verified: int = 0
    accepted_events: int = 0
    duplicates: int = 0
    inbox_unavailable: int = 0
    repository_unavailable: int = 0
    not_started: int = 0
    rejected_signature: int = 0
    malformed: int = 0
    too_large: int = 0
    wrong_media_type: int = 0
    unknown_channel: int = 0
    not_accepting: int = 0
    unrouted_entries: int = 0


@attrs.frozen
class Verified:
    """Events of one channel that passed verification and parsing."""

    adapter: ChannelAdapter[Any]
    channel: Channel
    context: RoutingContext
    events: Sequence[InboundEvent]
    digest: bytes = b""
    """Keyed hash of the body; :meth:`WebhookIntake.remember` it once recorded."""


class WebhookIntake:
    """Checks deliveries; see the module docstring."""

    def __init__(
        self,
        repository: ChannelRepository,
        registry: AdapterRegistry,
        clock: Clock,
        *,
        settings: IntakeSettings | None = None,
        shared_cache: ChannelCache | None = None,
        metrics: MetricsBuffer | None = None,
        stats: DispatcherStats | None = None,
    ) -> None:
        self.repository = repository
        self.metrics = metrics
        self.registry = registry
        self.clock = clock
        self.settings = settings or IntakeSettings()
        self.shared_cache = shared_cache
        self.stats = stats or DispatcherStats()
        self._cache: dict[str, tuple[datetime, Channel]] = {}
        self._contexts: dict[UUID, tuple[Channel, RoutingContext]] = {}
        self._keys: dict[UUID, tuple[Channel, VerificationKeys]] = {}
        self._recent: OrderedDict[bytes, None] = OrderedDict()

    def remember(self, verified: Verified) -> None:
        """Note that a body was recorded, so an exact retry is answered without parsing it
        again (the inbox would recognise it anyway; this only saves the work).
        """
        if verified.digest:
            self._recent[verified.digest] = None
            if len(self._recent) > _RECENT_MAX:
                self._recent.popitem(last=False)

    def invalidate(self, channel_id: UUID | str) -> None:
        """Forget what is cached about a channel in this process."""
        key = str(channel_id)
        self._cache.pop(key, None)
        for known in [k for k in self._contexts if str(k) == key]:
            del self._contexts[known]
        for known in [k for k in self._keys if str(k) == key]:
            del self._keys[known]

    # ------------------------------------------------------------------ per channel

    async def channel_delivery(
        self, channel_type: str, channel_id: str | UUID, request: WebhookRequest
    ) -> WebhookResponse | Verified:
        """Check a delivery to ``/webhooks/{channel_type}/{channel_id}``."""
        self.stats.deliveries += 1
        now = self.clock.now()
        channel = await self._channel(str(channel_id), now)
        adapter = self._adapter(channel_type)
        if channel is None or adapter is None or channel.channel_type != channel_type:
            self.stats.unknown_channel += 1
            return RESP_UNKNOWN
        refused = self._refuse_request(adapter, channel, request)
        if refused is not None:
            return refused
        checked = await self._verified_events(adapter, channel, request, now)
        if isinstance(checked, WebhookResponse):
            return checked
        events, digest = checked
        if channel.status not in ACCEPTING and not _only_session_status(events):
            self.stats.not_accepting += 1
            return RESP_FORBIDDEN
        self.stats.verified += 1
        return Verified(adapter, channel, self._context(channel), events, digest)

    def _refuse_request(
        self, adapter: ChannelAdapter[Any], channel: Channel, request: WebhookRequest
    ) -> WebhookResponse | None:
        """The answer to anything but a delivery the channel may take: a handshake's, or a
        refusal of the method, the body or a deleted channel; ``None`` to go on."""
        if request.method == "GET":
            return self._handshake(adapter, channel, request)
        refused = self._refuse_post(adapter, request)
        if refused is None and channel.is_deleted:
            self.stats.not_accepting += 1
            return RESP_FORBIDDEN
        return refused

    async def _verified_events(
        self, adapter: ChannelAdapter[Any], channel: Channel, request: WebhookRequest, now: datetime
    ) -> WebhookResponse | tuple[list[InboundEvent], bytes]:
        """The delivery's events and the digest of its bytes once the signature holds; the
        answer instead when it does not, when the bytes were already taken, or cannot be read.
        """
        try:
            adapter.verify(request, self._verification_keys(channel, now))
            telemetry.event(telemetry.VERIFIED)
        except WebhookVerificationError as exc:
            self.stats.rejected_signature += 1
            logger.warning(
                "rejected delivery for channel %s: %s",
                channel.id,
                exc.reason,
                extra=log_fields(channel.id, channel.channel_type, None),
            )
            await self._count(channel, MetricsDelta(webhooks_rejected=1, last_webhook_at=now))
            return RESP_SIG
        digest = hashlib.blake2b(request.body, digest_size=16, key=channel.id.bytes).digest()
        if digest in self._recent:  # these exact verified bytes were recorded: a platform retry
            self._recent.move_to_end(digest)
            self.stats.duplicates += 1
            return adapter.success_response(())
        try:
            events = adapter.parse(request.body, channel.config)
            telemetry.event(telemetry.PARSED, {"ventros.events": len(events)})
        except WebhookPayloadError as exc:
            await self._malformed(channel, exc, now)
            return RESP_BAD
        return events, digest

    async def _malformed(self, channel: Channel, exc: WebhookPayloadError, now: datetime) -> None:
        self.stats.malformed += 1
        logger.warning(
            "malformed delivery for channel %s: %s",
            channel.id,
            exc.reason,
            extra=log_fields(channel.id, channel.channel_type, None),
        )
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

    # ------------------------------------------------------------------ app level

    async def app_delivery(
        self, channel_type: str, request: WebhookRequest
    ) -> WebhookResponse | list[Verified]:
        """Check a delivery to the app-level ``/webhooks/{channel_type}``: verified with the
        app's secret, then its events grouped by the channel their account id names.
        """
        self.stats.deliveries += 1
        adapter = self._adapter(channel_type)
        if adapter is None:
            self.stats.unknown_channel += 1
            return RESP_UNKNOWN
        if request.method == "GET":
            return self._app_handshake(adapter, channel_type, request)
        refused = self._refuse_post(adapter, request)
        if refused is not None:
            return refused
        events = self._app_events(adapter, channel_type, request)
        if isinstance(events, WebhookResponse):
            return events
        return await self._route(adapter, channel_type, events)

    def _app_handshake(
        self, adapter: ChannelAdapter[Any], channel_type: str, request: WebhookRequest
    ) -> WebhookResponse:
        tokens = self.settings.app_verify_tokens.get(channel_type, ())
        try:
            answer = adapter.app_handshake(request, tokens)
        except WebhookVerificationError:
            return RESP_FORBIDDEN
        return answer if answer is not None else RESP_METHOD

    def _app_events(
        self, adapter: ChannelAdapter[Any], channel_type: str, request: WebhookRequest
    ) -> WebhookResponse | list[InboundEvent]:
        """An app-level delivery's events once the app's secret proves it, else the answer."""
        secrets = tuple(SecretStr(s) for s in self.settings.app_secrets.get(channel_type, ()))
        keys = VerificationKeys(secrets, now=self.clock.now(), tolerance=self.settings.tolerance)
        try:
            adapter.verify(request, keys)
            telemetry.event(telemetry.VERIFIED)
            events = adapter.parse(request.body, None)
            telemetry.event(telemetry.PARSED, {"ventros.events": len(events)})
        except WebhookVerificationError as exc:
            self.stats.rejected_signature += 1
            logger.warning(
                "rejected app-level %s delivery: %s",
                channel_type,
                exc.reason,
                extra=log_fields(None, channel_type, None),
            )
            return RESP_SIG
        except WebhookPayloadError as exc:
            self.stats.malformed += 1
            logger.warning(
                "malformed app-level %s delivery: %s",
                channel_type,
                exc.reason,
                extra=log_fields(None, channel_type, None),
            )
            return RESP_BAD
        return events

    async def _route(
        self, adapter: ChannelAdapter[Any], channel_type: str, events: Sequence[InboundEvent]
    ) -> list[Verified]:
        by_account: dict[str | None, list[InboundEvent]] = {}
        for event in events:
            by_account.setdefault(event.account_id, []).append(event)
        routed: list[Verified] = []
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
                    extra=log_fields(None, channel_type, group[0].idempotency_key),
                )
                continue
            channel = matches[0]
            if channel.status not in ACCEPTING and not _only_session_status(group):
                self.stats.not_accepting += len(group)
                logger.warning(
                    "%d event(s) for channel %s refused: status %s",
                    len(group),
                    channel.id,
                    channel.status,
                    extra=log_fields(channel.id, channel_type, group[0].idempotency_key),
                )
                continue
            routed.append(Verified(adapter, channel, self._context(channel), group))
        self.stats.verified += 1
        return routed

    def _refuse_post(
        self, adapter: ChannelAdapter[Any], request: WebhookRequest
    ) -> WebhookResponse | None:
        """Refuse anything but a POST within the body limits."""
        if request.method != "POST":
            return RESP_METHOD
        return self._refuse_body(adapter, request)

    def _refuse_body(
        self, adapter: ChannelAdapter[Any], request: WebhookRequest
    ) -> WebhookResponse | None:
        """The same limits for per-channel and app-level routes: size, then media type."""
        if len(request.body) > self.settings.max_body_bytes:
            self.stats.too_large += 1
            return RESP_TOO_LARGE
        declared = request.header("content-type")
        if declared:
            media_type = declared.split(";", 1)[0].strip().lower()
            if media_type not in adapter.content_types:
                self.stats.wrong_media_type += 1
                return RESP_MEDIA_TYPE
        return None

    async def _count(self, channel: Channel, delta: MetricsDelta) -> None:
        if self.metrics is not None:
            await self.metrics.add(channel.id, channel.tenant_id, delta)

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
                await shared.set(channel_id, channel.to_snapshot(), ttl=self.settings.cache_ttl)
        if channel is not None:
            self._cache[key] = (now + self.settings.cache_ttl, channel)
        else:
            self._cache.pop(key, None)
        return channel

    def _adapter(self, channel_type: str) -> ChannelAdapter[Any] | None:
        try:
            return self.registry.get(channel_type)
        except (AdapterNotFoundError, AdapterLoadError):
            return None

    def _context(self, channel: Channel) -> RoutingContext:
        known = self._contexts.get(channel.id)
        if known is not None and known[0] is channel:
            return known[1]
        context = channel.routing_context()
        self._contexts[channel.id] = (channel, context)
        return context

    def _verification_keys(self, channel: Channel, now: datetime) -> VerificationKeys:
        """A channel's verification keys, reused for up to a second (the clock in them only
        serves replay windows of minutes; rotation grace ends are honoured to the second).
        """
        cached = self._keys.get(channel.id)
        if cached is not None and cached[0] is channel and now - cached[1].now < _KEYS_REUSE:
            return cached[1]
        keys = VerificationKeys(
            channel.webhook_secrets(),
            now=now,
            allow_unsigned=channel.webhook.accept_unsigned,
            tolerance=self.settings.tolerance,
        )
        self._keys[channel.id] = (channel, keys)
        return keys

    def _handshake(
        self, adapter: ChannelAdapter[Any], channel: Channel, request: WebhookRequest
    ) -> WebhookResponse:
        try:
            answer = adapter.handshake(request, channel.config)
        except WebhookVerificationError:
            return RESP_FORBIDDEN
        return answer if answer is not None else RESP_METHOD


def _only_session_status(events: Sequence[InboundEvent]) -> bool:
    return bool(events) and all(type(e) is SessionStatusChanged for e in events)
