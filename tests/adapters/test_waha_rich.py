"""WAHA rich outbound, profiles, presence events and session auto-restart, against the fake
WAHA server.

Requests follow WAHA's API (https://waha.devlike.pro/docs/how-to/send-messages/ and the
server's swagger, ``/api/sendLocation``, ``/api/sendContactVcard``, ``/api/sendPoll``,
``/api/sendSeen``, ``/api/startTyping``, ``/api/{session}/presence``); edits and deletions
``PUT`` / ``DELETE /api/{session}/chats/{chatId}/messages/{messageId}``
(https://waha.devlike.pro/docs/how-to/chats/); profiles ``GET /api/contacts`` and
``/api/contacts/profile-picture`` (https://waha.devlike.pro/docs/how-to/contacts/); presence
``presence.update`` (https://waha.devlike.pro/docs/how-to/presence); session restart
``POST /api/sessions/{session}/restart`` (https://waha.devlike.pro/docs/how-to/sessions/).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from ventros_channels import (
    CapabilityNotSupportedError,
    ChannelStatus,
    ResourceNotFoundError,
    WAHAConfig,
)
from ventros_channels.adapters.waha import WAHAAdapter
from ventros_channels.adapters.waha._limits import LIMIT_SOURCES, OUTBOUND_LIMITS
from ventros_channels.capabilities import check_outbound, limits_of
from ventros_channels.domain.channel import Channel
from ventros_channels.inbox import Delivery, decode_delivery, encode_delivery
from ventros_channels.messaging import (
    MediaKind,
    MediaMessage,
    PresenceChanged,
    SharedContact,
    TextMessage,
    Unsupported,
    inbound_event_adapter,
)
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
from ventros_channels.testing import FixedClock
from ventros_channels.testing.factories import ChannelFactory
from ventros_channels.testing.fakes import FakePlatforms, FakeWAHA
from ventros_channels.webhooks import VerificationKeys

from .conftest import Sleeps

CHAT = "15551234567@c.us"


class Fake:
    def __init__(self, fakes: FakePlatforms, client: httpx.AsyncClient, adapter: WAHAAdapter):
        self.waha: FakeWAHA = fakes.waha
        self.client = client
        self.adapter = adapter
        self.config = WAHAConfig.parse(fakes.config("waha"))
        self.waha.sessions["default"] = {"name": "default", "status": "WORKING", "config": None}
        self.waha.paired.add("default")

    async def send(self, message: OutboundMessage) -> SendResult:
        """What the service does: the check before any request, then the adapter's send."""
        check_outbound(self.adapter, message)
        return await self.adapter.send(self.client, self.config, message)

    def last(self) -> tuple[str, str, Any]:
        request = self.waha.requests[-1]
        body = json.loads(request.content) if request.content else None
        return request.method, request.url.path, body


@pytest.fixture
async def fake(sleeps: Sleeps) -> AsyncIterator[Fake]:
    fakes = FakePlatforms()
    async with fakes.client() as client:
        yield Fake(fakes, client, WAHAAdapter(policy=sleeps.policy()))


async def test_edit_and_delete_address_the_message_under_its_chat(fake: Fake) -> None:
    sent = await fake.send(TextMessage(to=CHAT, text="first"))
    assert sent.message_id is not None
    path = f"/api/default/chats/{CHAT}/messages/{sent.message_id}"
    await fake.send(EditMessage(to=CHAT, message_id=sent.message_id, text="second"))
    assert fake.last() == ("PUT", path, {"text": "second"})
    assert fake.waha.messages[sent.message_id]["text"] == "second"
    result = await fake.send(DeleteMessage(to=CHAT, message_id=sent.message_id))
    assert fake.last() == ("DELETE", path, None)
    assert result.message_id is None
    assert sent.message_id not in fake.waha.messages
    with pytest.raises(ResourceNotFoundError):
        await fake.send(DeleteMessage(to=CHAT, message_id=sent.message_id))


async def test_what_waha_cannot_send_is_refused_before_any_request(fake: Fake) -> None:
    """WAHA's deletion always revokes for everyone, and it has no sticker endpoint."""
    with pytest.raises(CapabilityNotSupportedError, match="our account only"):
        await fake.send(DeleteMessage(to=CHAT, message_id="x", for_everyone=False))
    sticker = MediaMessage(to=CHAT, media_kind=MediaKind.STICKER, url="https://x.test/s.webp")
    with pytest.raises(CapabilityNotSupportedError, match="sticker"):
        await fake.send(sticker)
    assert not fake.waha.requests


