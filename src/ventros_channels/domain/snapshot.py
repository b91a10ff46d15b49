"""The snapshot form of a channel: the plain dict repositories store.

Validated on the way in with a pydantic model, so a corrupt row raises
:class:`InvalidChannelError` naming the bad fields instead of a ``KeyError``.

Secrets (the config's secret fields, retired webhook secrets) stay :class:`SecretStr` in a
snapshot: ``json.dumps`` refuses them, so no store writes them in clear by accident. A store
calls :func:`reveal_snapshot` on purpose, to encrypt the result or to keep it where clear text is
acceptable; :func:`snapshot_secrets` lists them (for scans and log filters).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ventros_channels.domain.config import parse_config, validation_errors
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
    RetiredSecret,
    WAHASession,
    WebhookSettings,
)
from ventros_channels.errors import InvalidChannelError, raise_unchained

if TYPE_CHECKING:
    from ventros_channels.domain.channel import Channel

__all__ = [
    "SNAPSHOT_FORMAT",
    "channel_from_snapshot",
    "channel_to_snapshot",
    "metrics_to_dict",
    "reveal_snapshot",
    "snapshot_secrets",
]

SNAPSHOT_FORMAT = 1


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Webhook(_Model):
    url: str | None = None
    webhook_id: str | None = None
    configured_at: datetime | None = None
    active: bool = False
    accept_unsigned: bool = False


class _Retired(_Model):
    secret: SecretStr
    valid_until: datetime


class _Metrics(_Model):
    messages_received: int = Field(0, ge=0)
    messages_sent: int = Field(0, ge=0)
    errors: int = Field(0, ge=0)
    delivered: int = Field(0, ge=0)
    read: int = Field(0, ge=0)
    failed: int = Field(0, ge=0)
    webhooks_accepted: int = Field(0, ge=0)
    webhooks_rejected: int = Field(0, ge=0)
    send_time_ms: int = Field(0, ge=0)
    timed_sends: int = Field(0, ge=0)
    last_message_at: datetime | None = None
    last_webhook_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None


class _Waha(_Model):
    status: WAHASessionStatus | None = None
    status_changed_at: datetime | None = None
    qr_code: str | None = None
    qr_expires_at: datetime | None = None
    qr_attempts: int = Field(0, ge=0)


class _Import(_Model):
    state: HistoryImportState
    strategy: ImportStrategy
    requested_at: datetime
    since: datetime | None = None
    until: datetime | None = None
    per_chat_limit: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    chats: int = 0
    messages: int = 0
    skipped: int = 0
    error: str | None = None


class _Snapshot(_Model):
    format: Literal[1] = 1
    id: UUID
    tenant_id: str = Field(min_length=1)
    project_id: UUID
    user_id: UUID | None = None
    name: str = Field(min_length=1)
    channel_type: ChannelType
    status: ChannelStatus
    external_id: str | None = None
    config: dict[str, Any]
    webhook: _Webhook = _Webhook()
    retired_secrets: tuple[_Retired, ...] = ()
    pipeline_id: UUID | None = None
    default_session_timeout_minutes: int | None = None
    ai_enabled: bool = False
    ai_agents_enabled: bool = False
    metrics: _Metrics = _Metrics()
    waha_session: _Waha | None = None
    history_import: _Import | None = None
    last_history_import_at: datetime | None = None
    connected_at: datetime | None = None
    status_since: datetime | None = None
    active_seconds: float = Field(0.0, ge=0)
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    version: int = Field(0, ge=0)


def _marked(model: BaseModel, dumped: dict[str, Any]) -> dict[str, Any]:
    """``dumped`` (the JSON form of ``model``) with each secret field kept as ``SecretStr``."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            dumped[name] = value
        elif isinstance(value, BaseModel) and isinstance(dumped.get(name), dict):
            _marked(value, dumped[name])
    return dumped


def _walk(value: Any, secret: Any) -> Any:
    if isinstance(value, SecretStr):
        return secret(value)
    if isinstance(value, dict):
        return {k: _walk(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, secret) for v in value]
    return value


