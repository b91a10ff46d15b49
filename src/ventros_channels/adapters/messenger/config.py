"""Configuration of a Facebook Messenger channel (one Page)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr

from ventros_channels.adapters._meta.config import GraphConfig, NumericId
from ventros_channels.domain.types import ChannelType

__all__ = ["MessengerConfig"]


class MessengerConfig(GraphConfig):
    """Facebook Messenger for one Page."""

    channel_type: ClassVar[ChannelType] = ChannelType.MESSENGER

    page_id: NumericId = Field(validation_alias=AliasChoices("page_id", "pageID", "pageId"))
    page_access_token: SecretStr = Field(
        min_length=1, validation_alias=AliasChoices("page_access_token", "pageAccessToken")
    )

    def external_id(self) -> str:
        return self.page_id