async def test_location_contacts_and_poll_bodies(fake: Fake) -> None:
    venue = LocationMessage(
        to=CHAT, latitude=38.89, longitude=-77.09, name="Office", address="1 Main St"
    )
    await fake.send(venue)
    assert fake.last() == (
        "POST",
        "/api/sendLocation",
        {
            "session": "default",
            "chatId": CHAT,
            "latitude": 38.89,
            "longitude": -77.09,
            "title": "Office\n1 Main St",
        },
    )
    cards = (
        SharedContact(name="Jane Doe", phones=("+1 555 0100",), user_id="15550100@c.us"),
        SharedContact(
            name="Ops; Team", phones=("+1 555 0101", "+1 555 0102"), emails=("o@x.test",)
        ),
        SharedContact(vcard="BEGIN:VCARD\nVERSION:3.0\nFN:Given\nEND:VCARD"),
    )
    await fake.send(ContactsMessage(to=CHAT, contacts=cards))
    method, path, body = fake.last()
    assert (method, path) == ("POST", "/api/sendContactVcard")
    assert body["contacts"] == [
        {"fullName": "Jane Doe", "phoneNumber": "+1 555 0100", "whatsappId": "15550100"},
        {
            "vcard": "BEGIN:VCARD\nVERSION:3.0\nFN:Ops\\; Team\nTEL;type=CELL:+1 555 0101\n"
            "TEL;type=CELL:+1 555 0102\nEMAIL:o@x.test\nEND:VCARD"
        },
        {"vcard": "BEGIN:VCARD\nVERSION:3.0\nFN:Given\nEND:VCARD"},
    ]
    poll = PollMessage(to=CHAT, question="How are you?", options=("Good", "Bad"))
    sent = await fake.send(poll)
    assert fake.last()[2] == {
        "session": "default",
        "chatId": CHAT,
        "poll": {"name": "How are you?", "options": ["Good", "Bad"], "multipleAnswers": False},
    }
    assert sent.message_id in fake.waha.messages


async def test_typing_recording_and_mark_as_read(fake: Fake) -> None:
    await fake.send(Typing(to=CHAT))
    assert fake.last() == ("POST", "/api/startTyping", {"session": "default", "chatId": CHAT})
    await fake.send(Typing(to=CHAT, on=False))
    assert fake.last()[1] == "/api/stopTyping"
    await fake.send(Typing(to=CHAT, activity="recording"))
    await fake.send(Typing(to=CHAT, activity="recording", on=False))
    assert fake.waha.presences == [(CHAT, "recording"), (CHAT, "paused")]
    assert fake.last()[1] == "/api/default/presence"
    await fake.send(MarkAsRead(to=CHAT, message_id="false_15551234567@c.us_AAA"))
    method, path, body = fake.last()
    assert (method, path, body["messageIds"]) == (
        "POST",
        "/api/sendSeen",
        ["false_15551234567@c.us_AAA"],
    )


async def test_fetch_profile_reads_the_contact_and_its_picture(fake: Fake) -> None:
    fake.waha.contacts[CHAT] = {
        "contact": {"id": CHAT, "number": "15551234567", "name": None, "pushname": "Ana"},
        "picture": "https://pps.whatsapp.net/v/t61/ana.jpg",
    }
    profile = await fake.adapter.fetch_profile(fake.client, fake.config, CHAT)
    assert (profile.user_id, profile.display_name, profile.phone) == (CHAT, "Ana", "15551234567")
    assert profile.avatar_url == "https://pps.whatsapp.net/v/t61/ana.jpg"
    params = fake.waha.requests[-1].url.params
    assert (params["contactId"], params["session"]) == (CHAT, "default")
    unknown = await fake.adapter.fetch_profile(fake.client, fake.config, "15550009999@c.us")
    assert (unknown.display_name, unknown.avatar_url, unknown.phone) == (None, None, "15550009999")


def test_presence_update_is_one_event_per_member() -> None:
    """A group's ``presence.update`` names each member; the events survive the inbox's JSON
    form unchanged."""
    waha = FakeWAHA(FixedClock().now)
    group = "120363000000000001@g.us"
    request = waha.presence_update(
        group, [("15550001@c.us", "typing"), ("15550002@s.whatsapp.net", "offline")]
    )
    adapter = WAHAAdapter()
    keys = VerificationKeys(secrets=(SecretStr(waha.hmac_key),), now=FixedClock().now())
    adapter.verify(request, keys)
    events = adapter.parse(request.body)
    assert all(isinstance(e, PresenceChanged) for e in events)
    assert [
        (e.chat_id, e.sender_id, e.presence) for e in events if isinstance(e, PresenceChanged)
    ] == [
        (group, "15550001@c.us", "typing"),
        (group, "15550002@c.us", "offline"),
    ]
    assert len({e.idempotency_key for e in events}) == 2
    assert events[0].is_group
    for event in events:
        assert inbound_event_adapter.validate_python(event.model_dump(mode="json")) == event
    channel = ChannelFactory(FixedClock())("waha")
    delivery = Delivery(event=events[0], context=channel.routing_context())
    assert decode_delivery(encode_delivery(delivery)) == delivery


