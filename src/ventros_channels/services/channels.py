"""The channel use cases: a thin service layer over the repository, adapters and publisher.

Each use case loads the aggregate (tenant-scoped), calls platform APIs through the channel's
adapter with the injected ``httpx.AsyncClient``, applies the outcome to the aggregate, saves
it, and only then publishes the domain events it recorded.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar
from uuid import UUID, uuid5

import attrs
import httpx

from ventros_channels.adapters.base import (
    Capability,
    ChannelAdapter,
    ConnectionInfo,
    MediaContent,
    PairingStep,
    SessionPairing,
    WebhookInfo,
)
from ventros_channels.adapters.registry import AdapterRegistry, default_registry
from ventros_channels.cache import ChannelCache
from ventros_channels.capabilities import check_outbound
from ventros_channels.clock import Clock, SystemClock
from ventros_channels.contacts import ContactAliasStore
from ventros_channels.conversations import (
    DEFAULT_SESSION_TIMEOUT,
    ConversationStore,
    session_timeout,
)
from ventros_channels.domain.channel import QR_CODE_TTL, Channel
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.domain.types import ChannelStatus, ChannelType
from ventros_channels.domain.values import MetricsDelta
from ventros_channels.errors import (
    AuthenticationError,
    CapabilityNotSupportedError,
    ChannelInactiveError,
    ConcurrencyError,
    InvalidTransitionError,
    InvariantError,
    MessagingWindowClosedError,
    PermissionDeniedError,
    PlatformError,
    PlatformSyncError,
    ResourceNotFoundError,
    UnknownSessionStatusError,
)
from ventros_channels.messaging.inbound import Attachment, SessionStatusChanged
from ventros_channels.messaging.outbound import ACTION_KINDS, OutboundMessage, SendResult
from ventros_channels.messaging.window import MessagingWindow
from ventros_channels.outbox import InMemoryOutbox, Outbox
from ventros_channels.publisher import EventPublisher, InMemoryEventPublisher
from ventros_channels.ratelimit import SendRateLimiter
from ventros_channels.repository import ChannelRepository
from ventros_channels.services.dispatcher import WebhookDispatcher
from ventros_channels.services.handler_context import ContextHandler, with_handler_context
from ventros_channels.services.sending import OutboundSender, SendWorker, derive_send_key
from ventros_channels.services.tracking import track_events
from ventros_channels.services.worker import EventHandler

__all__ = ["ActivationResult", "ChannelReport", "ChannelService", "WebhookStatus"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
SessionStop = Literal["stop", "logout"]
"""How a session paired by QR code is ended on deactivation: stopped (pairing kept, a restart
resumes it) or logged out (the phone must scan a QR code again)."""
_SENDING = frozenset({ChannelStatus.ACTIVE, ChannelStatus.ERROR, ChannelStatus.DISCONNECTED})


CONFIG_CACHE_TTL = timedelta(minutes=1)
"""How long a channel read through the service's cache is reused."""
ACTIVE_CACHE_TTL = timedelta(minutes=5)
"""How long a project's list of active channels is reused."""
_PROJECT_KEYS = UUID("5b0c6c1e-7d4f-4a43-9a57-0f3c8d7c2a10")


def _project_key(tenant_id: str, project_id: UUID) -> UUID:
    """The cache key of a project's active channels (a name-based UUID, so any cache keyed
    by channel id holds it)."""
    return uuid5(_PROJECT_KEYS, f"{tenant_id}\x1f{project_id}")


@attrs.frozen
class ActivationResult:
    """Outcome of an activation: active now, or waiting for a QR scan (platforms paired by
    QR code); ``session_status`` is the platform's name for the session's status."""

    channel_id: UUID
    status: ChannelStatus
    session_status: str | None = None
    qr_code: str | None = attrs.field(default=None, repr=False)
    qr_code_expires_at: datetime | None = None

    @property
    def needs_qr_scan(self) -> bool:
        return self.qr_code is not None


@attrs.frozen
class WebhookStatus:
    """The seed's webhook info: ours, plus what the platform reports when it can."""

    url: str | None
    active: bool
    configured_at: datetime | None
    last_webhook_received_at: datetime | None
    platform: WebhookInfo | None = None


