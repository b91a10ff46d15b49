"""WAHA deliveries in each engine's own shape (WEBJS, NOWEB, GOWS).

The payloads in tests/fixtures/waha/status_*, message_group_from_me_gows and message_timestamp_*
follow the ids and fields WAHA's engine code builds (devlikeapro/waha:
``src/core/engines/noweb/session.noweb.core.ts`` ``buildMessageId`` / ``getFromToParticipant``,
``src/core/engines/gows/session.gows.core.ts`` ``buildMessageId`` / ``getFromToParticipant``) and
the WEBJS ids WAHA logs for Status posts (devlikeapro/waha issue #1194), with the placeholder
numbers of https://waha.devlike.pro/docs/how-to/receive-messages/.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ventros_channels.adapters.waha import WAHAAdapter
from ventros_channels.adapters.waha.config import WAHAConfig
from ventros_channels.messaging import (
    ChatType,
    InboundEvent,
    MessageEcho,
    MessageReceived,
    StatusChanged,
    Unsupported,
)
from ventros_channels.messaging.delivery import DeliveryStatus
from ventros_channels.testing.factories import SAMPLE_CONFIGS

from .conftest import fixture_bytes, fixture_json

ADAPTER = WAHAAdapter()
CONFIG = WAHAConfig.parse(SAMPLE_CONFIGS["waha"])
POSTER = "11111111111@c.us"


def parse_one(name: str) -> InboundEvent:
    (event,) = ADAPTER.parse(fixture_bytes("waha", name), CONFIG)
    return event


@pytest.mark.parametrize(
    "name",
    ["status_broadcast_webjs", "status_broadcast_noweb", "status_broadcast_poster_in_from"],
)
def test_a_status_post_is_a_broadcast_with_the_poster_as_sender(name: str) -> None:
    event = parse_one(name)
    assert isinstance(event, MessageReceived)
    assert (event.chat_id, event.chat_type) == ("status@broadcast", ChatType.BROADCAST)
    assert event.sender_id == POSTER
    ident = fixture_json("waha", name)["payload"]["id"]
    assert event.message_id == (ident if isinstance(ident, str) else ident["_serialized"])
    assert event.text


def test_a_gows_status_post_keeps_the_lid_poster_and_the_phone_as_alias() -> None:
    event = parse_one("status_broadcast_gows")
    assert isinstance(event, MessageReceived)
    assert event.chat_type is ChatType.BROADCAST
    assert event.sender_id == "33333333333333@lid"
    assert event.sender_aliases == (POSTER,)
    assert event.sender_name == "Ana"


def test_the_noweb_poster_phone_jid_is_normalized_not_repeated() -> None:
    event = parse_one("status_broadcast_noweb")
    assert isinstance(event, MessageReceived)
    assert event.sender_aliases == ()  # @s.whatsapp.net is the same person as the @c.us sender
    assert event.sender_name == "Ana"


def test_a_view_of_our_status_is_a_broadcast_status_with_the_viewer() -> None:
    event = parse_one("status_ack_noweb")
    assert isinstance(event, StatusChanged)
    assert (event.chat_id, event.chat_type) == ("status@broadcast", ChatType.BROADCAST)
    assert event.recipient_id == POSTER
    assert event.status is DeliveryStatus.READ


def test_our_own_group_message_on_gows_is_filed_in_the_group() -> None:
    event = parse_one("message_group_from_me_gows")
    assert isinstance(event, MessageEcho)
    assert (event.chat_id, event.chat_type) == ("120363000000000001@g.us", ChatType.GROUP)
    assert event.sender_id == "22222222222@c.us"


def test_a_message_without_its_own_time_takes_the_envelopes() -> None:
    event = parse_one("message_timestamp_missing")
    assert event.timestamp == datetime.fromtimestamp(1736510700, UTC)
    assert event.malformed_fields == ()


def test_milliseconds_and_digit_strings_are_read_as_such() -> None:
    ms = parse_one("message_timestamp_ms")
    assert ms.timestamp == datetime.fromtimestamp(1736510799, UTC)
    text = parse_one("status_broadcast_poster_in_from")
    assert text.timestamp == datetime.fromtimestamp(1736510399, UTC)


def test_an_unmapped_event_keeps_chat_sender_id_and_time() -> None:
    body = fixture_json("waha", "status_broadcast_webjs")
    body["event"] = "message.waiting"
    (event,) = ADAPTER.parse(json.dumps(body).encode(), CONFIG)
    assert isinstance(event, Unsupported)
    assert (event.chat_id, event.chat_type) == ("status@broadcast", ChatType.BROADCAST)
    assert event.sender_id == POSTER
    assert event.message_id == body["payload"]["id"]
    assert event.timestamp == datetime.fromtimestamp(1736510399, UTC)
    assert event.raw == body
