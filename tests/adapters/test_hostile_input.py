"""Hostile bodies, one by one: the cases that used to escape the error hierarchy.

The adapter kit's fuzz check (``test_hostile_signed_bodies``) covers them at random; these pin
each reported case down, with what the event keeps and what it records.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ventros_channels.adapters import ChannelAdapter, ParseLimits, epoch
from ventros_channels.adapters.instagram import InstagramAdapter
from ventros_channels.adapters.messenger import MessengerAdapter
from ventros_channels.adapters.telegram import TelegramAdapter
from ventros_channels.adapters.waha import WAHAAdapter
from ventros_channels.adapters.whatsapp_cloud import WhatsAppCloudAdapter
from ventros_channels.errors import WebhookPayloadError
from ventros_channels.messaging import MessageReceived, StatusChanged, Unsupported

from .conftest import fixture_json

ADAPTERS: list[ChannelAdapter[Any]] = [
    TelegramAdapter(),
    WAHAAdapter(),
    WhatsAppCloudAdapter(),
    MessengerAdapter(),
    InstagramAdapter(),
]


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def serializes(events: list[Any]) -> None:
    for event in events:
        event.model_dump_json()
        json.dumps(event.to_json_dict())


def telegram_text(date: Any, text: str = "hi") -> dict[str, Any]:
    return {
        "update_id": 1,
        "message": {
            "message_id": 7,
            "date": date,
            "chat": {"id": 5, "type": "private"},
            "from": {"id": 5, "first_name": "Ana"},
            "text": text,
        },
    }


# ---------------------------------------------------------------- limits


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: str(a.channel_type))
def test_deep_nesting_is_a_payload_error_not_recursion(
    adapter: ChannelAdapter[Any],
) -> None:
    for depth in (65, 5_000, 200_000):
        with pytest.raises(WebhookPayloadError, match="nested deeper"):
            adapter.parse(b"[" * depth + b"]" * depth)


def test_depth_and_size_limits_are_configurable() -> None:
    doc = telegram_text(1767225600)
    doc["message"]["entities"] = [[[[[[{"type": "bold"}]]]]]]  # eight levels in all
    assert TelegramAdapter().parse(body(doc))
    with pytest.raises(WebhookPayloadError, match="nested deeper than 6"):
        TelegramAdapter(limits=ParseLimits(max_depth=6)).parse(body(doc))
    with pytest.raises(WebhookPayloadError, match="larger than 100 bytes"):
        TelegramAdapter(limits=ParseLimits(max_body_bytes=100)).parse(body(doc))
    assert ParseLimits() == ParseLimits(max_body_bytes=4 * 1024 * 1024, max_depth=64)


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_numbers_no_event_can_carry_are_refused(number: bytes) -> None:
    raw = b'{"update_id": 1, "message": {"message_id": 1, "date": ' + number + b"}}"
    with pytest.raises(WebhookPayloadError):
        TelegramAdapter().parse(raw)


# ---------------------------------------------------------------- strings


def test_lone_surrogates_become_replacement_characters() -> None:
    escaped = body(telegram_text(1767225600, "a\ud800b"))  # json.dumps escapes it: \\ud800
    raw = json.dumps(telegram_text(1767225600, "c\udfffd"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )  # the surrogate as raw (invalid) UTF-8 bytes
    (first,) = TelegramAdapter().parse(escaped)
    (second,) = TelegramAdapter().parse(raw)
    assert isinstance(first, MessageReceived)
    assert isinstance(second, MessageReceived)
    assert first.text == "a\ufffdb"
    assert second.text is not None
    assert second.text.startswith("c\ufffd")
    assert second.text.endswith("d")
    serializes([first, second])
    paired = body(telegram_text(1767225600, "\U0001f600"))  # a valid pair stays the emoji
    (third,) = TelegramAdapter().parse(paired)
    assert isinstance(third, MessageReceived)
    assert third.text == "\U0001f600"


# ---------------------------------------------------------------- impossible times


@pytest.mark.parametrize("date", [1e20, 10**18, -1, "soon", None, 2**64])
def test_telegram_impossible_date_is_a_malformed_field(date: Any) -> None:
    (event,) = TelegramAdapter().parse(body(telegram_text(date)))
    assert isinstance(event, MessageReceived)
    assert event.text == "hi"  # everything else was kept
    assert event.malformed_fields
    assert event.malformed_fields[0].startswith("date: ")
    assert event.timestamp.tzinfo is not None
    serializes([event])


@pytest.mark.parametrize("stamp", ["99999999999999999999", "1e20", 10**18, -5, True])
def test_whatsapp_impossible_timestamp_is_a_malformed_field(stamp: Any) -> None:
    doc = fixture_json("whatsapp_cloud", "text")
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = stamp
    (event,) = WhatsAppCloudAdapter().parse(body(doc))
    assert isinstance(event, MessageReceived)
    assert event.text == "Hi, is my order shipped?"
    assert event.malformed_fields == (
        "timestamp: not a valid time; the time of parsing is used instead",
    )
    status = fixture_json("whatsapp_cloud", "status_read")
    status["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"] = stamp
    (changed,) = WhatsAppCloudAdapter().parse(body(status))
    assert isinstance(changed, StatusChanged)
    assert changed.malformed_fields


@pytest.mark.parametrize("adapter", [MessengerAdapter(), InstagramAdapter()], ids=str)
@pytest.mark.parametrize("entry_time", [1e20, 10**18, -1, "x"])
def test_meta_impossible_entry_and_item_times(adapter: Any, entry_time: Any) -> None:
    platform = str(adapter.channel_type)
    doc = fixture_json(platform, "message_text")
    doc["entry"][0]["time"] = entry_time
    (event,) = adapter.parse(body(doc))
    assert isinstance(event, MessageReceived)  # the item's own time is fine: nothing lost
    assert not event.malformed_fields
    doc["entry"][0]["messaging"][0]["timestamp"] = 10**30
    (event,) = adapter.parse(body(doc))
    assert isinstance(event, MessageReceived)
    assert event.malformed_fields
    serializes([event])


def test_messenger_bad_watermark_is_a_malformed_field() -> None:
    doc = fixture_json("messenger", "message_text")
    item = doc["entry"][0]["messaging"][0]
    del item["message"]
    item["read"] = {"watermark": 10**30}
    (event,) = MessengerAdapter().parse(body(doc))
    assert isinstance(event, StatusChanged)
    assert event.watermark is None
    assert event.malformed_fields == ("watermark: not a valid time",)


def test_waha_bad_payload_time_falls_back_to_the_envelope_time() -> None:
    doc = fixture_json("waha", "message_text_dm")
    doc["payload"]["timestamp"] = 1e20
    (event,) = WAHAAdapter().parse(body(doc))
    assert isinstance(event, MessageReceived)
    assert event.timestamp == datetime.fromtimestamp(doc["timestamp"] / 1000, UTC)
    assert event.malformed_fields == (
        "timestamp: not a valid time; the envelope's time is used instead",
    )


def test_waha_fallback_path_survives_a_huge_envelope_time() -> None:
    """The item cannot be mapped and the envelope time is absurd: still one Unsupported."""
    doc = fixture_json("waha", "message_text_dm")
    doc["timestamp"] = 10**18
    doc["payload"]["id"] = {"not": "a string"}
    doc["payload"]["from"] = ["not", "a", "jid"]
    (event,) = WAHAAdapter().parse(body(doc))
    assert isinstance(event, Unsupported | MessageReceived)
    serializes([event])


def test_epoch_accepts_what_platforms_send_and_nothing_else() -> None:
    assert epoch(1767225600) == datetime(2026, 1, 1, tzinfo=UTC)
    assert epoch("1767225600") == datetime(2026, 1, 1, tzinfo=UTC)
    assert epoch(1767225600123, 1000) == datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)
    bad_values: list[Any] = [
        True,
        None,
        -1,
        float("nan"),
        10**30,
        253402300800,
        "\uff11\uff12",
        " 12",
        [1],
        {},
    ]
    for bad in bad_values:
        assert epoch(bad) is None, bad
