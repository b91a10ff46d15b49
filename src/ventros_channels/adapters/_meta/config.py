"""Settings every Meta (Graph API) channel shares: app secret, verify token, API version."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AliasChoices, Field, SecretStr, StringConstraints

from ventros_channels.domain.config import ChannelConfig, HttpUrl

__all__ = ["DEFAULT_GRAPH_VERSION", "GraphConfig", "NumericId"]

NumericId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,32}$")]
ApiVersion = Annotated[str, StringConstraints(pattern=r"^v[0-9]{1,3}\.[0-9]{1,2}$")]
DEFAULT_GRAPH_VERSION = "v21.0"


class GraphConfig(ChannelConfig):
    """Base of the WhatsApp Cloud, Messenger and Instagram configs."""

    webhook_secret_field: ClassVar[str | None] = "app_secret"  # noqa: S105
    webhook_secret_generated: ClassVar[bool] = False  # the Meta app's own secret

    app_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("app_secret", "appSecret")
    )
    verify_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("verify_token", "webhookToken", "verifyToken")
    )
    api_version: ApiVersion = Field(
        default=DEFAULT_GRAPH_VERSION, validation_alias=AliasChoices("api_version", "apiVersion")
    )
    graph_base_url: HttpUrl = Field(
        default="https://graph.facebook.com",
        validation_alias=AliasChoices("graph_base_url", "graphBaseURL"),
    )
