"""The adapter interface every platform implements, built-in or plug-in.

An adapter is stateless and shared by every channel of its type. Its parts that need no
network are pure functions of bytes and data (sans-IO): :meth:`ChannelAdapter.verify`,
:meth:`ChannelAdapter.handshake`, :meth:`ChannelAdapter.parse` and
:meth:`ChannelAdapter.sign`. The network parts are async and take the host's
``httpx.AsyncClient`` and the channel's config. An operation an adapter does not offer
raises :class:`CapabilityNotSupportedError`; hosts check ``adapter.capabilities`` first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

import attrs
import httpx

from ventros_channels.adapters._safe import DEFAULT_LIMITS, ParseLimits, check_window, load_json
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.domain.types import ChannelType
from ventros_channels.errors import (
    CapabilityNotSupportedError,
    PlatformError,
    WebhookVerificationError,
)
from ventros_channels.http import HttpExecutor, RetryPolicy, error_for_status
from ventros_channels.messaging.inbound import Attachment, ChatType, InboundEvent, MediaKind
from ventros_channels.messaging.limits import NO_LIMITS, OutboundLimits
from ventros_channels.messaging.outbound import OutboundMessage, SendResult
from ventros_channels.messaging.window import MessagingWindowRule
from ventros_channels.ratelimit import RateLimit
from ventros_channels.webhooks.request import VerificationKeys, WebhookRequest, WebhookResponse

if TYPE_CHECKING:
    from ventros_channels.domain.channel import Channel

__all__ = [
    "MALFORMED",
    "Capability",
    "ChannelAdapter",
    "ChatSummary",
    "ConnectionInfo",
    "ContactProfile",
    "HistoryPage",
    "MediaContent",
    "PairingStep",
    "SessionPairing",
    "WebhookInfo",
]

ConfigT = TypeVar("ConfigT", bound=ChannelConfig)

MALFORMED: tuple[type[Exception], ...] = (
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,
)
"""What mapping platform data of an unexpected shape raises; adapters catch these per item and
report the item as :class:`Unsupported` instead of failing the whole delivery."""
T = TypeVar("T")


class Capability(StrEnum):
    """What an adapter can do; see ``ChannelAdapter.capabilities``."""

    GROUPS = "groups"
    """Group chats are reported (``chat_type`` group) and can be answered."""
    INBOUND_MEDIA = "inbound_media"
    """Attachments are parsed into media handles."""
    OUTBOUND_MEDIA = "outbound_media"
    """``MediaMessage`` by URL or platform media id can be sent."""
    MEDIA_UPLOAD = "media_upload"
    """``MediaMessage`` with raw bytes can be sent (uploaded first where needed)."""
    MEDIA_DOWNLOAD = "media_download"
    """``download_media`` works."""
    REACTIONS = "reactions"
    """``Reaction`` can be sent (inbound reactions are parsed wherever the platform sends them)."""
    EDITS = "edits"
    """Inbound: the customer's edits are reported (``MessageEdited``). Sending edits is
    ``EDIT_MESSAGES``."""
    TEMPLATES = "templates"
    """``TemplateMessage`` can be sent."""
    INTERACTIVE = "interactive"
    """``ButtonsMessage`` (and ``ListMessage`` where the platform has lists) can be sent."""
    READ_RECEIPTS = "read_receipts"
    """Read statuses are reported and ``MarkAsRead`` can be sent."""
    TYPING = "typing"
    """``Typing`` can be sent."""
    HISTORY_IMPORT = "history_import"
    """``list_chats`` and ``fetch_history`` work."""
    WEBHOOK_REGISTRATION = "webhook_registration"
    """``register_webhook`` / ``unregister_webhook`` work (Meta: the app subscription)."""
    SESSION_PAIRING = "session_pairing"
    """The account is paired by scanning a QR code (see :class:`SessionPairing`)."""
    EDIT_MESSAGES = "edit_messages"
    """Outbound: ``EditMessage`` can be sent (our own earlier messages). Reporting the
    customer's edits is ``EDITS``."""
    DELETE_MESSAGES = "delete_messages"
    """Outbound: ``DeleteMessage`` can be sent (revoke our earlier messages)."""
    LOCATION_MESSAGES = "location_messages"
    """Outbound: ``LocationMessage`` can be sent (inbound locations are parsed wherever the
    platform sends them)."""
    CONTACT_MESSAGES = "contact_messages"
    """Outbound: ``ContactsMessage`` can be sent."""
    POLLS = "polls"
    """Outbound: ``PollMessage`` can be sent."""
    PRESENCE = "presence"
    """Inbound: the customer's typing / presence changes are reported as events."""
    PROFILES = "profiles"
    """``fetch_profile`` works: a contact's name, avatar and the like from the platform."""
    TEMPLATE_CATALOG = "template_catalog"
    """The account's approved templates can be listed and synchronized (WhatsApp Cloud);
    sending one is ``TEMPLATES``."""


