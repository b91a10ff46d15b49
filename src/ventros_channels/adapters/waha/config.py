"""Configuration of a WAHA channel: the server, the session and how to authenticate."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator

from ventros_channels.domain.config import ChannelConfig, HttpUrl
from ventros_channels.domain.types import ChannelType, ImportStrategy

__all__ = [
    "DEFAULT_WAHA_EVENTS",
    "WAHAApiKeyAuth",
    "WAHABasicAuth",
    "WAHAConfig",
    "WAHARestartPolicy",
]


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


class WAHARestartPolicy(BaseModel):
    """Whether a FAILED session is restarted by the library, and how patiently.

    WAHA retries starting an engine by itself, but a session that ends FAILED (the phone was
    offline too long, the engine crashed) stays so until someone restarts it. With
    ``enabled``, each FAILED status the session reports is answered with a restart after a
    wait that doubles from ``first_delay`` up to ``max_delay``; after ``max_attempts``
    restarts without the session reaching WORKING the library gives up (the channel stays in
    error for a person to look at). WORKING resets the count.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    enabled: bool = False
    max_attempts: int = Field(
        default=3, ge=1, le=20, validation_alias=AliasChoices("max_attempts", "maxAttempts")
    )
    first_delay: timedelta = Field(
        default=timedelta(seconds=5),
        gt=timedelta(0),
        validation_alias=AliasChoices("first_delay", "firstDelay"),
    )
    max_delay: timedelta = Field(
        default=timedelta(minutes=2),
        gt=timedelta(0),
        validation_alias=AliasChoices("max_delay", "maxDelay"),
    )

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number ``attempt`` (0-based): doubling, capped."""
        first, cap = self.first_delay.total_seconds(), self.max_delay.total_seconds()
        return min(first * float(2 ** min(attempt, 30)), cap)


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

    auto_restart: WAHARestartPolicy = Field(
        default_factory=WAHARestartPolicy,
        validation_alias=AliasChoices("auto_restart", "autoRestart"),
    )
    """Restart the session when it fails (``true`` enables the default policy)."""

    @field_validator("auto_restart", mode="before")
    @classmethod
    def _restart_switch(cls, value: object) -> object:
        return {"enabled": value} if isinstance(value, bool) else value

    def external_id(self) -> str:
        return self.session_id

    def import_defaults(self) -> tuple[ImportStrategy | None, timedelta | None]:
        return self.import_strategy, self.import_recent_window
