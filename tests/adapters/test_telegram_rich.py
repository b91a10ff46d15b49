"""Telegram rich outbound and profiles against the fake Bot API.

Each request is checked against its method's page of the Bot API
(https://core.telegram.org/bots/api): ``#editmessagetext``, ``#deletemessage``,
``#sendlocation``, ``#sendvenue``, ``#sendcontact``, ``#sendpoll``, ``#sendsticker``,
``#sendchataction`` and ``#getchat``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ventros_channels import (
    CapabilityNotSupportedError,
    InvalidRequestError,
    RecipientUnavailableError,
    TelegramConfig,
)
from ventros_channels.adapters.base import Capability
from ventros_channels.adapters.telegram import TelegramAdapter
from ventros_channels.adapters.telegram._limits import LIMIT_SOURCES, OUTBOUND_LIMITS
from ventros_channels.capabilities import check_outbound, limits_of
from ventros_channels.errors import MessageLimitError
from ventros_channels.messaging import MediaKind, MediaMessage, SharedContact, TextMessage
from ventros_channels.messaging.limits import OutboundLimits
from ventros_channels.messaging.outbound import (
    ContactsMessage,
    DeleteMessage,
    EditMessage,
    LocationMessage,
    MarkAsRead,
    OutboundMessage,
    PollMessage,
    SendResult,
    Typing,
)
from ventros_channels.testing.fakes import FakePlatforms

ADAPTER = TelegramAdapter()
CHAT = "4242"


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakePlatforms, httpx.AsyncClient, TelegramConfig]]:
    fakes = FakePlatforms()
    async with fakes.client() as client:
        yield fakes, client, TelegramConfig.parse(fakes.config("telegram"))


Fake = tuple[FakePlatforms, httpx.AsyncClient, TelegramConfig]


async def send(fake: Fake, message: OutboundMessage) -> SendResult:
    """What the service does: the check before any request, then the adapter's send."""
    _, client, config = fake
    check_outbound(ADAPTER, message)
    return await ADAPTER.send(client, config, message)


def last_call(fakes: FakePlatforms) -> tuple[str, dict[str, Any]]:
    request = fakes.telegram.requests[-1]
    body: dict[str, Any] = httpx.Response(200, content=request.content).json()
    return request.url.path.rsplit("/", 1)[-1], body


async def test_edit_and_delete_a_sent_message(fake: Fake) -> None:
    """editMessageText and deleteMessage name the chat and the message; the fake refuses both
    for a message it does not hold, as Telegram does."""
    fakes = fake[0]
    sent = await send(fake, TextMessage(to=CHAT, text="first"))
    assert sent.message_id is not None
    edited = await send(fake, EditMessage(to=CHAT, message_id=sent.message_id, text="second"))
    method, body = last_call(fakes)
    assert method == "editMessageText"
    assert body == {
        "chat_id": CHAT,
        "message_id": int(sent.message_id.split(":")[1]),
        "text": "second",
    }
    assert edited.message_id is None  # an action: no new message
    assert [m["text"] for m in fakes.telegram.messages.values()] == ["second"]

    await send(fake, DeleteMessage(to=CHAT, message_id=sent.message_id))
    assert last_call(fakes)[0] == "deleteMessage"
    assert not fakes.telegram.messages
    with pytest.raises(InvalidRequestError, match="message to delete not found"):
        await send(fake, DeleteMessage(to=CHAT, message_id=sent.message_id))


async def test_deleting_for_our_account_only_is_refused_before_any_request(fake: Fake) -> None:
    fakes = fake[0]
    with pytest.raises(CapabilityNotSupportedError, match="our account only"):
        await send(fake, DeleteMessage(to=CHAT, message_id="4242:7", for_everyone=False))
    assert not fakes.telegram.requests


async def test_location_venue_contact_poll_and_sticker(fake: Fake) -> None:
    """A bare point is sendLocation, a named one sendVenue; a card is sendContact; a poll
    carries InputPollOption objects; a sticker goes to sendSticker by file id."""
    fakes = fake[0]
    await send(fake, LocationMessage(to=CHAT, latitude=-23.5, longitude=-46.6))
    assert last_call(fakes) == (
        "sendLocation",
        {"chat_id": CHAT, "latitude": -23.5, "longitude": -46.6},
    )
    venue = LocationMessage(
        to=CHAT, latitude=1.5, longitude=2.5, name="Shop", address="1 Main St", reply_to="4242:9"
    )
    await send(fake, venue)
    method, body = last_call(fakes)
    assert method == "sendVenue"
    assert (body["title"], body["address"], body["reply_parameters"]["message_id"]) == (
        "Shop",
        "1 Main St",
        9,
    )
    card = SharedContact(
        name="Ana Lima", phones=("+5511999990000",), vcard="BEGIN:VCARD\nEND:VCARD"
    )
    await send(fake, ContactsMessage(to=CHAT, contacts=(card,)))
    assert last_call(fakes) == (
        "sendContact",
        {
            "chat_id": CHAT,
            "phone_number": "+5511999990000",
            "first_name": "Ana Lima",
            "vcard": "BEGIN:VCARD\nEND:VCARD",
        },
    )
    poll = PollMessage(to=CHAT, question="When?", options=("Mon", "Tue"), multiple_answers=True)
    await send(fake, poll)
    assert last_call(fakes) == (
        "sendPoll",
        {
            "chat_id": CHAT,
            "question": "When?",
            "options": [{"text": "Mon"}, {"text": "Tue"}],
            "is_anonymous": True,
            "allows_multiple_answers": True,
        },
    )
    sticker = MediaMessage(to=CHAT, media_kind=MediaKind.STICKER, media_id="CAACAgIAAxkB")
    await send(fake, sticker)
    assert last_call(fakes) == ("sendSticker", {"chat_id": CHAT, "sticker": "CAACAgIAAxkB"})
    assert len(fakes.telegram.sent) == 5


