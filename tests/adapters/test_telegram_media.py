"""Telegram media of every kind, inbound and outbound, and reactions, against the fake Bot API.

Each media kind has its own send method whose file parameter is named after the kind
(https://core.telegram.org/bots/api#sendphoto, ``#senddocument``, ``#sendvideo``,
``#sendaudio``, ``#sendvoice``, ``#sendanimation``, ``#sendsticker``, ``#sendvideonote``); the
file is a file id or URL string in JSON, or an upload in a multipart form
(https://core.telegram.org/bots/api#sending-files). Video notes cannot be sent by URL
(``#sendvideonote``). Reactions are ``setMessageReaction`` (``#setmessagereaction``); inbound
media are the Message fields of the same names (``#message``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ventros_channels import CapabilityNotSupportedError, InvalidRequestError, TelegramConfig
from ventros_channels.adapters.telegram import TelegramAdapter
from ventros_channels.capabilities import check_outbound
from ventros_channels.messaging import MediaKind, MediaMessage, MessageReceived, TextMessage
from ventros_channels.messaging.outbound import OutboundMessage, Reaction, SendResult
from ventros_channels.testing.fakes import FakePlatforms

ADAPTER = TelegramAdapter()
CHAT = "4242"
Fake = tuple[FakePlatforms, httpx.AsyncClient, TelegramConfig]

KINDS = [
    (MediaKind.IMAGE, "sendPhoto", "photo", "image/jpeg"),
    (MediaKind.DOCUMENT, "sendDocument", "document", "application/pdf"),
    (MediaKind.VIDEO, "sendVideo", "video", "video/mp4"),
    (MediaKind.AUDIO, "sendAudio", "audio", "audio/mpeg"),
    (MediaKind.VOICE, "sendVoice", "voice", "audio/ogg"),
    (MediaKind.ANIMATION, "sendAnimation", "animation", "video/mp4"),
    (MediaKind.STICKER, "sendSticker", "sticker", "image/webp"),
    (MediaKind.VIDEO_NOTE, "sendVideoNote", "video_note", "video/mp4"),
]
"""Media kind, its Bot API method, the file parameter, a MIME type Telegram takes for it."""
CAPTIONLESS = {MediaKind.STICKER, MediaKind.VIDEO_NOTE}


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    fakes = FakePlatforms()
    async with fakes.client() as client:
        yield fakes, client, TelegramConfig.parse(fakes.config("telegram"))


async def send(fake: Fake, message: OutboundMessage) -> SendResult:
    """What the service does: the check before any request, then the adapter's send."""
    _, client, config = fake
    check_outbound(ADAPTER, message)
    return await ADAPTER.send(client, config, message)


def last(fakes: FakePlatforms) -> tuple[str, httpx.Request]:
    request = fakes.telegram.requests[-1]
    return request.url.path.rsplit("/", 1)[-1], request


def test_every_declared_kind_is_in_the_table() -> None:
    assert {kind for kind, *_ in KINDS} == set(ADAPTER.media_kinds)


@pytest.mark.parametrize(("kind", "method", "field", "mime"), KINDS, ids=str)
async def test_each_kind_goes_to_its_method_by_file_id_url_and_upload(
    fake: Fake, kind: MediaKind, method: str, field: str, mime: str
) -> None:
    fakes = fake[0]
    caption = {} if kind in CAPTIONLESS else {"caption": "look"}
    sent = await send(fake, MediaMessage(to=CHAT, media_kind=kind, media_id="FILEID", **caption))
    name, request = last(fakes)
    assert (name, json.loads(request.content)) == (
        method,
        {"chat_id": CHAT, field: "FILEID", **caption},
    )
    assert sent.message_id is not None
    assert sent.message_id.startswith(f"{CHAT}:")

    url = "https://files.example.test/media.bin"
    by_url = MediaMessage(to=CHAT, media_kind=kind, url=url)
    if kind is MediaKind.VIDEO_NOTE:
        before = len(fakes.telegram.requests)
        with pytest.raises(CapabilityNotSupportedError, match="video note by URL"):
            await send(fake, by_url)
        assert len(fakes.telegram.requests) == before
    else:
        await send(fake, by_url)
        name, request = last(fakes)
        assert (name, json.loads(request.content)) == (method, {"chat_id": CHAT, field: url})

    upload = MediaMessage(to=CHAT, media_kind=kind, data=b"\x00bytes", mime_type=mime, filename="f")
    await send(fake, upload)
    name, request = last(fakes)
    assert name == method
    assert request.headers["content-type"].startswith("multipart/form-data")
    part = f'name="{field}"; filename="f"\r\nContent-Type: {mime}\r\n\r\n'.encode()
    assert part + b"\x00bytes" in request.content
    assert b'name="chat_id"\r\n\r\n4242\r\n' in request.content


