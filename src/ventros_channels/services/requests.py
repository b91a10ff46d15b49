"""Request bodies of an HTTP API over the channel use cases, as pydantic models.

They accept the bodies a channel management API commonly takes (``POST /channels``,
``.../activate-waha``, ``.../import-history``, ``.../configure-webhook``) unchanged, camelCase
config keys included, and turn them into the arguments of :class:`ChannelService` and
:class:`~ventros_channels.history.HistoryImporter`. Bad bodies raise
:class:`~ventros_channels.errors.InvalidInputError` naming every bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ventros_channels.domain.config import ChannelConfig, parse_config, validation_errors
from ventros_channels.domain.types import ChannelType, ImportStrategy
from ventros_channels.errors import ChannelConfigError, DomainError, FieldError, InvalidInputError
from ventros_channels.history import ImportOptions

__all__ = [
    "ActivateSessionRequest",
    "ConfigureWebhookRequest",
    "CreateChannelRequest",
    "ImportHistoryRequest",
]


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Self:
        """Validate a decoded JSON body; :class:`InvalidInputError` names every bad field."""
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            raise InvalidInputError(f"{cls.__name__} body", validation_errors(exc)) from None


class CreateChannelRequest(_Request):
    """``POST /channels``: name, type and the type's config (validated for the type)."""

    name: str = Field(min_length=1)
    channel_type: ChannelType
    config: ChannelConfig
    pipeline_id: UUID | None = None
    default_session_timeout_minutes: int | None = None
    ai_enabled: bool = False
    ai_agents_enabled: bool = False

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Self:
        """Validate the body and the config for its type; every bad field is named (config
        fields as ``config.<name>``).
        """
        errors: list[FieldError] = []
        data = dict(body)
        kind, config = data.get("channel_type"), data.get("config")
        if isinstance(kind, str) and isinstance(config, Mapping):
            try:
                data["config"] = parse_config(kind, config)
            except ChannelConfigError as exc:
                errors.extend(FieldError(f"config.{e.field}", e.message) for e in exc.errors)
                data.pop("config")
            except (InvalidInputError, DomainError) as exc:
                errors.append(FieldError("channel_type", str(exc)))
                data.pop("config")
        try:
            request = cls.model_validate(data)
        except ValidationError as exc:
            errors.extend(e for e in validation_errors(exc) if e.field != "config" or not errors)
            raise InvalidInputError(f"{cls.__name__} body", errors) from None
        if errors:
            raise InvalidInputError(f"{cls.__name__} body", errors)
        return request

    def arguments(self) -> dict[str, Any]:
        """Keyword arguments for :meth:`ChannelService.create_channel` (add the tenant and
        project the host knows from the caller).
        """
        return {
            "name": self.name,
            "channel_type": self.channel_type,
            "config": self.config,
            "pipeline_id": self.pipeline_id,
            "default_session_timeout_minutes": self.default_session_timeout_minutes,
            "ai_enabled": self.ai_enabled,
            "ai_agents_enabled": self.ai_agents_enabled,
        }


class ActivateSessionRequest(_Request):
    """``POST /channels/{id}/activate-waha``: optionally names the session it expects."""

    session_id: str | None = None

    def matches(self, config: ChannelConfig) -> bool:
        """True unless the body names a session other than the channel's."""
        return self.session_id is None or self.session_id == getattr(config, "session_id", None)


class ImportHistoryRequest(_Request):
    """``POST /channels/{id}/import-history``: strategy (default: the channel's) and batch size."""

    strategy: ImportStrategy | None = None
    limit: int | None = Field(default=None, ge=1, le=1000)
    """Messages per batch (one page from the platform, one write to the sink)."""

    def options(self) -> ImportOptions:
        """The :class:`ImportOptions` this body asks for."""
        if self.limit is None:
            return ImportOptions(strategy=self.strategy)
        return ImportOptions(strategy=self.strategy, page_size=self.limit)


class ConfigureWebhookRequest(_Request):
    """``POST /channels/{id}/configure-webhook``: a URL, or none to use the generated one."""

    webhook_url: str | None = None