@attrs.frozen
class ConnectionInfo:
    """Result of a connection test: who the credentials belong to."""

    ok: bool
    account_id: str | None = None
    display_name: str | None = None
    details: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class ContactProfile:
    """What a platform tells about one of its users (capability ``profiles``).

    Every field but ``user_id`` is optional: platforms differ in what they share, and users
    hide parts of it. ``avatar_url`` links may expire (Meta's CDN, WhatsApp profile
    pictures); ``raw`` is the platform's own answer.
    """

    user_id: str
    display_name: str | None = None
    username: str | None = None
    avatar_url: str | None = attrs.field(default=None, repr=False)
    avatar_media_id: str | None = None
    """The avatar as a platform file id, where a link would carry a secret (Telegram's file
    links hold the bot token): fetch it with ``download_media`` and an image attachment."""
    phone: str | None = attrs.field(default=None, repr=False)
    about: str | None = None
    """Status text or bio (WhatsApp "about", Telegram bio)."""
    raw: Any = attrs.field(default=None, repr=False, eq=False)


@attrs.frozen
class WebhookInfo:
    """What the platform reports about our webhook registration."""

    url: str | None
    active: bool
    pending_updates: int | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    details: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class ChatSummary:
    """One chat as a history listing returns it."""

    chat_id: str
    chat_type: ChatType = ChatType.DIRECT
    name: str | None = None
    last_activity_at: datetime | None = None


@attrs.frozen
class HistoryPage(Generic[T]):
    """A page of a history listing; ``next_cursor`` is ``None`` on the last page."""

    items: tuple[T, ...]
    next_cursor: str | None = None


@attrs.frozen
class MediaContent:
    """Downloaded media bytes with their type and name when known."""

    content: bytes = attrs.field(repr=False)
    mime_type: str | None = None
    filename: str | None = None


