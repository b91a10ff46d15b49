"""Developer-experience fixes: signing without a clock, factory overrides."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from ventros_channels import ChannelStatus, WebhookSecretMissingError
from ventros_channels.adapters import Capability
from ventros_channels.adapters.messenger import MessengerAdapter
from ventros_channels.adapters.telegram import TelegramAdapter
from ventros_channels.adapters.waha import WAHAAdapter
from ventros_channels.adapters.waha.config import WAHAConfig
from ventros_channels.messaging import MediaKind
from ventros_channels.messaging.outbound import MediaMessage
from ventros_channels.testing.factories import ChannelFactory
from ventros_channels.testing.fakes import FakePlatforms
from ventros_channels.webhooks import VerificationKeys, WebhookRequest


def test_telegram_and_meta_sign_without_a_clock() -> None:
    telegram = TelegramAdapter()
    headers = telegram.sign(b"{}", "test-telegram-secret")
    telegram.verify(
        WebhookRequest("POST", b"{}", headers),
        VerificationKeys((SecretStr("test-telegram-secret"),), now=datetime.now(UTC)),
    )
    assert MessengerAdapter().sign(b"{}", "s")["X-Hub-Signature-256"].startswith("sha256=")


def test_channel_factory_takes_field_overrides(channel_factory: ChannelFactory) -> None:
    channel = channel_factory("telegram", name="Shop", bot_username="shop_bot", ai_enabled=True)
    assert (channel.name, channel.ai_enabled) == ("Shop", True)
    assert channel.config.model_dump()["bot_username"] == "shop_bot"
    failed = channel_factory("waha", status="error")
    assert failed.status is ChannelStatus.ERROR
    assert failed.metrics.last_error == "set by the test factory"
    assert channel_factory("waha", status="inactive").status is ChannelStatus.INACTIVE


def test_the_factory_still_refuses_what_the_aggregate_refuses(
    channel_factory: ChannelFactory,
) -> None:
    with pytest.raises(WebhookSecretMissingError) as caught:
        channel_factory("whatsapp", app_secret=None, status="active")
    assert caught.value.missing == "config.app_secret"


async def test_waha_uploads_bytes() -> None:
    fakes = FakePlatforms()
    adapter = WAHAAdapter()
    assert adapter.supports(Capability.MEDIA_UPLOAD)
    config = WAHAConfig.parse(fakes.waha.config())
    async with httpx.AsyncClient(transport=fakes.transport()) as http:
        await adapter.send(
            http,
            config,
            MediaMessage(
                to="15550002222@c.us",
                data=b"%PDF-1.4 fake",
                mime_type="application/pdf",
                media_kind=MediaKind.DOCUMENT,
                filename="invoice.pdf",
            ),
        )
    sent = fakes.waha.sent[-1]
    assert base64.b64decode(sent.body["file"]["data"]) == b"%PDF-1.4 fake"
    assert json.dumps(sent.body["file"]["filename"]) == '"invoice.pdf"'