def test_an_unknown_presence_is_kept_as_unsupported() -> None:
    waha = FakeWAHA(FixedClock().now)
    request = waha.presence_update(CHAT, [(CHAT, "dancing")])
    (event,) = WAHAAdapter().parse(request.body)
    assert isinstance(event, Unsupported)
    assert event.raw["payload"]["presences"][0]["lastKnownPresence"] == "dancing"


def _waha_channel(**restart: Any) -> Channel:
    """A WAHA channel on the fake server's ``default`` session, connecting."""
    settings = {**FakeWAHA(FixedClock().now).config(), "auto_restart": restart or False}
    channel = ChannelFactory(FixedClock())("waha", config=settings)
    channel.configure_webhook(base_url="https://crm.example.test")
    channel.request_activation()
    return channel


async def test_a_failed_session_is_restarted_with_bounded_backoff(
    fake: Fake, sleeps: Sleeps
) -> None:
    """Waits double from ``first_delay``; after ``max_attempts`` restarts without WORKING no
    more are made; WORKING starts a new series."""
    policy = {"enabled": True, "max_attempts": 2, "first_delay": 5, "max_delay": 8}
    config = WAHAConfig.parse({**fake.waha.config(), "auto_restart": policy})
    fake.waha.sessions["default"]["status"] = "FAILED"
    fake.waha.failing_restarts = 1
    adapter = fake.adapter
    assert await adapter.restart_failed_session(fake.client, config) == "FAILED"
    assert await adapter.restart_failed_session(fake.client, config) == "WORKING"
    fake.waha.sessions["default"]["status"] = "FAILED"
    before = len(fake.waha.requests)
    assert await adapter.restart_failed_session(fake.client, config) is None
    assert len(fake.waha.requests) == before  # attempts used up: nothing asked
    assert sleeps.waits == [5.0, 8.0]  # 5, then 10 capped at 8
    restarts = [r for r in fake.waha.requests if r.url.path.endswith("/restart")]
    assert len(restarts) == 2

    channel = _waha_channel(**policy)
    adapter.apply_session_status(channel, "WORKING")  # the same session works: a new series
    assert adapter.restarts.made(config) == 0
    assert await adapter.restart_failed_session(fake.client, config) == "WORKING"


async def test_restart_is_off_by_default_and_skipped_when_the_session_recovered(
    fake: Fake,
) -> None:
    fake.waha.sessions["default"]["status"] = "FAILED"
    assert fake.config.auto_restart.enabled is False
    assert await fake.adapter.restart_failed_session(fake.client, fake.config) is None
    assert not fake.waha.requests
    enabled = WAHAConfig.parse({**fake.waha.config(), "autoRestart": True})
    fake.waha.sessions["default"]["status"] = "WORKING"  # recovered while we waited
    assert await fake.adapter.restart_failed_session(fake.client, enabled) == "WORKING"
    assert not [r for r in fake.waha.requests if r.url.path.endswith("/restart")]


def test_the_session_hook_asks_for_a_restart_only_when_enabled() -> None:
    adapter = WAHAAdapter()
    on = _waha_channel(enabled=True)
    step = adapter.apply_session_status(on, "FAILED")
    assert (step.restart, on.status) == (True, ChannelStatus.ERROR)
    off = _waha_channel()
    assert adapter.apply_session_status(off, "FAILED").restart is False
    assert adapter.apply_session_status(on, "STARTING").restart is False


def test_limits_and_their_sources_live_in_the_package() -> None:
    assert WAHAAdapter.outbound_limits is OUTBOUND_LIMITS
    assert limits_of(WAHAAdapter()) is OUTBOUND_LIMITS
    assert OUTBOUND_LIMITS.poll_options_max == 12
    assert LIMIT_SOURCES["poll_options_max"].startswith("https://")
    assert (
        WAHAConfig.parse(
            {**FakeWAHA(FixedClock().now).config(), "auto_restart": True}
        ).auto_restart.delay(0)
        == timedelta(seconds=5).total_seconds()
    )
