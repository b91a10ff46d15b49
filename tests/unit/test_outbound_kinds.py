"""The new outbound kinds: validation, JSON round trip through the outbox, capability and
limit checks against the built-in adapters' declarations."""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from ventros_channels.adapters.base import Capability, ChannelAdapter, ContactProfile
from ventros_channels.adapters.instagram import InstagramAdapter
from ventros_channels.capabilities import (
    KIND_CAPABILITIES,
    built_in_adapters,
    check_outbound,
    limits_of,
    required_capability,
)
from ventros_channels.errors import CapabilityNotSupportedError, MessageLimitError
from ventros_channels.messaging import (
    Button,
    ButtonsMessage,
    ContactsMessage,
    DeleteMessage,
    EditMessage,
    LengthUnit,
    ListMessage,
    ListRow,
    ListSection,
    LocationMessage,
    MarkAsRead,
    MediaKind,
    MediaMessage,
    OutboundLimits,
    OutboundMessage,
    PollMessage,
    SharedContact,
    TextMessage,
    Typing,
    check_limits,
)
from ventros_channels.outbox import decode_message, encode_message

NEW_KINDS: list[OutboundMessage] = [
    EditMessage(to="c", message_id="m1", text="fixed"),
    DeleteMessage(to="c", message_id="m1", for_everyone=False),
    LocationMessage(to="c", latitude=-23.5, longitude=-46.6, name="Office", address="Main St"),
    ContactsMessage(
        to="c", contacts=(SharedContact(name="Ana", phones=("+10000000000",), emails=("a@x.y",)),)
    ),
    PollMessage(to="c", question="Lunch?", options=("Yes", "No"), multiple_answers=True),
    Typing(to="c", on=False, activity="recording", message_id="m0"),
    MarkAsRead(to="c", message_id="m0"),
    MediaMessage(to="c", media_kind=MediaKind.STICKER, media_id="sticker-1"),
]


@pytest.mark.parametrize("message", NEW_KINDS, ids=lambda m: m.kind)
def test_each_kind_round_trips_through_the_outbox_encoding(message: OutboundMessage) -> None:
    assert decode_message(encode_message(message)) == message


def test_every_kind_names_the_capability_it_needs() -> None:
    kinds = {m.kind for m in NEW_KINDS} | {"text", "template", "buttons", "list", "reaction"}
    assert kinds <= set(KIND_CAPABILITIES)
    assert required_capability(NEW_KINDS[0]) is Capability.EDIT_MESSAGES
    upload = MediaMessage(to="c", media_kind=MediaKind.IMAGE, data=b"x", mime_type="image/png")
    assert required_capability(upload) is Capability.MEDIA_UPLOAD


