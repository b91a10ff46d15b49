"""Messenger and Instagram normalization checked against payloads from Meta's documentation
and from other projects' test data (each test names its source), plus the lossless-fallback
and time rules of the shared Messenger Platform parser.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ventros_channels.adapters._meta._time import graph_time
from ventros_channels.adapters.instagram import InstagramAdapter
from ventros_channels.adapters.messenger import MessengerAdapter
from ventros_channels.messaging import (
    MediaKind,
    MessageDeleted,
    MessageEcho,
    MessageEdited,
    MessageReceived,
    Postback,
    ReactionChanged,
    StatusChanged,
    Unsupported,
)
from ventros_channels.messaging.delivery import DeliveryStatus

from .conftest import fixture_bytes, fixture_json

MESSENGER = MessengerAdapter()
INSTAGRAM = InstagramAdapter()


def one(adapter: Any, platform: str, name: str) -> Any:
    (event,) = adapter.parse(fixture_bytes(platform, name))
    return event


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


# ---------------------------------------------------------------- Messenger, Meta's examples


def test_delivery_without_timestamp_is_dated_by_its_watermark() -> None:
    """Meta's ``message_deliveries`` example has no ``timestamp``, only ``watermark``.

    Example copied into docs_delivery.json.

    Source: https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/webhook-events/message-deliveries
    """
    event = one(MESSENGER, "messenger", "docs_delivery")
    assert isinstance(event, StatusChanged)
    assert event.status is DeliveryStatus.DELIVERED
    assert event.timestamp == ms(1458668856253) == event.watermark
    assert event.message_ids == ("mid.1458668856218:ed81099e15d3f4f233",)
    assert event.message_id == "mid.1458668856218:ed81099e15d3f4f233"
    assert (event.chat_id, event.recipient_id) == ("6523981047755321", "6523981047755321")
    assert not event.malformed_fields  # a receipt without a timestamp is what Meta sends


def test_delivery_without_mids_still_carries_the_watermark() -> None:
    """The same reference: "mids ... may not be present"; watermark always is."""
    event = one(MESSENGER, "messenger", "docs_delivery_no_mids")
    assert isinstance(event, StatusChanged)
    assert (event.message_ids, event.message_id) == ((), None)
    assert event.watermark == ms(1458668856253)


def test_read_receipt_keeps_its_own_timestamp_and_the_watermark() -> None:
    """``timestamp`` 1458668856463, ``watermark`` ...253.

    Source: https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/webhook-events/message-reads
    """
    event = one(MESSENGER, "messenger", "docs_read")
    assert isinstance(event, StatusChanged)
    assert event.status is DeliveryStatus.READ
    assert event.timestamp == ms(1458668856463)
    assert event.watermark == ms(1458668856253)
    assert event.idempotency_key == "messenger:104857362819374:read:6523981047755321:1458668856253"


def test_reaction_from_the_reference() -> None:
    """``reaction``/``emoji``/``action``/``mid``.

    Source: https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/webhook-events/message-reactions
    """
    event = one(MESSENGER, "messenger", "docs_reaction")
    assert isinstance(event, ReactionChanged)
    assert (event.target_message_id, event.emoji) == ("m_PageMsg000000000000002", "\u2764\ufe0f")


def test_message_edit_from_the_reference() -> None:
    """The example's ``num_edit`` placeholder is an integer.

    Source: https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/webhook-events/message-edits
    """
    event = one(MESSENGER, "messenger", "docs_message_edit")
    assert isinstance(event, MessageEdited)
    assert (event.target_message_id, event.text) == ("m_AbCdEf0000000000000001", "editado")
    assert event.idempotency_key.endswith(":edit:m_AbCdEf0000000000000001:2")


def test_notification_messages_optin_with_a_string_timestamp() -> None:
    """The example writes ``timestamp`` as a string.

    Source: https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/webhook-events/messaging_optins
    """
    event = one(MESSENGER, "messenger", "docs_optin_notification")
    assert isinstance(event, Postback)
    assert (event.payload, event.title) == ("ofertas-semanais", "optin:notification_messages")
    assert event.timestamp == ms(1700000000000)
    assert event.raw["optin"]["notification_messages_token"] == "NMT-EXAMPLE-TOKEN"


def test_plugin_optin_with_a_time_in_seconds() -> None:
    """Captured test payload of the Haskell fbmessenger-api package
    (hackage fbmessenger-api-0.1.2.1, test-files/wsAuthRequest.json): ``timestamp`` in seconds.
    """
    event = one(MESSENGER, "messenger", "fbmessenger_api_optin")
    assert isinstance(event, Postback)
    assert event.payload == "PASS_THROUGH_PARAM"
    assert event.timestamp == datetime(2009, 2, 13, 23, 31, 30, tzinfo=UTC)  # not 1970
    assert event.chat_id == "USER_ID"


def test_handover_is_unsupported_but_keeps_ids_and_time() -> None:
    """A ``pass_thread_control`` item (handover protocol): no event type of its own, so it is
    :class:`Unsupported`, still naming the account, the customer and the time."""
    event = one(MESSENGER, "messenger", "docs_pass_thread_control")
    assert isinstance(event, Unsupported)
    assert "pass_thread_control" in event.reason
    assert (event.account_id, event.chat_id, event.sender_id) == (
        "104857362819374",
        "6523981047755321",
        "6523981047755321",
    )
    assert event.timestamp == ms(1458692752478)
    assert event.raw["pass_thread_control"]["new_owner_app_id"] == "640213987766112"


# ---------------------------------------------------------------- Instagram, captured payloads


def test_iso_times_are_read() -> None:
    """Chatwoot's Instagram factory writes ``time``/``timestamp`` as ISO-8601 strings.

    ``instagram_message_create_event``.

    Source: chatwoot/chatwoot spec/factories/instagram/instagram_message_create_event.rb
    """
    event = one(INSTAGRAM, "instagram", "chatwoot_message_create")
    assert isinstance(event, MessageReceived)
    assert event.timestamp == datetime(2021, 9, 8, 6, 34, 4, tzinfo=UTC)
    assert not event.malformed_fields
    assert (event.chat_id, event.text) == (
        "Sender-id-1",
        "This is the first message from the customer",
    )


def test_string_seconds_timestamp() -> None:
    """``instagram_test_text_event``: ``timestamp`` "1527459824".

    Source: chatwoot/chatwoot spec/factories/instagram/instagram_message_create_event.rb
    """
    event = one(INSTAGRAM, "instagram", "chatwoot_test_text")
    assert isinstance(event, MessageReceived)
    assert event.timestamp == datetime(2018, 5, 27, 22, 23, 44, tzinfo=UTC)


def test_standby_story_reply_unsend_share_seen() -> None:
    """Standby, story reply, unsend, share, seen factories.

    Source: chatwoot/chatwoot spec/factories/instagram/instagram_message_create_event.rb
    """
    standby = one(INSTAGRAM, "instagram", "chatwoot_standby")
    assert isinstance(standby, MessageReceived)
    assert (standby.text or "").startswith("This is the first standby message")
    reply = one(INSTAGRAM, "instagram", "chatwoot_story_reply")
    assert reply.reply_to == "story:chatwoot-app-user-id-1"
    assert reply.referral == {
        "story": {"id": "chatwoot-app-user-id-1", "url": "https://chatwoot-assets.local/sample.png"}
    }
    unsend = one(INSTAGRAM, "instagram", "chatwoot_unsend")
    assert isinstance(unsend, MessageDeleted)
    assert unsend.target_message_id == "message-id-to-delete"
    share = one(INSTAGRAM, "instagram", "chatwoot_share")
    assert share.attachments[0].kind is MediaKind.SHARE
    assert share.attachments[0].url == "https://www.example.com/test.jpeg"
    seen = one(INSTAGRAM, "instagram", "chatwoot_seen")
    assert isinstance(seen, StatusChanged)
    assert (seen.status, seen.message_id) == (DeliveryStatus.READ, "message-id-1")


def test_story_mention_echo() -> None:
    """``instagram_story_mention_event_with_echo``: an echo is ours.

    Source: chatwoot/chatwoot spec/factories/instagram/instagram_message_create_event.rb
    """
    event = one(INSTAGRAM, "instagram", "chatwoot_story_mention_echo")
    assert isinstance(event, MessageEcho)
    assert event.attachments[0].kind is MediaKind.SHARE
    assert event.chat_id == "chatwoot-app-user-id-1"  # the echo's recipient is the customer


def test_comment_written_on_the_entry_keeps_comment_author_and_media() -> None:
    """Meta's Instagram Platform webhook examples (Business Login for Instagram) show a comment's
    ``field`` / ``value`` on the entry itself, not inside ``changes[]``.

    Source: https://developers.facebook.com/documentation/instagram-platform/webhooks/examples
    """
    event = one(INSTAGRAM, "instagram", "docs_comment_on_entry")
    assert isinstance(event, Unsupported)
    assert "comments" in event.reason
    assert (event.message_id, event.chat_id, event.sender_id, event.sender_username) == (
        "17865799348089039",
        "17895695668004550",
        "1204938563371245",
        "cliente.exemplo",
    )
    assert event.timestamp == datetime.fromtimestamp(1700000123, UTC)  # seconds
    assert event.raw["value"]["text"] == "Qual o preço?"
    changes = one(INSTAGRAM, "instagram", "comment_change_not_dm")
    assert (changes.message_id, changes.chat_id) == ("17865799348089039", "18139494541428835")


# ---------------------------------------------------------------- lossless fallbacks and times


def test_a_malformed_item_keeps_every_id_it_had() -> None:
    doc = fixture_json("messenger", "reaction_react")
    item = doc["entry"][0]["messaging"][0]
    item["reaction"]["mid"] = None
    del item["reaction"]["mid"]
    (event,) = MESSENGER.parse(json.dumps(doc).encode())
    assert isinstance(event, Unsupported)
    assert event.reason == "malformed (KeyError)"
    assert (event.account_id, event.chat_id, event.sender_id) == (
        "104857362819374",
        "6523981047755321",
        "6523981047755321",
    )
    assert event.timestamp == ms(item["timestamp"])
    assert event.raw == item


def test_unknown_event_keeps_message_id_chat_and_time() -> None:
    doc = fixture_json("messenger", "message_text")
    item = doc["entry"][0]["messaging"][0]
    item["brand_new_event"] = item.pop("message")
    (event,) = MESSENGER.parse(json.dumps(doc).encode())
    assert isinstance(event, Unsupported)
    assert event.message_id == item["brand_new_event"]["mid"]
    assert (event.chat_id, event.timestamp) == ("6523981047755321", ms(item["timestamp"]))


@pytest.mark.parametrize("stamp", [None, "soon", 10**30])
def test_an_item_without_a_usable_time_takes_the_entry_time(stamp: Any) -> None:
    doc = fixture_json("messenger", "message_text")
    item = doc["entry"][0]["messaging"][0]
    if stamp is None:
        del item["timestamp"]
    else:
        item["timestamp"] = stamp
    (event,) = MESSENGER.parse(json.dumps(doc).encode())
    assert isinstance(event, MessageReceived)  # never Unsupported for its time alone
    assert event.timestamp == ms(doc["entry"][0]["time"])
    assert bool(event.malformed_fields) == (stamp is not None)


def test_instagram_is_unsupported_message_keeps_its_ids() -> None:
    event = one(INSTAGRAM, "instagram", "message_unsupported")
    assert isinstance(event, Unsupported)
    assert event.message_id
    assert event.chat_id == "1204938563371245"
    assert event.idempotency_key == f"instagram:17841405822304914:msg:{event.message_id}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1458668856253, ms(1458668856253)),
        (1458668856, datetime.fromtimestamp(1458668856, UTC)),
        ("1458668856253", ms(1458668856253)),
        ("2021-09-08T06:34:04+0000", datetime(2021, 9, 8, 6, 34, 4, tzinfo=UTC)),
        ("2021-09-08T06:34:04", datetime(2021, 9, 8, 6, 34, 4, tzinfo=UTC)),
        (1458668856.5, datetime.fromtimestamp(1458668856.5, UTC)),
        (True, None),
        (-1, None),
        ("9" * 40, None),
        (float("nan"), None),
        (None, None),
    ],
)
def test_graph_time_shapes(value: Any, expected: datetime | None) -> None:
    assert graph_time(value) == expected


def test_keys_from_the_prefix_equal_the_adapter_helper() -> None:
    for adapter, name in ((MESSENGER, "messenger"), (INSTAGRAM, "instagram")):
        for fixture in ("message_text", "reaction_react"):
            for event in adapter.parse(fixture_bytes(name, fixture)):
                parts = event.idempotency_key.split(":")
                assert event.idempotency_key == adapter.event_key(parts[1], parts[2], *parts[3:])
