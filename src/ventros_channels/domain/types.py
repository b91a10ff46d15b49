"""Value objects naming what a channel is and which state it is in."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from ventros_channels.errors import FieldError, InvalidChannelError, UnknownSessionStatusError

__all__ = [
    "ChannelStatus",
    "ChannelType",
    "HistoryImportState",
    "ImportStrategy",
    "WAHASessionStatus",
]

_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class ChannelType(str):
    """The platform a channel talks to.

    An open set: the five built-in types are constants (``ChannelType.WAHA``, ...), and a
    plug-in adapter brings its own (``ChannelType("sms")``). Names are lower-case slugs.
    """

    __slots__ = ()

    WAHA: ClassVar[ChannelType]
    """WhatsApp through a self-hosted WAHA server."""
    WHATSAPP: ClassVar[ChannelType]
    """WhatsApp Business Cloud API (Meta)."""
    TELEGRAM: ClassVar[ChannelType]
    MESSENGER: ClassVar[ChannelType]
    INSTAGRAM: ClassVar[ChannelType]

    def __new__(cls, value: str) -> ChannelType:
        if type(value) is cls:
            return value
        if not isinstance(value, str) or not _TYPE_NAME.match(value):
            raise InvalidChannelError(
                [FieldError("channel_type", "must be a lower-case slug such as 'telegram'")]
            )
        return super().__new__(cls, value)

    @property
    def is_builtin(self) -> bool:
        """True for the five types that ship with the library."""
        return self in _BUILTIN

    def __repr__(self) -> str:
        return f"ChannelType({str.__repr__(self)})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )


ChannelType.WAHA = ChannelType("waha")
ChannelType.WHATSAPP = ChannelType("whatsapp")
ChannelType.TELEGRAM = ChannelType("telegram")
ChannelType.MESSENGER = ChannelType("messenger")
ChannelType.INSTAGRAM = ChannelType("instagram")
_BUILTIN = frozenset(
    {
        ChannelType.WAHA,
        ChannelType.WHATSAPP,
        ChannelType.TELEGRAM,
        ChannelType.MESSENGER,
        ChannelType.INSTAGRAM,
    }
)


class ChannelStatus(StrEnum):
    """Connection state of a channel; changes follow :data:`~ventros_channels.TRANSITIONS`."""

    ACTIVE = "active"
    """Connected; sends and accepts deliveries."""
    INACTIVE = "inactive"
    """Disabled by the user (the state of a new channel)."""
    CONNECTING = "connecting"
    """Activation under way (e.g. waiting for a WAHA QR scan)."""
    DISCONNECTED = "disconnected"
    """Lost its connection to the platform."""
    ERROR = "error"
    """The platform refused the configuration or credentials."""


class WAHASessionStatus(StrEnum):
    """Status of a WAHA session, as WAHA reports it."""

    STARTING = "STARTING"
    SCAN_QR_CODE = "SCAN_QR_CODE"
    WORKING = "WORKING"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    UNAUTHORIZED = "UNAUTHORIZED"

    @classmethod
    def parse(cls, value: object) -> WAHASessionStatus:
        """The status named by ``value``; :class:`UnknownSessionStatusError` for any other."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value)
            except ValueError:
                pass
        raise UnknownSessionStatusError(str(value))


class ImportStrategy(StrEnum):
    """Which past messages a history import brings in."""

    NONE = "none"
    """Import nothing."""
    NEW_ONLY = "new_only"
    """Only messages after the channel was first connected or its last completed import."""
    ALL = "all"
    """Everything the platform still has."""
    RECENT = "recent"
    """Messages of a recent window (the channel's configured one unless given)."""


class HistoryImportState(StrEnum):
    """Lifecycle of a channel's history import."""

    REQUESTED = "requested"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
