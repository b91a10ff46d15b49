"""The exception hierarchy of ventros-channels.

Every error the library raises on purpose derives from :class:`VentrosChannelsError`,
so ``except VentrosChannelsError`` catches them all. The tree::

    VentrosChannelsError
    ├── InvalidInputError               bad data handed to the library; lists every bad field
    │   ├── InvalidChannelError         aggregate fields (blank name, missing project, ...)
    │   ├── ChannelConfigError          per-platform configuration
    │   ├── InvalidMetricsError         negative or absurd counter increments
    │   └── UnknownSessionStatusError   a platform session status the library does not know
    ├── DomainError                     a rule of the Channel aggregate was broken
    │   ├── UnknownChannelTypeError     no config model / adapter for this type
    │   ├── InvalidTransitionError      status change not in the transition table
    │   └── InvariantError              e.g. activation before the webhook is configured
    │       └── WebhookSecretMissingError   activation of a channel that cannot verify deliveries
    ├── RepositoryError
    │   ├── ChannelNotFoundError
    │   ├── CorruptChannelError         a stored channel that does not load (names the channel)
    │   ├── ConcurrencyError            stale version on save (optimistic concurrency)
    │   └── RepositoryUnavailableError  the store cannot be reached
    ├── WebhookError
    │   ├── WebhookVerificationError    bad / missing signature, stale timestamp, bad handshake
    │   └── WebhookPayloadError         body is not what the platform sends
    ├── AdapterError
    │   ├── AdapterNotFoundError
    │   ├── AdapterLoadError            a plug-in failed to import or is invalid
    │   └── CapabilityNotSupportedError
    ├── ChannelInactiveError            send / process on a channel that is not active
    └── PlatformError                   the platform answered with an error (or not at all)
        ├── AuthenticationError         token invalid or expired              (permanent)
        ├── PermissionDeniedError       missing permission / capability        (permanent)
        ├── RateLimitedError            throttled; ``retry_after`` seconds     (retryable)
        ├── RecipientUnavailableError   blocked, deactivated, not on platform  (permanent)
        ├── OutsideMessagingWindowError 24 h / 7 d window closed               (permanent)
        │   └── MessagingWindowClosedError  refused here, before any request
        ├── InvalidRequestError         bad parameter                          (permanent)
        │   ├── ChatMigratedError       Telegram group became a supergroup
        │   └── MessageLimitError       over a platform limit, refused here before any request
        ├── ResourceNotFoundError       session / media / chat not found       (permanent)
        ├── PlatformUnavailableError    5xx, timeouts, connection errors       (retryable)
        ├── DeliveryUncertainError      a send failed ambiguously; may have been delivered
        └── PlatformSyncError           our side changed, the platform could not be told yet

No message, ``repr`` or attribute of these errors ever holds a secret: they are built from
field names, codes and the platform's own descriptions (with configured secrets redacted).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NoReturn, TypedDict

import attrs
from typing_extensions import Unpack

__all__ = [
    "AdapterError",
    "AdapterLoadError",
    "AdapterNotFoundError",
    "AuthenticationError",
    "CapabilityNotSupportedError",
    "ChannelConfigError",
    "ChannelInactiveError",
    "ChannelNotFoundError",
    "ChatMigratedError",
    "ConcurrencyError",
    "CorruptChannelError",
    "DeliveryUncertainError",
    "DomainError",
    "FieldError",
    "InboxError",
    "InboxUnavailableError",
    "InvalidChannelError",
    "InvalidInputError",
    "InvalidMetricsError",
    "InvalidRequestError",
    "InvalidTransitionError",
    "InvariantError",
    "MessageLimitError",
    "MessagingWindowClosedError",
    "NotStartedError",
    "OutboxError",
    "OutboxUnavailableError",
    "OutsideMessagingWindowError",
    "PermissionDeniedError",
    "PlatformError",
    "PlatformErrorDetails",
    "PlatformSyncError",
    "PlatformUnavailableError",
    "RateLimitedError",
    "RecipientUnavailableError",
    "RepositoryError",
    "RepositoryUnavailableError",
    "ResourceNotFoundError",
    "UnknownChannelTypeError",
    "UnknownSessionStatusError",
    "VentrosChannelsError",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookSecretMissingError",
    "WebhookVerificationError",
    "raise_unchained",
]


class VentrosChannelsError(Exception):
    """Root of every error raised by ventros-channels."""


def raise_unchained(error: BaseException) -> NoReturn:
    """Raise ``error`` with no exception chained to it.

    ``raise ... from None`` only hides the chain from tracebacks: ``__context__`` still holds the
    exception being handled, and error reporters that walk the chain show it. A driver's or
    HTTP client's error can quote what the library tried to hide (a URL with a bot token, SQL
    parameters, the input of a failed validation), so the library's own errors carry none.
    Works inside ``except`` blocks and context managers' exit paths alike.
    """
    try:
        raise error
    except BaseException as raised:  # re-raised below without a new context
        raised.__cause__ = None
        raised.__context__ = None
        raised.__suppress_context__ = True
        raise


@attrs.frozen
class FieldError:
    """One bad field: its dotted location and why it is bad (never its value)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidInputError(VentrosChannelsError, ValueError):
    """Input data failed validation; ``errors`` names every bad field."""

    def __init__(self, what: str, errors: Sequence[FieldError]) -> None:
        self.what = what
        self.errors: tuple[FieldError, ...] = tuple(errors)
        detail = "; ".join(str(e) for e in self.errors)
        super().__init__(f"invalid {what}: {detail}")

    @property
    def fields(self) -> tuple[str, ...]:
        """The dotted names of the bad fields, in order."""
        return tuple(e.field for e in self.errors)


