"""Domain events recorded by the Channel aggregate.

Events are frozen, carry no secrets, and serialize to JSON with :meth:`ChannelEvent.to_dict`.
The aggregate collects them; the service layer publishes them after a successful save.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

from ventros_channels.domain.config import validation_errors
from ventros_channels.domain.types import (
    ChannelStatus,
    ChannelType,
    ImportStrategy,
    WAHASessionStatus,
)
from ventros_channels.errors import FieldError, InvalidInputError, raise_unchained

__all__ = [
    "EVENT_TYPES",
    "ChannelActivated",
    "ChannelCreated",
    "ChannelDeactivated",
    "ChannelDeleted",
    "ChannelErrorRecorded",
    "ChannelEvent",
    "ChannelStatusChanged",
    "ChannelUpdated",
    "HistoryImportCompleted",
    "HistoryImportFailed",
    "HistoryImportRequested",
    "HistoryImportStarted",
    "PipelineAssociated",
    "PipelineDisassociated",
    "SessionQRCodeUpdated",
    "SessionStatusChanged",
    "WebhookConfigured",
    "WebhookSecretRotated",
    "event_from_dict",
]


class ChannelEvent(BaseModel):
    """Base of every channel event.

    ``aggregate_version`` is the version the channel has once the change is saved.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]

    event_id: UUID
    channel_id: UUID
    tenant_id: str
    occurred_at: datetime
    aggregate_version: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form, with the event's ``type`` name."""
        return {"type": self.event_type, **self.model_dump(mode="json")}


class ChannelCreated(ChannelEvent):
    """A channel was created (it starts ``inactive``)."""

    event_type: ClassVar[str] = "channel.created"
    project_id: UUID
    user_id: UUID | None
    name: str
    channel_type: ChannelType
    status: ChannelStatus


class ChannelUpdated(ChannelEvent):
    """Names (never values) of the fields that changed."""

    event_type: ClassVar[str] = "channel.updated"
    changed_fields: tuple[str, ...]


class ChannelStatusChanged(ChannelEvent):
    """The channel moved between two statuses of the state machine."""

    event_type: ClassVar[str] = "channel.status_changed"
    from_status: ChannelStatus
    to_status: ChannelStatus
    reason: str = ""


class ChannelActivated(ChannelEvent):
    """The channel became active: it sends and takes deliveries."""

    event_type: ClassVar[str] = "channel.activated"


class ChannelDeactivated(ChannelEvent):
    """The user disabled the channel."""

    event_type: ClassVar[str] = "channel.deactivated"


class ChannelDeleted(ChannelEvent):
    """The channel was soft-deleted; ``webhook_url`` is the endpoint to clean up."""

    event_type: ClassVar[str] = "channel.deleted"
    webhook_url: str | None = None


class PipelineAssociated(ChannelEvent):
    """Inbound messages now route to ``pipeline_id``."""

    event_type: ClassVar[str] = "channel.pipeline.associated"
    pipeline_id: UUID
    previous_pipeline_id: UUID | None = None


class PipelineDisassociated(ChannelEvent):
    """Inbound messages route to the project's default pipeline again."""

    event_type: ClassVar[str] = "channel.pipeline.disassociated"
    pipeline_id: UUID


class WebhookConfigured(ChannelEvent):
    """The channel's webhook URL was set."""

    event_type: ClassVar[str] = "channel.webhook.configured"
    webhook_url: str
    webhook_id: str | None = None


class WebhookSecretRotated(ChannelEvent):
    """The webhook secret changed; the previous one stays valid until ``grace_until``."""

    event_type: ClassVar[str] = "channel.webhook.secret_rotated"
    grace_until: datetime | None


class ChannelErrorRecorded(ChannelEvent):
    """The platform reported an error for this channel (message redacted by the caller)."""

    event_type: ClassVar[str] = "channel.error_recorded"
    message: str


class SessionStatusChanged(ChannelEvent):
    """The WAHA session behind the channel changed status."""

    event_type: ClassVar[str] = "channel.session.status_changed"
    from_status: WAHASessionStatus | None
    to_status: WAHASessionStatus


class SessionQRCodeUpdated(ChannelEvent):
    """A new pairing QR code is available (the code itself is read from the channel)."""

    event_type: ClassVar[str] = "channel.session.qr_updated"
    expires_at: datetime
    attempt: int


class HistoryImportRequested(ChannelEvent):
    """A history import was asked for with this strategy and range."""

    event_type: ClassVar[str] = "channel.history_import.requested"
    strategy: ImportStrategy
    since: datetime | None = None
    until: datetime | None = None
    per_chat_limit: int | None = None


class HistoryImportStarted(ChannelEvent):
    """The history import began fetching."""

    event_type: ClassVar[str] = "channel.history_import.started"


class HistoryImportCompleted(ChannelEvent):
    """The history import finished; counts and duration included."""

    event_type: ClassVar[str] = "channel.history_import.completed"
    chats: int
    messages: int
    skipped: int
    duration_seconds: float


class HistoryImportFailed(ChannelEvent):
    """The history import stopped for good; ``reason`` says why."""

    event_type: ClassVar[str] = "channel.history_import.failed"
    reason: str
    chats: int = 0
    messages: int = 0
    skipped: int = 0


EVENT_TYPES: dict[str, type[ChannelEvent]] = {
    cls.event_type: cls
    for cls in (
        ChannelCreated,
        ChannelUpdated,
        ChannelStatusChanged,
        ChannelActivated,
        ChannelDeactivated,
        ChannelDeleted,
        PipelineAssociated,
        PipelineDisassociated,
        WebhookConfigured,
        WebhookSecretRotated,
        ChannelErrorRecorded,
        SessionStatusChanged,
        SessionQRCodeUpdated,
        HistoryImportRequested,
        HistoryImportStarted,
        HistoryImportCompleted,
        HistoryImportFailed,
    )
}


def event_from_dict(data: dict[str, Any]) -> ChannelEvent:
    """Rebuild an event from :meth:`ChannelEvent.to_dict` output (e.g. read off a queue)."""
    payload = dict(data)
    cls = EVENT_TYPES.get(str(payload.pop("type", "")))
    if cls is None:
        raise InvalidInputError("event", [FieldError("type", "unknown event type")])
    try:
        return cls.model_validate(payload)
    except ValidationError as exc:
        raise_unchained(InvalidInputError("event", validation_errors(exc)))
