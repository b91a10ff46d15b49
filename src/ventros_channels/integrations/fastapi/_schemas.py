"""Request and response bodies of the management API (snake_case, as the seed's examples)."""

from __future__ import annotations

import base64
import io
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ventros_channels.adapters.base import ConnectionInfo, WebhookInfo
from ventros_channels.domain.channel import Channel
from ventros_channels.domain.types import (
    ChannelStatus,
    HistoryImportState,
    ImportStrategy,
    WAHASessionStatus,
)
from ventros_channels.services.channels import ActivationResult, ChannelReport, WebhookStatus

BUILT_IN_TYPES = ["waha", "whatsapp", "telegram", "messenger", "instagram"]
_MASK = "**********"

SEED_WAHA_CONFIG: dict[str, Any] = {
    "baseURL": "https://waha.example.com",
    "sessionID": "main-whatsapp",
    "auth": {"type": "basic", "username": "admin", "password": "secret"},
    "importStrategy": "new_only",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateChannel(_Strict):
    """A new channel: ``inactive`` (WAHA: ``connecting`` until its session is paired)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Main WhatsApp", "channel_type": "waha", "config": SEED_WAHA_CONFIG}
            ]
        },
    )
    name: str = Field(min_length=1, max_length=255)
    channel_type: str = Field(
        description="An installed adapter's type (built in: "
        + ", ".join(BUILT_IN_TYPES)
        + "; plug-ins add more).",
        json_schema_extra={"enum": list[JsonValue](BUILT_IN_TYPES)},
    )
    config: dict[str, Any] = Field(
        description="The type's configuration; camelCase keys (baseURL, sessionID, ...) are "
        "accepted. Secrets are write-only: no response ever contains them."
    )
    project_id: UUID | None = Field(
        default=None, description="Defaults to the caller's project, when the host gives one."
    )
    external_id: str | None = Field(default=None, max_length=255)
    default_session_timeout_minutes: int | None = Field(default=None, ge=1, le=10080)


class UpdateChannel(_Strict):
    """Fields to change; absent fields stay as they are. ``config`` replaces the whole config
    (secrets included: they are never read back, so send them again)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Support WhatsApp"}]}
    )
    name: str | None = Field(default=None, min_length=1, max_length=255)
    config: dict[str, Any] | None = None
    external_id: str | None = Field(default=None, max_length=255)
    default_session_timeout_minutes: int | None = Field(default=None, ge=1, le=10080)


class WebhookView(BaseModel):
    url: str | None
    active: bool
    configured_at: datetime | None
    accept_unsigned: bool


class SessionView(BaseModel):
    status: WAHASessionStatus | None
    status_changed_at: datetime | None
    qr_code_expires_at: datetime | None


class ImportView(BaseModel):
    state: HistoryImportState
    strategy: ImportStrategy
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    since: datetime | None
    chats: int
    messages: int
    skipped: int
    error: str | None
    running_here: bool = Field(
        default=False, description="Whether this server process runs the import now."
    )


class ChannelView(BaseModel):
    """A channel as the API shows it: every secret left out."""

    id: UUID
    name: str
    channel_type: str
    status: ChannelStatus
    project_id: UUID
    external_id: str | None
    config: dict[str, Any] = Field(description="The configuration without its secrets.")
    secrets_set: list[str] = Field(description="Names of the secrets the config holds.")
    webhook: WebhookView
    waha_session: SessionView | None
    pipeline_id: UUID | None
    ai_enabled: bool
    ai_agents_enabled: bool
    default_session_timeout_minutes: int | None
    messages_received: int
    messages_sent: int
    errors: int
    last_message_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    status_since: datetime
    version: int = Field(description="Optimistic-concurrency version (also the ETag).")


class ChannelList(BaseModel):
    channels: list[ChannelView]
    total: int
    page: int
    limit: int


class ActivationView(BaseModel):
    """Outcome of ``activate``; a WAHA channel also carries its pairing QR code."""

    success: bool = True
    channel_id: UUID
    status: ChannelStatus
    activated_at: datetime | None = Field(description="When the channel went active, if it did.")
    session_status: WAHASessionStatus | None = None
    qr_code: str | None = Field(default=None, description="PNG data URL of the pairing QR code.")
    qr_code_expires_at: datetime | None = None


