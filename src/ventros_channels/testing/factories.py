"""Ready-made valid configs and channels for tests (obviously fake credentials)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from ventros_channels.clock import Clock
from ventros_channels.domain.channel import Channel
from ventros_channels.domain.types import ChannelStatus, ChannelType

__all__ = ["DEFAULT_PROJECT_ID", "DEFAULT_TENANT", "SAMPLE_CONFIGS", "ChannelFactory"]

DEFAULT_TENANT = "tenant-a"
DEFAULT_PROJECT_ID = UUID("00000000-0000-4000-8000-000000000001")

SAMPLE_CONFIGS: Mapping[str, Mapping[str, Any]] = {
    "waha": {
        "base_url": "http://127.0.0.1:3000",
        "session_id": "default",
        "auth": {"type": "api_key", "api_key": "test-waha-api-key"},
        "webhook_hmac_key": "test-waha-hmac-key",
    },
    "whatsapp": {
        "phone_number_id": "106540352242922",
        "business_account_id": "102290129340398",
        "access_token": "test-whatsapp-access-token",
        "app_secret": "test-meta-app-secret",
        "verify_token": "test-verify-token",
    },
    "telegram": {
        "bot_token": "7000000001:TEST-telegram-bot-token-000",
        "bot_username": "acme_support_bot",
        "webhook_secret_token": "test-telegram-secret",
    },
    "messenger": {
        "page_id": "104857362819374",
        "page_access_token": "test-page-access-token",
        "app_secret": "test-meta-app-secret",
        "verify_token": "test-verify-token",
    },
    "instagram": {
        "account_id": "17841405822304914",
        "access_token": "test-instagram-access-token",
        "app_secret": "test-meta-app-secret",
        "verify_token": "test-verify-token",
    },
}
"""One valid config per built-in type. Every secret value starts with ``test-`` or ``TEST-``."""


_CREATE_FIELDS = frozenset(inspect.signature(Channel.create).parameters) - {"cls"}
_TO_STATUS: Mapping[ChannelStatus, tuple[str, ...]] = {
    ChannelStatus.INACTIVE: ("deactivate",),
    ChannelStatus.CONNECTING: ("request_activation",),
    ChannelStatus.ACTIVE: ("activate",),
    ChannelStatus.DISCONNECTED: ("activate", "mark_disconnected"),
    ChannelStatus.ERROR: ("activate", "mark_error"),
}


class ChannelFactory:
    """Builds valid channels with overridable fields.

    Keyword arguments of :meth:`Channel.create` (``name``, ``pipeline_id``, ``ai_enabled``,
    ...) override the defaults; any other keyword names a config field and overrides it in
    the sample config (``channel_factory("telegram", bot_username="shop_bot")``); ``status``
    drives the channel to that status through the allowed transitions.
    """

    def __init__(self, clock: Clock, *, tenant_id: str = DEFAULT_TENANT) -> None:
        self.clock = clock
        self.tenant_id = tenant_id

    def __call__(
        self,
        channel_type: ChannelType | str = ChannelType.TELEGRAM,
        *,
        active: bool = False,
        config: Mapping[str, Any] | None = None,
        status: ChannelStatus | str | None = None,
        **overrides: Any,
    ) -> Channel:
        """A new channel; ``active=True`` configures its webhook and activates it."""
        fields: dict[str, Any] = {
            "tenant_id": self.tenant_id,
            "project_id": DEFAULT_PROJECT_ID,
            "name": f"{channel_type} channel",
            "channel_type": channel_type,
            "clock": self.clock,
        }
        settings = dict(config if config is not None else SAMPLE_CONFIGS[str(channel_type)])
        for key, value in overrides.items():
            (fields if key in _CREATE_FIELDS else settings)[key] = value
        fields["config"] = settings
        channel = Channel.create(**fields)
        target = ChannelStatus(status) if status is not None else None
        if active or target in (
            ChannelStatus.ACTIVE,
            ChannelStatus.DISCONNECTED,
            ChannelStatus.ERROR,
        ):
            channel.configure_webhook(base_url="https://crm.example.test")
            channel.activate()
        if target is not None and channel.status is not target:
            for step in _TO_STATUS[target]:
                command = getattr(channel, step)
                if step.startswith("mark_"):
                    command("set by the test factory")
                else:
                    command()
        return channel
