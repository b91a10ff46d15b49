"""The pure domain: the Channel aggregate, its value objects, state machine and events."""

from ventros_channels.domain.channel import (
    DEFAULT_RECENT_WINDOW,
    QR_CODE_TTL,
    Channel,
    RoutingContext,
)
from ventros_channels.domain.config import (
    ChannelConfig,
    config_model_for,
    parse_config,
    register_config_model,
)
from ventros_channels.domain.events import *  # noqa: F403
from ventros_channels.domain.events import __all__ as _events_all
from ventros_channels.domain.status import TRANSITIONS, can_transition, check_transition
from ventros_channels.domain.types import (
    ChannelStatus,
    ChannelType,
    HistoryImportState,
    ImportStrategy,
    WAHASessionStatus,
)
from ventros_channels.domain.values import (
    MAX_METRIC_INCREMENT,
    ChannelMetrics,
    HistoryImport,
    MetricsDelta,
    RetiredSecret,
    WAHASession,
    WebhookSettings,
)

__all__ = [  # noqa: PLE0604
    "DEFAULT_RECENT_WINDOW",
    "MAX_METRIC_INCREMENT",
    "QR_CODE_TTL",
    "TRANSITIONS",
    "Channel",
    "ChannelConfig",
    "ChannelMetrics",
    "ChannelStatus",
    "ChannelType",
    "HistoryImport",
    "HistoryImportState",
    "ImportStrategy",
    "MetricsDelta",
    "RetiredSecret",
    "RoutingContext",
    "WAHASession",
    "WAHASessionStatus",
    "WebhookSettings",
    "can_transition",
    "check_transition",
    "config_model_for",
    "parse_config",
    "register_config_model",
    *_events_all,
]