class ChannelAdapter(ABC, Generic[ConfigT]):
    """Base class of a platform adapter. Subclasses set the class attributes and implement
    ``verify`` and ``parse``; the other operations are optional capabilities.
    """

    channel_type: ClassVar[ChannelType]
    config_model: ClassVar[type[ChannelConfig]]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset()
    """Media kinds the adapter can send."""
    display_name: ClassVar[str] = ""
    rate_limits: ClassVar[tuple[RateLimit, ...]] = ()
    """The platform's published send limits; a ``SendRateLimiter`` keeps sends within them."""
    verifies_body: ClassVar[bool] = True
    """Whether ``verify`` proves the body itself (an HMAC over it). ``False`` for shared-token
    schemes (a token in a header), where a changed body with the right token is accepted; the
    adapter contract kit then checks the token instead of refusing a tampered body."""
    messaging_window: ClassVar[MessagingWindowRule | None] = None
    """How long after the customer's last message free-form sends are accepted, and what may
    go out after that (``None``: the platform has no such window). The service refuses a send
    the rule does not allow before any request (see :mod:`ventros_channels.messaging.window`)."""
    outbound_limits: ClassVar[OutboundLimits] = NO_LIMITS
    """The platform's sizes and counts for outbound messages; the service checks each send
    against them before any request (see :mod:`ventros_channels.messaging.limits`).
    The default checks nothing."""
    content_types: ClassVar[frozenset[str]] = frozenset({"application/json"})
    """Media types the platform posts webhooks with; a delivery that declares another one is
    refused with 415 before verification (one that declares none is checked as usual)."""

    def __init__(
        self, *, policy: RetryPolicy | None = None, limits: ParseLimits | None = None
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.limits = limits or DEFAULT_LIMITS
        self.http = HttpExecutor(str(self.channel_type), self._map_error, self.policy)
        self._last_doc: tuple[bytes, Any] | None = None

    def load_json(self, body: bytes) -> Any:
        """``body`` parsed as JSON within ``self.limits``, or :class:`WebhookPayloadError`.

        Lone surrogates are replaced and out-of-range numbers refused, so what an event keeps
        of it always serializes. The result is remembered for the next call with the same bytes
        object only (``verify`` reading a signed timestamp, then ``parse``): one parse each.
        """
        last = getattr(self, "_last_doc", None)
        if last is not None and last[0] is body:
            self._last_doc = None  # handed out once: a later parse gets a fresh document
            return last[1]
        doc = load_json(body, str(self.channel_type), getattr(self, "limits", DEFAULT_LIMITS))
        self._last_doc = (body, doc)
        return doc

    def signed_time(self, body: bytes) -> datetime | None:
        """The delivery time the platform wrote inside the signed ``body``, which replay
        checks use; ``None`` when the scheme stamps a signed header instead, or nothing.
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(channel_type={str(self.channel_type)!r})"

    def supports(self, capability: Capability | str) -> bool:
        return Capability(capability) in self.capabilities

    def require(self, capability: Capability) -> None:
        """Raise :class:`CapabilityNotSupportedError` unless the capability is declared."""
        if capability not in self.capabilities:
            raise CapabilityNotSupportedError(str(self.channel_type), capability.value)

    # ------------------------------------------------------------------ sans-IO

    key_name: ClassVar[str] = "webhook secret"
    """What the platform calls the secret that authenticates deliveries (for error messages)."""

    def verify(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        """Accept the delivery or raise :class:`WebhookVerificationError`.

        Fails closed: with no secret in ``keys`` the delivery is refused unless
        ``keys.allow_unsigned``. Then :meth:`check_signature` proves the delivery and
        :meth:`check_freshness` refuses replays. Works on ``request.body`` as received.
        """
        if not keys.secrets:
            if keys.allow_unsigned:
                return
            raise WebhookVerificationError(f"no {self.key_name} configured for this channel")
        self.check_signature(request, keys)
        self.check_freshness(request, keys)

    @abstractmethod
    def check_signature(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        """Prove the delivery with one of ``keys.secrets`` (constant-time), or raise
        :class:`WebhookVerificationError`. Called only when a secret is configured."""

    def check_freshness(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        """Refuse a replayed delivery: by default, one whose :meth:`signed_time` lies outside
        ``self.replay_window``. Schemes that sign a timestamp header override this."""
        window = getattr(self, "replay_window", None)
        if window is None:
            return
        sent_at = self.signed_time(request.body)
        if sent_at is not None:  # items without a time rely on their idempotency keys
            check_window(sent_at, keys.now, window, keys.tolerance)

    def event_key(self, account: str | None, kind: str, *parts: object) -> str:
        """The idempotency key of an inbound item: stable across the platform's retries of
        the same delivery, distinct per account, kind and the item's own identifiers."""
        head = f"{self.channel_type}:{account}:{kind}" if account else f"{self.channel_type}:{kind}"
        if len(parts) == 1:  # the usual case: one id of the item's own
            return f"{head}:{parts[0]}"
        return ":".join((head, *map(str, parts)))

    def handshake(self, request: WebhookRequest, config: ConfigT) -> WebhookResponse | None:
        """Answer a subscription handshake (e.g. Meta's ``hub.challenge`` GET).

        Returns ``None`` when the request is not a handshake for this platform; raises
        :class:`WebhookVerificationError` for a handshake that must be refused.
        """
        return None

    def app_handshake(
        self, request: WebhookRequest, verify_tokens: Sequence[str]
    ) -> WebhookResponse | None:
        """Answer a handshake on the app-level endpoint, where no single channel's config
        applies: any of ``verify_tokens`` is accepted. ``None`` when the platform has none.
        """
        return None

    @abstractmethod
    def parse(self, body: bytes, config: ConfigT | None = None) -> list[InboundEvent]:
        """Normalize a verified body into events (a batch may hold several).

        Raises :class:`WebhookPayloadError` when the body is not the platform's envelope.
        An item inside a valid envelope that cannot be mapped becomes :class:`Unsupported`
        with its raw payload, so nothing is dropped.
        """

    def sign(self, body: bytes, secret: str, *, now: datetime) -> dict[str, str]:
        """Headers a genuine delivery of ``body`` would carry (for tests and local fakes)."""
        raise CapabilityNotSupportedError(str(self.channel_type), "sign")

    def success_response(self, events: Sequence[InboundEvent]) -> WebhookResponse:
        """The answer for an accepted delivery (platforms want a fast 200)."""
        return WebhookResponse(200, b"OK")

    # ------------------------------------------------------------------ network

    def _map_error(
        self, response: httpx.Response, redact: Callable[[str], str]
    ) -> PlatformError | None:
        """Map a platform answer to a typed error (``None`` for success); override."""
        if response.is_success:
            return None
        return error_for_status(response, str(self.channel_type), redact(response.text[:300]))

    def rate_limit_target(self, message: OutboundMessage) -> tuple[str, bool]:
        """The chat a send counts against and whether it is a group (for group limits)."""
        return message.to, False

    async def send(
        self, client: httpx.AsyncClient, config: ConfigT, message: OutboundMessage
    ) -> SendResult:
        """Send one outbound message; never retried after an ambiguous failure."""
        raise CapabilityNotSupportedError(str(self.channel_type), f"send {message.kind}")

    async def test_connection(self, client: httpx.AsyncClient, config: ConfigT) -> ConnectionInfo:
        """Check the credentials and report whose account they open."""
        raise CapabilityNotSupportedError(str(self.channel_type), "test_connection")

    async def register_webhook(
        self, client: httpx.AsyncClient, config: ConfigT, url: str
    ) -> WebhookInfo:
        """Point the platform's deliveries at ``url`` (with the config's webhook secret)."""
        raise CapabilityNotSupportedError(str(self.channel_type), "webhook_registration")

    async def unregister_webhook(self, client: httpx.AsyncClient, config: ConfigT) -> None:
        raise CapabilityNotSupportedError(str(self.channel_type), "webhook_registration")

    async def webhook_info(self, client: httpx.AsyncClient, config: ConfigT) -> WebhookInfo:
        raise CapabilityNotSupportedError(str(self.channel_type), "webhook_info")

    async def list_chats(
        self, client: httpx.AsyncClient, config: ConfigT, *, cursor: str | None = None
    ) -> HistoryPage[ChatSummary]:
        """One page of the account's chats (capability ``history_import``)."""
        raise CapabilityNotSupportedError(str(self.channel_type), "history_import")

    async def fetch_history(
        self,
        client: httpx.AsyncClient,
        config: ConfigT,
        chat_id: str,
        *,
        cursor: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> HistoryPage[InboundEvent]:
        """One page of a chat's past messages, newest first (capability ``history_import``)."""
        raise CapabilityNotSupportedError(str(self.channel_type), "history_import")

    async def download_media(
        self, client: httpx.AsyncClient, config: ConfigT, attachment: Attachment
    ) -> MediaContent:
        """Fetch the bytes behind an attachment handle (capability ``media_download``)."""
        raise CapabilityNotSupportedError(str(self.channel_type), "media_download")

    async def fetch_profile(
        self, client: httpx.AsyncClient, config: ConfigT, user_id: str
    ) -> ContactProfile:
        """What the platform shares about ``user_id`` (capability ``profiles``)."""
        raise CapabilityNotSupportedError(str(self.channel_type), "profiles")


@attrs.frozen
class PairingStep:
    """What a paired session's status means for the caller, as the adapter reads it."""

    status: str | None = None
    """The session status as the platform names it (``None``: never started)."""
    wants_qr_code: bool = False
    """The session waits for a scan and no valid code is stored: fetch a fresh one."""
    stopped: bool = False
    """The session is known to be stopped: there is nothing to stop at the platform."""
    restart: bool = False
    """The session failed and the channel's config asks for it to be restarted (WAHA's
    ``auto_restart``): the adapter's ``restart_failed_session`` does it, with back-off."""


@runtime_checkable
class SessionPairing(Protocol):
    """Operations of adapters whose account is paired by scanning a QR code.

    The adapter owns what the platform's session statuses mean: services and dispatchers pass
    every status, whether read from the platform or delivered by webhook, through
    :meth:`apply_session_status`, and never interpret a status themselves.
    """

    async def start_session(self, client: httpx.AsyncClient, config: Any) -> str:
        """Start (or create and start) the session; returns its status name."""
        ...

    async def session_status(self, client: httpx.AsyncClient, config: Any) -> str:
        """The session's current status name."""
        ...

    async def get_qr_code(self, client: httpx.AsyncClient, config: Any) -> str:
        """The raw value of the current pairing QR code."""
        ...

    async def stop_session(self, client: httpx.AsyncClient, config: Any) -> None: ...

    async def end_session(self, client: httpx.AsyncClient, config: Any, *, logout: bool) -> str:
        """Stop the session (``logout``: also unlink the account, so pairing is needed again);
        returns the status the session is left in. A session the platform does not know is
        already ended."""
        ...

    def apply_session_status(self, channel: Channel, status: str) -> PairingStep:
        """The one hook for session statuses: record ``status`` on the channel through the
        aggregate's own operations and say what pairing needs next. Raises a
        :class:`~ventros_channels.errors.VentrosChannelsError` for a status that cannot be
        applied (unknown, or not allowed for the channel)."""
        ...

    def pairing_step(self, channel: Channel) -> PairingStep:
        """What the session recorded on the channel means now (no new status)."""
        ...