def reveal_snapshot(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready copy of ``snapshot`` with every secret in clear.

    For a store that encrypts what it writes, or that knowingly keeps secrets in clear; never
    for logs, events or errors.
    """
    revealed: dict[str, Any] = _walk(dict(snapshot), lambda s: s.get_secret_value())
    return revealed


def snapshot_secrets(snapshot: Mapping[str, Any]) -> list[str]:
    """Every non-empty secret value held in ``snapshot``."""
    found: list[str] = []
    _walk(dict(snapshot), lambda s: found.append(s.get_secret_value()))
    return [s for s in found if s]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def metrics_to_dict(m: ChannelMetrics) -> dict[str, Any]:
    """The snapshot form of a channel's metrics."""
    return {
        "messages_received": m.messages_received,
        "messages_sent": m.messages_sent,
        "errors": m.errors,
        "delivered": m.delivered,
        "read": m.read,
        "failed": m.failed,
        "webhooks_accepted": m.webhooks_accepted,
        "webhooks_rejected": m.webhooks_rejected,
        "send_time_ms": m.send_time_ms,
        "timed_sends": m.timed_sends,
        "last_message_at": _iso(m.last_message_at),
        "last_webhook_at": _iso(m.last_webhook_at),
        "last_error_at": _iso(m.last_error_at),
        "last_error": m.last_error,
    }


def channel_to_snapshot(ch: Channel) -> dict[str, Any]:
    w, m, s, h = ch.webhook, ch.metrics, ch.waha_session, ch.history_import
    return {
        "format": SNAPSHOT_FORMAT,
        "id": str(ch.id),
        "tenant_id": ch.tenant_id,
        "project_id": str(ch.project_id),
        "user_id": None if ch.user_id is None else str(ch.user_id),
        "name": ch.name,
        "channel_type": str(ch.channel_type),
        "status": ch.status.value,
        "external_id": ch.external_id,
        "config": _marked(ch.config, ch.config.model_dump(mode="json")),
        "webhook": {
            "url": w.url,
            "webhook_id": w.webhook_id,
            "configured_at": _iso(w.configured_at),
            "active": w.active,
            "accept_unsigned": w.accept_unsigned,
        },
        "retired_secrets": [
            {"secret": r.secret, "valid_until": _iso(r.valid_until)} for r in ch._retired_secrets
        ],
        "pipeline_id": None if ch.pipeline_id is None else str(ch.pipeline_id),
        "default_session_timeout_minutes": ch.default_session_timeout_minutes,
        "ai_enabled": ch.ai_enabled,
        "ai_agents_enabled": ch.ai_agents_enabled,
        "metrics": metrics_to_dict(m),
        "waha_session": None
        if s is None
        else {
            "status": None if s.status is None else s.status.value,
            "status_changed_at": _iso(s.status_changed_at),
            "qr_code": s.qr_code,
            "qr_expires_at": _iso(s.qr_expires_at),
            "qr_attempts": s.qr_attempts,
        },
        "history_import": None
        if h is None
        else {
            "state": h.state.value,
            "strategy": h.strategy.value,
            "requested_at": _iso(h.requested_at),
            "since": _iso(h.since),
            "until": _iso(h.until),
            "per_chat_limit": h.per_chat_limit,
            "started_at": _iso(h.started_at),
            "finished_at": _iso(h.finished_at),
            "chats": h.chats,
            "messages": h.messages,
            "skipped": h.skipped,
            "error": h.error,
        },
        "last_history_import_at": _iso(ch.last_history_import_at),
        "connected_at": _iso(ch.connected_at),
        "status_since": _iso(ch.status_since),
        "active_seconds": ch._active_seconds,
        "created_at": _iso(ch.created_at),
        "updated_at": _iso(ch.updated_at),
        "deleted_at": _iso(ch.deleted_at),
        "version": ch.version,
    }


def channel_from_snapshot(ch: Channel, data: Mapping[str, Any]) -> Channel:
    try:
        snap = _Snapshot.model_validate(data)
    except ValidationError as exc:
        raise_unchained(InvalidChannelError(validation_errors(exc)))
    ch._id = snap.id
    ch._tenant_id = snap.tenant_id
    ch._project_id = snap.project_id
    ch._user_id = snap.user_id
    ch._name = snap.name
    ch._channel_type = snap.channel_type
    ch._status = snap.status
    ch._external_id = snap.external_id
    ch._config = parse_config(snap.channel_type, snap.config)
    ch._webhook = WebhookSettings(**snap.webhook.model_dump())
    ch._retired_secrets = tuple(
        RetiredSecret(r.secret, r.valid_until) for r in snap.retired_secrets
    )
    ch._pipeline_id = snap.pipeline_id
    ch._session_timeout = snap.default_session_timeout_minutes
    ch._ai_enabled = snap.ai_enabled
    ch._ai_agents_enabled = snap.ai_agents_enabled
    ch._metrics = ChannelMetrics(**snap.metrics.model_dump())
    if snap.waha_session is not None:
        ch._waha = WAHASession(**snap.waha_session.model_dump())
    elif snap.channel_type == ChannelType.WAHA:
        ch._waha = WAHASession()
    if snap.history_import is not None:
        ch._history_import = HistoryImport(**snap.history_import.model_dump())
    ch._last_history_import_at = snap.last_history_import_at
    ch._connected_at = snap.connected_at
    # rows written before status times were kept: the last change is the best guess
    ch._status_since = snap.status_since or snap.updated_at
    ch._active_seconds = snap.active_seconds
    ch._created_at = snap.created_at
    ch._updated_at = snap.updated_at
    ch._deleted_at = snap.deleted_at
    ch._version = snap.version
    return ch
