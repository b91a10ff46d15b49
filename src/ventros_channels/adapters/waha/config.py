"""Configuration of a WAHA channel: the server, the session and how to authenticate."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr

from ventros_channels.domain.config import ChannelConfig, HttpUrl
from ventros_channels.domain.types import ChannelType, ImportStrategy

__all__ = ["DEFAULT_WAHA_EVENTS", "WAHAApiKeyAuth", "WAHABasicAuth", "WAHAConfig"]


class WAHAApiKeyAuth(BaseModel):
    """WAHA authentication by ``X-Api-Key`` header."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["api_key"] = "api_key"
    api_key: SecretStr = Field(min_length=1, validation_alias=AliasChoices("api_key", "apiKey"))


class WAHABasicAuth(BaseModel):
    """WAHA authentication by HTTP basic credentials."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["basic"] = "basic"
    username: str = Field(min_length=1)
    password: SecretStr = Field(min_length=1)


DEFAULT_WAHA_EVENTS = (
    "message.any",
    "message.ack",
    "message.reaction",
    "message.edited",
    "message.revoked",
    "session.status",
)


class WAHAConfig(ChannelConfig):
    """WhatsApp through a self-hosted WAHA server (one WAHA session per channel)."""

    channel_type: ClassVar[ChannelType] = ChannelType.WAHA
    webhook_secret_field: ClassVar[str | None] = "webhook_hmac_key"  # noqa: S105

    base_url: HttpUrl = Field(validation_alias=AliasChoices("base_url", "baseURL", "baseUrl"))
    session_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        validation_alias=AliasChoices("session_id", "sessionID", "sessionId"),
    )
    auth: WAHAApiKeyAuth | WAHABasicAuth = Field(discriminator="type")
    webhook_hmac_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("webhook_hmac_key", "webhookHmacKey")
    )
    import_strategy: ImportStrategy = Field(
        default=ImportStrategy.NEW_ONLY,
        validation_alias=AliasChoices("import_strategy", "importStrategy"),
    )
    import_recent_window: timedelta = Field(
        default=timedelta(days=7),
        gt=timedelta(0),
        validation_alias=AliasChoices("import_recent_window", "importRecentWindow"),
    )
    """How far back the ``recent`` import strategy reaches."""
    webhook_events: tuple[str, ...] = Field(
        default=DEFAULT_WAHA_EVENTS,
        validation_alias=AliasChoices("webhook_events", "webhookEvents"),
    )

    def external_id(self) -> str:
        return self.session_id

    def import_defaults(self) -> tuple[ImportStrategy | None, timedelta | None]:
        return self.import_strategy, self.import_recent_window
