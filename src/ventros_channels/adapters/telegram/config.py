"""Configuration of a Telegram bot channel."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator

from ventros_channels.domain.config import ChannelConfig, HttpUrl
from ventros_channels.domain.types import ChannelType

__all__ = ["TelegramConfig"]


class TelegramConfig(ChannelConfig):
    """A Telegram bot (Bot API)."""

    channel_type: ClassVar[ChannelType] = ChannelType.TELEGRAM
    webhook_secret_field: ClassVar[str | None] = "webhook_secret_token"  # noqa: S105

    bot_token: SecretStr = Field(validation_alias=AliasChoices("bot_token", "botToken"))
    bot_username: str | None = Field(
        default=None,
        pattern=r"^@?[A-Za-z0-9_]{3,64}$",
        validation_alias=AliasChoices("bot_username", "botUsername"),
    )
    webhook_secret_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("webhook_secret_token", "webhookSecretToken", "secretToken"),
    )
    api_base_url: HttpUrl = Field(
        default="https://api.telegram.org",
        validation_alias=AliasChoices("api_base_url", "apiBaseURL"),
    )

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, v: SecretStr) -> SecretStr:
        if not re.fullmatch(r"[0-9]{1,20}:[A-Za-z0-9_-]{10,}", v.get_secret_value()):
            raise ValueError("must look like '<bot id>:<secret>' as issued by @BotFather")
        return v

    @field_validator("webhook_secret_token")
    @classmethod
    def _secret_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", v.get_secret_value()):
            raise ValueError("must be 1-256 characters from A-Z, a-z, 0-9, _ and -")
        return v

    def external_id(self) -> str:
        return self.bot_token.get_secret_value().split(":", 1)[0]