class InvalidChannelError(InvalidInputError):
    """A channel attribute is missing or malformed (blank name, missing tenant, ...)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("channel", errors)


class ChannelConfigError(InvalidInputError):
    """A per-platform configuration is missing fields or has malformed ones."""

    def __init__(self, channel_type: str, errors: Sequence[FieldError]) -> None:
        self.channel_type = channel_type
        super().__init__(f"{channel_type} config", errors)


class InvalidMetricsError(InvalidInputError):
    """A metrics increment is negative, not an integer, or too large to be real."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("metrics increment", errors)


class UnknownSessionStatusError(InvalidInputError):
    """The platform reported a session status the library does not know (nothing was changed)."""

    def __init__(self, status: str) -> None:
        self.status = status[:64]
        super().__init__(
            "session status", [FieldError("session_status", f"unknown status {self.status!r}")]
        )


class DomainError(VentrosChannelsError):
    """A rule of the Channel aggregate was broken."""


class UnknownChannelTypeError(DomainError, ValueError):
    """No configuration model or adapter is known for this channel type."""

    def __init__(self, channel_type: str) -> None:
        self.channel_type = channel_type
        super().__init__(
            f"unknown channel type {channel_type!r}: not built in and no installed adapter "
            "plug-in provides it"
        )


class InvalidTransitionError(DomainError):
    """A status change that the transition table does not allow."""

    def __init__(self, from_status: str, to_status: str, reason: str = "") -> None:
        self.from_status = from_status
        self.to_status = to_status
        extra = f" ({reason})" if reason else ""
        super().__init__(f"cannot move channel from {from_status!r} to {to_status!r}{extra}")


class InvariantError(DomainError):
    """An invariant of the aggregate would be broken; ``rule`` names it."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(message)


class WebhookSecretMissingError(InvariantError):
    """The channel cannot verify webhook deliveries; ``missing`` names what to provide."""

    def __init__(self, channel_id: str, missing: str, hint: str = "") -> None:
        self.channel_id = channel_id
        self.missing = missing
        extra = f" ({hint})" if hint else ""
        super().__init__(
            "webhook_secret_missing",
            f"channel {channel_id} cannot verify webhook deliveries: set {missing}{extra}, "
            "or allow unsigned deliveries explicitly",
        )


class RepositoryError(VentrosChannelsError):
    """Base of persistence errors."""


class ChannelNotFoundError(RepositoryError, LookupError):
    """No channel with this id (or external id) exists for the tenant."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"channel not found: {key}")


class ConcurrencyError(RepositoryError):
    """The channel changed since it was loaded (optimistic concurrency)."""

    def __init__(self, channel_id: str, expected_version: int, actual_version: int | None) -> None:
        self.channel_id = channel_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"channel {channel_id} was modified concurrently: expected stored version "
            f"{expected_version}, found {actual_version}"
        )


