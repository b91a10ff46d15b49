"""Typed, validated per-platform channel configuration.

Each channel type has one frozen pydantic model. Secrets are ``SecretStr``: they print as
``'**********'`` and are revealed only by :meth:`ChannelConfig.to_snapshot` (what a repository
stores). A plug-in adapter brings its own model by subclassing :class:`ChannelConfig`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from importlib.metadata import entry_points
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationError,
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
    "HttpUrl",
    "config_model_for",
    "parse_config",
    "register_config_model",
    "validation_errors",
]

_URL = re.compile(r"^https?://[^\s/]+(/[^\s]*)?$")


def _check_url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError("must be an http(s) URL")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_check_url)]
"""An http(s) URL without its trailing slash."""


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


# ------------------------------------------------------------------------- registry

ENTRY_POINT_GROUP = "ventros_channels.adapters"
_MODELS: dict[str, type[ChannelConfig]] = {}


def register_config_model(model: type[ChannelConfig]) -> None:
    """Make a config model known for its ``channel_type`` (adapters registered by hand)."""
    _MODELS[model.channel_type] = model


def _from_entry_point(channel_type: str) -> type[ChannelConfig] | None:
    # Installed adapters, built-in ones included, name their config model through their
    # entry point; the domain never imports a platform module by name.
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=channel_type):
        try:
            model = getattr(ep.load(), "config_model", None)
        except Exception:
            return None
        if isinstance(model, type) and issubclass(model, ChannelConfig):
            return model
    return None


def config_model_for(channel_type: str) -> type[ChannelConfig]:
    """The config model of a type: registered by hand or named by an installed adapter."""
    model = _MODELS.get(channel_type) or _from_entry_point(channel_type)
    if model is None:
        raise UnknownChannelTypeError(channel_type)
    _MODELS[channel_type] = model
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
