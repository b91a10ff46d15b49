"""Adapters: the interface, the registry, and the built-in platforms (loaded lazily)."""

from ventros_channels.adapters._safe import ParseLimits, epoch, timestamp_fields
from ventros_channels.adapters.base import (
    MALFORMED,
    Capability,
    ChannelAdapter,
    ChatSummary,
    ConnectionInfo,
    HistoryPage,
    MediaContent,
    PairingStep,
    SessionPairing,
    WebhookInfo,
)
from ventros_channels.adapters.registry import (
    ENTRY_POINT_GROUP,
    AdapterInfo,
    AdapterRegistry,
    default_registry,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "MALFORMED",
    "AdapterInfo",
    "AdapterRegistry",
    "Capability",
    "ChannelAdapter",
    "ChatSummary",
    "ConnectionInfo",
    "HistoryPage",
    "MediaContent",
    "PairingStep",
    "ParseLimits",
    "SessionPairing",
    "WebhookInfo",
    "default_registry",
    "epoch",
    "timestamp_fields",
]