class CorruptChannelError(RepositoryError):
    """A stored channel does not load; ``channel_id`` and the bad field names say which and why.

    The message never holds the stored values (they may be secrets).
    """

    def __init__(self, channel_id: str, errors: Sequence[FieldError]) -> None:
        self.channel_id = channel_id
        self.errors: tuple[FieldError, ...] = tuple(errors)
        detail = "; ".join(str(e) for e in self.errors) or "unreadable"
        super().__init__(f"stored channel {channel_id} is invalid: {detail}")


class RepositoryUnavailableError(RepositoryError):
    """The backing store could not be reached; nothing was written."""


class InboxError(RepositoryError):
    """Base of inbox errors: a stored delivery is damaged, or the inbox refused an operation."""


class InboxUnavailableError(InboxError, RepositoryUnavailableError):
    """The inbox's store could not be reached; nothing was recorded (answer 503, retry later)."""


class OutboxError(RepositoryError):
    """Base of outbox errors: a stored send is damaged, or cannot be recorded as asked."""


class OutboxUnavailableError(OutboxError, RepositoryUnavailableError):
    """The outbox's store could not be reached; no request was made to the platform."""


class NotStartedError(VentrosChannelsError, RuntimeError):
    """A dispatcher or worker was used before ``start()`` (or outside ``async with``)."""


class WebhookError(VentrosChannelsError):
    """Base of inbound webhook errors."""


class WebhookVerificationError(WebhookError):
    """The delivery is not proven to come from the platform; it must not be processed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"webhook verification failed: {reason}")


class WebhookPayloadError(WebhookError, ValueError):
    """The body is not a payload the platform sends (bad JSON, wrong shape)."""

    def __init__(self, platform: str, reason: str) -> None:
        self.platform = platform
        self.reason = reason
        super().__init__(f"invalid {platform} webhook payload: {reason}")


class AdapterError(VentrosChannelsError):
    """Base of adapter lookup and capability errors."""


class AdapterNotFoundError(AdapterError, LookupError):
    """No adapter is registered for this channel type."""

    def __init__(self, channel_type: str, available: Sequence[str] = ()) -> None:
        self.channel_type = channel_type
        known = ", ".join(sorted(available)) or "none"
        super().__init__(f"no adapter for channel type {channel_type!r} (available: {known})")


class AdapterLoadError(AdapterError):
    """A plug-in adapter could not be loaded; names the distribution and the cause."""

    def __init__(self, name: str, distribution: str | None, cause: str) -> None:
        self.name = name
        self.distribution = distribution
        self.cause = cause
        dist = f" from distribution {distribution!r}" if distribution else ""
        super().__init__(f"adapter {name!r}{dist} failed to load: {cause}")


class CapabilityNotSupportedError(AdapterError):
    """The adapter does not offer this capability (check ``adapter.capabilities`` first)."""

    def __init__(self, channel_type: str, capability: str) -> None:
        self.channel_type = channel_type
        self.capability = capability
        super().__init__(f"{channel_type} adapter does not support {capability}")


class ChannelInactiveError(VentrosChannelsError):
    """The channel is not active, so it neither sends nor accepts deliveries."""

    def __init__(self, channel_id: str, status: str) -> None:
        self.channel_id = channel_id
        self.status = status
        super().__init__(f"channel {channel_id} is {status}, not active")


class PlatformErrorDetails(TypedDict, total=False):
    """Keyword arguments every :class:`PlatformError` accepts."""

    platform: str
    status_code: int | None
    code: int | str | None
    subcode: int | None
    trace_id: str | None


class PlatformError(VentrosChannelsError):
    """The platform refused a request or could not be reached.

    ``code``/``subcode`` are the platform's own, ``trace_id`` its request id
    (Meta's ``fbtrace_id``), ``status_code`` the HTTP status if there was an answer.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        platform: str = "",
        status_code: int | None = None,
        code: int | str | None = None,
        subcode: int | None = None,
        trace_id: str | None = None,
    ) -> None:
        self.platform = platform
        self.status_code = status_code
        self.code = code
        self.subcode = subcode
        self.trace_id = trace_id
        self.description = message
        parts = [f"{platform}: {message}" if platform else message]
        if code is not None:
            parts.append(f"code={code}")
        if subcode is not None:
            parts.append(f"subcode={subcode}")
        if status_code is not None:
            parts.append(f"http={status_code}")
        if trace_id:
            parts.append(f"trace_id={trace_id}")
        super().__init__(" ".join(parts))