class WAHAActivation(_Strict):
    session_id: str | None = Field(
        default=None, description="When given, must be the channel's WAHA session."
    )


class WAHAActivationView(BaseModel):
    success: bool = True
    channel_id: UUID
    status: ChannelStatus
    qr_code: str | None = Field(description="PNG data URL of the QR code (``None`` if paired).")
    qr_value: str | None = Field(description="The raw QR value, to render it yourself.")
    qr_code_expires_at: datetime | None
    session_status: WAHASessionStatus | None
    message: str


class PairingCodeRequest(_Strict):
    phone_number: str = Field(
        pattern=r"^\+?[0-9]{7,15}$",
        description="The number to link, international format, digits only.",
        examples=["15550001111"],
    )


class PairingCodeView(BaseModel):
    code: str = Field(description="Enter it in WhatsApp: Linked devices, link with phone number.")


class DeactivationView(BaseModel):
    success: bool = True
    channel_id: UUID
    status: ChannelStatus
    deactivated_at: datetime


class ConfigureWebhook(_Strict):
    webhook_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="Omit to use the server's generated URL.",
        examples=["https://custom.domain.com/webhook"],
    )


class ConfiguredWebhookView(BaseModel):
    success: bool = True
    webhook_url: str
    webhook_configured: bool


class PlatformWebhookView(BaseModel):
    url: str | None
    active: bool
    pending_updates: int | None
    last_error: str | None


class WebhookInfoView(BaseModel):
    webhook_url: str | None
    webhook_active: bool
    webhook_configured_at: datetime | None
    last_webhook_received: datetime | None
    platform: PlatformWebhookView | None = Field(
        description="What the platform reports, where it can tell."
    )


class ConnectionView(BaseModel):
    ok: bool
    account_id: str | None
    display_name: str | None
    status: ChannelStatus


class RotateSecret(_Strict):
    new_secret: str | None = Field(
        default=None, min_length=16, max_length=256, description="Omit to generate one."
    )
    grace_hours: float = Field(
        default=24, ge=0, le=720, description="How long the old secret is still accepted."
    )


class ReportView(BaseModel):
    channel_id: UUID
    status: ChannelStatus
    messages_received: int
    messages_sent: int
    errors: int
    error_rate: float
    delivery_rate: float | None
    read_rate: float | None
    webhook_success_rate: float | None
    last_activity_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    average_response_time_ms: float | None
    uptime_percentage: float | None
    not_observed: list[str]


class ImportRequest(_Strict):
    strategy: Literal["all", "new_only", "recent"] | None = Field(
        default=None, description="Defaults to the channel's configured strategy."
    )
    limit: int | None = Field(default=None, ge=1, le=100_000, description="Messages per chat.")
    since: datetime | None = None
    until: datetime | None = None


class ImportStarted(BaseModel):
    success: bool = True
    workflow_id: str
    message: str


class ImportStatus(BaseModel):
    channel_id: UUID
    history_import: ImportView | None


class DeadLetterView(BaseModel):
    id: str
    kind: str
    chat_id: str | None
    idempotency_key: str
    attempts: int
    error: str
    accepted_at: datetime
    failed_at: datetime


class ReplayRequest(_Strict):
    ids: list[str] | None = Field(default=None, max_length=1000, description="Omit for all.")


class ReplayView(BaseModel):
    replayed: int


class SessionState(BaseModel):
    """What the pairing page polls: the stored session state, no platform call."""

    channel_id: UUID
    status: ChannelStatus
    session_status: WAHASessionStatus | None
    qr_code: str | None
    qr_code_expires_at: datetime | None
    connected: bool


# ---------------------------------------------------------------------------- conversions


def _strip_secrets(data: Any, names: list[str], path: str = "") -> Any:
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value == _MASK:
            names.append(f"{path}{key}")
        else:
            out[key] = _strip_secrets(value, names, f"{path}{key}.")
    return out


