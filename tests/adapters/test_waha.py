"""WAHA adapter: fixtures, id normalization, HMAC, session lifecycle, sends, history."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from pydantic import SecretStr

from ventros_channels import (
    AuthenticationError,
    ChannelStatus,
    ResourceNotFoundError,
    WAHAConfig,
    WebhookVerificationError,
)
from ventros_channels.adapters.waha import WAHAAdapter, normalize_jid
from ventros_channels.messaging import (
    ChatType,
    DeliveryStatus,
    MediaKind,
    MessageDeleted,
    MessageEcho,
    MessageEdited,
    MessageReceived,
    ReactionChanged,
    SessionStatusChanged,
    StatusChanged,
    TextMessage,
    Unsupported,
)
from ventros_channels.messaging.outbound import MediaMessage
from ventros_channels.testing import FixedClock
from ventros_channels.testing.contract import AdapterContract
from ventros_channels.testing.factories import SAMPLE_CONFIGS, ChannelFactory
from ventros_channels.webhooks import VerificationKeys, WebhookRequest

from .conftest import Sleeps, fixture_bytes, fixture_json, webhook_samples

CONFIG = WAHAConfig.parse(SAMPLE_CONFIGS["waha"])
BASE = "http://127.0.0.1:3000"
ADAPTER = WAHAAdapter()
LEGACY = "message_legacy_envelope_webjs"


def parse_one(name: str) -> object:
    (event,) = ADAPTER.parse(fixture_bytes("waha", name), CONFIG)
    return event


class TestWAHAContract(AdapterContract):
    @pytest.fixture
    def adapter(self) -> WAHAAdapter:
        return WAHAAdapter()

    @pytest.fixture
    def config(self) -> WAHAConfig:
        return CONFIG

    @pytest.fixture
    def samples(self) -> Sequence[bytes]:
        # the legacy envelope carries no signed timestamp: refused by default (tested below)
        return [b for b in webhook_samples("waha") if b != fixture_bytes("waha", LEGACY)]


def test_the_documented_hmac_vector() -> None:
    body = b'{"event":"message","session":"default","engine":"WEBJS"}'
    headers = ADAPTER.sign(body, "my-secret-key", now=datetime.now(UTC))
    assert headers["X-Webhook-Hmac"] == (
        "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8"
        "097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89"
    )


def test_stale_or_unsigned_deliveries_are_refused() -> None:
    body = fixture_bytes("waha", "message_text_dm")
    signed_at = datetime.fromtimestamp(1767225600.123, UTC)  # the envelope's own timestamp
    keys = VerificationKeys((SecretStr("k"),), now=signed_at + timedelta(minutes=30))
    ADAPTER.verify(WebhookRequest("POST", body, ADAPTER.sign(body, "k", now=signed_at)), keys)
    late = VerificationKeys((SecretStr("k"),), now=signed_at + timedelta(hours=2))
    with pytest.raises(WebhookVerificationError, match="replay window"):
        ADAPTER.verify(WebhookRequest("POST", body, ADAPTER.sign(body, "k", now=signed_at)), late)
    early = VerificationKeys((SecretStr("k"),), now=signed_at - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="future"):
        ADAPTER.verify(WebhookRequest("POST", body, ADAPTER.sign(body, "k", now=signed_at)), early)
    with pytest.raises(WebhookVerificationError, match="missing"):
        ADAPTER.verify(WebhookRequest("POST", body, {}), keys)
    bad_algo = {**ADAPTER.sign(body, "k", now=signed_at), "X-Webhook-Hmac-Algorithm": "sha1"}
    with pytest.raises(WebhookVerificationError, match="algorithm"):
        ADAPTER.verify(WebhookRequest("POST", body, bad_algo), keys)


@pytest.mark.parametrize("header", ["rewritten", "missing"])
def test_replayed_delivery_is_refused_whatever_the_timestamp_header_says(header: str) -> None:
    """The header is outside the HMAC: an attacker can set it to anything, or drop it."""
    body = fixture_bytes("waha", "message_text_dm")
    signed_at = datetime.fromtimestamp(1767225600.123, UTC)
    captured = ADAPTER.sign(body, "k", now=signed_at)
    replay_at = signed_at + timedelta(days=3)
    headers = {k: v for k, v in captured.items() if k != "X-Webhook-Timestamp"}
    if header == "rewritten":
        headers["X-Webhook-Timestamp"] = str(int(replay_at.timestamp() * 1000))
    keys = VerificationKeys((SecretStr("k"),), now=replay_at)
    with pytest.raises(WebhookVerificationError, match="replay window"):
        ADAPTER.verify(WebhookRequest("POST", body, headers), keys)


def test_an_envelope_without_a_signed_timestamp_is_refused_unless_allowed() -> None:
    body = fixture_bytes("waha", LEGACY)
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    request = WebhookRequest("POST", body, ADAPTER.sign(body, "k", now=now))
    keys = VerificationKeys((SecretStr("k"),), now=now)
    with pytest.raises(WebhookVerificationError, match="signed timestamp missing"):
        ADAPTER.verify(request, keys)
    WAHAAdapter(accept_unstamped=True).verify(request, keys)
    stamped = json.loads(body)
    stamped["timestamp"] = "yesterday"  # present but unusable: never waved through
    bad = json.dumps(stamped).encode()
    with pytest.raises(WebhookVerificationError, match="signed timestamp missing"):
        WAHAAdapter(accept_unstamped=True).verify(
            WebhookRequest("POST", bad, ADAPTER.sign(bad, "k", now=now)), keys
        )


def test_replay_window_is_configurable() -> None:
    body = fixture_bytes("waha", "message_text_dm")
    signed_at = datetime.fromtimestamp(1767225600.123, UTC)
    request = WebhookRequest("POST", body, ADAPTER.sign(body, "k", now=signed_at))
    keys = VerificationKeys((SecretStr("k"),), now=signed_at + timedelta(minutes=10))
    ADAPTER.verify(request, keys)
    with pytest.raises(WebhookVerificationError, match="replay window"):
        WAHAAdapter(replay_window=timedelta(minutes=5)).verify(request, keys)


def test_direct_text_message() -> None:
    event = parse_one("message_text_dm")
    assert isinstance(event, MessageReceived)
    assert (event.chat_id, event.sender_id) == ("15551234567@c.us", "15551234567@c.us")
    assert event.chat_type is ChatType.DIRECT
    assert event.text == "Hi, is my order shipped?"
    assert event.account_id == "default"
    assert event.timestamp == datetime.fromtimestamp(1767225600, UTC)


def test_group_message_is_sent_by_its_participant() -> None:
    event = parse_one("message_group_text")
    assert isinstance(event, MessageReceived)
    assert event.chat_type is ChatType.GROUP
    assert event.is_group
    assert event.chat_id == "120363041234567890@g.us"
    assert event.sender_id == "15557654321@c.us"


def test_lid_sender_keeps_the_phone_as_an_alias() -> None:
    event = parse_one("message_lid_sender_gows")
    assert isinstance(event, MessageReceived)
    assert event.sender_id == "38200000000001@lid"
    assert event.sender_aliases == ("15552223333@c.us",)
    assert event.sender_name == "Ana"


def test_id_normalization() -> None:
    assert normalize_jid("15550001111:3@s.whatsapp.net") == "15550001111@c.us"
    assert normalize_jid("15550001111@c.us") == "15550001111@c.us"
    assert normalize_jid("120363041234567890@g.us") == "120363041234567890@g.us"
    assert normalize_jid("status@broadcast") == "status@broadcast"


def test_status_broadcast_is_never_a_direct_chat() -> None:
    envelope = fixture_json("waha", "message_text_dm")
    envelope["payload"]["from"] = "status@broadcast"
    envelope["payload"]["participant"] = "15551234567@c.us"
    (event,) = ADAPTER.parse(json.dumps(envelope).encode(), CONFIG)
    assert event.chat_type is ChatType.BROADCAST
    assert event.sender_id == "15551234567@c.us"


def test_media_with_and_without_a_url() -> None:
    image = parse_one("message_image_with_caption")
    assert isinstance(image, MessageReceived)
    (attachment,) = image.attachments
    assert attachment.kind is MediaKind.IMAGE
    assert attachment.url is not None
    assert attachment.caption == "Here is the receipt"
    pending = parse_one("message_media_not_downloaded")
    assert isinstance(pending, MessageReceived)
    assert pending.attachments[0].url is None


def test_reply_location_and_legacy_envelope() -> None:
    reply = parse_one("message_reply")
    assert isinstance(reply, MessageReceived)
    assert reply.reply_to == "3EB0A1B2C3D4E5F60718"
    location = parse_one("message_location")
    assert isinstance(location, MessageReceived)
    assert location.location is not None
    assert (location.location.latitude, location.location.name) == (37.4847, "1 Hacker Way")
    legacy = parse_one("message_legacy_envelope_webjs")
    assert isinstance(legacy, MessageReceived)
    assert legacy.sender_name == "Sam"


def test_message_and_message_any_share_one_key() -> None:
    envelope = fixture_json("waha", "message_text_dm")
    any_envelope = {**envelope, "event": "message.any", "id": "evt_other"}
    (a,) = ADAPTER.parse(json.dumps(envelope).encode(), CONFIG)
    (b,) = ADAPTER.parse(json.dumps(any_envelope).encode(), CONFIG)
    assert a.idempotency_key == b.idempotency_key


def test_own_message_is_an_echo_in_its_chat() -> None:
    event = parse_one("message_any_sent_via_api")
    assert isinstance(event, MessageEcho)
    assert event.from_me
    assert event.chat_id == "15551234567@c.us"


def test_acks_map_to_ordered_statuses() -> None:
    read = parse_one("message_ack_read")
    assert isinstance(read, StatusChanged)
    assert read.status is DeliveryStatus.READ
    assert read.chat_id == "15551234567@c.us"
    failed = parse_one("message_ack_error")
    assert isinstance(failed, StatusChanged)
    assert failed.status is DeliveryStatus.FAILED
    assert failed.error is not None
    assert read.idempotency_key != failed.idempotency_key


def test_reactions_edits_revokes_sessions_and_unknown_events() -> None:
    added = parse_one("message_reaction")
    removed = parse_one("message_reaction_removed")
    assert isinstance(added, ReactionChanged)
    assert isinstance(removed, ReactionChanged)
    assert added.emoji == "👍"
    assert removed.removed
    assert added.target_message_id == removed.target_message_id
    edited = parse_one("message_edited")
    assert isinstance(edited, MessageEdited)
    assert edited.target_message_id == "3EB0A1B2C3D4E5F60718"
    assert edited.text == "Hi, is my order shipped yet?"
    revoked = parse_one("message_revoked")
    assert isinstance(revoked, MessageDeleted)
    assert revoked.target_message_id == "3EB0DEADBEEF00112233"
    working = parse_one("session_status_working")
    assert isinstance(working, SessionStatusChanged)
    assert working.status == "WORKING"
    vote = parse_one("poll_vote")
    assert isinstance(vote, Unsupported)
    assert vote.raw == fixture_json("waha", "poll_vote")


def test_session_status_drives_the_channel() -> None:
    channel = ChannelFactory(FixedClock())("waha")
    channel.configure_webhook(base_url="https://crm.example.test")
    channel.request_activation()
    for name, status in [
        ("session_status_scan_qr", ChannelStatus.CONNECTING),
        ("session_status_working", ChannelStatus.ACTIVE),
        ("session_status_failed", ChannelStatus.ERROR),
    ]:
        event = parse_one(name)
        assert isinstance(event, SessionStatusChanged)
        ADAPTER.apply_session_status(channel, event.status)
        assert channel.status is status


@respx.mock
async def test_send_text_and_image_with_api_key() -> None:
    text = respx.post(f"{BASE}/api/sendText").mock(
        return_value=httpx.Response(201, json={"id": "true_15551234567@c.us_3EB0AAA"})
    )
    image = respx.post(f"{BASE}/api/sendImage").mock(
        return_value=httpx.Response(201, json={"id": "true_15551234567@c.us_3EB0BBB"})
    )
    async with httpx.AsyncClient() as client:
        sent = await ADAPTER.send(
            client, CONFIG, TextMessage(to="15551234567@c.us", text="hi", reply_to="3EB0X")
        )
        await ADAPTER.send(
            client,
            CONFIG,
            MediaMessage(
                to="15551234567@c.us",
                media_kind=MediaKind.IMAGE,
                url="https://img.example.test/a.jpg",
                mime_type="image/jpeg",
                caption="look",
            ),
        )
    assert sent.message_id == "true_15551234567@c.us_3EB0AAA"
    request = text.calls.last.request
    assert request.headers["x-api-key"] == "test-waha-api-key"
    body = json.loads(request.content)
    assert body == {
        "session": "default",
        "chatId": "15551234567@c.us",
        "text": "hi",
        "linkPreview": False,
        "reply_to": "3EB0X",
    }
    assert json.loads(image.calls.last.request.content)["file"]["url"].endswith("a.jpg")


@respx.mock
async def test_429_is_retried_after_the_hint_and_401_is_typed(sleeps: Sleeps) -> None:
    route = respx.post(f"{BASE}/api/sendText").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "4"}),
            httpx.Response(201, json={"id": "x"}),
            httpx.Response(401, json={"message": "Unauthorized"}),
        ]
    )
    adapter = WAHAAdapter(policy=sleeps.policy())
    async with httpx.AsyncClient() as client:
        await adapter.send(client, CONFIG, TextMessage(to="1@c.us", text="a"))
        with pytest.raises(AuthenticationError) as caught:
            await adapter.send(client, CONFIG, TextMessage(to="1@c.us", text="b"))
    assert route.call_count == 3
    assert sleeps.waits == [4.0]
    assert "test-waha-api-key" not in str(caught.value)


@respx.mock
async def test_session_lifecycle_calls() -> None:
    respx.put(f"{BASE}/api/sessions/default").mock(
        return_value=httpx.Response(404, json={"message": "Session not found"})
    )
    create = respx.post(f"{BASE}/api/sessions").mock(return_value=httpx.Response(201, json={}))
    respx.post(f"{BASE}/api/sessions/default/start").mock(
        return_value=httpx.Response(201, json={"name": "default", "status": "SCAN_QR_CODE"})
    )
    respx.get(f"{BASE}/api/default/auth/qr").mock(
        return_value=httpx.Response(200, json={"value": "2@pairing-code"})
    )
    async with httpx.AsyncClient() as client:
        await ADAPTER.register_webhook(client, CONFIG, "https://crm.example.test/webhooks/waha/1")
        status = await ADAPTER.start_session(client, CONFIG)
        qr = await ADAPTER.get_qr_code(client, CONFIG)
    created = json.loads(create.calls.last.request.content)
    hook = created["config"]["webhooks"][0]
    assert hook["url"] == "https://crm.example.test/webhooks/waha/1"
    assert hook["hmac"] == {"key": "test-waha-hmac-key"}
    assert (status, qr) == ("SCAN_QR_CODE", "2@pairing-code")


@respx.mock
async def test_unknown_session_is_a_typed_not_found() -> None:
    respx.get(f"{BASE}/api/sessions/default").mock(
        return_value=httpx.Response(404, json={"message": "Session not found"})
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(ResourceNotFoundError, match="Session not found"):
            await ADAPTER.test_connection(client, CONFIG)


@respx.mock
async def test_history_pages_with_offsets_and_a_time_filter() -> None:
    dm = fixture_json("waha", "message_text_dm")["payload"]
    chats = respx.get(f"{BASE}/api/default/chats").mock(
        return_value=httpx.Response(200, json=[{"id": "15551234567@c.us", "name": "Ana"}])
    )
    messages = respx.get(url__regex=rf"{BASE}/api/default/chats/.*/messages").mock(
        side_effect=[
            httpx.Response(200, json=[dm, dm]),
            httpx.Response(200, json=[dm]),
        ]
    )
    since = datetime(2026, 1, 1, tzinfo=UTC)
    async with httpx.AsyncClient() as client:
        listing = await ADAPTER.list_chats(client, CONFIG)
        first = await ADAPTER.fetch_history(
            client, CONFIG, "15551234567@c.us", limit=2, since=since
        )
        second = await ADAPTER.fetch_history(
            client, CONFIG, "15551234567@c.us", limit=2, cursor=first.next_cursor
        )
    assert [c.chat_id for c in listing.items] == ["15551234567@c.us"]
    assert listing.next_cursor is None
    assert chats.called
    assert first.next_cursor == "2"
    assert second.next_cursor is None
    params = messages.calls[0].request.url.params
    assert params["downloadMedia"] == "false"
    assert params["filter.timestamp.gte"] == str(int(since.timestamp()))
    assert isinstance(first.items[0], MessageReceived)