@pytest.mark.parametrize(
    ("build", "why"),
    [
        (lambda: LocationMessage(to="c", latitude=91, longitude=0), "latitude"),
        (lambda: LocationMessage(to="c", latitude=0, longitude=0, address="x"), "name"),
        (lambda: ContactsMessage(to="c", contacts=()), "at least 1"),
        (lambda: ContactsMessage(to="c", contacts=(SharedContact(phones=("1",)),)), "name"),
        (lambda: ContactsMessage(to="c", contacts=(SharedContact(name="A"),)), "phone"),
        (lambda: PollMessage(to="c", question="q", options=("a",)), "at least 2"),
        (lambda: PollMessage(to="c", question="q", options=("a", "a")), "differ"),
        (lambda: PollMessage(to="c", question="q", options=("a", " ")), "blank"),
        (lambda: EditMessage(to="c", message_id="", text="x"), "at least 1"),
    ],
)
def test_bad_shapes_are_refused_when_built(build: Any, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        build()


def test_messages_are_frozen() -> None:
    edit = EditMessage(to="c", message_id="m1", text="fixed")
    with pytest.raises(ValidationError):
        edit.text = "changed"  # type: ignore[misc]


# ------------------------------------------------------------------------ limits


def _buttons(n: int, title: str = "ok") -> ButtonsMessage:
    return ButtonsMessage(
        to="c", text="pick", buttons=tuple(Button(id=f"b{i}", title=title) for i in range(n))
    )


def test_whatsapp_button_count_and_title_are_checked_with_names() -> None:
    wa = limits_of(_adapter("whatsapp"))
    check_limits(_buttons(3), wa)
    with pytest.raises(MessageLimitError) as caught:
        check_limits(_buttons(4), wa, platform="whatsapp")
    assert (caught.value.limit, caught.value.allowed, caught.value.actual) == ("buttons_max", 3, 4)
    assert caught.value.unit == "items"
    with pytest.raises(MessageLimitError) as caught:
        check_limits(_buttons(2, title="x" * 21), wa)
    assert (caught.value.field, caught.value.allowed) == ("buttons[0].title", 20)


def test_list_rows_count_across_sections() -> None:
    rows = tuple(ListRow(id=f"r{i}", title="row") for i in range(6))
    message = ListMessage(
        to="c",
        text="menu",
        button_text="open",
        sections=(ListSection(title="a", rows=rows), ListSection(title="b", rows=rows)),
    )
    with pytest.raises(MessageLimitError) as caught:
        check_limits(message, limits_of(_adapter("whatsapp")))
    assert (caught.value.limit, caught.value.actual) == ("list_rows_max", 12)


def test_instagram_counts_text_in_utf8_bytes() -> None:
    ig = InstagramAdapter.outbound_limits
    assert ig.text_unit is LengthUnit.UTF8_BYTES
    check_limits(TextMessage(to="c", text="a" * 1000), ig)
    with pytest.raises(MessageLimitError) as caught:
        check_limits(TextMessage(to="c", text="é" * 501), ig)  # 501 characters, 1002 bytes
    assert (caught.value.actual, caught.value.unit) == (1002, "bytes")


def test_formatted_telegram_text_is_left_to_the_platform() -> None:
    tg = _adapter("telegram").outbound_limits
    markup = "*b*" * 2000  # 6000 characters of which the markup is not counted by Telegram
    check_limits(TextMessage(to="c", text=markup, parse_mode="MarkdownV2"), tg)
    with pytest.raises(MessageLimitError):
        check_limits(TextMessage(to="c", text=markup), tg)


def test_captions_uploads_polls_and_ids() -> None:
    wa, tg = limits_of(_adapter("whatsapp")), limits_of(_adapter("telegram"))
    sticker = MediaMessage(to="c", media_kind=MediaKind.STICKER, media_id="s", caption="hi")
    with pytest.raises(MessageLimitError, match="caption_max"):
        check_limits(sticker, wa)
    big = MediaMessage(
        to="c",
        media_kind=MediaKind.IMAGE,
        data=b"\0" * (5 * 1024 * 1024 + 1),
        mime_type="image/png",
    )
    with pytest.raises(MessageLimitError) as caught:
        check_limits(big, wa)
    assert caught.value.limit == "media_max_bytes"
    check_limits(big, tg)  # Telegram takes photos up to 10 MB
    poll = PollMessage(to="c", question="q", options=tuple(f"o{i}" for i in range(13)))
    with pytest.raises(MessageLimitError, match="poll_options_max"):
        check_limits(poll, tg)
    with pytest.raises(MessageLimitError, match="button_id_max"):
        check_limits(
            ButtonsMessage(to="c", text="t", buttons=(Button(id="é" * 33, title="x"),)), tg
        )


def test_no_limits_checks_nothing() -> None:
    check_limits(_buttons(50, title="x" * 500), OutboundLimits())


def test_every_built_in_number_has_a_source() -> None:
    """Each platform package declares its limits in ``_limits`` (the adapter's
    ``outbound_limits``), every number with the page that states it."""
    for adapter in built_in_adapters():
        module = importlib.import_module(f"{type(adapter).__module__}._limits")
        limits, sources = module.OUTBOUND_LIMITS, module.LIMIT_SOURCES
        assert adapter.outbound_limits is limits
        defaults = OutboundLimits()
        for field in limits.__attrs_attrs__:
            if field.name in ("text_unit", "id_unit"):
                continue
            if getattr(limits, field.name) != getattr(defaults, field.name):
                url = sources.get(field.name, "")
                assert url.startswith("https://"), f"{adapter.channel_type}.{field.name}"
        assert set(sources) <= {f.name for f in limits.__attrs_attrs__}


# ------------------------------------------------------------ the check before requests


def _adapter(channel_type: str) -> ChannelAdapter[Any]:
    return next(a for a in built_in_adapters() if str(a.channel_type) == channel_type)


def test_undeclared_kinds_and_media_kinds_are_refused() -> None:
    poll = PollMessage(to="c", question="q", options=("a", "b"))
    for adapter in built_in_adapters():
        if Capability.POLLS not in adapter.capabilities:
            with pytest.raises(CapabilityNotSupportedError, match="polls"):
                check_outbound(adapter, poll)
    animation = MediaMessage(to="c", media_kind=MediaKind.ANIMATION, url="https://x.test/a.gif")
    with pytest.raises(CapabilityNotSupportedError, match="animation"):
        check_outbound(_adapter("whatsapp"), animation)
    check_outbound(_adapter("telegram"), animation)


def test_an_adapter_s_declared_limits_are_checked() -> None:
    class Declared(type(_adapter("telegram"))):  # type: ignore[misc]
        outbound_limits: ClassVar[OutboundLimits] = OutboundLimits(text_max=5)

    assert limits_of(Declared()).text_max == 5
    with pytest.raises(MessageLimitError):
        check_outbound(Declared(), TextMessage(to="c", text="toolong"))


async def test_fetch_profile_is_refused_unless_offered() -> None:
    waha = type(_adapter("waha"))

    class NoProfiles(waha):  # type: ignore[valid-type,misc]
        """An adapter that offers no profiles keeps the base class's refusal."""

        capabilities = frozenset(waha.capabilities - {Capability.PROFILES})
        fetch_profile = ChannelAdapter.fetch_profile

    adapter = NoProfiles()
    assert Capability.PROFILES not in adapter.capabilities
    with pytest.raises(CapabilityNotSupportedError, match="profiles"):
        await adapter.fetch_profile(None, None, "user-1")  # type: ignore[arg-type]
    profile = ContactProfile(user_id="u", display_name="Ana", phone="+10000000000", raw={"a": 1})
    assert "+10000000000" not in repr(profile)