@attrs.frozen
class ChannelReport:
    """Usage figures of a channel, computed from what the library saw (see the metrics guide
    for each definition). ``None`` means there is nothing to compute from yet;
    ``not_observed`` names the metrics the library has no data for at all.
    """

    channel_id: UUID
    status: ChannelStatus
    messages_received: int
    messages_sent: int
    errors: int
    error_rate: float
    """Errors per 1,000 messages handled."""
    delivery_rate: float | None
    """Share of sent messages reported delivered or read (``None`` before any send).

    Approximate: counted from status events, not per message, and capped at 1.
    """
    read_rate: float | None
    webhook_success_rate: float | None
    last_activity_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    average_response_time_ms: float | None = None
    """Mean time the platform took to answer an outbound send, in milliseconds."""
    uptime_percentage: float | None = None
    """Share of the time since the first connection spent ``active``, 0-100."""
    sessions_created: int | None = None
    """Sessions started in the channel's chats (``None`` when the service keeps no
    conversations)."""
    active_sessions: int | None = None
    """Sessions running now (``None`` when the service keeps no conversations)."""
    not_observed: tuple[str, ...] = ("sessions_created", "active_sessions")


class ChannelService:
    """The use cases of the seed, for one host application.

    ``http`` is the host's client, used for every platform call; the service never creates
    one. ``public_base_url`` lets it generate webhook URLs
    (``{public_base_url}/webhooks/{type}/{channel_id}``). ``qr_code_ttl`` is how long a
    pairing QR code is shown as valid; ``session_stop`` how deactivation ends a paired
    session (see :data:`SessionStop`).

    Lifecycle calls keep the platform in step: activation registers the webhook, deactivation
    stops a paired session or unregisters the webhook, webhook configuration re-registers it,
    deletion removes both. Each is idempotent. When the platform cannot be told, the local
    change that the user asked for still happens where it is safe (deactivation), the channel
    records what the platform still does, and :class:`PlatformSyncError` is raised; calling
    again retries the platform part.
    """

    def __init__(
        self,
        repository: ChannelRepository,
        *,
        http: httpx.AsyncClient,
        registry: AdapterRegistry | None = None,
        publisher: EventPublisher | None = None,
        clock: Clock | None = None,
        public_base_url: str | None = None,
        on_change: Callable[[UUID], Awaitable[None]] | None = None,
        outbox: Outbox | None = None,
        qr_code_ttl: timedelta = QR_CODE_TTL,
        session_stop: SessionStop = "stop",
        timer: Callable[[], float] = time.perf_counter,
        cache: ChannelCache | None = None,
        rate_limiter: SendRateLimiter | None = None,
        conversations: ConversationStore | None = None,
        contacts: ContactAliasStore | None = None,
        session_timeout: timedelta = DEFAULT_SESSION_TIMEOUT,
        enforce_messaging_windows: bool = True,
    ) -> None:
        self.repository = repository
        self.http = http
        self.registry = registry or default_registry()
        self.publisher = publisher or InMemoryEventPublisher()
        self.clock = clock or SystemClock()
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.on_change = on_change
        """Awaited with the channel id after every save (e.g. a dispatcher's cache eviction)."""
        self.sender = OutboundSender(outbox or InMemoryOutbox(), clock=self.clock)
        self.cache = cache
        """Where reads of a channel (1 minute) and of a project's active channels (5 minutes)
        are kept; every change through the service invalidates them (in every process, when
        the cache is shared, e.g. Redis)."""
        self.qr_code_ttl = qr_code_ttl
        self.session_stop: SessionStop = session_stop
        self.timer = timer
        """Monotonic seconds, for the time a platform takes to answer a send."""
        self.rate_limiter = rate_limiter
        """Holds sends within the platforms' rate limits (see :mod:`ventros_channels.ratelimit`)."""
        self.conversations = conversations
        """Where each chat's conversation is kept (sessions, last inbound and outbound times):
        fed by the dispatcher's workers and by sends; ``None`` keeps none."""
        self.contacts = contacts
        """Where the ids of one person are linked, fed from inbound events' sender aliases."""
        self.session_timeout = session_timeout
        """How long a session lasts without activity on channels that set no timeout."""
        self.enforce_messaging_windows = enforce_messaging_windows
        """Refuse sends outside the platform's messaging window before any request (needs
        ``conversations``); ``False`` only tracks the windows."""

    # ------------------------------------------------------------------ plumbing

    def adapter_for(self, channel: Channel) -> ChannelAdapter[Any]:
        return self.registry.get(str(channel.channel_type))

    @staticmethod
    def _pairing(adapter: ChannelAdapter[Any]) -> SessionPairing | None:
        """The adapter's session operations when its accounts are paired by QR code."""
        if isinstance(adapter, SessionPairing) and adapter.supports(Capability.SESSION_PAIRING):
            return adapter
        return None

    async def _load(self, channel_id: UUID, tenant_id: str) -> Channel:
        channel = await self.repository.get(channel_id, tenant_id=tenant_id)
        if channel.is_deleted:
            raise InvariantError("channel_deleted", f"channel {channel_id} is deleted")
        return channel

    async def _commit(self, channel: Channel) -> Channel:
        """Save, then publish what the aggregate recorded (never before the save)."""
        events = channel.pending_events
        await self.repository.save(channel)
        channel.pull_events()
        if self.cache is not None:
            await self.cache.invalidate(channel.id)
            await self.cache.invalidate(_project_key(channel.tenant_id, channel.project_id))
        if self.on_change is not None:
            await self.on_change(channel.id)
        if events and not getattr(self.repository, "records_events", False):
            await self.publisher.publish(events)  # else the repository's relay publishes them
        return channel

    async def _platform(
        self, channel: Channel, call: Callable[[], Awaitable[T]], *, fatal: bool = False
    ) -> T:
        """Run a platform call; record its failure on the channel (``error`` status if fatal
        or the credentials were refused) and re-raise.
        """
        try:
            return await call()
        except PlatformError as exc:
            refused = isinstance(exc, AuthenticationError | PermissionDeniedError)
            if (fatal or refused) and channel.status is not ChannelStatus.INACTIVE:
                channel.mark_error(str(exc))
            else:
                channel.record_error(str(exc))
            await self._commit(channel)
            raise

    # ------------------------------------------------------------------ use cases

    async def create_channel(
        self,
        *,
        tenant_id: str,
        project_id: UUID | str,
        name: str,
        channel_type: ChannelType | str,
        config: ChannelConfig | Mapping[str, Any],
        **options: Any,
    ) -> Channel:
        """Create a channel (inactive) and, with a public base URL, its webhook URL."""
        self.registry.get(str(channel_type))  # fail early when no adapter can serve it
        channel = Channel.create(
            tenant_id=tenant_id,
            project_id=project_id,
            name=name,
            channel_type=channel_type,
            config=config,
            clock=self.clock,
            **options,
        )
        if self.public_base_url:
            channel.configure_webhook(base_url=self.public_base_url)
        return await self._commit(channel)

    async def get_channel(self, channel_id: UUID, *, tenant_id: str) -> Channel:
        """The channel, read through the cache (1 minute) when the service has one."""
        if self.cache is None:
            return await self.repository.get(channel_id, tenant_id=tenant_id)
        snapshot = await self.cache.get(channel_id)
        if snapshot is not None and snapshot.get("tenant_id") == tenant_id:
            return Channel.from_snapshot(snapshot, clock=self.clock)
        channel = await self.repository.get(channel_id, tenant_id=tenant_id)
        await self.cache.set(channel_id, channel.to_snapshot(), ttl=CONFIG_CACHE_TTL)
        return channel

    async def active_channels(self, project_id: UUID, *, tenant_id: str) -> list[Channel]:
        """The project's active channels, the list cached for 5 minutes when the service has
        a cache (each channel through the 1-minute channel cache).
        """
        if self.cache is None:
            return await self.repository.find_active_by_project(project_id, tenant_id=tenant_id)
        key = _project_key(tenant_id, project_id)
        listed = await self.cache.get(key)
        if listed is None:
            found = await self.repository.find_active_by_project(project_id, tenant_id=tenant_id)
            await self.cache.set(key, {"ids": [str(c.id) for c in found]}, ttl=ACTIVE_CACHE_TTL)
            for channel in found:
                await self.cache.set(channel.id, channel.to_snapshot(), ttl=CONFIG_CACHE_TTL)
            return found
        return [await self.get_channel(UUID(i), tenant_id=tenant_id) for i in listed["ids"]]

    async def update_channel(
        self,
        channel_id: UUID,
        *,
        tenant_id: str,
        expected_version: int | None = None,
        **changes: Any,
    ) -> Channel:
        """Rename, replace the config, change the external id or session timeout.

        With ``expected_version`` (e.g. from an HTTP ``If-Match``), a channel that changed
        since the caller read it is refused with :class:`ConcurrencyError`.
        """
        channel = await self._load(channel_id, tenant_id)
        if expected_version is not None and channel.version != expected_version:
            raise ConcurrencyError(str(channel_id), expected_version, channel.version)
        channel.update(**changes)
        return await self._commit(channel)

    async def configure_webhook(
        self, channel_id: UUID, *, tenant_id: str, url: str | None = None
    ) -> str:
        """Set the webhook URL (given, or generated from the public base URL) and, for a channel
        that is not ``inactive``, register it at the platform where the adapter can.

        A missing webhook secret the library may create is generated. If the platform refuses
        the new URL, the webhook is saved as not active there and :class:`PlatformSyncError`
        is raised.
        """
        channel = await self._load(channel_id, tenant_id)
        if url is None and self.public_base_url is None:
            raise InvariantError(
                "no_public_base_url", "give a webhook URL or configure public_base_url"
            )
        result = channel.configure_webhook(url, base_url=None if url else self.public_base_url)
        adapter = self.adapter_for(channel)
        if channel.status is not ChannelStatus.INACTIVE and adapter.supports(
            Capability.WEBHOOK_REGISTRATION
        ):
            try:
                await adapter.register_webhook(self.http, channel.config, result)
            except PlatformError as exc:
                channel.mark_webhook_inactive()
                await self._report_sync_failure(channel, "webhook configuration", exc)
            channel.mark_webhook_registered()
        await self._commit(channel)
        return result

    async def _report_sync_failure(
        self, channel: Channel, operation: str, exc: PlatformError
    ) -> None:
        """Save what the channel now knows about the platform, then raise the sync error."""
        channel.record_error(f"{operation}: {exc}")
        await self._commit(channel)
        raise PlatformSyncError(str(channel.id), operation, exc) from exc

    async def get_webhook_info(self, channel_id: UUID, *, tenant_id: str) -> WebhookStatus:
        channel = await self._load(channel_id, tenant_id)
        platform: WebhookInfo | None = None
        adapter = self.adapter_for(channel)
        try:
            platform = await adapter.webhook_info(self.http, channel.config)
        except CapabilityNotSupportedError:
            platform = None
        return WebhookStatus(
            url=channel.webhook.url,
            active=channel.webhook.active,
            configured_at=channel.webhook.configured_at,
            last_webhook_received_at=channel.metrics.last_webhook_at,
            platform=platform,
        )

    async def activate(self, channel_id: UUID, *, tenant_id: str) -> ActivationResult:
        """Activate per type: a platform paired by QR code starts the session and hands back
        the QR code (the channel stays ``connecting`` until the platform reports the session
        paired); the others test the connection, register the webhook where the platform
        allows it, and go ``active``.
        """
        channel = await self._load(channel_id, tenant_id)
        if not channel.webhook.is_configured:
            if self.public_base_url is None:
                channel.check_activatable()  # raises the domain's webhook_not_configured error
            channel.configure_webhook(base_url=self.public_base_url)
        channel.ensure_webhook_secret()
        channel.check_activatable()  # before any platform call: a secret only the host has
        adapter = self.adapter_for(channel)
        url = channel.webhook.url
        assert url is not None
        pairing = self._pairing(adapter)
        if pairing is None:  # credentials first: no webhook is registered with a bad token
            info = await self._platform(
                channel, lambda: adapter.test_connection(self.http, channel.config), fatal=True
            )
            if info.account_id and channel.external_id is None:
                channel.update(external_id=info.account_id)
        if adapter.supports(Capability.WEBHOOK_REGISTRATION):
            await self._platform(
                channel, lambda: adapter.register_webhook(self.http, channel.config, url)
            )
            channel.mark_webhook_registered()
        if pairing is not None:  # the session is created with our webhook, then started
            return await self._activate_paired(channel, pairing)
        channel.activate()
        await self._commit(channel)
        return ActivationResult(channel.id, channel.status)

    async def _activate_paired(self, channel: Channel, adapter: SessionPairing) -> ActivationResult:
        channel.request_activation()
        status = await self._platform(
            channel, lambda: adapter.start_session(self.http, channel.config), fatal=True
        )
        return await self._apply_session(channel, adapter, status)

    async def _apply_session(
        self, channel: Channel, adapter: SessionPairing, status: str
    ) -> ActivationResult:
        step: PairingStep = adapter.apply_session_status(channel, status)
        expires: datetime | None = None
        if step.wants_qr_code:
            qr = await self._platform(
                channel, lambda: adapter.get_qr_code(self.http, channel.config)
            )
            expires = channel.update_qr_code(qr, ttl=self.qr_code_ttl)
        await self._commit(channel)
        return ActivationResult(
            channel.id,
            channel.status,
            session_status=step.status,
            qr_code=channel.qr_code,
            qr_code_expires_at=expires,
        )

    async def refresh_session(self, channel_id: UUID, *, tenant_id: str) -> ActivationResult:
        """Re-read the paired session and fetch a fresh QR code while it waits for a scan.

        The stored code stays valid (until its own expiry) until the new one is stored, so a
        failed refresh never leaves the user without a code to scan.
        """
        channel = await self._load(channel_id, tenant_id)
        adapter = self._require_pairing(channel)
        status = await self._platform(
            channel, lambda: adapter.session_status(self.http, channel.config)
        )
        return await self._apply_session(channel, adapter, status)

    async def request_pairing_code(
        self, channel_id: UUID, *, tenant_id: str, phone_number: str
    ) -> str:
        """Ask the platform for a code that links the account by phone number instead of a
        QR scan (WAHA); :class:`CapabilityNotSupportedError` where the adapter cannot."""
        channel = await self._load(channel_id, tenant_id)
        adapter = self.adapter_for(channel)
        request: Callable[..., Awaitable[str]] | None = getattr(
            adapter, "request_pairing_code", None
        )
        if request is None:
            raise CapabilityNotSupportedError(str(channel.channel_type), "pairing_code")
        return await self._platform(
            channel, lambda: request(self.http, channel.config, phone_number)
        )

    def _require_pairing(self, channel: Channel) -> SessionPairing:
        pairing = self._pairing(self.adapter_for(channel))
        if pairing is None:
            raise CapabilityNotSupportedError(str(channel.channel_type), "session_pairing")
        return pairing

    async def apply_session_status(
        self, channel_id: UUID, *, tenant_id: str, status: str
    ) -> Channel:
        """Apply a session status the platform reported (e.g. by webhook) through the
        adapter's session hook; :class:`CapabilityNotSupportedError` for a channel whose
        platform pairs no session."""
        channel = await self._load(channel_id, tenant_id)
        pairing = self._require_pairing(channel)
        step: PairingStep = pairing.apply_session_status(channel, status)
        channel = await self._commit(channel)
        if step.restart:
            await self._restart_session(channel, pairing)
        return channel

    async def _restart_session(self, channel: Channel, pairing: SessionPairing) -> None:
        """Restart a failed session as the channel's config asks (the adapter waits out its
        back-off first). A refusal is logged: the status itself was applied and saved."""
        restart: Callable[..., Awaitable[str | None]] | None = getattr(
            pairing, "restart_failed_session", None
        )
        if restart is None:
            return
        try:
            status = await restart(self.http, channel.config)
        except PlatformError as exc:
            logger.warning("restarting the session of %s failed: %s", channel.id, exc)
            return
        logger.info("session of %s restarted: %s", channel.id, status)

    async def on_session_status(self, channel: Channel, event: SessionStatusChanged) -> None:
        """A ready ``session_status_hook`` for :class:`WebhookDispatcher`: applies the status
        through :meth:`apply_session_status` (saved, published, ``on_change`` called).

        A status that cannot be applied (unknown, or WORKING for a channel that cannot be
        activated) is logged and dropped: the delivery was genuine, retrying it changes nothing.
        """
        try:
            await self.apply_session_status(
                channel.id, tenant_id=channel.tenant_id, status=event.status
            )
        except (
            UnknownSessionStatusError,
            InvariantError,
            InvalidTransitionError,
            CapabilityNotSupportedError,
        ) as exc:
            logger.warning("session status not applied to %s: %s", channel.id, exc)

    async def deactivate(
        self, channel_id: UUID, *, tenant_id: str, session_stop: SessionStop | None = None
    ) -> Channel:
        """Disable the channel here at once, then stop the platform's side: a paired session
        is stopped (or logged out, ``session_stop``), other platforms' webhook is unregistered
        where the adapter can. Idempotent.

        If the platform call fails, the channel is still ``inactive`` (no delivery is served)
        and keeps its webhook marked active, as the platform still has it;
        :class:`PlatformSyncError` is raised and calling again retries the platform part.
        """
        channel = await self._load(channel_id, tenant_id)
        channel.deactivate()
        try:
            await self._release(channel, session_stop or self.session_stop, unregister=False)
        except PlatformError as exc:
            await self._report_sync_failure(channel, "deactivation", exc)
        return await self._commit(channel)

    async def delete(self, channel_id: UUID, *, tenant_id: str, force: bool = False) -> Channel:
        """Remove the webhook and stop the session at the platform, then soft-delete.

        Idempotent (a deleted channel is returned as it is). If the platform cannot be told,
        the channel is not deleted (a deleted channel could never retry the clean-up):
        :class:`PlatformSyncError` is raised, unless ``force`` deletes it anyway (logged).
        """
        channel = await self.repository.get(channel_id, tenant_id=tenant_id)
        if channel.is_deleted:
            return channel
        try:
            await self._release(channel, self.session_stop, unregister=True)
        except PlatformError as exc:
            if not force:
                await self._report_sync_failure(channel, "deletion", exc)
            logger.warning("deleting %s without platform clean-up: %s", channel.id, exc)
        channel.delete()
        return await self._commit(channel)

    async def _release(self, channel: Channel, stop: SessionStop, *, unregister: bool) -> None:
        """Make the platform stop delivering to this channel (only calls still needed)."""
        adapter = self.adapter_for(channel)
        pairing = self._pairing(adapter)
        registered = adapter.supports(Capability.WEBHOOK_REGISTRATION)
        if registered and (unregister or pairing is None) and channel.webhook.active:
            with contextlib.suppress(CapabilityNotSupportedError, ResourceNotFoundError):
                await adapter.unregister_webhook(self.http, channel.config)  # absent: fine
            channel.mark_webhook_inactive()
        if pairing is None:
            return
        if not pairing.pairing_step(channel).stopped:
            left = await pairing.end_session(self.http, channel.config, logout=stop == "logout")
            if channel.status is ChannelStatus.INACTIVE:
                pairing.apply_session_status(channel, left)
        channel.mark_webhook_inactive()

    async def associate_pipeline(
        self, channel_id: UUID, pipeline_id: UUID | str, *, tenant_id: str
    ) -> Channel:
        channel = await self._load(channel_id, tenant_id)
        channel.associate_pipeline(pipeline_id)
        return await self._commit(channel)

    async def disassociate_pipeline(self, channel_id: UUID, *, tenant_id: str) -> Channel:
        channel = await self._load(channel_id, tenant_id)
        channel.disassociate_pipeline()
        return await self._commit(channel)

    async def test_connection(self, channel_id: UUID, *, tenant_id: str) -> ConnectionInfo:
        """Check the credentials at the platform; a channel in ``error`` or ``disconnected``
        comes back to ``active`` when it succeeds (for a paired session, only if it works).
        """
        channel = await self._load(channel_id, tenant_id)
        adapter = self.adapter_for(channel)
        info = await self._platform(
            channel, lambda: adapter.test_connection(self.http, channel.config)
        )
        pairing = self._pairing(adapter)
        session = (info.details or {}).get("status") if pairing is not None else None
        if pairing is None:
            channel.mark_reachable("test connection")
        elif session is not None:
            pairing.apply_session_status(channel, str(session))
        if channel.pending_events:
            await self._commit(channel)
        return info

    async def refresh_status(self, channel_id: UUID, *, tenant_id: str) -> ChannelStatus:
        """Health check: reachable → active, refused credentials → error, unreachable →
        disconnected. Inactive channels are left alone (the user disabled them).
        """
        channel = await self._load(channel_id, tenant_id)
        if channel.status is ChannelStatus.INACTIVE:
            return channel.status
        adapter = self.adapter_for(channel)
        pairing = self._pairing(adapter)
        if pairing is not None and pairing.pairing_step(channel).status is None:
            return channel.status  # the session was never started: there is nothing to check
        try:
            if pairing is not None:
                status = await pairing.session_status(self.http, channel.config)
                pairing.apply_session_status(channel, status)
            else:
                await adapter.test_connection(self.http, channel.config)
                channel.activate("recovered: health check")
        except InvariantError as exc:  # reachable, but the channel lacks what activation needs
            channel.record_error(str(exc))
        except (AuthenticationError, PermissionDeniedError) as exc:
            channel.mark_error(str(exc))
        except PlatformError as exc:
            if channel.status is not ChannelStatus.DISCONNECTED:
                channel.mark_disconnected(str(exc))
            channel.record_error(str(exc))
        await self._commit(channel)
        return channel.status

    async def sync_config(self, channel_id: UUID, *, tenant_id: str) -> Channel:
        """Bring platform-side facts into the channel: the account id behind the
        credentials and whether the platform still delivers to our webhook.
        """
        channel = await self._load(channel_id, tenant_id)
        adapter = self.adapter_for(channel)
        info = await self._platform(
            channel, lambda: adapter.test_connection(self.http, channel.config)
        )
        if info.account_id and info.account_id != channel.external_id:
            channel.update(external_id=info.account_id)
        try:
            hook = await adapter.webhook_info(self.http, channel.config)
        except CapabilityNotSupportedError:
            hook = None
        if hook is not None and channel.webhook.url and hook.url != channel.webhook.url:
            channel.mark_webhook_inactive()
        return await self._commit(channel)

    async def rotate_webhook_secret(
        self,
        channel_id: UUID,
        *,
        tenant_id: str,
        new_secret: str | None = None,
        grace: timedelta = timedelta(hours=24),
    ) -> Channel:
        """New webhook secret; re-registered with the platform where we set it there.

        Deliveries signed with the old secret keep being accepted for ``grace``, so a
        delivery in flight during the switch is not lost.
        """
        channel = await self._load(channel_id, tenant_id)
        channel.rotate_webhook_secret(new_secret, grace=grace)
        adapter = self.adapter_for(channel)
        url = channel.webhook.url
        if adapter.supports(Capability.WEBHOOK_REGISTRATION) and url and channel.webhook.active:
            await self._platform(
                channel, lambda: adapter.register_webhook(self.http, channel.config, url)
            )
        return await self._commit(channel)

    async def messaging_window(
        self, channel_id: UUID, chat_id: str, *, tenant_id: str
    ) -> MessagingWindow:
        """Whether ``chat_id`` can be written to freely now, from the customer's last message
        the service recorded (see :mod:`ventros_channels.messaging.window`)."""
        channel = await self._load(channel_id, tenant_id)
        last = await self._last_inbound(channel, chat_id)
        rule = self.adapter_for(channel).messaging_window
        if rule is None:
            return MessagingWindow.unrestricted(last)
        return rule.window(last, self.clock.now())

    async def download_media(
        self, channel_id: UUID, attachment: Attachment, *, tenant_id: str
    ) -> MediaContent:
        """The bytes behind an inbound attachment, fetched with the channel's credentials
        (capability ``media_download``)."""
        channel = await self._load(channel_id, tenant_id)
        adapter = self.adapter_for(channel)
        adapter.require(Capability.MEDIA_DOWNLOAD)
        content: MediaContent = await adapter.download_media(self.http, channel.config, attachment)
        return content

    async def _last_inbound(self, channel: Channel, chat_id: str) -> datetime | None:
        if self.conversations is None:
            return None
        found = await self.conversations.get(channel.id, chat_id, tenant_id=channel.tenant_id)
        return None if found is None else found.last_inbound_at

    async def _check_window(self, channel: Channel, message: OutboundMessage) -> None:
        """Refuse, before any request, a message the platform's window no longer allows."""
        rule = self.adapter_for(channel).messaging_window
        if rule is None or self.conversations is None or not self.enforce_messaging_windows:
            return
        last = await self._last_inbound(channel, message.to)
        now = self.clock.now()
        if rule.allows(message.kind, message.tag, last, now):
            return
        closed = None if last is None else last + rule.free_form
        raise MessagingWindowClosedError(
            f"the messaging window of this chat is closed for a {message.kind} message "
            + (
                "(the customer never wrote)"
                if last is None
                else f"since {closed:%Y-%m-%d %H:%M} UTC"
            )
            + "; send a template or a tagged message, or wait for the customer",
            chat_id=message.to,
            last_inbound_at=last,
            closed_at=closed,
            platform=str(channel.channel_type),
        )

    async def _record_outbound(self, channel: Channel, chat_id: str, at: datetime) -> None:
        """Count a send as activity in the chat's conversation (best effort: the message went
        out, so a store failure is logged, never raised)."""
        if self.conversations is None:
            return
        timeout = session_timeout(channel.default_session_timeout_minutes, self.session_timeout)
        try:
            await self.conversations.update(
                channel.id,
                chat_id,
                lambda c: c.record_outbound(at, timeout=timeout),
                tenant_id=channel.tenant_id,
                at=at,
            )
        except Exception as exc:
            logger.warning(
                "send to a chat of %s not recorded in its conversation: %s",
                channel.id,
                type(exc).__name__,
            )

    async def send(
        self,
        channel_id: UUID,
        message: OutboundMessage,
        *,
        tenant_id: str,
        idempotency_key: str | None = None,
        resend: bool = False,
        queued: bool = False,
    ) -> SendResult:
        """Send through the channel's platform, at most once per ``idempotency_key``.

        Refused for ``inactive`` and ``connecting`` channels. A channel in ``error`` or
        ``disconnected`` may try: a successful send proves the platform works again and
        brings it back to ``active``. The key defaults, inside a handler, to the handled
        delivery's key and this send's position in the handler, so a handler that runs again
        repeats no reply (see :mod:`ventros_channels.services.sending`). ``resend`` forces a
        send recorded as uncertain; ``queued`` records it for the :class:`SendWorker` and
        returns at once. Counts the send (atomically, no version bump) or the error.
        """
        key = derive_send_key(idempotency_key)
        channel = await self._load(channel_id, tenant_id)
        if channel.status not in _SENDING:
            raise ChannelInactiveError(str(channel.id), channel.status.value)
        await self._check_window(channel, message)
        if queued:  # refused now rather than by the worker: it could never go out
            check_outbound(self.adapter_for(channel), message)
            return await self.sender.enqueue(
                channel.id, tenant_id, message, key=key, platform=str(channel.channel_type)
            )
        adapter = self.adapter_for(channel)
        now = self.clock.now()
        started = self.timer()

        async def deliver(msg: OutboundMessage) -> SendResult:
            check_outbound(adapter, msg)  # kind, media and limits: refused before any request
            if self.rate_limiter is not None:
                return await self.rate_limiter.send(
                    adapter, self.http, channel.id, channel.config, msg
                )
            return await adapter.send(self.http, channel.config, msg)

        try:
            result = await self.sender.send(
                channel.id,
                tenant_id,
                message,
                deliver,
                key=key,
                resend=resend,
                platform=str(channel.channel_type),
            )
        except PlatformError as exc:
            delta = MetricsDelta(errors=1, last_error_at=now, last_error=str(exc)[:1000])
            await self.repository.record_metrics(channel.id, delta, tenant_id=tenant_id)
            raise
        if result.replayed:
            return result
        if message.kind not in ACTION_KINDS:
            took = max(0, round((self.timer() - started) * 1000))
            delta = MetricsDelta(
                sent=1, last_message_at=now, send_time_ms=min(took, 600_000), timed_sends=1
            )
            await self.repository.record_metrics(channel.id, delta, tenant_id=tenant_id)
            await self._record_outbound(channel, message.to, now)
        if channel.status is not ChannelStatus.ACTIVE and channel.mark_reachable("send"):
            try:
                await self._commit(channel)
            except ConcurrencyError:  # changed meanwhile: the next signal decides
                logger.info("channel %s changed during a send; recovery not saved", channel.id)
        return result

    def webhook_dispatcher(
        self, handler: EventHandler | ContextHandler | None = None, **options: Any
    ) -> WebhookDispatcher:
        """A :class:`WebhookDispatcher` wired to this service: same repository, registry, clock
        and publisher; platform session statuses applied through :meth:`on_session_status`;
        sends confirmed in this service's outbox; and the service's changes reaching the
        dispatcher, so a deactivated channel stops being served at once. ``options`` go to
        the dispatcher.

        ``handler`` may take a third parameter, the event's
        :class:`~ventros_channels.services.handler_context.HandlerContext` (``ctx.reply``,
        ``ctx.react``...); before it runs, the event is recorded in the service's
        conversations and contact aliases when it has them.
        """
        if handler is not None:
            handler = track_events(
                with_handler_context(handler, self),
                conversations=self.conversations,
                contacts=self.contacts,
                default_timeout=self.session_timeout,
            )
        options.setdefault("registry", self.registry)
        options.setdefault("clock", self.clock)
        options.setdefault("publisher", self.publisher)
        options.setdefault("outbox", self.sender.outbox)
        options.setdefault("session_status_hook", self.on_session_status)
        dispatcher = WebhookDispatcher(self.repository, handler, **options)
        previous = self.on_change

        async def changed(channel_id: UUID) -> None:
            if previous is not None:
                await previous(channel_id)
            await dispatcher.on_channel_changed(channel_id)

        self.on_change = changed
        return dispatcher

    def send_worker(self, **options: Any) -> SendWorker:
        """A :class:`SendWorker` delivering this service's queued sends (``options`` go to it)."""

        async def lookup(
            channel_id: UUID, tenant_id: str
        ) -> tuple[ChannelAdapter[ChannelConfig], ChannelConfig]:
            channel = await self._load(channel_id, tenant_id)
            if channel.status not in _SENDING:
                raise ChannelInactiveError(str(channel.id), channel.status.value)
            return self.adapter_for(channel), channel.config

        options.setdefault("rate_limiter", self.rate_limiter)
        return SendWorker(self.sender.outbox, lookup, self.http, clock=self.clock, **options)

    async def report(self, channel_id: UUID, *, tenant_id: str) -> ChannelReport:
        """The channel report: counters, rates, response time and uptime (GenerateChannelReport).

        The session figures come from the service's conversations; without them they are
        reported as not observed.
        """
        channel = await self.repository.get(channel_id, tenant_id=tenant_id)
        sessions: dict[str, Any] = {}
        if self.conversations is not None:
            figures = await self.conversations.session_metrics(
                channel.id, tenant_id=tenant_id, now=self.clock.now()
            )
            sessions = {
                "sessions_created": figures.sessions_created,
                "active_sessions": figures.active_sessions,
                "not_observed": (),
            }
        m = channel.metrics
        uptime = channel.uptime(self.clock.now())
        handled = m.messages_received + m.messages_sent
        webhooks = m.webhooks_accepted + m.webhooks_rejected
        return ChannelReport(
            channel_id=channel.id,
            status=channel.status,
            messages_received=m.messages_received,
            messages_sent=m.messages_sent,
            errors=m.errors,
            error_rate=(m.errors * 1000 / handled) if handled else 0.0,
            delivery_rate=min(1.0, max(m.delivered, m.read) / m.messages_sent)
            if m.messages_sent
            else None,
            read_rate=min(1.0, m.read / m.messages_sent) if m.messages_sent else None,
            webhook_success_rate=m.webhooks_accepted / webhooks if webhooks else None,
            last_activity_at=m.last_message_at,
            last_error_at=m.last_error_at,
            last_error=m.last_error,
            average_response_time_ms=m.average_send_time_ms,
            uptime_percentage=None if uptime is None else round(uptime * 100, 3),
            **sessions,
        )
