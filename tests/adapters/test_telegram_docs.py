"""Telegram updates in shapes the Bot API reference defines (https://core.telegram.org/bots/api):
``InaccessibleMessage`` (``date`` 0) in a callback query, ``business_message``, ``chat_member``,
message content without a mapping, and ``venue`` (sent together with its ``location``).
Payloads in tests/fixtures/telegram (see its README)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ventros_channels import TelegramConfig
from ventros_channels.adapters.telegram import TelegramAdapter
from ventros_channels.messaging import ChatType, MessageReceived, Postback, Unsupported
from ventros_channels.testing.factories import SAMPLE_CONFIGS

from .conftest import fixture_bytes, fixture_json

ADAPTER = TelegramAdapter()
CONFIG = TelegramConfig.parse(SAMPLE_CONFIGS["telegram"])


def parse_one(name: str) -> object:
    (event,) = ADAPTER.parse(fixture_bytes("telegram", name), CONFIG)
    return event


def test_a_button_on_an_inaccessible_message_is_not_dated_1970() -> None:
    before = datetime.now(UTC)
    event = parse_one("callback_query_inaccessible_message")
    assert isinstance(event, Postback)
    assert event.timestamp >= before - timedelta(seconds=1)
    assert event.malformed_fields == ()
    assert (event.chat_id, event.message_id, event.payload) == (
        "123456789",
        "123456789:990",
        "order:42",
    )


def test_a_business_message_is_a_message() -> None:
    event = parse_one("business_message")
    assert isinstance(event, MessageReceived)
    assert (event.chat_id, event.message_id) == ("123456789", "123456789:77")
    assert event.text == "Is the shop open today?"


def test_another_members_change_keeps_chat_sender_and_date() -> None:
    event = parse_one("chat_member_joined")
    assert isinstance(event, Unsupported)
    assert (event.chat_id, event.chat_type) == ("-1001234567890", ChatType.GROUP)
    assert event.sender_id == "555000111"
    assert event.timestamp == datetime.fromtimestamp(1736510500, UTC)
    assert event.raw == fixture_json("telegram", "chat_member_joined")
    assert "chat_member" in event.reason


def test_unmapped_content_keeps_the_message_ids() -> None:
    event = parse_one("message_dice")
    assert isinstance(event, Unsupported)
    assert (event.chat_id, event.message_id, event.sender_id) == (
        "123456789",
        "123456789:1050",
        "123456789",
    )
    assert "dice" in event.reason
    assert event.timestamp == datetime.fromtimestamp(1736510600, UTC)


def test_a_venue_names_its_location() -> None:
    event = parse_one("message_venue")
    assert isinstance(event, MessageReceived)
    assert event.location is not None
    assert (event.location.name, event.location.address) == ("MASP", "Av. Paulista, 1578")


def test_a_malformed_update_keeps_what_it_can() -> None:
    message = {
        "message_id": 3,
        "chat": {"id": 42, "type": "group"},
        "date": 1736510600,
        "photo": "not a list",
    }
    body = json.dumps({"update_id": 7, "message": message}).encode()
    (event,) = ADAPTER.parse(body, CONFIG)
    assert isinstance(event, Unsupported)
    assert (event.chat_id, event.chat_type, event.message_id) == ("42", ChatType.GROUP, "42:3")
    assert event.timestamp == datetime.fromtimestamp(1736510600, UTC)
