"""The request bodies and config maps of the channel management API parse unchanged, and
configs serialize in the library's own field names.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ventros_channels import (
    Channel,
    ChannelStatus,
    ImportStrategy,
    InstagramConfig,
    InvalidInputError,
    MessengerConfig,
    TelegramConfig,
    WAHABasicAuth,
    WAHAConfig,
    WhatsAppCloudConfig,
    parse_config,
)
from ventros_channels.services import (
    ActivateSessionRequest,
    ConfigureWebhookRequest,
    CreateChannelRequest,
    ImportHistoryRequest,
)

CREATE_WAHA = """
{
  "name": "Main WhatsApp",
  "channel_type": "waha",
  "config": {
    "baseURL": "https://waha.example.com",
    "sessionID": "main-whatsapp",
    "auth": {
      "type": "basic",
      "username": "admin",
      "password": "secret"
    },
    "importStrategy": "new_only"
  }
}
"""
ACTIVATE_WAHA = """
{
  "session_id": "main-whatsapp"
}
"""
IMPORT_HISTORY = """
{
  "strategy": "new_only",
  "limit": 100
}
"""
CONFIGURE_WEBHOOK = """
{
  "webhook_url": "https://custom.domain.com/webhook"
}
"""


def body(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    return data


def test_the_create_waha_body_parses_and_serializes_in_our_own_names() -> None:
    request = CreateChannelRequest.parse(body(CREATE_WAHA))
    config = request.config
    assert isinstance(config, WAHAConfig)
    assert (config.base_url, config.session_id) == ("https://waha.example.com", "main-whatsapp")
    assert isinstance(config.auth, WAHABasicAuth)
    assert config.auth.username == "admin"
    assert config.auth.password.get_secret_value() == "secret"
    assert config.import_strategy is ImportStrategy.NEW_ONLY
    stored = config.to_snapshot()
    assert {"base_url", "session_id", "auth", "import_strategy"} <= set(stored)
    assert not {"baseURL", "sessionID", "importStrategy"} & set(stored)
    assert parse_config("waha", stored) == config  # our own form reads back the same
    assert "secret" not in json.dumps(config.redacted())

    channel = Channel.create(
        tenant_id="t", project_id="00000000-0000-4000-8000-000000000001", **request.arguments()
    )
    assert channel.status is ChannelStatus.CONNECTING


def test_the_other_api_bodies_parse_unchanged() -> None:
    activate = ActivateSessionRequest.parse(body(ACTIVATE_WAHA))
    config = CreateChannelRequest.parse(body(CREATE_WAHA)).config
    assert activate.matches(config)
    options = ImportHistoryRequest.parse(body(IMPORT_HISTORY)).options()
    assert (options.strategy, options.page_size) == (ImportStrategy.NEW_ONLY, 100)
    assert ImportHistoryRequest.parse({}).options().strategy is None  # the channel's own
    hook = ConfigureWebhookRequest.parse(body(CONFIGURE_WEBHOOK))
    assert hook.webhook_url == "https://custom.domain.com/webhook"


@pytest.mark.parametrize(
    ("channel_type", "data", "model", "checks"),
    [
        (
            "whatsapp",
            {
                "phoneNumberID": "123456789",
                "businessAccountID": "987654321",
                "accessToken": "EAAxxxxxxxxxxxxx",
                "webhookToken": "random-secret-token",
                "apiVersion": "v17.0",
            },
            WhatsAppCloudConfig,
            {"phone_number_id": "123456789", "api_version": "v17.0"},
        ),
        (
            "telegram",
            {
                "botToken": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
                "botUsername": "@MyCompanyBot",
            },
            TelegramConfig,
            {"bot_username": "@MyCompanyBot"},
        ),
        (
            "messenger",
            {
                "pageID": "123456789012345",
                "pageAccessToken": "EAAxxxxxxxxxxxxx",
                "appSecret": "app-secret-key",
                "webhookToken": "verify-token",
            },
            MessengerConfig,
            {"page_id": "123456789012345"},
        ),
        (
            "instagram",
            {
                "instagramAccountID": "123456789",
                "pageAccessToken": "EAAxxxxxxxxxxxxx",
                "webhookToken": "verify-token",
            },
            InstagramConfig,
            {"account_id": "123456789"},
        ),
    ],
)
def test_the_camel_case_config_maps_of_every_type_parse(
    channel_type: str, data: dict[str, Any], model: type[Any], checks: dict[str, str]
) -> None:
    config = parse_config(channel_type, data)
    assert isinstance(config, model)
    stored = config.to_snapshot()
    for field, value in checks.items():
        assert stored[field] == value
    assert parse_config(channel_type, stored) == config


def test_a_bad_body_names_the_field() -> None:
    with pytest.raises(InvalidInputError) as caught:
        ImportHistoryRequest.parse({"strategy": "everything", "limit": 0})
    assert set(caught.value.fields) == {"strategy", "limit"}
    with pytest.raises(InvalidInputError) as config_error:
        CreateChannelRequest.parse({"name": "x", "channel_type": "waha", "config": {"baseURL": 1}})
    assert set(config_error.value.fields) == {"config.baseURL", "config.session_id", "config.auth"}


def test_the_documented_json_form_reads_back_into_the_same_event() -> None:
    from datetime import UTC, datetime

    from ventros_channels.messaging import ChatType, MessageReceived, inbound_event_from_json

    event = MessageReceived(
        channel_type="telegram",
        chat_id="-100",
        chat_type=ChatType.GROUP,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        idempotency_key="telegram:1:msg:1",
        text="hi",
    )
    data = event.to_json_dict()
    assert data["is_group"] is True
    assert inbound_event_from_json(data) == event
