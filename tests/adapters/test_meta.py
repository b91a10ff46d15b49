"""WhatsApp Cloud, Messenger and Instagram: the shared Graph base and each adapter."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from ventros_channels import (
    AuthenticationError,
    DeliveryUncertainError,
    InstagramConfig,
    InvalidRequestError,
    MessengerConfig,
    OutsideMessagingWindowError,
    RateLimitedError,
    RecipientUnavailableError,
    WebhookPayloadError,
    WebhookVerificationError,
    WhatsAppCloudConfig,
)
from ventros_channels.adapters.instagram import InstagramAdapter
from ventros_channels.adapters.messenger import MessengerAdapter
from ventros_channels.adapters.whatsapp_cloud import WhatsAppCloudAdapter
from ventros_channels.messaging import (
    Button,
    ButtonsMessage,
    DeliveryStatus,
    ListMessage,
    ListRow,
    ListSection,
    MarkAsRead,
    MediaKind,
    MediaMessage,
    MessageDeleted,
    MessageEcho,
    MessageEdited,
    MessageReceived,
    OutboundMessage,
    Postback,
    Reaction,
    ReactionChanged,
    StatusChanged,
    TemplateMessage,
    TextMessage,
    Typing,
    Unsupported,
)
from ventros_channels.testing.contract import AdapterContract
from ventros_channels.testing.factories import SAMPLE_CONFIGS
from ventros_channels.webhooks import VerificationKeys, WebhookRequest

from .conftest import Sleeps, fixture_bytes, fixture_json, webhook_samples

WA = WhatsAppCloudConfig.parse(SAMPLE_CONFIGS["whatsapp"])
FB = MessengerConfig.parse(SAMPLE_CONFIGS["messenger"])
IG = InstagramConfig.parse(SAMPLE_CONFIGS["instagram"])
IG_LOGIN = InstagramConfig.parse({**SAMPLE_CONFIGS["instagram"], "login": "instagram"})
GRAPH = "https://graph.facebook.com/v21.0"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def one(adapter: Any, platform: str, name: str, config: Any) -> Any:
    (event,) = adapter.parse(fixture_bytes(platform, name), config)
    return event


class TestWhatsAppContract(AdapterContract):
    @pytest.fixture
    def adapter(self) -> WhatsAppCloudAdapter:
        return WhatsAppCloudAdapter()

    @pytest.fixture
    def config(self) -> WhatsAppCloudConfig:
        return WA

    @pytest.fixture
    def samples(self) -> Sequence[bytes]:
        return webhook_samples("whatsapp_cloud")


class TestMessengerContract(AdapterContract):
    @pytest.fixture
    def adapter(self) -> MessengerAdapter:
        return MessengerAdapter()

    @pytest.fixture
    def config(self) -> MessengerConfig:
        return FB

    @pytest.fixture
    def samples(self) -> Sequence[bytes]:
        return webhook_samples("messenger")


class TestInstagramContract(AdapterContract):
    @pytest.fixture
    def adapter(self) -> InstagramAdapter:
        return InstagramAdapter()

    @pytest.fixture
    def config(self) -> InstagramConfig:
        return IG

    @pytest.fixture
    def samples(self) -> Sequence[bytes]:
        return webhook_samples("instagram")


# ---------------------------------------------------------------- Graph base


def test_signature_is_checked_on_the_raw_bytes() -> None:
    adapter = WhatsAppCloudAdapter()
    body = fixture_bytes("whatsapp_cloud", "text")
    headers = adapter.sign(body, "app-secret", now=NOW)
    keys = VerificationKeys((SecretStr("app-secret"),), now=NOW)
    adapter.verify(WebhookRequest("POST", body, headers), keys)
    reserialized = json.dumps(json.loads(body)).encode()
    assert reserialized != body
    with pytest.raises(WebhookVerificationError):
        adapter.verify(WebhookRequest("POST", reserialized, headers), keys)
    with pytest.raises(WebhookVerificationError, match="malformed"):
        adapter.verify(WebhookRequest("POST", body, {"X-Hub-Signature-256": "md5=00"}), keys)


META_SAMPLES = [
    (MessengerAdapter, "messenger", "message_text"),
    (InstagramAdapter, "instagram", "message_text"),
    (WhatsAppCloudAdapter, "whatsapp_cloud", "text"),
    (WhatsAppCloudAdapter, "whatsapp_cloud", "status_read"),
]


@pytest.mark.parametrize(("adapter_class", "platform", "name"), META_SAMPLES)
def test_a_replayed_meta_delivery_outside_the_window_is_refused(
    adapter_class: type[Any], platform: str, name: str
) -> None:
    adapter = adapter_class()
    body = fixture_bytes(platform, name)
    signed_at = adapter.signed_time(body)
    assert signed_at is not None, "the time is read from inside the signed body"
    request = WebhookRequest("POST", body, adapter.sign(body, "s", now=signed_at))

    def at(now: datetime) -> VerificationKeys:
        return VerificationKeys((SecretStr("s"),), now=now)

    adapter.verify(request, at(signed_at + timedelta(days=6)))  # a late genuine retry
    with pytest.raises(WebhookVerificationError, match="replay window"):
        adapter.verify(request, at(signed_at + timedelta(days=8)))
    with pytest.raises(WebhookVerificationError, match="future"):
        adapter.verify(request, at(signed_at - timedelta(hours=1)))
    strict = adapter_class(replay_window=timedelta(hours=1))
    with pytest.raises(WebhookVerificationError, match="replay window"):
        strict.verify(request, at(signed_at + timedelta(hours=2)))


def test_the_newest_entry_time_of_a_batch_counts() -> None:
    adapter = MessengerAdapter()
    entries: list[dict[str, Any]] = [
        {"id": "1", "time": t, "messaging": []} for t in (1767225600000, 1767225660000)
    ]
    body = json.dumps({"object": "page", "entry": [*entries, {"id": "2", "time": -1}]}).encode()
    assert adapter.signed_time(body) == datetime.fromtimestamp(1767225660, UTC)


def test_whatsapp_changes_without_a_time_rely_on_their_idempotency_keys() -> None:
    adapter = WhatsAppCloudAdapter()
    change = {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}
    body = json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [change]}]}
    ).encode()
    assert adapter.signed_time(body) is None
    far = datetime(2030, 1, 1, tzinfo=UTC)
    request = WebhookRequest("POST", body, adapter.sign(body, "s", now=far))
    adapter.verify(request, VerificationKeys((SecretStr("s"),), now=far))


def test_handshake_echoes_the_challenge_only_for_the_right_token() -> None:
    adapter = MessengerAdapter()
    ok = WebhookRequest(
        "GET",
        query={
            "hub.mode": "subscribe",
            "hub.verify_token": "test-verify-token",
            "hub.challenge": "1158201444",
        },
    )
    answer = adapter.handshake(ok, FB)
    assert answer is not None
    assert (answer.status, answer.body, answer.content_type.split(";")[0]) == (
        200,
        b"1158201444",
        "text/plain",
    )
    for query in (
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "test-verify-token", "hub.challenge": "1"},
        {},
    ):
        with pytest.raises(WebhookVerificationError):
            adapter.handshake(WebhookRequest("GET", query=query), FB)


def test_wrong_object_is_a_payload_error() -> None:
    with pytest.raises(WebhookPayloadError):
        MessengerAdapter().parse(fixture_bytes("instagram", "message_text"), FB)


# ---------------------------------------------------------------- WhatsApp Cloud


def test_whatsapp_text_with_profile_name() -> None:
    event = one(WhatsAppCloudAdapter(), "whatsapp_cloud", "text", WA)
    assert isinstance(event, MessageReceived)
    assert (event.sender_id, event.sender_name, event.text) == (
        "16505551234",
        "Sheena Nelson",
        "Hi, is my order shipped?",
    )
    assert event.account_id == "106540352242922"
    assert event.idempotency_key.startswith("whatsapp:106540352242922:msg:wamid.")
    assert event.timestamp == datetime.fromtimestamp(1767225600, UTC)


def test_whatsapp_media_kinds_and_replies() -> None:
    adapter = WhatsAppCloudAdapter()
    voice = one(adapter, "whatsapp_cloud", "audio_voice_note", WA)
    assert voice.attachments[0].kind is MediaKind.VOICE
    assert voice.attachments[0].media_id == "1098253871342291"
    image = one(adapter, "whatsapp_cloud", "image_with_caption", WA)
    assert image.attachments[0].caption == "Here is the receipt"
    assert image.attachments[0].sha256
    document = one(adapter, "whatsapp_cloud", "document", WA)
    assert document.attachments[0].filename == "invoice-4471.pdf"
    reply = one(adapter, "whatsapp_cloud", "reply_with_context", WA)
    assert reply.reply_to == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
    location = one(adapter, "whatsapp_cloud", "location", WA)
    assert location.location.name == "Meta HQ"


def test_whatsapp_interactive_and_template_replies() -> None:
    adapter = WhatsAppCloudAdapter()
    button = one(adapter, "whatsapp_cloud", "interactive_button_reply", WA)
    assert (button.interactive.type, button.interactive.id) == ("button", "confirm_yes")
    listed = one(adapter, "whatsapp_cloud", "interactive_list_reply", WA)
    assert (listed.interactive.type, listed.interactive.description) == (
        "list",
        "45 min, video call",
    )
    template = one(adapter, "whatsapp_cloud", "template_quick_reply_button", WA)
    assert (template.interactive.type, template.interactive.id) == (
        "template_button",
        "STOP_PROMOS",
    )


def test_whatsapp_reactions_statuses_and_errors() -> None:
    adapter = WhatsAppCloudAdapter()
    added = one(adapter, "whatsapp_cloud", "reaction", WA)
    removed = one(adapter, "whatsapp_cloud", "reaction_removed", WA)
    assert isinstance(added, ReactionChanged)
    assert added.emoji == "👍"
    assert removed.removed
    statuses = [
        one(adapter, "whatsapp_cloud", n, WA)
        for n in ("status_sent", "status_delivered", "status_read")
    ]
    assert [s.status for s in statuses] == [
        DeliveryStatus.SENT,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.READ,
    ]
    assert len({s.idempotency_key for s in statuses}) == 3
    failed = one(adapter, "whatsapp_cloud", "status_failed_reengagement_131047", WA)
    assert isinstance(failed, StatusChanged)
    assert failed.status is DeliveryStatus.FAILED
    assert failed.error is not None
    assert failed.error.code == "131047"
    unsupported = one(adapter, "whatsapp_cloud", "unsupported_with_errors", WA)
    assert isinstance(unsupported, Unsupported)
    assert "131051" in unsupported.reason
    value_error = one(adapter, "whatsapp_cloud", "value_level_error", WA)
    assert isinstance(value_error, Unsupported)


def test_whatsapp_batch_and_several_entries_become_several_events() -> None:
    adapter = WhatsAppCloudAdapter()
    events = adapter.parse(fixture_bytes("whatsapp_cloud", "batch_two_messages"), WA)
    assert [e.text for e in events] == ["one", "two"]  # type: ignore[union-attr]
    doc = fixture_json("whatsapp_cloud", "text")
    status = fixture_json("whatsapp_cloud", "status_read")
    doc["entry"].append(status["entry"][0])
    events = adapter.parse(json.dumps(doc).encode(), WA)
    assert [e.kind for e in events] == ["message", "status"]


def test_whatsapp_business_scoped_ids_with_and_without_wa_id() -> None:
    doc = fixture_json("whatsapp_cloud", "text")
    value = doc["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["user_id"] = "US.13491208655302741918"
    (both,) = WhatsAppCloudAdapter().parse(json.dumps(doc).encode(), WA)
    assert both.sender_id == "16505551234"
    assert both.sender_aliases == ("US.13491208655302741918",)
    del value["contacts"][0]["wa_id"]
    message = value["messages"][0]
    del message["from"]
    message["user_id"] = "US.13491208655302741918"
    (only_bsuid,) = WhatsAppCloudAdapter().parse(json.dumps(doc).encode(), WA)
    assert only_bsuid.sender_id == "US.13491208655302741918"
    assert only_bsuid.sender_name == "Sheena Nelson"


def test_whatsapp_unknown_type_edit_and_revoke() -> None:
    doc = fixture_json("whatsapp_cloud", "text")
    message = doc["entry"][0]["changes"][0]["value"]["messages"][0]
    message["type"] = "hologram"
    (unknown,) = WhatsAppCloudAdapter().parse(json.dumps(doc).encode(), WA)
    assert isinstance(unknown, Unsupported)
    assert unknown.raw == message
    message.update(
        {
            "type": "edit",
            "edit": {
                "original_message_id": "wamid.A",
                "message": {"type": "text", "text": {"body": "fixed"}},
            },
        }
    )
    (edit,) = WhatsAppCloudAdapter().parse(json.dumps(doc).encode(), WA)
    assert isinstance(edit, MessageEdited)
    assert (edit.target_message_id, edit.text) == ("wamid.A", "fixed")
    message.update({"type": "revoke", "revoke": {"original_message_id": "wamid.A"}})
    (revoke,) = WhatsAppCloudAdapter().parse(json.dumps(doc).encode(), WA)
    assert isinstance(revoke, MessageDeleted)


@respx.mock
async def test_whatsapp_sends_every_kind() -> None:
    route = respx.post(f"{GRAPH}/106540352242922/messages").mock(
        return_value=httpx.Response(200, json=fixture_json("whatsapp_cloud", "api_send_response"))
    )
    upload = respx.post(f"{GRAPH}/106540352242922/media").mock(
        return_value=httpx.Response(200, json={"id": "media-77"})
    )
    adapter = WhatsAppCloudAdapter()
    to = "16505551234"
    messages: list[OutboundMessage] = [
        TextMessage(to=to, text="hi", reply_to="wamid.X", correlation_id="order-1"),
        MediaMessage(
            to=to,
            media_kind=MediaKind.DOCUMENT,
            url="https://f.example.test/a.pdf",
            filename="a.pdf",
        ),
        MediaMessage(to=to, media_kind=MediaKind.IMAGE, data=b"\x89PNG", mime_type="image/png"),
        TemplateMessage(to=to, name="order_update", language="en_US", body_parameters=("John",)),
        ButtonsMessage(
            to=to,
            text="Confirm?",
            buttons=(Button(id="y", title="Yes"), Button(id="n", title="No")),
        ),
        ListMessage(
            to=to,
            text="Pick",
            button_text="Menu",
            sections=(ListSection(title="S", rows=(ListRow(id="r1", title="One"),)),),
        ),
        Reaction(to=to, message_id="wamid.X", emoji=None),
        MarkAsRead(to=to, message_id="wamid.X"),
    ]
    async with httpx.AsyncClient() as client:
        results = [await adapter.send(client, WA, m) for m in messages]
    bodies = [json.loads(c.request.content) for c in route.calls]
    assert results[0].message_id == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
    assert bodies[0]["context"] == {"message_id": "wamid.X"}
    assert bodies[0]["biz_opaque_callback_data"] == "order-1"
    assert bodies[1]["document"] == {"link": "https://f.example.test/a.pdf", "filename": "a.pdf"}
    assert upload.called
    assert bodies[2]["image"] == {"id": "media-77"}
    assert bodies[3]["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "John"}]}
    ]
    assert len(bodies[4]["interactive"]["action"]["buttons"]) == 2
    assert bodies[5]["interactive"]["action"]["sections"][0]["rows"][0]["id"] == "r1"
    assert bodies[6]["reaction"] == {"message_id": "wamid.X", "emoji": ""}
    assert bodies[7] == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"}
    assert route.calls[0].request.headers["authorization"] == "Bearer test-whatsapp-access-token"


@respx.mock
async def test_whatsapp_error_codes(sleeps: Sleeps) -> None:
    def graph_error(code: int, status: int = 400, sub: int | None = None) -> httpx.Response:
        error: dict[str, Any] = {
            "message": f"(#{code}) test-whatsapp-access-token",
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "TRACE",
        }
        if sub:
            error["error_subcode"] = sub
        return httpx.Response(status, json={"error": error})

    route = respx.post(f"{GRAPH}/106540352242922/messages").mock(
        side_effect=[
            graph_error(130429, 400),
            httpx.Response(200, json=fixture_json("whatsapp_cloud", "api_send_response")),
            graph_error(190, 401),
            graph_error(131047),
            graph_error(131026),
            httpx.Response(500, json={"error": {"message": "boom", "code": 2}}),
        ]
    )
    adapter = WhatsAppCloudAdapter(policy=sleeps.policy())
    message = TextMessage(to="16505551234", text="hi")
    async with httpx.AsyncClient() as client:
        await adapter.send(client, WA, message)
        expected: list[type[Exception]] = [
            AuthenticationError,
            OutsideMessagingWindowError,
            RecipientUnavailableError,
            DeliveryUncertainError,
        ]
        for error_type in expected:
            with pytest.raises(error_type) as caught:
                await adapter.send(client, WA, message)
            assert "test-whatsapp-access-token" not in str(caught.value)
    assert route.call_count == 6
    assert len(sleeps.waits) == 1


@respx.mock
async def test_whatsapp_media_download_is_two_authorized_steps() -> None:
    respx.get(f"{GRAPH}/1479537139650973").mock(
        return_value=httpx.Response(
            200, json={"url": "https://lookaside.fbsbx.test/media?id=1", "mime_type": "image/jpeg"}
        )
    )
    fetch = respx.get("https://lookaside.fbsbx.test/media?id=1").mock(
        return_value=httpx.Response(200, content=b"JPEGDATA")
    )
    image = one(WhatsAppCloudAdapter(), "whatsapp_cloud", "image_with_caption", WA)
    async with httpx.AsyncClient() as client:
        media = await WhatsAppCloudAdapter().download_media(client, WA, image.attachments[0])
    assert media.content == b"JPEGDATA"
    assert fetch.calls.last.request.headers["authorization"] == "Bearer test-whatsapp-access-token"


@respx.mock
async def test_whatsapp_connection_and_waba_subscription() -> None:
    respx.get(f"{GRAPH}/106540352242922").mock(
        return_value=httpx.Response(200, json={"id": "106540352242922", "verified_name": "Acme"})
    )
    subscribe = respx.post(f"{GRAPH}/102290129340398/subscribed_apps").mock(
        return_value=httpx.Response(200, json={"success": True})
    )
    async with httpx.AsyncClient() as client:
        info = await WhatsAppCloudAdapter().test_connection(client, WA)
        await WhatsAppCloudAdapter().register_webhook(client, WA, "https://crm.example.test/h")
    assert (info.account_id, info.display_name) == ("106540352242922", "Acme")
    assert subscribe.called
    no_waba = WhatsAppCloudConfig.parse({**SAMPLE_CONFIGS["whatsapp"], "business_account_id": None})
    async with httpx.AsyncClient() as client:
        with pytest.raises(InvalidRequestError):
            await WhatsAppCloudAdapter().register_webhook(client, no_waba, "https://x.test")


# ---------------------------------------------------------------- Messenger


def test_messenger_events() -> None:
    adapter = MessengerAdapter()
    text = one(adapter, "messenger", "message_text", FB)
    assert isinstance(text, MessageReceived)
    assert (text.chat_id, text.account_id) == ("6523981047755321", "104857362819374")
    echo = one(adapter, "messenger", "message_echo", FB)
    assert isinstance(echo, MessageEcho)
    assert echo.chat_id == "6523981047755321"
    assert echo.from_me
    image = one(adapter, "messenger", "message_image", FB)
    assert image.attachments[0].kind is MediaKind.IMAGE
    sticker = one(adapter, "messenger", "message_sticker_like", FB)
    assert sticker.attachments[0].kind is MediaKind.STICKER
    quick = one(adapter, "messenger", "message_quick_reply", FB)
    assert quick.interactive.id == "TRACK_ORDER"
    postback = one(adapter, "messenger", "postback_get_started", FB)
    assert isinstance(postback, Postback)
    assert postback.payload == "GET_STARTED"
    delivery = one(adapter, "messenger", "delivery", FB)
    assert isinstance(delivery, StatusChanged)
    assert delivery.message_ids == ("m_PageMsg000000000000002",)
    assert delivery.watermark is not None
    read = one(adapter, "messenger", "read", FB)
    assert (read.status, read.message_id) == (DeliveryStatus.READ, None)
    edit = one(adapter, "messenger", "message_edit", FB)
    assert isinstance(edit, MessageEdited)
    react = one(adapter, "messenger", "reaction_react", FB)
    unreact = one(adapter, "messenger", "reaction_unreact", FB)
    assert (react.emoji, unreact.emoji) == ("❤️", None)
    assert one(adapter, "messenger", "standby_message", FB).text == "ainda está aí?"
    assert isinstance(one(adapter, "messenger", "unknown_event", FB), Unsupported)
    referral = one(adapter, "messenger", "referral_mme_link", FB)
    assert isinstance(referral, Postback)
    assert referral.payload == "campanha_bf"
    batch = adapter.parse(fixture_bytes("messenger", "batched_two_entries"), FB)
    assert [e.chat_id for e in batch] == ["6523981047755321", "7012345678901234"]


@respx.mock
async def test_messenger_send_matches_the_documented_requests() -> None:
    route = respx.post(f"{GRAPH}/104857362819374/messages").mock(
        return_value=httpx.Response(200, json=fixture_json("messenger", "api_send_success"))
    )
    psid = "6523981047755321"
    async with httpx.AsyncClient() as client:
        result = await MessengerAdapter().send(
            client,
            FB,
            ButtonsMessage(
                to=psid, text="Obrigado! Já verifiquei.", buttons=(Button(id="ACK", title="Ok"),)
            ),
        )
        await MessengerAdapter().send(
            client,
            FB,
            MediaMessage(
                to=psid, media_kind=MediaKind.IMAGE, url="https://cdn.example.com/etiqueta.png"
            ),
        )
        await MessengerAdapter().send(
            client,
            FB,
            TextMessage(to=psid, text="Seu pedido foi entregue.", tag="POST_PURCHASE_UPDATE"),
        )
        await MessengerAdapter().send(client, FB, Typing(to=psid))
    bodies = [json.loads(c.request.content) for c in route.calls]
    assert bodies == [
        fixture_json("messenger", "api_send_request_text"),
        fixture_json("messenger", "api_send_request_image"),
        fixture_json("messenger", "api_send_request_tag"),
        fixture_json("messenger", "api_send_request_typing"),
    ]
    assert result.message_id == "m_PageMsg000000000000004"


@respx.mock
async def test_messenger_errors_map_to_types() -> None:
    route = respx.post(f"{GRAPH}/104857362819374/messages").mock(
        side_effect=[
            httpx.Response(400, json=fixture_json("messenger", "api_error_outside_window")),
            httpx.Response(400, json=fixture_json("messenger", "api_error_user_unavailable")),
            httpx.Response(400, json=fixture_json("messenger", "api_error_token")),
        ]
    )
    async with httpx.AsyncClient() as client:
        for error_type in (
            OutsideMessagingWindowError,
            RecipientUnavailableError,
            AuthenticationError,
        ):
            with pytest.raises(error_type) as caught:
                await MessengerAdapter().send(client, FB, TextMessage(to="1", text="x"))
            assert caught.value.trace_id
    assert route.call_count == 3


async def test_messenger_rate_limit_613_is_rate_limited() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json=fixture_json("messenger", "api_error_rate_limit"))

    sleeps = Sleeps()
    adapter = MessengerAdapter(policy=sleeps.policy(attempts=2))
    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as client:
        with pytest.raises(RateLimitedError):
            await adapter.send(client, FB, TextMessage(to="1", text="x"))
    assert len(sleeps.waits) == 1


@respx.mock
async def test_messenger_history_pages_through_conversations() -> None:
    conversations = fixture_json("messenger", "api_conversations_list")
    last = {**conversations, "paging": {"cursors": {"after": "END"}}}
    listing = respx.get(f"{GRAPH}/104857362819374/conversations").mock(
        side_effect=[httpx.Response(200, json=conversations), httpx.Response(200, json=last)]
    )
    thread = fixture_json("messenger", "api_conversation_messages")["messages"]
    respx.get(f"{GRAPH}/t_10161234567890123/messages").mock(
        side_effect=[
            httpx.Response(200, json=thread),
            httpx.Response(200, json={"data": thread["data"][:1], "paging": {}}),
        ]
    )
    adapter = MessengerAdapter()
    async with httpx.AsyncClient() as client:
        first = await adapter.list_chats(client, FB)
        second = await adapter.list_chats(client, FB, cursor=first.next_cursor)
        page1 = await adapter.fetch_history(client, FB, "t_10161234567890123", limit=2)
        page2 = await adapter.fetch_history(
            client, FB, "t_10161234567890123", cursor=page1.next_cursor
        )
    assert first.next_cursor == "QVFIUnZAxY2Fh2"
    assert listing.calls[1].request.url.params["after"] == "QVFIUnZAxY2Fh2"
    assert second.next_cursor is None
    assert [c.chat_id for c in first.items] == ["t_10161234567890123", "t_10169876543210987"]
    assert isinstance(page1.items[0], MessageEcho)
    assert isinstance(page1.items[1], MessageReceived)
    assert page1.items[1].chat_id == "6523981047755321"
    assert page1.next_cursor == "QVFIUlB2bS1"
    assert page2.next_cursor is None


# ---------------------------------------------------------------- Instagram


def test_instagram_events() -> None:
    adapter = InstagramAdapter()
    text = one(adapter, "instagram", "message_text", IG)
    assert isinstance(text, MessageReceived)
    assert text.account_id == "17841405822304914"
    seen = one(adapter, "instagram", "seen", IG)
    assert isinstance(seen, StatusChanged)
    assert seen.message_id is not None
    deleted = one(adapter, "instagram", "message_deleted", IG)
    assert isinstance(deleted, MessageDeleted)
    story = one(adapter, "instagram", "story_mention", IG)
    assert story.attachments[0].kind is MediaKind.SHARE
    reply = one(adapter, "instagram", "story_reply", IG)
    assert reply.reply_to.startswith("story:")
    reel = one(adapter, "instagram", "message_ig_reel", IG)
    assert reel.attachments[0].media_id == "18045678901234567"
    share = one(adapter, "instagram", "message_share_post", IG)
    assert [a.kind for a in share.attachments] == [MediaKind.SHARE, MediaKind.SHARE]
    assert isinstance(one(adapter, "instagram", "message_unsupported", IG), Unsupported)
    assert isinstance(one(adapter, "instagram", "comment_change_not_dm", IG), Unsupported)
    assert isinstance(one(adapter, "instagram", "postback_icebreaker", IG), Postback)
    echo = one(adapter, "instagram", "message_echo", IG)
    assert isinstance(echo, MessageEcho)


@respx.mock
async def test_instagram_sends_for_both_login_flavours() -> None:
    page_route = respx.post(f"{GRAPH}/17841405822304914/messages").mock(
        return_value=httpx.Response(200, json=fixture_json("instagram", "api_send_success"))
    )
    ig_route = respx.post("https://graph.instagram.com/v21.0/me/messages").mock(
        return_value=httpx.Response(200, json=fixture_json("instagram", "api_send_success"))
    )
    igsid = "1204938563371245"
    mid = fixture_json("instagram", "api_send_request_react")["payload"]["message_id"]
    async with httpx.AsyncClient() as client:
        await InstagramAdapter().send(
            client, IG, TextMessage(to=igsid, text="Obrigado pelo contato!")
        )
        await InstagramAdapter().send(client, IG, Reaction(to=igsid, message_id=mid, emoji="love"))
        await InstagramAdapter().send(
            client,
            IG_LOGIN,
            TextMessage(to=igsid, text="Desculpe a demora, já resolvemos.", tag="HUMAN_AGENT"),
        )
        await InstagramAdapter().send(
            client,
            IG_LOGIN,
            MediaMessage(
                to=igsid,
                media_kind=MediaKind.IMAGE,
                url="https://cdn.example.com/tabela-medidas.jpg",
            ),
        )
    bodies = [json.loads(c.request.content) for c in page_route.calls]
    assert bodies == [
        fixture_json("instagram", "api_send_request_text"),
        fixture_json("instagram", "api_send_request_react"),
    ]
    ig_bodies = [json.loads(c.request.content) for c in ig_route.calls]
    assert ig_bodies[0] == fixture_json("instagram", "api_send_request_human_agent")
    assert ig_bodies[1]["message"]["attachment"]["payload"]["url"].endswith("medidas.jpg")


async def test_instagram_allows_only_the_human_agent_tag() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(Exception, match="tag"):
            await InstagramAdapter().send(
                client, IG, TextMessage(to="1", text="x", tag="ACCOUNT_UPDATE")
            )


@respx.mock
async def test_instagram_outside_window_subcode() -> None:
    respx.post(f"{GRAPH}/17841405822304914/messages").mock(
        return_value=httpx.Response(400, json=fixture_json("instagram", "api_error_outside_window"))
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(OutsideMessagingWindowError):
            await InstagramAdapter().send(client, IG, TextMessage(to="1", text="x"))
