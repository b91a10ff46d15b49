"""Ready-made valid configs and channels for tests (obviously fake credentials)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from ventros_channels.clock import Clock
from ventros_channels.domain.channel import Channel
from ventros_channels.domain.types import ChannelType

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


class ChannelFactory:
    """Builds valid channels with overridable fields."""

    def __init__(self, clock: Clock, *, tenant_id: str = DEFAULT_TENANT) -> None:
        self.clock = clock
        self.tenant_id = tenant_id

    def __call__(
        self,
        channel_type: ChannelType | str = ChannelType.TELEGRAM,
        *,
        active: bool = False,
        config: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> Channel:
        """A new channel; ``active=True`` configures its webhook and activates it."""
        fields: dict[str, Any] = {
            "tenant_id": self.tenant_id,
            "project_id": DEFAULT_PROJECT_ID,
            "name": f"{channel_type} channel",
            "channel_type": channel_type,
            "config": dict(config if config is not None else SAMPLE_CONFIGS[str(channel_type)]),
            "clock": self.clock,
        }
        fields.update(overrides)
        channel = Channel.create(**fields)
        if active:
            channel.configure_webhook(base_url="https://crm.example.test")
            channel.activate()
        return channel
