"""The service layer: channel use cases, webhook intake, the dispatcher and workers."""

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
    IntakeSettings,
    SessionStatusHook,
    WebhookDispatcher,
    with_session_status,
)
from ventros_channels.services.handler_context import (
    ContextHandler,
    HandlerContext,
    current_handler_context,
)
from ventros_channels.services.requests import (
    ActivateSessionRequest,
    ConfigureWebhookRequest,
    CreateChannelRequest,
    ImportHistoryRequest,
)
from ventros_channels.services.worker import (
    HandlerRetry,
    Worker,
    WorkerHealth,
    WorkerStats,
    current_delivery,
)

__all__ = [
    "ActivateSessionRequest",
    "ActivationResult",
    "ChannelReport",
    "ChannelService",
    "ConfigureWebhookRequest",
    "ContextHandler",
    "CreateChannelRequest",
    "DeadLetter",
    "DispatcherStats",
    "EventHandler",
    "HandlerContext",
    "HandlerRetry",
    "ImportHistoryRequest",
    "IntakeSettings",
    "SessionStatusHook",
    "WebhookDispatcher",
    "WebhookStatus",
    "Worker",
    "WorkerHealth",
    "WorkerStats",
    "current_delivery",
    "current_handler_context",
    "with_session_status",
]
