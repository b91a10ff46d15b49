"""Adapters: the interface, the registry, and the built-in platforms (loaded lazily).

Each name is imported on first use: a platform's config model can be imported without
the HTTP layer the adapter base brings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ventros_channels._lazy import lazy_exports

if TYPE_CHECKING:
    from ventros_channels.adapters._safe import (
        ParseLimits,
        epoch,
        timestamp_fields,
    )
    from ventros_channels.adapters.base import (
        MALFORMED,
        Capability,
        ChannelAdapter,
        ChatSummary,
        ConnectionInfo,
        ContactProfile,
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

_EXPORTS: dict[str, tuple[str, ...]] = {
    "ventros_channels.adapters._safe": (
        "ParseLimits",
        "epoch",
        "timestamp_fields",
    ),
    "ventros_channels.adapters.base": (
        "MALFORMED",
        "Capability",
        "ChannelAdapter",
        "ChatSummary",
        "ConnectionInfo",
        "ContactProfile",
        "HistoryPage",
        "MediaContent",
        "PairingStep",
        "SessionPairing",
        "WebhookInfo",
    ),
    "ventros_channels.adapters.registry": (
        "ENTRY_POINT_GROUP",
        "AdapterInfo",
        "AdapterRegistry",
        "default_registry",
    ),
}

__all__ = [
    "ENTRY_POINT_GROUP",
    "MALFORMED",
    "AdapterInfo",
    "AdapterRegistry",
    "Capability",
    "ChannelAdapter",
    "ChatSummary",
    "ConnectionInfo",
    "ContactProfile",
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

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
