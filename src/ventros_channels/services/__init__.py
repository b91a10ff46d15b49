"""The service layer: channel use cases and the webhook dispatcher."""

from ventros_channels.services.channels import (
    ActivationResult,
    ChannelReport,
    ChannelService,
    WebhookStatus,
)
from ventros_channels.services.dispatcher import (
    DeadLetter,
    DispatcherStats,
    EventHandler,
    WebhookDispatcher,
)

__all__ = [
    "ActivationResult",
    "ChannelReport",
    "ChannelService",
    "DeadLetter",
    "DispatcherStats",
    "EventHandler",
    "WebhookDispatcher",
    "WebhookStatus",
]
