"""Configuration of a WhatsApp Business Cloud API channel."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr

from ventros_channels.adapters._meta.config import GraphConfig, NumericId
from ventros_channels.domain.types import ChannelType

__all__ = ["WhatsAppCloudConfig"]


class WhatsAppCloudConfig(GraphConfig):
    """WhatsApp Business Cloud API (Meta Graph API)."""

    channel_type: ClassVar[ChannelType] = ChannelType.WHATSAPP

    phone_number_id: NumericId = Field(
        validation_alias=AliasChoices("phone_number_id", "phoneNumberID", "phoneNumberId")
    )
    business_account_id: NumericId | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "business_account_id", "businessAccountID", "businessAccountId"
        ),
    )
    access_token: SecretStr = Field(
        min_length=1, validation_alias=AliasChoices("access_token", "accessToken")
    )

    def external_id(self) -> str:
        return self.phone_number_id
