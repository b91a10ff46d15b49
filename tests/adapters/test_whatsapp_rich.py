"""WhatsApp Cloud rich outbound against the fake Graph server, with the request bodies Meta's
pages document:

* location: https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/location-messages/
  (latitude and longitude as strings of decimal degrees, optional name and address)
* contacts: https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/contacts-messages
  (``name.formatted_name`` required; ``phones[].phone`` / ``wa_id``; ``emails[].email``; at
  most 257 cards)
* stickers and other media: https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/sticker-messages
  (``type: sticker`` with an id or link, no caption; voice notes go as ``audio``)
* typing: https://developers.facebook.com/documentation/business-messaging/whatsapp/typing-indicators/
  (``status: read`` + ``message_id`` + ``typing_indicator: {type: text}``, answer
  ``{"success": true}``; dismissed by the reply or after 25 seconds)

The Cloud API has no request to edit or delete a message the business sent, and no polls:
those kinds are not declared and are refused before any request.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ventros_channels import WhatsAppCloudConfig
from ventros_channels.adapters.base import Capability
from ventros_channels.adapters.whatsapp_cloud import WhatsAppCloudAdapter
from ventros_channels.adapters.whatsapp_cloud._limits import LIMIT_SOURCES
from ventros_channels.capabilities import check_outbound, limits_of
from ventros_channels.errors import (
    CapabilityNotSupportedError,
    InvalidRequestError,
    MessageLimitError,
)
from ventros_channels.messaging import (
    ContactsMessage,
    DeleteMessage,
    EditMessage,
    LocationMessage,
    MediaKind,
    MediaMessage,
    OutboundLimits,
    OutboundMessage,
    PollMessage,
    SharedContact,
    TemplateMessage,
    TextMessage,
    Typing,
)
from ventros_channels.testing.fakes import FakePlatforms

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
ADAPTER = WhatsAppCloudAdapter()
TO = "16505551234"
HEAD = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO}


def _fakes() -> tuple[FakePlatforms, WhatsAppCloudConfig]:
    fakes = FakePlatforms(clock=lambda: NOW)
    return fakes, WhatsAppCloudConfig.parse(fakes.config("whatsapp"))


async def test_location_and_contact_cards_match_the_documented_bodies() -> None:
    fakes, config = _fakes()
    messages: list[OutboundMessage] = [
        LocationMessage(
            to=TO,
            latitude=37.44216251868683,
            longitude=-122.16153582049394,
            name="Philz Coffee",
            address="101 Forest Ave, Palo Alto, CA 94301",
        ),
        LocationMessage(to=TO, latitude=0.00001, longitude=-0.5, reply_to="wamid.IN1"),
        ContactsMessage(
            to=TO,
            contacts=(
                SharedContact(
                    name="Barbara Johnson",
                    phones=("+1 (940) 555-1234", "+1 (650) 555-1234"),
                    emails=("bjohnson@example.test",),
                    user_id="19405551234",
                ),
                SharedContact(name="Front desk", emails=("desk@example.test",)),
            ),
        ),
    ]
    assert {Capability.LOCATION_MESSAGES, Capability.CONTACT_MESSAGES} <= ADAPTER.capabilities
    async with fakes.client() as client:
        for message in messages:
            check_outbound(ADAPTER, message)
            result = await ADAPTER.send(client, config, message)
            assert result.message_id is not None
            assert result.chat_id == TO
    bodies = [s.body for s in fakes.graph.sent]
    assert bodies[0] == {
        **HEAD,
        "type": "location",
        "location": {
            "latitude": "37.44216251868683",
            "longitude": "-122.16153582049394",
            "name": "Philz Coffee",
            "address": "101 Forest Ave, Palo Alto, CA 94301",
        },
    }
    assert bodies[1]["location"] == {"latitude": "0.00001", "longitude": "-0.5"}
    assert bodies[1]["context"] == {"message_id": "wamid.IN1"}
    assert bodies[2] == {
        **HEAD,
        "type": "contacts",
        "contacts": [
            {
                "name": {"formatted_name": "Barbara Johnson"},
                "phones": [
                    {"phone": "+1 (940) 555-1234", "wa_id": "19405551234"},
                    {"phone": "+1 (650) 555-1234"},
                ],
                "emails": [{"email": "bjohnson@example.test"}],
            },
            {"name": {"formatted_name": "Front desk"}, "emails": [{"email": "desk@example.test"}]},
        ],
    }
    assert [r.url.path for r in fakes.graph.requests] == ["/v21.0/106540352242922/messages"] * 3


async def test_cards_without_a_name_and_too_many_cards_are_refused_before_any_request() -> None:
    fakes, config = _fakes()
    vcard_only = ContactsMessage(
        to=TO, contacts=(SharedContact(vcard="BEGIN:VCARD\nFN:X\nEND:VCARD"),)
    )
    many = ContactsMessage(
        to=TO, contacts=tuple(SharedContact(name=f"c{i}", phones=("+1",)) for i in range(258))
    )
    async with fakes.client() as client:
        with pytest.raises(InvalidRequestError, match="contact 0 needs a name"):
            await ADAPTER.send(client, config, vcard_only)
    with pytest.raises(MessageLimitError) as caught:
        check_outbound(ADAPTER, many)
    assert (caught.value.limit, caught.value.allowed, caught.value.actual) == (
        "contacts_max",
        257,
        258,
    )
    assert fakes.graph.requests == []


@pytest.mark.parametrize(
    ("kind", "wire"),
    [
        (MediaKind.STICKER, "sticker"),
        (MediaKind.AUDIO, "audio"),
        (MediaKind.VOICE, "audio"),
        (MediaKind.VIDEO, "video"),
    ],
)
async def test_stickers_and_other_media_by_id_link_and_upload(kind: MediaKind, wire: str) -> None:
    fakes, config = _fakes()
    mime = {"sticker": "image/webp", "audio": "audio/ogg", "video": "video/mp4"}[wire]
    by_id = MediaMessage(to=TO, media_kind=kind, media_id="1013859600285441")
    by_link = MediaMessage(to=TO, media_kind=kind, url=f"https://cdn.example.test/a.{wire}")
    upload = MediaMessage(to=TO, media_kind=kind, data=b"\x00" * 64, mime_type=mime)
    async with fakes.client() as client:
        for message in (by_id, by_link):
            check_outbound(ADAPTER, message)
            await ADAPTER.send(client, config, message)
    bodies = [s.body for s in fakes.graph.sent]
    assert bodies[0] == {**HEAD, "type": wire, wire: {"id": "1013859600285441"}}
    assert bodies[1] == {**HEAD, "type": wire, wire: {"link": f"https://cdn.example.test/a.{wire}"}}
    check_outbound(ADAPTER, upload)  # within the size limit
    too_long = "x" * 1025 if kind is MediaKind.VIDEO else "x"  # the others take no caption
    with pytest.raises(MessageLimitError, match="caption_max"):
        check_outbound(
            ADAPTER, MediaMessage(to=TO, media_kind=kind, media_id="m", caption=too_long)
        )


async def test_typing_indicator_marks_read_and_shows_typing() -> None:
    fakes, config = _fakes()
    assert Capability.TYPING in ADAPTER.capabilities
    async with fakes.client() as client:
        shown = await ADAPTER.send(client, config, Typing(to=TO, message_id="wamid.IN7"))
        recording = await ADAPTER.send(
            client, config, Typing(to=TO, message_id="wamid.IN8", activity="recording")
        )
        hidden = await ADAPTER.send(client, config, Typing(to=TO, message_id="wamid.IN7", on=False))
        with pytest.raises(InvalidRequestError, match="message id"):
            await ADAPTER.send(client, config, Typing(to=TO))
    assert (shown.message_id, shown.chat_id) == (None, TO)
    assert (recording.message_id, hidden.message_id) == (None, None)
    bodies = [json.loads(r.content) for r in fakes.graph.requests]
    assert bodies == [
        {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": "wamid.IN7",
            "typing_indicator": {"type": "text"},
        },
        {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": "wamid.IN8",
            "typing_indicator": {"type": "text"},
        },
    ]  # hiding sends nothing: WhatsApp drops the indicator with the reply or after 25 s
    assert fakes.graph.sent == []  # actions are not messages


def test_edits_deletes_and_polls_are_not_declared_and_refused_before_any_request() -> None:
    refused: list[tuple[OutboundMessage, Capability]] = [
        (EditMessage(to=TO, message_id="wamid.OUT1", text="fixed"), Capability.EDIT_MESSAGES),
        (DeleteMessage(to=TO, message_id="wamid.OUT1"), Capability.DELETE_MESSAGES),
        (PollMessage(to=TO, question="Lunch?", options=("Yes", "No")), Capability.POLLS),
    ]
    for message, capability in refused:
        assert capability not in ADAPTER.capabilities
        with pytest.raises(CapabilityNotSupportedError, match=capability.value):
            check_outbound(ADAPTER, message)
    assert Capability.PROFILES not in ADAPTER.capabilities  # the Cloud API has no user lookup
    assert Capability.PRESENCE not in ADAPTER.capabilities  # and sends no typing events


def test_every_limit_is_declared_in_the_package_with_its_source() -> None:
    limits = limits_of(ADAPTER)
    assert limits is ADAPTER.outbound_limits
    defaults = OutboundLimits()
    for field in limits.__attrs_attrs__:
        if field.name in ("text_unit", "id_unit"):
            continue
        if getattr(limits, field.name) != getattr(defaults, field.name):
            assert LIMIT_SOURCES.get(field.name, "").startswith("https://"), field.name
    assert set(LIMIT_SOURCES) <= {f.name for f in limits.__attrs_attrs__}


def test_the_window_allows_templates_and_actions_after_24_hours() -> None:
    rule = ADAPTER.messaging_window
    assert rule is not None
    last = NOW - timedelta(hours=25)
    assert not rule.allows(TextMessage(to=TO, text="hi").kind, None, last, NOW)
    assert rule.allows(TextMessage(to=TO, text="hi").kind, None, NOW - timedelta(hours=23), NOW)
    for kind in (TemplateMessage(to=TO, name="t", language="en").kind, "typing", "mark_as_read"):
        assert rule.allows(kind, None, last, NOW)
    assert rule.window(last, NOW).closes_at == last + timedelta(hours=24)
