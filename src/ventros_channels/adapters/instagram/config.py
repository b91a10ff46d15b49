"""Configuration of an Instagram messaging channel (one professional account)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator

from ventros_channels.adapters._meta.config import GraphConfig, NumericId
from ventros_channels.domain.types import ChannelType

__all__ = ["InstagramConfig"]


class InstagramConfig(GraphConfig):
    """Instagram messaging for one professional account.

    ``login`` picks the token flavour: ``"facebook"`` (a Page access token on
    graph.facebook.com, the account linked to ``page_id``) or ``"instagram"`` (an Instagram
    User token from Instagram Login, on graph.instagram.com).
    """

    channel_type: ClassVar[ChannelType] = ChannelType.INSTAGRAM

    account_id: NumericId = Field(
        validation_alias=AliasChoices("account_id", "instagramAccountID", "instagramAccountId")
    )
    access_token: SecretStr = Field(
        min_length=1,
        validation_alias=AliasChoices("access_token", "accessToken", "pageAccessToken"),
    )
    login: Literal["facebook", "instagram"] = "facebook"
    page_id: NumericId | None = Field(
        default=None, validation_alias=AliasChoices("page_id", "pageID", "pageId")
    )

    @model_validator(mode="before")
    @classmethod
    def _host_for_login(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not (
            data.get("graph_base_url") or data.get("graphBaseURL")
        ):
            host = (
                "graph.instagram.com" if data.get("login") == "instagram" else "graph.facebook.com"
            )
            data = {**data, "graph_base_url": f"https://{host}"}
        return data

    def external_id(self) -> str:
        return self.account_id