async def test_what_telegram_cannot_carry_is_refused_before_any_request(fake: Fake) -> None:
    """Several cards (``contacts_max`` 1: one sendContact per message), a card without a phone,
    a named place without an address (sendVenue needs both), a captioned sticker."""
    fakes = fake[0]
    two = ContactsMessage(
        to=CHAT,
        contacts=(SharedContact(name="A", phones=("1",)), SharedContact(name="B", phones=("2",))),
    )
    with pytest.raises(MessageLimitError) as caught:
        await send(fake, two)
    assert (caught.value.limit, caught.value.allowed, caught.value.actual) == ("contacts_max", 1, 2)
    emailed = ContactsMessage(to=CHAT, contacts=(SharedContact(name="A", emails=("a@x.test",)),))
    with pytest.raises(CapabilityNotSupportedError, match="phone number"):
        await send(fake, emailed)
    with pytest.raises(CapabilityNotSupportedError, match="without an address"):
        await send(fake, LocationMessage(to=CHAT, latitude=0, longitude=0, name="Shop"))
    captioned = MediaMessage(to=CHAT, media_kind=MediaKind.STICKER, media_id="s", caption="hi")
    with pytest.raises(MessageLimitError, match="caption_max"):
        await send(fake, captioned)
    assert not fakes.telegram.requests


async def test_typing_and_recording_are_chat_actions(fake: Fake) -> None:
    """sendChatAction shows ``typing`` or ``record_voice``; hiding it needs no request (the
    action ends by itself)."""
    fakes = fake[0]
    await send(fake, Typing(to=CHAT))
    await send(fake, Typing(to=CHAT, activity="recording", thread_id="12"))
    await send(fake, Typing(to=CHAT, on=False))
    assert fakes.telegram.chat_actions == [(CHAT, "typing"), (CHAT, "record_voice")]
    assert last_call(fakes)[1]["message_thread_id"] == 12
    assert len(fakes.telegram.requests) == 2


async def test_bots_cannot_mark_as_read(fake: Fake) -> None:
    """The Bot API has no read method: ``read_receipts`` is not declared and the send is
    refused before any request."""
    assert Capability.READ_RECEIPTS not in ADAPTER.capabilities
    assert Capability.PRESENCE not in ADAPTER.capabilities
    with pytest.raises(CapabilityNotSupportedError):
        await send(fake, MarkAsRead(to=CHAT, message_id="4242:1"))
    with pytest.raises(CapabilityNotSupportedError):
        await ADAPTER.send(fake[1], fake[2], MarkAsRead(to=CHAT, message_id="4242:1"))
    assert not fake[0].telegram.requests


async def test_fetch_profile_reads_get_chat_and_keeps_the_token_out(fake: Fake) -> None:
    """getChat gives the name, username and bio; the avatar is a file id for download_media,
    because a file link (``/file/bot<token>/...``) would carry the bot token."""
    fakes, client, config = fake
    fakes.telegram.add_user(
        4242, "Ana", last_name="Lima", username="ana", bio="Loves tea", photo_file_id="AgACphoto"
    )
    profile = await ADAPTER.fetch_profile(client, config, CHAT)
    assert (profile.user_id, profile.display_name, profile.username, profile.about) == (
        CHAT,
        "Ana Lima",
        "ana",
        "Loves tea",
    )
    assert profile.avatar_media_id == "AgACphoto"
    assert profile.avatar_url is None
    token = config.bot_token.get_secret_value()
    assert token not in repr(profile)
    assert token not in str(profile.raw)
    with pytest.raises(RecipientUnavailableError, match="chat not found"):
        await ADAPTER.fetch_profile(client, config, "999")


def test_limits_live_in_the_package_with_their_sources() -> None:
    assert TelegramAdapter.outbound_limits is OUTBOUND_LIMITS
    assert limits_of(ADAPTER) is OUTBOUND_LIMITS
    defaults = OutboundLimits()
    for field in OUTBOUND_LIMITS.__attrs_attrs__:
        if field.name in ("text_unit", "id_unit"):
            continue
        if getattr(OUTBOUND_LIMITS, field.name) != getattr(defaults, field.name):
            assert LIMIT_SOURCES[field.name].startswith("https://core.telegram.org/"), field.name
