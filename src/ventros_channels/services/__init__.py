"""The service layer: channel use cases, webhook intake, the dispatcher and workers.

Each name is imported on first use (the dispatcher does not load the channel service).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ventros_channels._lazy import lazy_exports

if TYPE_CHECKING:
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

_EXPORTS: dict[str, tuple[str, ...]] = {
    "ventros_channels.services.channels": (
        "ActivationResult",
        "ChannelReport",
        "ChannelService",
        "WebhookStatus",
    ),
    "ventros_channels.services.dispatcher": (
        "DeadLetter",
        "DispatcherStats",
        "EventHandler",
        "IntakeSettings",
        "SessionStatusHook",
        "WebhookDispatcher",
        "with_session_status",
    ),
    "ventros_channels.services.requests": (
        "ActivateSessionRequest",
        "ConfigureWebhookRequest",
        "CreateChannelRequest",
        "ImportHistoryRequest",
    ),
    "ventros_channels.services.worker": (
        "HandlerRetry",
        "Worker",
        "WorkerHealth",
        "WorkerStats",
        "current_delivery",
    ),
    "ventros_channels.services.handler_context": (
        "ContextHandler",
        "HandlerContext",
        "current_handler_context",
    ),
}

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

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
