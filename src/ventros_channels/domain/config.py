"""Typed, validated per-platform channel configuration.

Each channel type has one frozen pydantic model. Secrets are ``SecretStr``: they print as
``'**********'`` and are revealed only by :meth:`ChannelConfig.to_snapshot` (what a repository
stores). A plug-in adapter brings its own model by subclassing :class:`ChannelConfig`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from ventros_channels.domain.types import ChannelType, ImportStrategy
from ventros_channels.errors import (
    ChannelConfigError,
    FieldError,
    UnknownChannelTypeError,
    raise_unchained,
)

__all__ = [
    "ChannelConfig",
    "InstagramConfig",
    "MessengerConfig",
    "TelegramConfig",
    "WAHAApiKeyAuth",
    "WAHABasicAuth",
    "WAHAConfig",
    "WhatsAppCloudConfig",
    "config_model_for",
    "parse_config",
    "register_config_model",
    "validation_errors",
]

_URL = re.compile(r"^https?://[^\s/]+(/[^\s]*)?$")
NumericId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,32}$")]
ApiVersion = Annotated[str, StringConstraints(pattern=r"^v[0-9]{1,3}\.[0-9]{1,2}$")]
DEFAULT_GRAPH_VERSION = "v21.0"


def _alias(name: str, *seed_names: str) -> AliasChoices:
    """Accept the field's own name and the camelCase keys other systems use for it."""
    return AliasChoices(name, *seed_names)


def _check_url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError("must be an http(s) URL")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_check_url)]


class ChannelConfig(BaseModel):
    """Base of every per-type configuration model.

    Subclasses set ``channel_type`` and, when the platform signs or authenticates webhook
    deliveries with a secret the channel holds, ``webhook_secret_field`` (the name of that
    ``SecretStr`` field) so the secret can be rotated. ``webhook_secret_generated`` says
    whether the library may create that secret itself (False when it is the platform's, as
    Meta's app secret is).

    Input keys may be the field names or the camelCase names other systems use (``baseURL``,
    ``sessionID``, ``importStrategy``, ...); output always uses the field names.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    channel_type: ClassVar[ChannelType]
    webhook_secret_field: ClassVar[str | None] = None
    webhook_secret_generated: ClassVar[bool] = True

    def import_defaults(self) -> tuple[ImportStrategy | None, timedelta | None]:
        """The history import strategy and ``recent`` window configured for the channel."""
        return None, None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Self:
        """Validate ``data``; raise :class:`ChannelConfigError` naming every bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise_unchained(ChannelConfigError(cls.channel_type, validation_errors(exc)))

    def external_id(self) -> str | None:
        """The platform's id for the account behind this channel (used for routing)."""
        return None

    def webhook_secret(self) -> SecretStr | None:
        """The secret that authenticates webhook deliveries, if the config holds one."""
        if self.webhook_secret_field is None:
            return None
        value = getattr(self, self.webhook_secret_field)
        return value if isinstance(value, SecretStr) else None

    def with_webhook_secret(self, secret: str) -> Self:
        """A copy with the webhook secret replaced (validated like any input)."""
        if self.webhook_secret_field is None:
            raise ChannelConfigError(
                self.channel_type,
                [FieldError("webhook_secret", "this channel type has no webhook secret")],
            )
        data = self.to_snapshot()
        data[self.webhook_secret_field] = secret
        return self.parse(data)

    def to_snapshot(self) -> dict[str, Any]:
        """JSON-compatible dict with secrets revealed: for storage only, never for logs."""
        return _reveal(self, self.model_dump(mode="json"))

    def redacted(self) -> dict[str, Any]:
        """JSON-compatible dict with every secret replaced by ``'**********'``."""
        return self.model_dump(mode="json")


def _reveal(model: BaseModel, dumped: dict[str, Any]) -> dict[str, Any]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            dumped[name] = value.get_secret_value()
        elif isinstance(value, BaseModel):
            _reveal(value, dumped[name])
    return dumped


def validation_errors(exc: ValidationError) -> list[FieldError]:
    """Turn a pydantic error into field errors that never carry the input values."""
    out: list[FieldError] = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        out.append(FieldError(loc or "<root>", err["msg"]))
    return out


# ---------------------------------------------------------------------------- WAHA