def qr_data_url(value: str | None) -> str | None:
    """A PNG data URL of the QR code ``value`` (``None`` stays ``None``)."""
    if value is None:
        return None
    import segno  # noqa: PLC0415 - part of the fastapi extra, imported when first drawn

    buffer = io.BytesIO()
    segno.make(value, error="m").save(buffer, kind="png", scale=6, border=2)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def channel_view(channel: Channel) -> ChannelView:
    secrets: list[str] = []
    config = _strip_secrets(channel.config.redacted(), secrets)
    hook = channel.webhook
    session = channel.waha_session
    m = channel.metrics
    return ChannelView(
        id=channel.id,
        name=channel.name,
        channel_type=str(channel.channel_type),
        status=channel.status,
        project_id=channel.project_id,
        external_id=channel.external_id,
        config=config,
        secrets_set=secrets,
        webhook=WebhookView(
            url=hook.url,
            active=hook.active,
            configured_at=hook.configured_at,
            accept_unsigned=hook.accept_unsigned,
        ),
        waha_session=None
        if session is None
        else SessionView(
            status=session.status,
            status_changed_at=session.status_changed_at,
            qr_code_expires_at=session.qr_expires_at,
        ),
        pipeline_id=channel.pipeline_id,
        ai_enabled=channel.ai_enabled,
        ai_agents_enabled=channel.ai_agents_enabled,
        default_session_timeout_minutes=channel.default_session_timeout_minutes,
        messages_received=m.messages_received,
        messages_sent=m.messages_sent,
        errors=m.errors,
        last_message_at=m.last_message_at,
        last_error=m.last_error,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
        status_since=channel.status_since,
        version=channel.version,
    )


def waha_view(result: ActivationResult) -> WAHAActivationView:
    working = result.session_status is WAHASessionStatus.WORKING
    message = (
        "WhatsApp is connected"
        if working
        else "Scan QR code with WhatsApp mobile app"
        if result.qr_code
        else "Waiting for the WAHA session"
    )
    return WAHAActivationView(
        channel_id=result.channel_id,
        status=result.status,
        qr_code=qr_data_url(result.qr_code),
        qr_value=result.qr_code,
        qr_code_expires_at=result.qr_code_expires_at,
        session_status=result.session_status,
        message=message,
    )


def webhook_info_view(status: WebhookStatus) -> WebhookInfoView:
    hook: WebhookInfo | None = status.platform
    return WebhookInfoView(
        webhook_url=status.url,
        webhook_active=status.active,
        webhook_configured_at=status.configured_at,
        last_webhook_received=status.last_webhook_received_at,
        platform=None
        if hook is None
        else PlatformWebhookView(
            url=hook.url,
            active=hook.active,
            pending_updates=hook.pending_updates,
            last_error=hook.last_error,
        ),
    )


def connection_view(info: ConnectionInfo, status: ChannelStatus) -> ConnectionView:
    return ConnectionView(
        ok=info.ok, account_id=info.account_id, display_name=info.display_name, status=status
    )


def report_view(report: ChannelReport) -> ReportView:
    return ReportView(
        channel_id=report.channel_id,
        status=report.status,
        messages_received=report.messages_received,
        messages_sent=report.messages_sent,
        errors=report.errors,
        error_rate=report.error_rate,
        delivery_rate=report.delivery_rate,
        read_rate=report.read_rate,
        webhook_success_rate=report.webhook_success_rate,
        last_activity_at=report.last_activity_at,
        last_error_at=report.last_error_at,
        last_error=report.last_error,
        average_response_time_ms=report.average_response_time_ms,
        uptime_percentage=report.uptime_percentage,
        not_observed=list(report.not_observed),
    )


def import_view(channel: Channel, running: bool) -> ImportView | None:
    imp = channel.history_import
    if imp is None:
        return None
    return ImportView(
        state=imp.state,
        strategy=imp.strategy,
        requested_at=imp.requested_at,
        started_at=imp.started_at,
        finished_at=imp.finished_at,
        since=imp.since,
        chats=imp.chats,
        messages=imp.messages,
        skipped=imp.skipped,
        error=imp.error,
        running_here=running,
    )


def session_state(channel: Channel) -> SessionState:
    session = channel.waha_session
    valid = channel.is_qr_code_valid() if session is not None else False
    status = session.status if session is not None else None
    return SessionState(
        channel_id=channel.id,
        status=channel.status,
        session_status=status,
        qr_code=qr_data_url(channel.qr_code) if valid else None,
        qr_code_expires_at=session.qr_expires_at if session is not None and valid else None,
        connected=status is WAHASessionStatus.WORKING and channel.status is ChannelStatus.ACTIVE,
    )
