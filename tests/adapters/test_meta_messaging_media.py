"""Messenger and Instagram media of every kind, inbound media and its download, quick replies,
webhook subscription and Instagram's history, against the fake Graph API (respx for the CDN
and the Instagram Login host).

Outbound media is a Send API ``attachment`` of ``type`` image, video, audio or file, by URL or
by an uploaded ``attachment_id``
(https://developers.facebook.com/docs/messenger-platform/send-messages/#sending_attachments,
https://developers.facebook.com/documentation/business-messaging/instagram-messaging/features/attachment-upload
for Instagram's types, PDF files included). A voice message has no type of its own: it is
audio. Webhook attachments carry a CDN ``payload.url`` fetched without the access token
(https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/webhook-events/messages).
The account is subscribed with ``POST /{owner}/subscribed_apps`` and unsubscribed with
``DELETE`` (https://developers.facebook.com/docs/graph-api/reference/page/subscribed_apps).
Instagram's conversations are ``GET /me/conversations?platform=instagram`` and their messages
(https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/conversations-api).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from ventros_channels import InstagramConfig, InvalidRequestError, MessengerConfig
from ventros_channels.adapters._meta.fake import FakeGraph
from ventros_channels.adapters.base import ChannelAdapter
from ventros_channels.adapters.instagram import IG_FIELDS, InstagramAdapter
from ventros_channels.adapters.messenger import SUBSCRIBED_FIELDS, MessengerAdapter
from ventros_channels.capabilities import check_outbound
from ventros_channels.errors import CapabilityNotSupportedError
from ventros_channels.messaging import (
    Button,
    ButtonsMessage,
    MediaKind,
    MediaMessage,
    MessageEcho,
    MessageReceived,
)
from ventros_channels.testing.factories import SAMPLE_CONFIGS

from .conftest import fixture_bytes, fixture_json

PSID = "6523981047755321"
IGSID = "1204938563371245"
URL = "https://cdn.example.test/media.bin"


@pytest.fixture
def graph() -> FakeGraph:
    return FakeGraph(lambda: datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
async def http(graph: FakeGraph) -> AsyncIterator[httpx.AsyncClient]:
    def handle(request: httpx.Request) -> httpx.Response:
        graph.requests.append(request)
        return graph.handle(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        yield client


def platform(graph: FakeGraph, name: str) -> tuple[ChannelAdapter[Any], Any, str, dict[str, str]]:
    """Adapter, config, recipient and the ``messaging_type`` part of a reply body."""
    if name == "messenger":
        messenger = MessengerConfig.parse(graph.config("messenger"))
        return MessengerAdapter(), messenger, PSID, {"messaging_type": "RESPONSE"}
    login = name.partition(":")[2]
    instagram = InstagramConfig.parse({**graph.config("instagram"), "login": login})
    return InstagramAdapter(), instagram, IGSID, {}


OUTBOUND = [
    ("messenger", MediaKind.IMAGE, "image"),
    ("messenger", MediaKind.VIDEO, "video"),
    ("messenger", MediaKind.AUDIO, "audio"),
    ("messenger", MediaKind.VOICE, "audio"),
    ("messenger", MediaKind.DOCUMENT, "file"),
    *(
        (f"instagram:{login}", kind, kind_type)
        for login in ("facebook", "instagram")
        for kind, kind_type in (
            (MediaKind.IMAGE, "image"),
            (MediaKind.VIDEO, "video"),
            (MediaKind.AUDIO, "audio"),
            (MediaKind.DOCUMENT, "file"),
        )
    ),
]


def test_every_declared_attachment_kind_is_in_the_table() -> None:
    for adapter, prefix in ((MessengerAdapter, "messenger"), (InstagramAdapter, "instagram")):
        listed = {kind for name, kind, _ in OUTBOUND if name.startswith(prefix)}
        assert listed == set(adapter.media_kinds) - {MediaKind.STICKER}


@pytest.mark.parametrize(("name", "kind", "kind_type"), OUTBOUND, ids=str)
async def test_each_media_kind_is_an_attachment_of_its_type(
    graph: FakeGraph, http: httpx.AsyncClient, name: str, kind: MediaKind, kind_type: str
) -> None:
    adapter, config, to, head = platform(graph, name)
    by_url = MediaMessage(to=to, media_kind=kind, url=URL)
    by_id = MediaMessage(to=to, media_kind=kind, media_id="1857777774821032")
    for message in (by_url, by_id):
        check_outbound(adapter, message)
        result = await adapter.send(http, config, message)
        assert result.message_id is not None
        assert result.message_id.startswith("m_FAKE")
    bodies = [m.body for m in graph.sent]
    payloads = [{"url": URL, "is_reusable": True}, {"attachment_id": "1857777774821032"}]
    assert bodies == [
        {
            "recipient": {"id": to},
            **head,
            "message": {"attachment": {"type": kind_type, "payload": payload}},
        }
        for payload in payloads
    ]
    assert {m.platform for m in graph.sent} == {name.partition(":")[0]}
    upload = MediaMessage(to=to, media_kind=kind, data=b"x", mime_type="application/pdf")
    with pytest.raises(CapabilityNotSupportedError):  # no media_upload: bytes are refused
        check_outbound(adapter, upload)
    with pytest.raises(CapabilityNotSupportedError, match="from bytes"):
        await adapter.send(http, config, upload)
    assert len(graph.requests) == 2


@pytest.mark.parametrize("login", ["facebook", "instagram"])
async def test_instagram_buttons_are_quick_replies(
    graph: FakeGraph, http: httpx.AsyncClient, login: str
) -> None:
    """https://developers.facebook.com/docs/messenger-platform/instagram/features/quick-replies:
    ``quick_replies`` of ``content_type`` text with ``title`` and ``payload``."""
    adapter, config, to, _ = platform(graph, f"instagram:{login}")
    message = ButtonsMessage(
        to=to, text="Track?", buttons=(Button(id="TRACK", title="Track my order"),)
    )
    check_outbound(adapter, message)
    await adapter.send(http, config, message)
    (sent,) = graph.sent
    assert sent.body == {
        "recipient": {"id": to},
        "message": {
            "text": "Track?",
            "quick_replies": [
                {"content_type": "text", "title": "Track my order", "payload": "TRACK"}
            ],
        },
    }


INBOUND = [
    (MessengerAdapter(), "messenger", "message_image", MediaKind.IMAGE),
    (MessengerAdapter(), "messenger", "message_file_and_text", MediaKind.DOCUMENT),
    (MessengerAdapter(), "messenger", "message_sticker_like", MediaKind.STICKER),
    (InstagramAdapter(), "instagram", "message_image", MediaKind.IMAGE),
    (InstagramAdapter(), "instagram", "message_video", MediaKind.VIDEO),
    (InstagramAdapter(), "instagram", "message_audio", MediaKind.AUDIO),
]


@pytest.mark.parametrize(
    ("adapter", "folder", "name", "kind"), INBOUND, ids=[f"{f}-{n}" for _, f, n, _ in INBOUND]
)
@respx.mock
async def test_inbound_media_is_parsed_and_downloaded_from_its_cdn_url(
    adapter: ChannelAdapter[Any], folder: str, name: str, kind: MediaKind
) -> None:
    raw = fixture_json(folder, name)["entry"][0]["messaging"][0]["message"]["attachments"][0]
    (event,) = adapter.parse(fixture_bytes(folder, name))
    assert isinstance(event, MessageReceived)
    (attachment,) = event.attachments
    assert (attachment.kind, attachment.url) == (kind, raw["payload"]["url"])
    cdn = respx.get(attachment.url).mock(
        return_value=httpx.Response(200, content=b"MEDIA", headers={"content-type": "x/y"})
    )
    config = (MessengerConfig if folder == "messenger" else InstagramConfig).parse(
        SAMPLE_CONFIGS[folder]
    )
    async with httpx.AsyncClient() as client:
        media = await adapter.download_media(client, config, attachment)
        with pytest.raises(InvalidRequestError, match="no URL"):
            await adapter.download_media(
                client, config, attachment.model_copy(update={"url": None})
            )
    assert (media.content, media.mime_type) == (b"MEDIA", "x/y")
    assert "authorization" not in cdn.calls.last.request.headers  # the token stays with Meta


@pytest.mark.parametrize(
    ("name", "owner", "fields"),
    [
        ("messenger", "104857362819374", SUBSCRIBED_FIELDS),
        ("instagram:facebook", "104857362819374", IG_FIELDS),
        ("instagram:instagram", "me", IG_FIELDS),
    ],
)
async def test_webhook_subscription_is_made_and_removed(
    graph: FakeGraph, http: httpx.AsyncClient, name: str, owner: str, fields: str
) -> None:
    adapter, config, _, _ = platform(graph, name)
    info = await adapter.register_webhook(http, config, "https://crm.example.test/hook")
    request = graph.requests[-1]
    assert (request.method, request.url.path) == ("POST", f"/v21.0/{owner}/subscribed_apps")
    assert request.url.params["subscribed_fields"] == fields
    assert (info.url, info.active) == ("https://crm.example.test/hook", True)
    assert owner in graph.subscribed
    await adapter.unregister_webhook(http, config)
    request = graph.requests[-1]
    assert (request.method, request.url.path) == ("DELETE", f"/v21.0/{owner}/subscribed_apps")
    assert owner not in graph.subscribed


@respx.mock
async def test_instagram_history_pages_through_conversations() -> None:
    """Instagram Login flavour on graph.instagram.com: conversations of ``platform=instagram``,
    then one conversation's messages; ours (``from`` is the account) are echoes."""
    base = "https://graph.instagram.com/v21.0"
    config = InstagramConfig.parse({**SAMPLE_CONFIGS["instagram"], "login": "instagram"})
    listing = fixture_json("instagram", "api_conversations_list")
    (conversation,) = listing["data"]
    chats = respx.get(f"{base}/me/conversations").mock(
        side_effect=[
            httpx.Response(200, json=listing),
            httpx.Response(200, json={"data": [], "paging": {}}),
        ]
    )
    theirs = fixture_json("instagram", "api_message_detail")
    ours = {
        "id": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAOurs",
        "created_time": "2024-11-25T02:05:00+0000",
        "from": {"username": "acme.store", "id": "17841405822304914"},
        "to": {"data": [{"username": "ana.souza", "id": IGSID}]},
        "message": "Entregamos sim!",
    }
    thread = respx.get(f"{base}/{conversation['id']}/messages").mock(
        return_value=httpx.Response(200, json={"data": [ours, theirs], "paging": {}})
    )
    adapter = InstagramAdapter()
    async with httpx.AsyncClient() as client:
        first = await adapter.list_chats(client, config)
        second = await adapter.list_chats(client, config, cursor=first.next_cursor)
        page = await adapter.fetch_history(client, config, conversation["id"], limit=20)
    assert [c.chat_id for c in first.items] == [conversation["id"]]
    assert first.next_cursor == "QVFIUnF6cDNB"
    assert chats.calls[0].request.url.params["platform"] == "instagram"
    assert chats.calls[1].request.url.params["after"] == "QVFIUnF6cDNB"
    assert (second.items, second.next_cursor) == ((), None)
    assert thread.calls.last.request.url.params["limit"] == "20"
    echo, received = page.items
    assert isinstance(echo, MessageEcho)
    assert (echo.chat_id, echo.text) == (IGSID, "Entregamos sim!")
    assert isinstance(received, MessageReceived)
    assert (received.chat_id, received.sender_username) == (IGSID, "ana.souza")
    assert received.text == theirs["message"]
    assert page.next_cursor is None
    assert json.dumps(page.items[0].raw)  # the raw item is kept, with its conversation
