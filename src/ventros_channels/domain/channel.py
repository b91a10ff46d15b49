"""The Channel aggregate: one connection of a project to a messaging platform.

The aggregate is pure: no IO, and time comes from the injected clock. Every change goes
through an intent-named method that checks the invariants, bumps nothing in storage and
records domain events; the caller saves the channel and then takes the events with
:meth:`Channel.pull_events`.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Concatenate, Final, ParamSpec, TypeVar
from uuid import UUID, uuid4

import attrs
from pydantic import SecretStr

from ventros_channels.clock import Clock, SystemClock
from ventros_channels.domain import events as ev
from ventros_channels.domain.config import ChannelConfig, parse_config
from ventros_channels.domain.snapshot import channel_from_snapshot, channel_to_snapshot
from ventros_channels.domain.status import check_transition
from ventros_channels.domain.types import (
    ChannelStatus,
    ChannelType,
    HistoryImportState,
    ImportStrategy,
    WAHASessionStatus,
)
from ventros_channels.domain.values import (
    ChannelMetrics,
    HistoryImport,
    MetricsDelta,
    RetiredSecret,
    WAHASession,
    WebhookSettings,
)
from ventros_channels.errors import (
    FieldError,
    InvalidChannelError,
    InvariantError,
    WebhookSecretMissingError,
)

__all__ = ["DEFAULT_RECENT_WINDOW", "QR_CODE_TTL", "Channel", "RoutingContext"]

QR_CODE_TTL: Final = timedelta(seconds=60)
"""How long a WAHA pairing QR code stays valid unless told otherwise."""
DEFAULT_RECENT_WINDOW: Final = timedelta(days=7)
"""How far back the ``recent`` import strategy reaches unless the channel or caller says."""
MAX_NAME_LENGTH: Final = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters a name or id may not hold (tab and line breaks are allowed in names)."""
MAX_ERROR_LENGTH: Final = 1000
_UNSET: Any = object()
_P = ParamSpec("_P")
_R = TypeVar("_R")
_RECOVERABLE = frozenset({ChannelStatus.ERROR, ChannelStatus.DISCONNECTED})


