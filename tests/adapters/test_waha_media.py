"""WAHA media of every kind, uploads, reactions, media download, webhook registration and QR
pairing, against the fake WAHA server (respx for the media file WAHA serves).

Requests follow WAHA's API: images, voice messages and videos have their own endpoints and
other files go through ``sendFile``; each takes ``file`` as ``{mimetype, filename, url}`` or
with base64 ``data`` instead of ``url``
(https://waha.devlike.pro/docs/how-to/send-messages/). A reaction is ``PUT /api/reaction``
with ``messageId`` and ``reaction`` (an empty string removes it; same page). Received media is
served by WAHA at the message's ``media.url`` behind the API key
(https://waha.devlike.pro/docs/how-to/receive-messages/). The webhook lives in the session's
config (``POST /api/sessions``, ``PUT /api/sessions/{session}``) and pairing is
``/api/{session}/auth/qr`` or ``/auth/request-code``
(https://waha.devlike.pro/docs/how-to/sessions/).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from ventros_channels import InvalidRequestError, WAHAConfig
from ventros_channels.adapters.waha import WAHAAdapter
from ventros_channels.adapters.waha.fake import QR_PNG
from ventros_channels.capabilities import check_outbound
from ventros_channels.messaging import (
    MediaKind,
    MediaMessage,
    MessageReceived,
    SessionStatusChanged,
    TextMessage,
)
from ventros_channels.messaging.outbound import OutboundMessage, Reaction, SendResult
from ventros_channels.testing.fakes import FakePlatforms, FakeWAHA

from .conftest import fixture_bytes

CHAT = "15551234567@c.us"
HOOK = "https://crm.example.test/webhooks/waha/1"

KINDS = [
    (MediaKind.IMAGE, "sendImage", "image/jpeg"),
    (MediaKind.VIDEO, "sendVideo", "video/mp4"),
    (MediaKind.VOICE, "sendVoice", "audio/ogg; codecs=opus"),
    (MediaKind.DOCUMENT, "sendFile", "application/pdf"),
    # WAHA has no endpoint for a music file: it goes as a file, shown as a document
    (MediaKind.AUDIO, "sendFile", "audio/mpeg"),
]
"""Media kind, WAHA endpoint, a MIME type of that kind."""


class Fake:
    def __init__(self, fakes: FakePlatforms, client: httpx.AsyncClient) -> None:
        self.waha: FakeWAHA = fakes.waha
        self.client = client
        self.adapter = WAHAAdapter()
        self.config = WAHAConfig.parse(fakes.config("waha"))

    def working(self) -> None:
        self.waha.sessions["default"] = {"name": "default", "status": "WORKING", "config": None}
        self.waha.paired.add("default")

    async def send(self, message: OutboundMessage) -> SendResult:
        check_outbound(self.adapter, message)
        return await self.adapter.send(self.client, self.config, message)

    def last(self) -> tuple[str, str, Any]:
        request = self.waha.requests[-1]
        body = json.loads(request.content) if request.content else None
        return request.method, request.url.path, body


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    fakes = FakePlatforms()
    async with fakes.client() as client:
        yield Fake(fakes, client)


def test_every_declared_kind_is_in_the_table() -> None:
    assert {kind for kind, *_ in KINDS} == set(WAHAAdapter.media_kinds)


@pytest.mark.parametrize(("kind", "endpoint", "mime"), KINDS, ids=str)
async def test_each_kind_by_url_and_by_upload(
    fake: Fake, kind: MediaKind, endpoint: str, mime: str
) -> None:
    fake.working()
    url = "https://files.example.test/a.bin"
    message = MediaMessage(
        to=CHAT, media_kind=kind, url=url, mime_type=mime, filename="a.bin", caption="look"
    )
    sent = await fake.send(message)
    file = {"mimetype": mime, "filename": "a.bin", "url": url}
    body = {"session": "default", "chatId": CHAT, "file": file, "caption": "look"}
    assert fake.last() == ("POST", f"/api/{endpoint}", body)
    assert sent.message_id is not None
    assert sent.message_id in fake.waha.messages

    upload = MediaMessage(
        to=CHAT, media_kind=kind, data=b"\x00raw", mime_type=mime, reply_to="3EB0X"
    )
    await fake.send(upload)
    method, path, body = fake.last()
    assert (method, path) == ("POST", f"/api/{endpoint}")
    assert body == {
        "session": "default",
        "chatId": CHAT,
        "file": {
            "mimetype": mime,
            "filename": "file",
            "data": base64.b64encode(b"\x00raw").decode(),
        },
        "reply_to": "3EB0X",
    }


async def test_a_reaction_is_put_and_removed_with_an_empty_string(fake: Fake) -> None:
    fake.working()
    sent = await fake.send(TextMessage(to=CHAT, text="hi"))
    assert sent.message_id is not None
    result = await fake.send(Reaction(to=CHAT, message_id=sent.message_id, emoji="👍"))
    body = {"session": "default", "messageId": sent.message_id, "reaction": "👍"}
    assert fake.last() == ("PUT", "/api/reaction", body)
    assert result.message_id is None
    assert fake.waha.reactions[sent.message_id] == "👍"
    await fake.send(Reaction(to=CHAT, message_id=sent.message_id))
    assert fake.last()[2]["reaction"] == ""
    assert fake.waha.reactions[sent.message_id] == ""


@respx.mock
async def test_received_media_is_downloaded_from_waha_with_the_api_key() -> None:
    adapter = WAHAAdapter()
    config = WAHAConfig.parse(
        {
            "base_url": "http://localhost:3000",
            "session_id": "default",
            "auth": {"type": "api_key", "api_key": "the-api-key"},
        }
    )
    (event,) = adapter.parse(fixture_bytes("waha", "message_image_with_caption"), config)
    assert isinstance(event, MessageReceived)
    (image,) = event.attachments
    assert image.url is not None
    route = respx.get(image.url).mock(
        return_value=httpx.Response(200, content=b"JPEG", headers={"content-type": "image/jpeg"})
    )
    async with httpx.AsyncClient() as client:
        media = await adapter.download_media(client, config, image)
        (pending,) = adapter.parse(fixture_bytes("waha", "message_media_not_downloaded"), config)
        assert isinstance(pending, MessageReceived)
        with pytest.raises(InvalidRequestError, match="did not download"):
            await adapter.download_media(client, config, pending.attachments[0])
    assert (media.content, media.mime_type) == (b"JPEG", "image/jpeg")
    assert route.calls.last.request.headers["x-api-key"] == "the-api-key"
    assert route.call_count == 1


async def test_webhook_is_registered_read_and_removed_in_the_session_config(fake: Fake) -> None:
    """A new session is created with the webhook (not started); an existing one is updated;
    removing it leaves the session without webhooks."""
    adapter, client, config = fake.adapter, fake.client, fake.config
    await adapter.register_webhook(client, config, HOOK)
    assert [(r.method, r.url.path) for r in fake.waha.requests] == [
        ("PUT", "/api/sessions/default"),  # 404: no such session yet
        ("POST", "/api/sessions"),
    ]
    created = json.loads(fake.waha.requests[-1].content)
    assert created["start"] is False
    (hook,) = created["config"]["webhooks"]
    assert (hook["url"], hook["hmac"]) == (HOOK, {"key": fake.waha.hmac_key})
    assert hook["events"] == list(config.webhook_events)
    info = await adapter.webhook_info(client, config)
    assert (info.url, info.active) == (HOOK, True)

    await adapter.register_webhook(client, config, HOOK + "/v2")
    assert fake.last()[:2] == ("PUT", "/api/sessions/default")
    assert fake.waha.webhook_url() == HOOK + "/v2"

    await adapter.unregister_webhook(client, config)
    assert fake.last() == (
        "PUT",
        "/api/sessions/default",
        {"name": "default", "config": {"webhooks": []}},
    )
    info = await adapter.webhook_info(client, config)
    assert (info.url, info.active) == (None, False)


async def test_qr_pairing_from_a_new_session_to_working(fake: Fake) -> None:
    """Start, show the QR code (raw value and PNG) or a code for a phone number, the phone
    scans, WAHA reports WORKING by webhook and the session answers WORKING."""
    adapter, client, config = fake.adapter, fake.client, fake.config
    await adapter.register_webhook(client, config, HOOK)
    assert await adapter.session_status(client, config) == "STOPPED"
    assert await adapter.start_session(client, config) == "SCAN_QR_CODE"
    value = await adapter.get_qr_code(client, config)
    assert value.startswith("2@")
    assert ",default," in value
    assert fake.last()[1] == "/api/default/auth/qr"
    assert fake.waha.requests[-1].url.params["format"] == "raw"
    assert await adapter.get_qr_image(client, config) == QR_PNG
    assert fake.waha.requests[-1].url.params["format"] == "image"
    code = await adapter.request_pairing_code(client, config, "+15550009876")
    assert code == "FAKE-9876"
    assert fake.last() == ("POST", "/api/default/auth/request-code", {"phoneNumber": "15550009876"})

    scanned = fake.waha.pair()
    (event,) = adapter.parse(scanned.body, config)
    assert isinstance(event, SessionStatusChanged)
    assert event.status == "WORKING"
    assert await adapter.session_status(client, config) == "WORKING"
    connection = await adapter.test_connection(client, config)
    assert connection.display_name == "Fake Shop"