async def test_a_missing_file_is_refused_by_the_fake_as_by_telegram(fake: Fake) -> None:
    """The fake checks each send method's required file parameter, so the table above is
    checked against the methods' documented parameters, not only against itself."""
    _, client, config = fake
    with pytest.raises(InvalidRequestError, match="parameter video is required"):
        await ADAPTER.http.request(
            client,
            "POST",
            ADAPTER._url(config, "sendVideo"),
            idempotent=False,
            json={"chat_id": CHAT, "document": "FILEID"},
        )


async def test_a_reaction_is_set_and_removed(fake: Fake) -> None:
    """``reaction`` is a list of ReactionTypeEmoji (bots set one at most); an empty list
    removes the bot's reaction. The message id is the number after ``chat:``."""
    fakes = fake[0]
    sent = await send(fake, TextMessage(to=CHAT, text="hi"))
    assert sent.message_id is not None
    number = int(sent.message_id.split(":")[1])
    result = await send(fake, Reaction(to=CHAT, message_id=sent.message_id, emoji="👍"))
    name, request = last(fakes)
    assert (name, json.loads(request.content)) == (
        "setMessageReaction",
        {"chat_id": CHAT, "message_id": number, "reaction": [{"type": "emoji", "emoji": "👍"}]},
    )
    assert result.message_id is None  # an action, not a new message
    assert fakes.telegram.reactions[(CHAT, number)] == [{"type": "emoji", "emoji": "👍"}]
    await send(fake, Reaction(to=CHAT, message_id=str(number)))
    assert json.loads(last(fakes)[1].content)["reaction"] == []
    assert fakes.telegram.reactions[(CHAT, number)] == []


def _update(content: dict[str, Any]) -> bytes:
    message = {
        "message_id": 7,
        "date": 1732500000,
        "chat": {"id": 4242, "type": "private", "first_name": "Ana"},
        "from": {"id": 4242, "is_bot": False, "first_name": "Ana"},
        **content,
    }
    return json.dumps({"update_id": 1, "message": message}).encode()


def _file(file_id: str, **extra: Any) -> dict[str, Any]:
    return {"file_id": file_id, "file_unique_id": f"u-{file_id}", **extra}


INBOUND = [
    (
        MediaKind.VIDEO,
        {"video": _file("vid", width=640, height=360, duration=12, mime_type="video/mp4")},
    ),
    (MediaKind.AUDIO, {"audio": _file("aud", duration=200, mime_type="audio/mpeg")}),
    (MediaKind.VIDEO_NOTE, {"video_note": _file("note", length=240, duration=9)}),
    (
        MediaKind.STICKER,
        {
            "sticker": _file(
                "stk", type="regular", width=512, height=512, is_animated=False, is_video=False
            )
        },
    ),
    (
        # an animation also comes as ``document`` for older clients: one file, one attachment
        MediaKind.ANIMATION,
        {
            "animation": _file("gif", width=320, height=240, duration=3, mime_type="video/mp4"),
            "document": _file("gif", mime_type="video/mp4"),
        },
    ),
]


@pytest.mark.parametrize(("kind", "content"), INBOUND, ids=lambda v: str(v)[:12])
def test_inbound_media_of_each_kind_is_one_attachment_with_its_file_id(
    kind: MediaKind, content: dict[str, Any]
) -> None:
    """The photo, voice and document kinds are checked against fixtures in test_telegram."""
    (event,) = ADAPTER.parse(_update({**content, "caption": "c"}))
    assert isinstance(event, MessageReceived)
    (attachment,) = event.attachments
    raw = next(iter(content.values()))
    assert (attachment.kind, attachment.media_id, attachment.caption) == (
        kind,
        raw["file_id"],
        "c",
    )
    assert attachment.duration == raw.get("duration")
    assert attachment.mime_type == raw.get("mime_type")