class AuthenticationError(PlatformError):
    """The credentials were rejected: token invalid, expired or revoked."""


class PermissionDeniedError(PlatformError):
    """The credentials lack a permission or the account a capability."""


class RateLimitedError(PlatformError):
    """Throttled; wait ``retry_after`` seconds (``None`` when the platform gave no hint)."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        **kw: Unpack[PlatformErrorDetails],
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class RecipientUnavailableError(PlatformError):
    """The recipient cannot receive messages (blocked the account, deactivated, unknown)."""


class OutsideMessagingWindowError(PlatformError):
    """The free-form messaging window closed; send a template or a tagged message."""


class MessagingWindowClosedError(OutsideMessagingWindowError):
    """The library refused a send before any request: the chat's messaging window is closed
    for this kind of message (the customer last wrote longer ago than the platform allows).

    ``chat_id`` names the chat, ``last_inbound_at`` is the customer's last message the library
    saw (``None``: none), ``closed_at`` when free-form messages stopped being accepted. Send a
    template (WhatsApp) or a tagged message (Messenger, Instagram), or wait for the customer.
    A subclass of the platform's own refusal, so ``except OutsideMessagingWindowError``
    catches both.
    """

    def __init__(
        self,
        message: str,
        *,
        chat_id: str | None = None,
        last_inbound_at: datetime | None = None,
        closed_at: datetime | None = None,
        **kw: Unpack[PlatformErrorDetails],
    ) -> None:
        self.chat_id = chat_id
        self.last_inbound_at = last_inbound_at
        self.closed_at = closed_at
        super().__init__(message, **kw)


class InvalidRequestError(PlatformError):
    """The platform rejected a parameter of the request."""


class ChatMigratedError(InvalidRequestError):
    """A Telegram group became a supergroup; re-key the chat to ``new_chat_id``."""

    def __init__(
        self, message: str, *, new_chat_id: str, **kw: Unpack[PlatformErrorDetails]
    ) -> None:
        self.new_chat_id = new_chat_id
        super().__init__(message, **kw)


class MessageLimitError(InvalidRequestError):
    """The library refused a send before any request: part of the message is over one of
    the platform's limits (see :mod:`ventros_channels.messaging.limits`).

    ``limit`` names the limit (e.g. ``button_title_max``), ``field`` the part of the message
    (``buttons[2].title``), ``allowed`` the platform's maximum and ``actual`` the message's
    value, both in ``unit`` (``characters``, ``bytes`` or ``items``). The message's content
    is never quoted. A subclass of the platform's own refusal of a bad parameter, so
    ``except InvalidRequestError`` catches both.
    """

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        field: str,
        allowed: int,
        actual: int,
        unit: str = "characters",
        **kw: Unpack[PlatformErrorDetails],
    ) -> None:
        self.limit = limit
        self.field = field
        self.allowed = allowed
        self.actual = actual
        self.unit = unit
        super().__init__(message, **kw)


class ResourceNotFoundError(PlatformError):
    """The platform does not know the session, chat, message or media asked for."""


class PlatformUnavailableError(PlatformError):
    """A server error, timeout or connection failure; retrying later may succeed."""

    retryable = True


class DeliveryUncertainError(PlatformError):
    """A send failed after the request may have reached the platform.

    The library does not retry such sends on its own (the message could be delivered
    twice); the host decides, for example after checking status webhooks.
    ``idempotency_key`` names the send in the outbox: send again with it and
    ``resend=True`` to force a second attempt.
    """

    idempotency_key: str | None = None


class PlatformSyncError(PlatformError):
    """The channel changed here, but telling the platform failed; ``cause`` is that failure.

    The channel records what the platform still does (e.g. the webhook stays marked active), so
    repeating the same call retries only the platform part.
    """

    def __init__(self, channel_id: str, operation: str, cause: PlatformError) -> None:
        self.channel_id = channel_id
        self.operation = operation
        self.cause = cause
        self.retryable = cause.retryable
        super().__init__(
            f"{operation} of channel {channel_id} is done here but the platform was not updated "
            f"({cause}); call it again to retry",
            platform=cause.platform,
            status_code=cause.status_code,
            code=cause.code,
        )
