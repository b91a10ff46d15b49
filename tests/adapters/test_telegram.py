"""Telegram adapter: every fixture, verification, sends, errors, webhook management."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
import pytest
import respx

from ventros_channels import (
    AuthenticationError,
    ChatMigratedError,
    PlatformError,
    RateLimitedError,
    RecipientUnavailableError,
    TelegramConfig,
    WebhookPayloadError,
    WebhookVerificationError,
)
from ventros_channels.adapters.telegram import TelegramAdapter
from ventros_channels.http import RETRY_AFTER_CAP
from ventros_channels.messaging import (
    BotMembershipChanged,
    Button,
    ButtonsMessage,
    ChatType,
    MediaKind,
    MediaMessage,
    MessageEdited,
    MessageReceived,
    Postback,
    ReactionChanged,
    TextMessage,
    Unsupported,
)
from ventros_channels.testing.contract import AdapterContract
from ventros_channels.testing.factories import SAMPLE_CONFIGS
from ventros_channels.webhooks import VerificationKeys, WebhookRequest

from .conftest import Sleeps, fixture_bytes, fixture_json, webhook_samples

TOKEN = SAMPLE_CONFIGS["telegram"]["bot_token"]
API = f"https://api.telegram.org/bot{TOKEN}"
CONFIG = TelegramConfig.parse(SAMPLE_CONFIGS["telegram"])
ADAPTER = TelegramAdapter()


def parse_one(name: str) -> object:
    (event,) = ADAPTER.parse(fixture_bytes("telegram", name), CONFIG)
    return event


class TestTelegramContract(AdapterContract):
    @pytest.fixture
    def adapter(self) -> TelegramAdapter:
        return TelegramAdapter()

    @pytest.fixture
    def config(self) -> TelegramConfig:
        return CONFIG

    @pytest.fixture
    def samples(self) -> Sequence[bytes]:
        return webhook_samples("telegram")

    @pytest.fixture
    def rate_limited_response(self) -> httpx.Response:
        return httpx.Response(
            429,
            json={
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 7",
                "parameters": {"retry_after": 7},
            },
        )


def test_private_text_message() -> None:
    event = parse_one("message_text_private")
    assert isinstance(event, MessageReceived)
    assert event.chat_id == "123456789"
    assert event.chat_type is ChatType.DIRECT
    assert event.message_id == "123456789:1001"
    assert event.sender_name == "Ana Souza"
    assert event.text is not None
    assert event.text.startswith("Oi!")
    assert event.idempotency_key == "telegram:7000000001:845610001"
    assert event.account_id == "7000000001"
    assert event.timestamp.tzinfo is not None


def test_photo_keeps_the_largest_size_and_the_others_as_variants() -> None:
    event = parse_one("message_photo_caption")
    assert isinstance(event, MessageReceived)
    (photo,) = event.attachments
    message = fixture_json("telegram", "message_photo_caption")["message"]
    raw = message["photo"]
    assert photo.media_id == raw[-1]["file_id"]
    assert [v.media_id for v in photo.variants] == [p["file_id"] for p in raw[:-1]]
    assert photo.caption == message["caption"]


def test_voice_document_reply_and_forum_topic() -> None:
    voice = parse_one("message_voice")
    assert isinstance(voice, MessageReceived)
    assert voice.attachments[0].kind is MediaKind.VOICE
    assert voice.attachments[0].mime_type == "audio/ogg"
    document = parse_one("message_document")
    assert isinstance(document, MessageReceived)
    assert document.attachments[0].kind is MediaKind.DOCUMENT
    assert document.attachments[0].filename
    reply = parse_one("message_reply")
    assert isinstance(reply, MessageReceived)
    assert reply.reply_to == "123456789:1000"
    topic = parse_one("message_group_forum_topic")
    assert isinstance(topic, MessageReceived)
    assert (topic.chat_type, topic.thread_id) == (ChatType.GROUP, "40")


def test_media_group_parts_share_their_group_id() -> None:
    first, second = parse_one("media_group_part1"), parse_one("media_group_part2")
    assert isinstance(first, MessageReceived)
    assert isinstance(second, MessageReceived)
    assert first.media_group_id == second.media_group_id is not None
    assert first.attachments[0].caption is not None


def test_channel_post_edit_callback_reaction_membership_unknown() -> None:
    post = parse_one("channel_post")
    assert isinstance(post, MessageReceived)
    assert post.chat_type is ChatType.CHANNEL
    edit = parse_one("edited_message")
    assert isinstance(edit, MessageEdited)
    assert edit.target_message_id == "123456789:1001"
    callback = parse_one("callback_query")
    assert isinstance(callback, Postback)
    assert callback.payload == fixture_json("telegram", "callback_query")["callback_query"]["data"]
    assert callback.callback_id
    reaction = parse_one("message_reaction")
    assert isinstance(reaction, ReactionChanged)
    assert reaction.target_message_id == "123456789:1012"
    assert reaction.emoji
    blocked = parse_one("my_chat_member_blocked")
    assert isinstance(blocked, BotMembershipChanged)
    assert blocked.blocked
    assert blocked.new_status == "kicked"
    unknown = parse_one("unknown_update_type")
    assert isinstance(unknown, Unsupported)
    assert unknown.raw == fixture_json("telegram", "unknown_update_type")


def test_migrated_group_service_message_is_reported() -> None:
    body = json.dumps(
        {
            "update_id": 99,
            "message": {
                "message_id": 5,
                "date": 1732500000,
                "chat": {"id": -4012345678, "type": "group", "title": "Team"},
                "from": {"id": 1, "is_bot": False, "first_name": "A"},
                "migrate_to_chat_id": -1001234567890,
            },
        }
    ).encode()
    (event,) = ADAPTER.parse(body, CONFIG)
    assert event.kind == "chat_migrated"
    assert getattr(event, "new_chat_id", None) == "-1001234567890"


def test_not_an_update_is_a_payload_error() -> None:
    with pytest.raises(WebhookPayloadError):
        ADAPTER.parse(b'{"message": {}}', CONFIG)


def test_secret_token_header() -> None:
    secret = CONFIG.webhook_secret()
    assert secret is not None
    keys = VerificationKeys((secret,), now=datetime.now(UTC))
    body = fixture_bytes("telegram", "message_text_private")
    ADAPTER.verify(
        WebhookRequest("POST", body, {"X-Telegram-Bot-Api-Secret-Token": "test-telegram-secret"}),
        keys,
    )
    with pytest.raises(WebhookVerificationError):
        ADAPTER.verify(
            WebhookRequest("POST", body, {"X-Telegram-Bot-Api-Secret-Token": "nope"}), keys
        )


@respx.mock
async def test_send_text_with_reply_and_thread() -> None:
    route = respx.post(f"{API}/sendMessage").mock(
        return_value=httpx.Response(200, json=fixture_json("telegram", "api_sendMessage_ok"))
    )
    async with httpx.AsyncClient() as client:
        result = await ADAPTER.send(
            client,
            CONFIG,
            TextMessage(
                to="123456789",
                text="*hi*",
                parse_mode="MarkdownV2",
                reply_to="123456789:1001",
                thread_id="40",
            ),
        )
    sent = json.loads(route.calls.last.request.content)
    assert sent["reply_parameters"]["message_id"] == 1001
    assert sent["message_thread_id"] == 40
    assert sent["parse_mode"] == "MarkdownV2"
    answer = fixture_json("telegram", "api_sendMessage_ok")["result"]
    assert result.message_id == f"{answer['chat']['id']}:{answer['message_id']}"


@respx.mock
async def test_buttons_become_an_inline_keyboard_and_media_by_url() -> None:
    msg = respx.post(f"{API}/sendMessage").mock(
        return_value=httpx.Response(200, json=fixture_json("telegram", "api_sendMessage_ok"))
    )
    photo = respx.post(f"{API}/sendPhoto").mock(
        return_value=httpx.Response(200, json=fixture_json("telegram", "api_sendMessage_ok"))
    )
    async with httpx.AsyncClient() as client:
        await ADAPTER.send(
            client,
            CONFIG,
            ButtonsMessage(
                to="1", text="Pick", buttons=(Button(id="a", title="A"), Button(id="b", title="B"))
            ),
        )
        await ADAPTER.send(
            client,
            CONFIG,
            MediaMessage(
                to="1",
                media_kind=MediaKind.IMAGE,
                url="https://img.example.test/x.png",
                caption="c",
            ),
        )
    keyboard = json.loads(msg.calls.last.request.content)["reply_markup"]["inline_keyboard"]
    assert keyboard == [
        [{"text": "A", "callback_data": "a"}],
        [{"text": "B", "callback_data": "b"}],
    ]
    assert json.loads(photo.calls.last.request.content)["photo"] == "https://img.example.test/x.png"


@respx.mock
async def test_upload_goes_multipart() -> None:
    route = respx.post(f"{API}/sendDocument").mock(
        return_value=httpx.Response(200, json=fixture_json("telegram", "api_sendMessage_ok"))
    )
    async with httpx.AsyncClient() as client:
        await ADAPTER.send(
            client,
            CONFIG,
            MediaMessage(
                to="1",
                media_kind=MediaKind.DOCUMENT,
                data=b"%PDF-1.4",
                mime_type="application/pdf",
                filename="a.pdf",
            ),
        )
    request = route.calls.last.request
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b"%PDF-1.4" in request.content


@respx.mock
async def test_429_waits_retry_after_then_succeeds(sleeps: Sleeps) -> None:
    route = respx.post(f"{API}/sendMessage").mock(
        side_effect=[
            httpx.Response(429, json=fixture_json("telegram", "api_error_429")),
            httpx.Response(200, json=fixture_json("telegram", "api_sendMessage_ok")),
        ]
    )
    adapter = TelegramAdapter(policy=sleeps.policy())
    async with httpx.AsyncClient() as client:
        await adapter.send(client, CONFIG, TextMessage(to="1", text="hi"))
    assert route.call_count == 2
    assert sleeps.waits == [35.0]


@respx.mock
async def test_error_envelope_maps_to_typed_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    respx.post(f"{API}/sendMessage").mock(
        side_effect=[
            httpx.Response(401, json=fixture_json("telegram", "api_error_unauthorized")),
            httpx.Response(403, json=fixture_json("telegram", "api_error_blocked")),
            httpx.Response(400, json=fixture_json("telegram", "api_error_migrated")),
        ]
    )
    errors = []
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            try:
                await ADAPTER.send(client, CONFIG, TextMessage(to="-4012345678", text="hi"))
            except Exception as exc:
                errors.append(exc)
    assert isinstance(errors[0], AuthenticationError)
    assert isinstance(errors[1], RecipientUnavailableError)
    assert isinstance(errors[2], ChatMigratedError)
    assert errors[2].new_chat_id == "-1001234567890"
    for error in errors:
        assert TOKEN not in str(error)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


async def test_a_throttle_hint_longer_than_the_cap_is_raised() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            json={
                "ok": False,
                "error_code": 429,
                "description": "wait",
                "parameters": {"retry_after": 9999},
            },
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as client:
        with pytest.raises(RateLimitedError) as caught:
            await ADAPTER.send(client, CONFIG, TextMessage(to="1", text="hi"))
    assert caught.value.retry_after == 9999


@pytest.mark.parametrize(
    ("header", "expected"),
    [("12", 12.0), ("Thu, 01 Jan 2026 12:00:30 GMT", None), ("soon", None)],
)
def test_throttle_without_a_body_hint_reads_the_header_in_both_forms(
    header: str, expected: float | None
) -> None:
    """Telegram's own hint is ``parameters.retry_after``; a proxy in front may only send the
    header, as seconds or as an HTTP date."""
    body = {"ok": False, "error_code": 429, "description": "Too Many Requests"}
    response = httpx.Response(429, json=body, headers={"Retry-After": header})
    error = ADAPTER._map_error(response, lambda text: text)
    assert isinstance(error, RateLimitedError)
    if header.startswith("Thu"):  # a date in the past: wait no longer
        assert error.retry_after == 0.0
    else:
        assert error.retry_after == expected


def test_a_junk_or_huge_body_hint_is_capped_not_a_crash() -> None:
    for hint, expected in ((10**400, RETRY_AFTER_CAP), ("junk", None), (-5, 0.0), (2.5, 2.5)):
        body = {"ok": False, "error_code": 429, "parameters": {"retry_after": hint}}
        error = ADAPTER._map_error(httpx.Response(429, json=body), lambda text: text)
        assert isinstance(error, RateLimitedError)
        assert error.retry_after == expected
    odd = {"ok": False, "error_code": 429, "parameters": ["not", "an", "object"]}
    assert isinstance(ADAPTER._map_error(httpx.Response(429, json=odd), str), RateLimitedError)


@respx.mock
async def test_webhook_registration_and_info_and_connection() -> None:
    set_hook = respx.post(f"{API}/setWebhook").mock(
        return_value=httpx.Response(200, json={"ok": True, "result": True})
    )
    respx.post(f"{API}/getWebhookInfo").mock(
        return_value=httpx.Response(200, json=fixture_json("telegram", "api_getWebhookInfo_ok"))
    )
    respx.post(f"{API}/getMe").mock(
        return_value=httpx.Response(200, json=fixture_json("telegram", "api_getMe_ok"))
    )
    respx.post(f"{API}/deleteWebhook").mock(
        return_value=httpx.Response(200, json={"ok": True, "result": True})
    )
    async with httpx.AsyncClient() as client:
        await ADAPTER.register_webhook(
            client, CONFIG, "https://crm.example.test/webhooks/telegram/x"
        )
        info = await ADAPTER.webhook_info(client, CONFIG)
        me = await ADAPTER.test_connection(client, CONFIG)
        await ADAPTER.unregister_webhook(client, CONFIG)
    sent = json.loads(set_hook.calls.last.request.content)
    assert sent["secret_token"] == "test-telegram-secret"
    assert "message_reaction" in sent["allowed_updates"]
    assert info.url == fixture_json("telegram", "api_getWebhookInfo_ok")["result"]["url"]
    assert me.account_id == str(fixture_json("telegram", "api_getMe_ok")["result"]["id"])


@respx.mock
async def test_download_goes_through_get_file() -> None:
    respx.post(f"{API}/getFile").mock(
        return_value=httpx.Response(200, json=fixture_json("telegram", "api_getFile_ok"))
    )
    respx.get(f"https://api.telegram.org/file/bot{TOKEN}/documents/file_12.pdf").mock(
        return_value=httpx.Response(
            200, content=b"%PDF", headers={"content-type": "application/pdf"}
        )
    )
    document = parse_one("message_document")
    assert isinstance(document, MessageReceived)
    async with httpx.AsyncClient() as client:
        media = await ADAPTER.download_media(client, CONFIG, document.attachments[0])
    assert media.content == b"%PDF"
    assert media.filename


def chain(error: BaseException | None) -> list[BaseException]:
    """The error and everything chained to it, as an error reporter walks it."""
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.ReadError]
)
@pytest.mark.parametrize("attempts", [1, 3])
async def test_transport_errors_chain_nothing_that_holds_the_bot_token(
    failure: type[httpx.TransportError], attempts: int, sleeps: Sleeps
) -> None:
    """httpx's error holds the request, whose URL holds the token: it must not be chained."""

    def platform(request: httpx.Request) -> httpx.Response:
        raise failure(f"failed talking to {request.url}", request=request)

    adapter = TelegramAdapter(policy=sleeps.policy(attempts))
    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as client:
        for call in (
            adapter.test_connection(client, CONFIG),
            adapter.send(client, CONFIG, TextMessage(to="1", text="hi")),
        ):
            with pytest.raises(PlatformError) as caught:
                await call
            links = chain(caught.value)
            assert links == [caught.value], f"chained: {links[1:]!r}"
            for link in links:
                shown = " ".join([str(link), repr(link), repr(link.args), repr(vars(link))])
                assert TOKEN not in shown
