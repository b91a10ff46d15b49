"""Messenger and Instagram: sender actions, reactions, stickers, profiles, limits and windows,
against the fake Graph API (which answers as Meta documents; each test names its page)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ventros_channels import InstagramConfig, MessengerConfig
from ventros_channels.adapters._meta.fake import GRAPH_HOST, FakeGraph
from ventros_channels.adapters.base import Capability, ChannelAdapter
from ventros_channels.adapters.instagram import InstagramAdapter
from ventros_channels.adapters.instagram import _limits as ig_limits
from ventros_channels.adapters.messenger import MessengerAdapter
from ventros_channels.adapters.messenger import _limits as fb_limits
from ventros_channels.capabilities import check_outbound, limits_of
from ventros_channels.errors import (
    CapabilityNotSupportedError,
    InvalidInputError,
    InvalidRequestError,
    MessageLimitError,
    PermissionDeniedError,
)
from ventros_channels.messaging import MediaKind, OutboundLimits, SharedContact
from ventros_channels.messaging import outbound as out

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PSID = "6523981047755321"
IGSID = "1204938563371245"
AVATAR = "https://platform-lookaside.fbsbx.com/platform/profilepic/?psid=6523981047755321&height=50&ext=1&hash=AbZ"


@pytest.fixture
def graph() -> FakeGraph:
    return FakeGraph(lambda: NOW)


@pytest.fixture
async def http(graph: FakeGraph) -> AsyncIterator[httpx.AsyncClient]:
    def handle(request: httpx.Request) -> httpx.Response:
        graph.requests.append(request)
        return graph.handle(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        yield client


def fb(graph: FakeGraph) -> MessengerConfig:
    return MessengerConfig.parse(graph.config("messenger"))


def ig(graph: FakeGraph, login: str = "facebook") -> InstagramConfig:
    return InstagramConfig.parse({**graph.config("instagram"), "login": login})


async def send_all(
    adapter: ChannelAdapter[Any], http: httpx.AsyncClient, config: Any, messages: list[Any]
) -> None:
    for message in messages:
        check_outbound(adapter, message)  # the service's check before any request passes
        await adapter.send(http, config, message)


# ---------------------------------------------------------------- sender actions


async def test_messenger_sender_actions_and_reactions(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    """Typing on/off, mark_seen and react/unreact go alone (no ``message``), react with any
    emoji, unreact with the message id only.

    https://developers.facebook.com/documentation/business-messaging/messenger-platform/send-messages/sender-actions
    https://developers.facebook.com/docs/messenger-platform/reference/send-api/
    """
    mid = "m_PageMsg000000000000002"
    await send_all(
        MessengerAdapter(),
        http,
        fb(graph),
        [
            out.Typing(to=PSID),
            out.Typing(to=PSID, on=False, activity="recording"),
            out.MarkAsRead(to=PSID, message_id=mid),
            out.Reaction(to=PSID, message_id=mid, emoji="😊"),
            out.Reaction(to=PSID, message_id=mid),
        ],
    )
    to = {"id": PSID}
    assert [a.body for a in graph.actions] == [
        {"recipient": to, "sender_action": "typing_on"},
        {"recipient": to, "sender_action": "typing_off"},
        {"recipient": to, "sender_action": "mark_seen"},
        {
            "recipient": to,
            "sender_action": "react",
            "payload": {"message_id": mid, "reaction": "😊"},
        },
        {"recipient": to, "sender_action": "unreact", "payload": {"message_id": mid}},
    ]
    assert {a.platform for a in graph.actions} == {"messenger"}
    assert {r.url.path for r in graph.requests} == {"/v21.0/104857362819374/messages"}


@pytest.mark.parametrize(
    ("login", "path"),
    [("facebook", "/v21.0/104857362819374/messages"), ("instagram", "/v21.0/me/messages")],
)
async def test_instagram_sender_actions_for_both_logins(
    graph: FakeGraph, http: httpx.AsyncClient, login: str, path: str
) -> None:
    """Instagram takes the same sender actions on ``/{PAGE-ID}/messages`` (Facebook login,
    the linked Page) and ``/me/messages`` (Instagram login); a reaction names the message
    and an emoji.

    https://developers.facebook.com/docs/messenger-platform/instagram/features/sender-actions
    https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message
    """
    mid = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQx"
    await send_all(
        InstagramAdapter(),
        http,
        ig(graph, login),
        [
            out.Typing(to=IGSID),
            out.Typing(to=IGSID, on=False),
            out.MarkAsRead(to=IGSID, message_id=mid),
            out.Reaction(to=IGSID, message_id=mid, emoji="love"),
            out.Reaction(to=IGSID, message_id=mid),
        ],
    )
    assert [a.kind for a in graph.actions] == [
        "typing_on",
        "typing_off",
        "mark_seen",
        "react",
        "unreact",
    ]
    assert graph.actions[3].body["payload"] == {"message_id": mid, "reaction": "love"}
    assert graph.actions[4].body == {
        "recipient": {"id": IGSID},
        "sender_action": "unreact",
        "payload": {"message_id": mid},
    }
    assert {r.url.path for r in graph.requests} == {path}


async def test_the_fake_refuses_sender_actions_meta_would_refuse(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    """A sender action goes alone, and only react/unreact carry a payload (the fake holds the
    adapters to the documented shape, so a wrong body cannot pass unnoticed)."""
    url = f"{GRAPH_HOST}/v21.0/{graph.page_id}/messages"
    headers = {"Authorization": f"Bearer {graph.page_token}"}
    bad = [
        {"recipient": {"id": PSID}, "sender_action": "typing_on", "message": {"text": "x"}},
        {"recipient": {"id": PSID}, "sender_action": "react", "payload": {"message_id": "m"}},
        {"recipient": {"id": PSID}, "sender_action": "mark_seen", "payload": {"message_id": "m"}},
        {"recipient": {"id": PSID}, "sender_action": "wave"},
    ]
    for body in bad:
        answer = await http.post(url, json=body, headers=headers)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == 100
    assert graph.actions == []


# ---------------------------------------------------------------- stickers


async def test_messenger_sends_a_catalog_sticker_by_its_id(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    """A sticker goes as ``message.sticker_id`` (a number) from Meta's sticker catalog.

    https://developers.facebook.com/documentation/business-messaging/messenger-platform/send-messages/sticker-api
    """
    adapter, config = MessengerAdapter(), fb(graph)
    sticker = out.MediaMessage(to=PSID, media_kind=MediaKind.STICKER, media_id="767226160478561")
    await send_all(adapter, http, config, [sticker])
    assert graph.sent[-1].body == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {"sticker_id": 767226160478561},
    }
    by_url = out.MediaMessage(to=PSID, media_kind=MediaKind.STICKER, url="https://x.test/s.webp")
    with pytest.raises(CapabilityNotSupportedError, match="sticker_id"):
        await adapter.send(http, config, by_url)
    with pytest.raises(InvalidInputError) as caught:
        await adapter.send(http, config, sticker.model_copy(update={"media_id": "thumbs-up"}))
    assert caught.value.fields == ("media_id",)
    with pytest.raises(MessageLimitError, match="caption"):
        check_outbound(adapter, sticker.model_copy(update={"caption": "hi"}))
    assert len(graph.requests) == 1


async def test_instagram_sends_its_heart_sticker(graph: FakeGraph, http: httpx.AsyncClient) -> None:
    """Instagram's one sticker is the heart: ``attachment.type`` ``like_heart``, no payload.

    https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message
    """
    adapter, config = InstagramAdapter(), ig(graph)
    heart = out.MediaMessage(to=IGSID, media_kind=MediaKind.STICKER, media_id="like_heart")
    await send_all(adapter, http, config, [heart])
    assert graph.sent[-1].body == {
        "recipient": {"id": IGSID},
        "message": {"attachment": {"type": "like_heart"}},
    }
    with pytest.raises(CapabilityNotSupportedError, match="like_heart"):
        await adapter.send(http, config, heart.model_copy(update={"media_id": "369239263222822"}))
    assert len(graph.requests) == 1


# ---------------------------------------------------------------- profiles


async def test_messenger_profile_from_the_user_profile_api(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    """``GET /{PSID}?fields=first_name,last_name,profile_pic`` with the Page token; the token
    goes in the Authorization header, never into the profile.

    https://developers.facebook.com/docs/messenger-platform/identity/user-profile
    """
    graph.add_profile(PSID, first_name="Peter", last_name="Chang", profile_pic=AVATAR)
    profile = await MessengerAdapter().fetch_profile(http, fb(graph), PSID)
    assert (profile.user_id, profile.display_name, profile.avatar_url) == (
        PSID,
        "Peter Chang",
        AVATAR,
    )
    assert profile.username is None
    (request,) = graph.requests
    assert request.method == "GET"
    assert request.url.path == f"/v21.0/{PSID}"
    assert dict(request.url.params) == {"fields": "first_name,last_name,profile_pic"}
    assert request.headers["authorization"] == f"Bearer {graph.page_token}"
    for shown in (repr(profile), str(profile.raw), str(request.url)):
        assert graph.page_token not in shown
    assert AVATAR not in repr(profile)  # signed CDN links stay out of logs


async def test_messenger_profile_refusals_are_typed(
    graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    """No profile for accounts made with a phone number (code 100, subcode 2018218), none
    before the person wrote to the Page, an unknown id; an id that is not a PSID is refused
    before any request (it would become the request's path).

    https://developers.facebook.com/docs/messenger-platform/identity/user-profile
    """
    adapter, config = MessengerAdapter(), fb(graph)
    graph.add_profile("111", first_name="Phone")
    graph.no_profile.add("111")
    graph.add_profile("222", first_name="Silent", opted_in=False)
    with pytest.raises(PermissionDeniedError) as no_profile:
        await adapter.fetch_profile(http, config, "111")
    assert (no_profile.value.code, no_profile.value.subcode) == (100, 2018218)
    with pytest.raises(PermissionDeniedError, match="consent"):
        await adapter.fetch_profile(http, config, "222")
    with pytest.raises(InvalidRequestError):
        await adapter.fetch_profile(http, config, "333")
    sent = len(graph.requests)
    for bad in ("me", "../104857362819374/messages", "", "12 3"):
        with pytest.raises(InvalidInputError):
            await adapter.fetch_profile(http, config, bad)
    assert len(graph.requests) == sent
    graph.requests.clear()
    graph.messenger_text(sender="222", text="oi")  # writing to the Page opts in
    assert (await adapter.fetch_profile(http, config, "222")).display_name == "Silent"


@pytest.mark.parametrize("login", ["facebook", "instagram"])
async def test_instagram_profile_for_both_logins(
    graph: FakeGraph, http: httpx.AsyncClient, login: str
) -> None:
    """``GET /{IGSID}?fields=name,username,profile_pic,follower_count,is_user_follow_business,
    is_business_follow_user``; ``name`` is null when unset; consent comes from writing first
    (else "User consent is required to access user profile", code 230).

    https://developers.facebook.com/docs/messenger-platform/instagram/features/user-profile
    https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/messaging-api/user-profile
    """
    adapter, config = InstagramAdapter(), ig(graph, login)
    graph.add_profile(
        IGSID,
        name=None,
        username="peter_chang_live",
        profile_pic=AVATAR,
        follower_count=1234,
        is_user_follow_business=False,
        is_business_follow_user=True,
    )
    profile = await adapter.fetch_profile(http, config, IGSID)
    assert (profile.display_name, profile.username, profile.avatar_url) == (
        None,
        "peter_chang_live",
        AVATAR,
    )
    assert profile.raw["follower_count"] == 1234
    assert profile.raw["is_business_follow_user"] is True
    fields = graph.requests[0].url.params["fields"]
    assert fields == (
        "name,username,profile_pic,follower_count,is_user_follow_business,is_business_follow_user"
    )
    graph.add_profile("777", name="Commenter", opted_in=False)
    with pytest.raises(PermissionDeniedError) as caught:
        await adapter.fetch_profile(http, config, "777")
    assert caught.value.code == 230
    assert graph.ig_token not in str(caught.value)
    assert graph.ig_token not in repr(profile)
    graph.instagram_text(sender="777", text="hi")
    assert (await adapter.fetch_profile(http, config, "777")).display_name == "Commenter"


# ---------------------------------------------------------------- limits, windows, refusals


@pytest.mark.parametrize(
    ("adapter", "module"),
    [(MessengerAdapter(), fb_limits), (InstagramAdapter(), ig_limits)],
    ids=["messenger", "instagram"],
)
def test_limits_come_from_the_package_with_their_sources(adapter: Any, module: Any) -> None:
    limits = limits_of(adapter)
    assert limits is adapter.outbound_limits
    defaults = OutboundLimits()
    for field in limits.__attrs_attrs__:
        if field.name != "text_unit" and getattr(limits, field.name) != getattr(
            defaults, field.name
        ):
            assert module.LIMIT_SOURCES[field.name].startswith("https://developers.facebook.com/")
    assert module.WINDOW_SOURCE.startswith("https://developers.facebook.com/")


def test_text_and_quick_reply_limits_are_checked_before_sending() -> None:
    """Instagram counts text in UTF-8 bytes (1000), Messenger in characters (2000).

    https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message
    https://developers.facebook.com/docs/messenger-platform/reference/send-api/
    """
    check_outbound(InstagramAdapter(), out.TextMessage(to=IGSID, text="é" * 500))
    with pytest.raises(MessageLimitError, match="text_max"):
        check_outbound(InstagramAdapter(), out.TextMessage(to=IGSID, text="é" * 501))
    check_outbound(MessengerAdapter(), out.TextMessage(to=PSID, text="é" * 2000))
    with pytest.raises(MessageLimitError, match="text_max"):
        check_outbound(MessengerAdapter(), out.TextMessage(to=PSID, text="x" * 2001))


def test_windows_are_the_platforms_rules() -> None:
    """24 hours; then Messenger's update tags at any time and ``HUMAN_AGENT`` for 7 days;
    Instagram only ``HUMAN_AGENT``.

    https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags/
    https://developers.facebook.com/docs/messenger-platform/instagram/features/send-message
    """
    fb_rule, ig_rule = MessengerAdapter.messaging_window, InstagramAdapter.messaging_window
    assert fb_rule is not None
    assert ig_rule is not None
    last = NOW - timedelta(days=3)
    for rule in (fb_rule, ig_rule):
        assert not rule.allows("text", None, last, NOW)
        assert rule.allows("text", "HUMAN_AGENT", last, NOW)
        assert not rule.allows("text", "HUMAN_AGENT", NOW - timedelta(days=8), NOW)
        assert rule.allows("typing", None, last, NOW)
    assert fb_rule.allows("text", "POST_PURCHASE_UPDATE", NOW - timedelta(days=90), NOW)
    assert not ig_rule.allows("text", "POST_PURCHASE_UPDATE", last, NOW)


UNDOCUMENTED: list[out.OutboundMessage] = [
    out.EditMessage(to=PSID, message_id="m_1", text="fixed"),
    out.DeleteMessage(to=PSID, message_id="m_1"),
    out.LocationMessage(to=PSID, latitude=1.0, longitude=2.0),
    out.ContactsMessage(to=PSID, contacts=(SharedContact(name="Ana", phones=("+10000000000",)),)),
    out.PollMessage(to=PSID, question="Lunch?", options=("Yes", "No")),
]


@pytest.mark.parametrize("adapter", [MessengerAdapter(), InstagramAdapter()], ids=str)
async def test_what_the_send_api_does_not_document_is_refused(
    adapter: Any, graph: FakeGraph, http: httpx.AsyncClient
) -> None:
    """The Send API has no edit, delete, location, contact card or poll, and neither platform
    delivers typing events: none is declared, and each is refused before any request."""
    assert Capability.PRESENCE not in adapter.capabilities
    config = fb(graph) if isinstance(adapter, MessengerAdapter) else ig(graph)
    for message in UNDOCUMENTED:
        with pytest.raises(CapabilityNotSupportedError):
            check_outbound(adapter, message)
        with pytest.raises(CapabilityNotSupportedError):
            await adapter.send(http, config, message)
    assert graph.requests == []
