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
from ventros_channels.services.requests import (
    ActivateSessionRequest,
    ConfigureWebhookRequest,
    CreateChannelRequest,
    ImportHistoryRequest,
)

__all__ = [
    "ActivateSessionRequest",
    "ActivationResult",
    "ChannelReport",
    "ChannelService",
    "ConfigureWebhookRequest",
    "CreateChannelRequest",
    "DeadLetter",
    "DispatcherStats",
    "EventHandler",
    "ImportHistoryRequest",
    "WebhookDispatcher",
    "WebhookStatus",
]