def _atomic(
    method: Callable[Concatenate[Channel, _P], _R],
) -> Callable[Concatenate[Channel, _P], _R]:
    """Run a command all or nothing: if it raises, every field is put back as it was."""

    @functools.wraps(method)
    def run(self: Channel, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        saved = [getattr(self, name) for name in _STATE]
        events = list(self._events)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            for name, value in zip(_STATE, saved, strict=True):
                object.__setattr__(self, name, value)
            self._events = events
            raise

    return run


@attrs.frozen
class RoutingContext:
    """What a host needs to route an inbound event of this channel: whose it is (tenant,
    project), which pipeline takes it, and how the channel is set up to talk."""

    channel_id: UUID
    tenant_id: str
    project_id: UUID
    channel_type: ChannelType
    pipeline_id: UUID | None
    """``None`` means: use the project's default pipeline."""
    default_session_timeout_minutes: int | None
    ai_enabled: bool
    ai_agents_enabled: bool

    @property
    def uses_project_default_pipeline(self) -> bool:
        return self.pipeline_id is None


def _blank(value: object) -> bool:
    return not isinstance(value, str) or not value.strip()


def _as_uuid(value: object, field: str, errors: list[FieldError]) -> UUID | None:
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    errors.append(FieldError(field, "must be a UUID"))
    return None


class Channel:
    """Aggregate root of a messaging channel. Build with :meth:`create` or :meth:`from_snapshot`."""

    __slots__ = (
        "_active_seconds",
        "_ai_agents_enabled",
        "_ai_enabled",
        "_channel_type",
        "_clock",
        "_config",
        "_connected_at",
        "_created_at",
        "_deleted_at",
        "_events",
        "_external_id",
        "_history_import",
        "_id",
        "_last_history_import_at",
        "_metrics",
        "_name",
        "_pending_metrics",
        "_pipeline_id",
        "_project_id",
        "_retired_secrets",
        "_session_timeout",
        "_status",
        "_status_since",
        "_tenant_id",
        "_updated_at",
        "_user_id",
        "_version",
        "_waha",
        "_webhook",
    )

    _id: UUID
    _tenant_id: str
    _project_id: UUID
    _user_id: UUID | None
    _name: str
    _channel_type: ChannelType
    _status: ChannelStatus
    _external_id: str | None
    _config: ChannelConfig
    _webhook: WebhookSettings
    _retired_secrets: tuple[RetiredSecret, ...]
    _pipeline_id: UUID | None
    _session_timeout: int | None
    _ai_enabled: bool
    _ai_agents_enabled: bool
    _metrics: ChannelMetrics
    _pending_metrics: MetricsDelta
    _waha: WAHASession | None
    _history_import: HistoryImport | None
    _last_history_import_at: datetime | None
    _created_at: datetime
    _updated_at: datetime
    _deleted_at: datetime | None
    _connected_at: datetime | None
    _status_since: datetime
    _active_seconds: float
    _version: int
    _clock: Clock
    _events: list[ev.ChannelEvent]

    def __init__(self) -> None:
        raise TypeError("use Channel.create(...) or Channel.from_snapshot(...)")

    # ------------------------------------------------------------------ factories

    @classmethod
    def create(
        cls,
        *,
        tenant_id: str,
        project_id: UUID | str,
        name: str,
        channel_type: ChannelType | str,
        config: ChannelConfig | Mapping[str, Any],
        user_id: UUID | str | None = None,
        external_id: str | None = None,
        channel_id: UUID | None = None,
        pipeline_id: UUID | str | None = None,
        default_session_timeout_minutes: int | None = None,
        ai_enabled: bool = False,
        ai_agents_enabled: bool = False,
        clock: Clock | None = None,
    ) -> Channel:
        """Create a new channel and record ``channel.created``.

        A WAHA channel starts ``connecting`` (its session has to be paired before it can
        work); every other type starts ``inactive`` until it is activated.

        Raises :class:`InvalidChannelError` naming every bad field, or
        :class:`ChannelConfigError` / :class:`UnknownChannelTypeError` for the config.
        """
        errors: list[FieldError] = []
        if _blank(tenant_id):
            errors.append(FieldError("tenant_id", "is required"))
        elif _CONTROL.search(tenant_id):
            errors.append(FieldError("tenant_id", "must not contain control characters"))
        project = _as_uuid(project_id, "project_id", errors)
        _check_name(name, errors)
        user = None if user_id is None else _as_uuid(user_id, "user_id", errors)
        pipeline = None if pipeline_id is None else _as_uuid(pipeline_id, "pipeline_id", errors)
        ctype: ChannelType | None = None
        if _blank(channel_type):
            errors.append(FieldError("channel_type", "is required"))
        else:
            try:
                ctype = ChannelType(channel_type)
            except InvalidChannelError as exc:
                errors.extend(exc.errors)
        _check_timeout(default_session_timeout_minutes, errors)
        if ai_agents_enabled and not ai_enabled:
            errors.append(FieldError("ai_agents_enabled", "requires ai_enabled"))
        if errors:
            raise InvalidChannelError(errors)
        assert ctype is not None
        assert project is not None
        parsed = parse_config(ctype, config)

        clk = clock or SystemClock()
        now = clk.now()
        self = cls._blank_instance(clk)
        self._id = channel_id or uuid4()
        self._tenant_id = tenant_id.strip()
        self._project_id = project
        self._user_id = user
        self._name = name.strip()
        self._channel_type = ctype
        self._status = (
            ChannelStatus.CONNECTING if ctype == ChannelType.WAHA else ChannelStatus.INACTIVE
        )
        self._status_since = now
        self._config = parsed
        self._external_id = external_id or parsed.external_id()
        self._pipeline_id = pipeline
        self._session_timeout = default_session_timeout_minutes
        self._ai_enabled = ai_enabled
        self._ai_agents_enabled = ai_agents_enabled
        self._waha = WAHASession() if ctype == ChannelType.WAHA else None
        self._created_at = now
        self._updated_at = now
        self._record(
            ev.ChannelCreated,
            project_id=project,
            user_id=user,
            name=self._name,
            channel_type=ctype,
            status=self._status,
        )
        return self

    @classmethod
    def _blank_instance(cls, clock: Clock) -> Channel:
        self = object.__new__(cls)
        self._clock = clock
        self._events = []
        self._pending_metrics = MetricsDelta()
        self._version = 0
        self._metrics = ChannelMetrics()
        self._webhook = WebhookSettings()
        self._retired_secrets = ()
        self._history_import = None
        self._last_history_import_at = None
        self._deleted_at = None
        self._waha = None
        self._connected_at = None
        self._active_seconds = 0.0
        return self

    # ------------------------------------------------------------------ read side

    @property
    def id(self) -> UUID:
        return self._id

    @property
    def tenant_id(self) -> str:
        return self._tenant_id

    @property
    def project_id(self) -> UUID:
        return self._project_id

    @property
    def user_id(self) -> UUID | None:
        return self._user_id

    @property
    def name(self) -> str:
        return self._name

    @property
    def channel_type(self) -> ChannelType:
        return self._channel_type

    @property
    def status(self) -> ChannelStatus:
        return self._status

    @property
    def is_active(self) -> bool:
        return self._status is ChannelStatus.ACTIVE and self._deleted_at is None

    @property
    def external_id(self) -> str | None:
        return self._external_id

    @property
    def config(self) -> ChannelConfig:
        return self._config

    @property
    def webhook(self) -> WebhookSettings:
        return self._webhook

    @property
    def pipeline_id(self) -> UUID | None:
        return self._pipeline_id

    @property
    def default_session_timeout_minutes(self) -> int | None:
        return self._session_timeout

    @property
    def ai_enabled(self) -> bool:
        return self._ai_enabled

    @property
    def ai_agents_enabled(self) -> bool:
        return self._ai_agents_enabled

    @property
    def metrics(self) -> ChannelMetrics:
        return self._metrics

    @property
    def waha_session(self) -> WAHASession | None:
        """The WAHA session state (``None`` for other channel types)."""
        return self._waha

    @property
    def history_import(self) -> HistoryImport | None:
        return self._history_import

    @property
    def last_history_import_at(self) -> datetime | None:
        """When the last history import completed (the ``new_only`` lower bound)."""
        return self._last_history_import_at

    @property
    def connected_at(self) -> datetime | None:
        """When the channel first became active (``None`` if it never did)."""
        return self._connected_at

    @property
    def status_since(self) -> datetime:
        """When the channel entered its current status."""
        return self._status_since

    def active_time(self, at: datetime | None = None) -> timedelta:
        """Total time spent ``active`` up to ``at`` (default: now)."""
        now = at or self._clock.now()
        total = self._active_seconds
        if self._status is ChannelStatus.ACTIVE and now > self._status_since:
            total += (now - self._status_since).total_seconds()
        return timedelta(seconds=total)

    def uptime(self, at: datetime | None = None) -> float | None:
        """Share of the time since the first connection spent ``active`` (0-1), or ``None``."""
        now = at or self._clock.now()
        if self._connected_at is None or now <= self._connected_at:
            return None
        span = (now - self._connected_at).total_seconds()
        return min(1.0, self.active_time(now).total_seconds() / span)

    def missing_verification(self) -> str | None:
        """What the channel lacks to verify webhook deliveries (a config field), or ``None``."""
        field = self._config.webhook_secret_field
        if field is None or self._webhook.accept_unsigned:
            return None
        return None if self._config.webhook_secret() is not None else f"config.{field}"

    @property
    def created_at(self) -> datetime:
        return self._created_at

    @property
    def updated_at(self) -> datetime:
        return self._updated_at

    @property
    def deleted_at(self) -> datetime | None:
        return self._deleted_at

    @property
    def is_deleted(self) -> bool:
        return self._deleted_at is not None

    @property
    def version(self) -> int:
        """Stored version this object was loaded at (0 for a channel never saved)."""
        return self._version

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def pending_events(self) -> tuple[ev.ChannelEvent, ...]:
        """Events recorded since the last :meth:`pull_events`, without taking them."""
        return tuple(self._events)

    def routing_context(self) -> RoutingContext:
        """The routing facts a host needs for an inbound event of this channel."""
        return RoutingContext(
            channel_id=self._id,
            tenant_id=self._tenant_id,
            project_id=self._project_id,
            channel_type=self._channel_type,
            pipeline_id=self._pipeline_id,
            default_session_timeout_minutes=self._session_timeout,
            ai_enabled=self._ai_enabled,
            ai_agents_enabled=self._ai_agents_enabled,
        )

    def webhook_secrets(self) -> tuple[SecretStr, ...]:
        """Secrets that authenticate deliveries now: the current one, then unexpired old ones."""
        now = self._clock.now()
        current = self._config.webhook_secret()
        out = [current] if current is not None else []
        out.extend(r.secret for r in self._retired_secrets if r.valid_until > now)
        return tuple(out)

    def __repr__(self) -> str:
        return (
            f"Channel(id={self._id}, tenant_id={self._tenant_id!r}, name={self._name!r}, "
            f"type={self._channel_type!s}, status={self._status.value}, version={self._version})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Channel) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    # ------------------------------------------------------------------ events

    def pull_events(self) -> list[ev.ChannelEvent]:
        """Take the recorded events (each is handed out once)."""
        out, self._events = self._events, []
        return out

    def _record(self, event_cls: type[ev.ChannelEvent], **fields: Any) -> None:
        self._events.append(
            event_cls(
                event_id=uuid4(),
                channel_id=self._id,
                tenant_id=self._tenant_id,
                occurred_at=self._clock.now(),
                aggregate_version=self._version + 1,
                **fields,
            )
        )

    def _touch(self) -> None:
        self._updated_at = self._clock.now()

    def _ensure_not_deleted(self) -> None:
        if self._deleted_at is not None:
            raise InvariantError("channel_deleted", f"channel {self._id} is deleted")

    # ------------------------------------------------------------------ updates

    def rename(self, name: str) -> None:
        """Change the display name."""
        self.update(name=name)

    @_atomic
    def update(
        self,
        *,
        name: str = _UNSET,
        config: ChannelConfig | Mapping[str, Any] = _UNSET,
        external_id: str | None = _UNSET,
        default_session_timeout_minutes: int | None = _UNSET,
    ) -> tuple[str, ...]:
        """Change several attributes at once; returns the names of those that changed.

        Records ``channel.updated`` (field names only, never values) when anything changed.
        """
        self._ensure_not_deleted()
        errors: list[FieldError] = []
        new_name = self._name
        if name is not _UNSET and _check_name(name, errors):
            new_name = name.strip()
        if default_session_timeout_minutes is not _UNSET:
            _check_timeout(default_session_timeout_minutes, errors)
        if errors:
            raise InvalidChannelError(errors)
        new_config = self._config if config is _UNSET else parse_config(self._channel_type, config)

        changed: list[str] = []
        if new_name != self._name:
            self._name = new_name
            changed.append("name")
        if new_config != self._config:
            if self._external_id == self._config.external_id() and external_id is _UNSET:
                self._external_id = new_config.external_id()
            self._config = new_config
            changed.append("config")
        if external_id is not _UNSET and external_id != self._external_id:
            self._external_id = external_id
            changed.append("external_id")
        if (
            default_session_timeout_minutes is not _UNSET
            and default_session_timeout_minutes != self._session_timeout
        ):
            self._session_timeout = default_session_timeout_minutes
            changed.append("default_session_timeout_minutes")
        if changed:
            self._touch()
            self._record(ev.ChannelUpdated, changed_fields=tuple(changed))
        return tuple(changed)

    def set_session_timeout(self, minutes: int | None) -> None:
        """Override the global session timeout for this channel (``None``: use the global)."""
        self.update(default_session_timeout_minutes=minutes)

    # ------------------------------------------------------------------ webhook

    @_atomic
    def configure_webhook(
        self,
        url: str | None = None,
        *,
        base_url: str | None = None,
        webhook_id: str | None = None,
    ) -> str:
        """Set the webhook URL: ``url`` as given, or ``{base_url}/webhooks/{type}/{id}``.

        When the type holds a webhook secret the library may create and none is set yet, a
        strong random one is generated (see :meth:`ensure_webhook_secret`). Returns the URL.
        Records ``channel.webhook.configured``.
        """
        self._ensure_not_deleted()
        if (url is None) == (base_url is None):
            raise InvalidChannelError(
                [FieldError("webhook_url", "give exactly one of url or base_url")]
            )
        if url is None:
            assert base_url is not None
            url = f"{base_url.rstrip('/')}/webhooks/{self._channel_type}/{self._id}"
        if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
            raise InvalidChannelError([FieldError("webhook_url", "must be an http(s) URL")])
        self._webhook = attrs.evolve(
            self._webhook,
            url=url,
            webhook_id=webhook_id if webhook_id is not None else self._webhook.webhook_id,
            configured_at=self._clock.now(),
            active=True,
        )
        self._touch()
        self._record(ev.WebhookConfigured, webhook_url=url, webhook_id=self._webhook.webhook_id)
        self.ensure_webhook_secret()
        return url

    @_atomic
    def ensure_webhook_secret(self) -> bool:
        """Generate the webhook secret if the type has one, none is set, and the library may
        create it (not Meta's app secret, which belongs to the host's app). True if generated.

        The secret is 43 URL-safe characters (256 random bits), valid for every platform's
        alphabet (Telegram's ``secret_token`` allows A-Z, a-z, 0-9, ``_`` and ``-``).
        """
        self._ensure_not_deleted()
        cfg = self._config
        if (
            cfg.webhook_secret_field is None
            or not cfg.webhook_secret_generated
            or cfg.webhook_secret() is not None
            or self._webhook.accept_unsigned  # the host chose unsigned deliveries on purpose
        ):
            return False
        self._config = cfg.with_webhook_secret(secrets.token_urlsafe(32))
        self._touch()
        self._record(ev.ChannelUpdated, changed_fields=("webhook_secret",))
        return True

    def mark_webhook_inactive(self) -> None:
        """The platform no longer delivers here (unregistered); the URL is kept."""
        if self._webhook.active:
            self._webhook = attrs.evolve(self._webhook, active=False)
            self._touch()
            self._record(ev.ChannelUpdated, changed_fields=("webhook_active",))

    def mark_webhook_registered(self) -> None:
        """The platform confirmed it delivers to the configured URL again."""
        self._ensure_not_deleted()
        if not self._webhook.is_configured:
            raise InvariantError(
                "webhook_not_configured", f"channel {self._id} has no webhook URL to register"
            )
        if not self._webhook.active:
            self._webhook = attrs.evolve(self._webhook, active=True)
            self._touch()
            self._record(ev.ChannelUpdated, changed_fields=("webhook_active",))

    @_atomic
    def allow_unsigned_webhooks(self, allowed: bool = True) -> None:
        """Explicitly accept (or stop accepting) deliveries that carry no signature.

        Only meaningful for a channel whose config holds no webhook secret; a channel
        with a secret always requires a valid signature.
        """
        self._ensure_not_deleted()
        if self._webhook.accept_unsigned != allowed:
            self._webhook = attrs.evolve(self._webhook, accept_unsigned=allowed)
            self._touch()
            self._record(ev.ChannelUpdated, changed_fields=("webhook_accept_unsigned",))

    @_atomic
    def rotate_webhook_secret(
        self, new_secret: str | None = None, *, grace: timedelta = timedelta(hours=24)
    ) -> None:
        """Replace the webhook secret; the old one keeps working for ``grace``.

        With no ``new_secret`` a random URL-safe one is generated. Read the new value from
        ``channel.config`` to register it with the platform.
        """
        self._ensure_not_deleted()
        if self._config.webhook_secret_field is None:
            raise InvariantError(
                "no_webhook_secret", f"{self._channel_type} channels have no webhook secret"
            )
        if grace < timedelta(0):
            raise InvalidChannelError([FieldError("grace", "must not be negative")])
        now = self._clock.now()
        old = self._config.webhook_secret()
        self._config = self._config.with_webhook_secret(new_secret or secrets.token_urlsafe(32))
        kept = [r for r in self._retired_secrets if r.valid_until > now]
        grace_until: datetime | None = None
        if old is not None and grace > timedelta(0):
            grace_until = now + grace
            kept.append(RetiredSecret(old, grace_until))
        self._retired_secrets = tuple(kept)
        self._touch()
        self._record(ev.WebhookSecretRotated, grace_until=grace_until)

    # ------------------------------------------------------------------ status

    def _move(self, to: ChannelStatus, reason: str = "") -> bool:
        self._ensure_not_deleted()
        if to is self._status:
            return False
        check_transition(self._status, to)
        before = self._status
        now = self._clock.now()
        if before is ChannelStatus.ACTIVE and now > self._status_since:
            self._active_seconds += (now - self._status_since).total_seconds()
        if to is ChannelStatus.ACTIVE and self._connected_at is None:
            self._connected_at = now
        self._status = to
        self._status_since = now
        self._touch()
        self._record(ev.ChannelStatusChanged, from_status=before, to_status=to, reason=reason)
        return True

    @_atomic
    def request_activation(self) -> None:
        """Activation started and awaits the platform (e.g. a WAHA QR scan): ``connecting``."""
        self._move(ChannelStatus.CONNECTING, "activation requested")

    def check_activatable(self) -> None:
        """Raise what :meth:`activate` would refuse for (webhook URL, verification)."""
        if not self._webhook.is_configured:
            raise InvariantError(
                "webhook_not_configured",
                f"channel {self._id} cannot be activated before its webhook is configured",
            )
        missing = self.missing_verification()
        if missing is not None:
            hint = (
                "the platform's secret, which only the host has"
                if not self._config.webhook_secret_generated
                else "or configure the webhook again to generate one"
            )
            raise WebhookSecretMissingError(str(self._id), missing, hint)

    @_atomic
    def activate(self, reason: str = "activated") -> None:
        """Make the channel active.

        Requires a configured webhook and a way to verify deliveries (the type's webhook secret,
        or an explicit :meth:`allow_unsigned_webhooks`); raises
        :class:`WebhookSecretMissingError` naming the missing field otherwise.
        """
        self._ensure_not_deleted()
        if self._status is ChannelStatus.ACTIVE:
            return
        self.check_activatable()
        self._move(ChannelStatus.ACTIVE, reason)
        self._record(ev.ChannelActivated)

    @_atomic
    def mark_reachable(self, source: str) -> bool:
        """The platform just proved the channel works (a health check, a test connection or a
        send succeeded): an ``error`` or ``disconnected`` channel becomes ``active`` again.

        Other statuses are left alone: ``inactive`` is the user's decision and ``connecting``
        waits for its own signal (a WAHA QR scan). Returns True if the channel recovered.
        """
        self._ensure_not_deleted()
        if self._status not in _RECOVERABLE:
            return False
        self.activate(f"recovered: {_clip(source)}")
        return True

    @_atomic
    def deactivate(self) -> None:
        """Disable the channel (user decision): ``inactive``."""
        if self._move(ChannelStatus.INACTIVE, "deactivated"):
            self._record(ev.ChannelDeactivated)

    @_atomic
    def mark_disconnected(self, reason: str = "") -> None:
        """The connection to the platform was lost."""
        self._move(ChannelStatus.DISCONNECTED, _clip(reason))

    @_atomic
    def mark_error(self, message: str) -> None:
        """The platform refused the configuration: status ``error`` and the error recorded."""
        self._move(ChannelStatus.ERROR, _clip(message))
        self.record_error(message)

    # ------------------------------------------------------------------ pipeline / AI

    @_atomic
    def associate_pipeline(self, pipeline_id: UUID | str) -> None:
        """Route this channel's inbound messages to ``pipeline_id``."""
        self._ensure_not_deleted()
        errors: list[FieldError] = []
        pid = _as_uuid(pipeline_id, "pipeline_id", errors)
        if errors:
            raise InvalidChannelError(errors)
        assert pid is not None
        if pid == self._pipeline_id:
            return
        previous, self._pipeline_id = self._pipeline_id, pid
        self._touch()
        self._record(ev.PipelineAssociated, pipeline_id=pid, previous_pipeline_id=previous)

    @_atomic
    def disassociate_pipeline(self) -> None:
        """Route to the project's default pipeline again."""
        self._ensure_not_deleted()
        if self._pipeline_id is None:
            return
        previous, self._pipeline_id = self._pipeline_id, None
        self._touch()
        self._record(ev.PipelineDisassociated, pipeline_id=previous)

    def enable_ai(self) -> None:
        self._set_ai(ai=True, agents=self._ai_agents_enabled)

    def disable_ai(self) -> None:
        """Turn AI responses off (AI agents go off with them)."""
        self._set_ai(ai=False, agents=False)

    @_atomic
    def enable_ai_agents(self) -> None:
        """Allow AI agent assignment; requires AI to be enabled."""
        if not self._ai_enabled:
            raise InvariantError("ai_agents_require_ai", "enable AI before enabling AI agents")
        self._set_ai(ai=True, agents=True)

    def disable_ai_agents(self) -> None:
        self._set_ai(ai=self._ai_enabled, agents=False)

    def _set_ai(self, *, ai: bool, agents: bool) -> None:
        self._ensure_not_deleted()
        changed = []
        if ai != self._ai_enabled:
            changed.append("ai_enabled")
        if agents != self._ai_agents_enabled:
            changed.append("ai_agents_enabled")
        if changed:
            self._ai_enabled, self._ai_agents_enabled = ai, agents
            self._touch()
            self._record(ev.ChannelUpdated, changed_fields=tuple(changed))

    # ------------------------------------------------------------------ metrics

    def record_metrics(self, delta: MetricsDelta) -> None:
        """Apply counter increments; the repository adds them atomically on save."""
        if delta.is_empty:
            return
        pending = self._pending_metrics + delta  # may refuse the sum: before any change
        self._metrics = self._metrics.apply(delta)
        self._pending_metrics = pending

    def record_message_received(self, at: datetime | None = None, count: int = 1) -> None:
        at = at or self._clock.now()
        self.record_metrics(MetricsDelta(received=count, last_message_at=at))

    def record_message_sent(self, at: datetime | None = None, count: int = 1) -> None:
        at = at or self._clock.now()
        self.record_metrics(MetricsDelta(sent=count, last_message_at=at))

    def record_error(self, message: str) -> None:
        """Remember the last error (the message must not hold secrets: redact first)."""
        now = self._clock.now()
        text = _clip(message)
        self.record_metrics(MetricsDelta(errors=1, last_error_at=now, last_error=text))
        self._record(ev.ChannelErrorRecorded, message=text)

    def take_pending_metrics(self) -> MetricsDelta:
        """Hand the unsaved counter increments to the repository (once)."""
        out, self._pending_metrics = self._pending_metrics, MetricsDelta()
        return out

    def restore_pending_metrics(self, delta: MetricsDelta) -> None:
        """Give back increments taken by a save that failed, so the next save adds them."""
        self._pending_metrics = delta + self._pending_metrics

    # ------------------------------------------------------------------ WAHA session

    def _require_waha(self) -> WAHASession:
        if self._waha is None:
            raise InvariantError("not_waha", f"{self._channel_type} channels have no WAHA session")
        return self._waha

    @_atomic
    def record_session_status(self, status: WAHASessionStatus | str, reason: str = "") -> None:
        """Apply a WAHA ``session.status``: WORKING activates, SCAN_QR_CODE / STARTING move to
        ``connecting``, STOPPED disconnects, FAILED / UNAUTHORIZED are errors.

        Works from every status but ``inactive`` (the user's choice, only the session status
        is recorded) and deleted, so a channel in ``error`` recovers when WAHA reports WORKING.
        All or nothing: an unknown status raises :class:`UnknownSessionStatusError`, WORKING
        for a channel that cannot be activated raises, and neither changes anything.
        """
        self._ensure_not_deleted()
        session = self._require_waha()
        new = WAHASessionStatus.parse(status)
        if new is WAHASessionStatus.WORKING and self._status not in (
            ChannelStatus.INACTIVE,
            ChannelStatus.ACTIVE,
        ):
            self.check_activatable()
        now = self._clock.now()
        if new is not session.status:
            self._waha = attrs.evolve(session, status=new, status_changed_at=now)
            self._touch()
            self._record(ev.SessionStatusChanged, from_status=session.status, to_status=new)
        if new is WAHASessionStatus.WORKING:
            paired = self._waha or session
            self._waha = attrs.evolve(paired, qr_code=None, qr_expires_at=None, qr_attempts=0)
        if self._status is ChannelStatus.INACTIVE:
            return  # a channel the user disabled is not revived by the platform
        if new is WAHASessionStatus.WORKING:
            self.activate()
        elif new in (WAHASessionStatus.STARTING, WAHASessionStatus.SCAN_QR_CODE):
            self._move(ChannelStatus.CONNECTING, f"session {new.value}")
        elif new is WAHASessionStatus.STOPPED:
            self._move(ChannelStatus.DISCONNECTED, reason or "session STOPPED")
        else:
            self._move(ChannelStatus.ERROR, reason or f"session {new.value}")

    @_atomic
    def update_qr_code(self, qr_code: str, *, ttl: timedelta = QR_CODE_TTL) -> datetime:
        """Store a fresh pairing QR code, valid for ``ttl`` (default :data:`QR_CODE_TTL`);
        returns its expiry. The previous code stays readable until this call replaces it.
        """
        self._ensure_not_deleted()
        session = self._require_waha()
        if _blank(qr_code):
            raise InvalidChannelError([FieldError("qr_code", "is required")])
        if ttl <= timedelta(0):
            raise InvalidChannelError([FieldError("ttl", "must be positive")])
        if session.status is WAHASessionStatus.WORKING:
            raise InvariantError("session_paired", "the WAHA session is already paired")
        expires = self._clock.now() + ttl
        self._waha = attrs.evolve(
            session, qr_code=qr_code, qr_expires_at=expires, qr_attempts=session.qr_attempts + 1
        )
        self._touch()
        self._record(ev.SessionQRCodeUpdated, expires_at=expires, attempt=self._waha.qr_attempts)
        return expires

    def is_qr_code_valid(self) -> bool:
        """True while a QR code is stored and not expired."""
        s = self._waha
        return (
            s is not None
            and s.qr_code is not None
            and s.qr_expires_at is not None
            and self._clock.now() < s.qr_expires_at
        )

    @property
    def qr_code(self) -> str | None:
        """The current QR code if still valid, else ``None``."""
        return self._waha.qr_code if self._waha is not None and self.is_qr_code_valid() else None

    def needs_new_qr_code(self) -> bool:
        """True when the session waits for a scan and the stored code is missing or expired."""
        s = self._waha
        return (
            s is not None
            and s.status in (WAHASessionStatus.SCAN_QR_CODE, WAHASessionStatus.STARTING, None)
            and not self.is_qr_code_valid()
        )

    # ------------------------------------------------------------------ history import

    @_atomic
    def request_history_import(
        self,
        strategy: ImportStrategy | str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        per_chat_limit: int | None = None,
        window: timedelta | None = None,
    ) -> None:
        """Ask for a history import; refused while another one is in progress, and for a
        channel that was never active (there is no connection to import through).

        ``strategy`` defaults to the channel's configured one (``all`` when the type has
        none). ``new_only`` imports what arrived since the channel was first connected or the
        last import started, whichever is later, on the first run too; ``recent`` imports the
        last ``window`` (the channel's configured window, else :data:`DEFAULT_RECENT_WINDOW`).
        """
        self._ensure_not_deleted()
        default_strategy, default_window = self._config.import_defaults()
        errors: list[FieldError] = []
        try:
            strat = ImportStrategy(strategy or default_strategy or ImportStrategy.ALL)
        except ValueError:
            choices = ", ".join(s.value for s in ImportStrategy)
            errors.append(FieldError("strategy", f"must be one of {choices}"))
            strat = ImportStrategy.NONE
        if strat is ImportStrategy.NONE and not errors:
            errors.append(FieldError("strategy", "'none' imports nothing"))
        if per_chat_limit is not None and per_chat_limit < 1:
            errors.append(FieldError("per_chat_limit", "must be at least 1"))
        if since is not None and until is not None and since >= until:
            errors.append(FieldError("since", "must be before until"))
        if window is not None and window <= timedelta(0):
            errors.append(FieldError("window", "must be positive"))
        if strat is ImportStrategy.RECENT and since is not None:
            errors.append(FieldError("since", "give either since or the recent window"))
        if errors:
            raise InvalidChannelError(errors)
        if self._connected_at is None and self._status is not ChannelStatus.ACTIVE:
            raise InvariantError(
                "never_activated",
                f"channel {self._id} was never active: activate it before importing history",
            )
        if self._history_import is not None and self._history_import.in_progress:
            raise InvariantError("import_in_progress", "a history import is already in progress")
        now = self._clock.now()
        if strat is ImportStrategy.NEW_ONLY and since is None:
            since = _later(self._connected_at or self._status_since, self._last_history_import_at)
        elif strat is ImportStrategy.RECENT:
            since = now - (window or default_window or DEFAULT_RECENT_WINDOW)
        self._history_import = HistoryImport(
            state=HistoryImportState.REQUESTED,
            strategy=strat,
            requested_at=now,
            since=since,
            until=until,
            per_chat_limit=per_chat_limit,
        )
        self._touch()
        self._record(
            ev.HistoryImportRequested,
            strategy=strat,
            since=since,
            until=until,
            per_chat_limit=per_chat_limit,
        )

    def _require_import(self, *states: HistoryImportState) -> HistoryImport:
        imp = self._history_import
        if imp is None or imp.state not in states:
            current = imp.state.value if imp else "none"
            raise InvariantError(
                "history_import_state",
                f"history import is {current}, expected {'/'.join(s.value for s in states)}",
            )
        return imp

    @_atomic
    def start_history_import(self) -> None:
        imp = self._require_import(HistoryImportState.REQUESTED)
        self._history_import = attrs.evolve(
            imp, state=HistoryImportState.RUNNING, started_at=self._clock.now()
        )
        self._touch()
        self._record(ev.HistoryImportStarted)

    @_atomic
    def complete_history_import(self, *, chats: int, messages: int, skipped: int = 0) -> None:
        imp = self._require_import(HistoryImportState.RUNNING)
        now = self._clock.now()
        self._history_import = attrs.evolve(
            imp,
            state=HistoryImportState.COMPLETED,
            finished_at=now,
            chats=chats,
            messages=messages,
            skipped=skipped,
        )
        self._last_history_import_at = imp.started_at or now
        self._touch()
        started = imp.started_at or now
        self._record(
            ev.HistoryImportCompleted,
            chats=chats,
            messages=messages,
            skipped=skipped,
            duration_seconds=(now - started).total_seconds(),
        )

    @_atomic
    def fail_history_import(
        self, reason: str, *, chats: int = 0, messages: int = 0, skipped: int = 0
    ) -> None:
        imp = self._require_import(HistoryImportState.REQUESTED, HistoryImportState.RUNNING)
        text = _clip(reason)
        self._history_import = attrs.evolve(
            imp,
            state=HistoryImportState.FAILED,
            finished_at=self._clock.now(),
            chats=chats,
            messages=messages,
            skipped=skipped,
            error=text,
        )
        self._touch()
        self._record(
            ev.HistoryImportFailed, reason=text, chats=chats, messages=messages, skipped=skipped
        )

    # ------------------------------------------------------------------ deletion

    @_atomic
    def delete(self) -> None:
        """Soft-delete: the channel stops working for good; records ``channel.deleted``."""
        self._ensure_not_deleted()
        now = self._clock.now()
        if self._status is ChannelStatus.ACTIVE and now > self._status_since:
            self._active_seconds += (now - self._status_since).total_seconds()
        self._status_since = now
        self._status = ChannelStatus.INACTIVE
        self._webhook = attrs.evolve(self._webhook, active=False)
        self._deleted_at = self._clock.now()
        self._updated_at = self._deleted_at
        self._record(ev.ChannelDeleted, webhook_url=self._webhook.url)

    # ------------------------------------------------------------------ persistence

    def mark_persisted(self, version: int) -> None:
        """Called by repositories after a successful save with the new stored version."""
        self._version = version

    def to_snapshot(self) -> dict[str, Any]:
        """Plain JSON-compatible dict of the whole state (secrets included: store it only)."""
        return channel_to_snapshot(self)

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any], *, clock: Clock | None = None) -> Channel:
        """Rebuild a channel from :meth:`to_snapshot` output; raises typed errors on bad data."""
        return channel_from_snapshot(cls._blank_instance(clock or SystemClock()), data)


_STATE: Final = tuple(n for n in Channel.__slots__ if n not in ("_clock", "_events"))
"""The fields a failed command puts back (the clock is not state; events are copied)."""


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _check_timeout(minutes: int | None, errors: list[FieldError]) -> None:
    if minutes is not None and (
        not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 525_600
    ):
        errors.append(
            FieldError("default_session_timeout_minutes", "must be between 1 and 525600 minutes")
        )


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def _check_name(name: str, errors: list[FieldError]) -> bool:
    """Record why ``name`` cannot name a channel; True when it can."""
    if _blank(name):
        errors.append(FieldError("name", "is required"))
    elif len(name.strip()) > MAX_NAME_LENGTH:
        errors.append(FieldError("name", f"must be at most {MAX_NAME_LENGTH} characters"))
    elif _CONTROL.search(name):
        errors.append(FieldError("name", "must not contain control characters"))
    else:
        return True
    return False