class WAHAApiKeyAuth(BaseModel):
    """WAHA authentication by ``X-Api-Key`` header."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["api_key"] = "api_key"
    api_key: SecretStr = Field(min_length=1, validation_alias=_alias("api_key", "apiKey"))


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

    base_url: HttpUrl = Field(validation_alias=_alias("base_url", "baseURL", "baseUrl"))
    session_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        validation_alias=_alias("session_id", "sessionID", "sessionId"),
    )
    auth: WAHAApiKeyAuth | WAHABasicAuth = Field(discriminator="type")
    webhook_hmac_key: SecretStr | None = Field(
        default=None, validation_alias=_alias("webhook_hmac_key", "webhookHmacKey")
    )
    import_strategy: ImportStrategy = Field(
        default=ImportStrategy.NEW_ONLY,
        validation_alias=_alias("import_strategy", "importStrategy"),
    )
    import_recent_window: timedelta = Field(
        default=timedelta(days=7),
        gt=timedelta(0),
        validation_alias=_alias("import_recent_window", "importRecentWindow"),
    )
    """How far back the ``recent`` import strategy reaches."""
    webhook_events: tuple[str, ...] = Field(
        default=DEFAULT_WAHA_EVENTS, validation_alias=_alias("webhook_events", "webhookEvents")
    )

    def external_id(self) -> str:
        return self.session_id

    def import_defaults(self) -> tuple[ImportStrategy | None, timedelta | None]:
        return self.import_strategy, self.import_recent_window


# ---------------------------------------------------------------------- Meta family


class _GraphConfig(ChannelConfig):
    webhook_secret_field: ClassVar[str | None] = "app_secret"  # noqa: S105
    webhook_secret_generated: ClassVar[bool] = False  # the Meta app's own secret

    app_secret: SecretStr | None = Field(
        default=None, validation_alias=_alias("app_secret", "appSecret")
    )
    verify_token: SecretStr | None = Field(
        default=None, validation_alias=_alias("verify_token", "webhookToken", "verifyToken")
    )
    api_version: ApiVersion = Field(
        default=DEFAULT_GRAPH_VERSION, validation_alias=_alias("api_version", "apiVersion")
    )
    graph_base_url: HttpUrl = Field(
        default="https://graph.facebook.com",
        validation_alias=_alias("graph_base_url", "graphBaseURL"),
    )


class WhatsAppCloudConfig(_GraphConfig):
    """WhatsApp Business Cloud API (Meta Graph API)."""

    channel_type: ClassVar[ChannelType] = ChannelType.WHATSAPP

    phone_number_id: NumericId = Field(
        validation_alias=_alias("phone_number_id", "phoneNumberID", "phoneNumberId")
    )
    business_account_id: NumericId | None = Field(
        default=None,
        validation_alias=_alias("business_account_id", "businessAccountID", "businessAccountId"),
    )
    access_token: SecretStr = Field(
        min_length=1, validation_alias=_alias("access_token", "accessToken")
    )

    def external_id(self) -> str:
        return self.phone_number_id


class MessengerConfig(_GraphConfig):
    """Facebook Messenger for one Page."""

    channel_type: ClassVar[ChannelType] = ChannelType.MESSENGER

    page_id: NumericId = Field(validation_alias=_alias("page_id", "pageID", "pageId"))
    page_access_token: SecretStr = Field(
        min_length=1, validation_alias=_alias("page_access_token", "pageAccessToken")
    )

    def external_id(self) -> str:
        return self.page_id


class InstagramConfig(_GraphConfig):
    """Instagram messaging for one professional account.

    ``login`` picks the token flavour: ``"facebook"`` (a Page access token on
    graph.facebook.com, the account linked to ``page_id``) or ``"instagram"`` (an Instagram
    User token from Instagram Login, on graph.instagram.com).
    """

    channel_type: ClassVar[ChannelType] = ChannelType.INSTAGRAM

    account_id: NumericId = Field(
        validation_alias=_alias("account_id", "instagramAccountID", "instagramAccountId")
    )
    access_token: SecretStr = Field(
        min_length=1, validation_alias=_alias("access_token", "accessToken", "pageAccessToken")
    )
    login: Literal["facebook", "instagram"] = "facebook"
    page_id: NumericId | None = Field(
        default=None, validation_alias=_alias("page_id", "pageID", "pageId")
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


# ------------------------------------------------------------------------- Telegram


class TelegramConfig(ChannelConfig):
    """A Telegram bot (Bot API)."""

    channel_type: ClassVar[ChannelType] = ChannelType.TELEGRAM
    webhook_secret_field: ClassVar[str | None] = "webhook_secret_token"  # noqa: S105

    bot_token: SecretStr = Field(validation_alias=_alias("bot_token", "botToken"))
    bot_username: str | None = Field(
        default=None,
        pattern=r"^@?[A-Za-z0-9_]{3,64}$",
        validation_alias=_alias("bot_username", "botUsername"),
    )
    webhook_secret_token: SecretStr | None = Field(
        default=None,
        validation_alias=_alias("webhook_secret_token", "webhookSecretToken", "secretToken"),
    )
    api_base_url: HttpUrl = Field(
        default="https://api.telegram.org",
        validation_alias=_alias("api_base_url", "apiBaseURL"),
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


# ------------------------------------------------------------------------- registry

_MODELS: dict[str, type[ChannelConfig]] = {
    m.channel_type: m
    for m in (WAHAConfig, WhatsAppCloudConfig, TelegramConfig, MessengerConfig, InstagramConfig)
}
_resolvers: list[Callable[[str], type[ChannelConfig] | None]] = []


def register_config_model(model: type[ChannelConfig]) -> None:
    """Make a plug-in's config model known for its ``channel_type``."""
    _MODELS[model.channel_type] = model


def add_config_resolver(resolver: Callable[[str], type[ChannelConfig] | None]) -> None:
    """Install a fallback lookup (the adapter registry installs one for plug-ins)."""
    _resolvers.append(resolver)


def config_model_for(channel_type: str) -> type[ChannelConfig]:
    """The config model of a type, built in or provided by an installed plug-in."""
    model = _MODELS.get(channel_type)
    if model is None:
        for resolve in _resolvers:
            model = resolve(channel_type)
            if model is not None:
                _MODELS[channel_type] = model
                break
    if model is None:
        raise UnknownChannelTypeError(channel_type)
    return model


def parse_config(channel_type: str, data: Mapping[str, Any] | ChannelConfig) -> ChannelConfig:
    """Validate raw config data for a channel type (an already built model passes through)."""
    model = config_model_for(channel_type)
    if isinstance(data, ChannelConfig):
        if not isinstance(data, model):
            raise ChannelConfigError(
                channel_type,
                [FieldError("config", f"expected {model.__name__}, got {type(data).__name__}")],
            )
        return data
    if not isinstance(data, Mapping):
        raise ChannelConfigError(channel_type, [FieldError("config", "must be a mapping")])
    return model.parse(data)
