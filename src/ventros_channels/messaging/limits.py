"""Platform limits on outbound messages, as data, checked before any request.

Every platform refuses messages past its own sizes and counts (a button title one character
too long, an eleventh list row), and some cut text silently. An adapter declares its limits
as an :class:`OutboundLimits` (``ChannelAdapter.outbound_limits``); :func:`check_limits`
measures a message against them and raises :class:`MessageLimitError` naming the limit, the
allowed value and the message's value, so the host learns it before a request is made.

A limit left ``None`` is not checked: the platform documents none, or cuts instead of
refusing. Lengths count characters (Unicode code points) unless the limit says otherwise:
``text_unit`` and ``id_unit`` switch text and ids to UTF-8 bytes (Instagram, Telegram's
callback data). Text with a ``parse_mode`` is not measured: the platforms count it after
removing the markup, which only they do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from enum import StrEnum
from types import MappingProxyType

import attrs

from ventros_channels.errors import MessageLimitError
from ventros_channels.messaging.inbound import MediaKind
from ventros_channels.messaging.outbound import (
    ButtonsMessage,
    ContactsMessage,
    EditMessage,
    ListMessage,
    MediaMessage,
    OutboundMessage,
    PollMessage,
    TextMessage,
)

__all__ = ["NO_LIMITS", "LengthUnit", "Measure", "OutboundLimits", "check_limits", "measure"]


class LengthUnit(StrEnum):
    """How a platform counts the length of a string."""

    CHARACTERS = "characters"
    """Unicode code points (Python's ``len``)."""
    UTF8_BYTES = "bytes"
    """Bytes of the UTF-8 encoding."""

    def length(self, value: str) -> int:
        if self is LengthUnit.UTF8_BYTES:
            return len(value.encode("utf-8", "surrogatepass"))
        return len(value)


def _sizes(value: Mapping[MediaKind, int] | None) -> Mapping[MediaKind, int]:
    return MappingProxyType({MediaKind(k): int(v) for k, v in (value or {}).items()})


@attrs.frozen
class OutboundLimits:
    """What a platform accepts in one outbound message; ``None`` means not checked.

    Counts are per message; lengths are in characters unless a unit says otherwise.
    """

    text_max: int | None = None
    """Text of a text message, and the new text of an edit."""
    text_unit: LengthUnit = LengthUnit.CHARACTERS
    caption_max: int | None = None
    """Caption of a media message."""
    captionless_kinds: frozenset[MediaKind] = frozenset()
    """Media kinds the platform sends without a caption (a caption is refused)."""
    media_max_bytes: Mapping[MediaKind, int] = attrs.field(
        factory=dict, converter=_sizes, hash=False
    )
    """Largest upload per media kind, checked for media given as bytes."""
    interactive_text_max: int | None = None
    """Body text of a buttons or list message (``text_max`` applies when unset)."""
    header_max: int | None = None
    footer_max: int | None = None
    buttons_max: int | None = None
    button_title_max: int | None = None
    button_id_max: int | None = None
    id_unit: LengthUnit = LengthUnit.CHARACTERS
    """How button and row ids are counted (Telegram's callback data: bytes)."""
    list_button_text_max: int | None = None
    """The button that opens a list."""
    list_sections_max: int | None = None
    list_rows_max: int | None = None
    """Rows of a list message, all sections together."""
    section_title_max: int | None = None
    row_title_max: int | None = None
    row_description_max: int | None = None
    row_id_max: int | None = None
    poll_question_max: int | None = None
    poll_options_max: int | None = None
    poll_option_max: int | None = None
    """Length of one poll option."""
    contacts_max: int | None = None
    """Contact cards in one message."""


NO_LIMITS = OutboundLimits()
"""Nothing checked: the default of an adapter that declares no limits."""


@attrs.frozen
class Measure:
    """One measured part of a message: ``actual`` against the ``allowed`` of ``limit``."""

    limit: str
    field: str
    allowed: int | None
    actual: int
    unit: str = "characters"


def _length(
    limit: str, field: str, allowed: int | None, value: str | None, unit: LengthUnit
) -> Iterator[Measure]:
    if value is not None:
        yield Measure(limit, field, allowed, unit.length(value), unit.value)


def _count(limit: str, field: str, allowed: int | None, actual: int) -> Iterator[Measure]:
    yield Measure(limit, field, allowed, actual, "items")


_CHARS = LengthUnit.CHARACTERS


def _text(m: OutboundMessage, lim: OutboundLimits) -> Iterator[Measure]:
    assert isinstance(m, TextMessage | EditMessage)
    if m.parse_mode is None:  # formatted text is counted by the platform after parsing
        yield from _length("text_max", "text", lim.text_max, m.text, lim.text_unit)


def _media(m: OutboundMessage, lim: OutboundLimits) -> Iterator[Measure]:
    assert isinstance(m, MediaMessage)
    caption_max = 0 if m.media_kind in lim.captionless_kinds else lim.caption_max
    yield from _length("caption_max", "caption", caption_max, m.caption, _CHARS)
    if m.data is not None:
        allowed = lim.media_max_bytes.get(m.media_kind)
        yield Measure("media_max_bytes", f"data ({m.media_kind})", allowed, len(m.data), "bytes")


def _frame(m: ButtonsMessage | ListMessage, lim: OutboundLimits) -> Iterator[Measure]:
    body_max = lim.interactive_text_max if lim.interactive_text_max is not None else lim.text_max
    yield from _length("interactive_text_max", "text", body_max, m.text, lim.text_unit)
    yield from _length("header_max", "header", lim.header_max, m.header, _CHARS)
    yield from _length("footer_max", "footer", lim.footer_max, m.footer, _CHARS)


def _buttons(m: OutboundMessage, lim: OutboundLimits) -> Iterator[Measure]:
    assert isinstance(m, ButtonsMessage)
    yield from _frame(m, lim)
    yield from _count("buttons_max", "buttons", lim.buttons_max, len(m.buttons))
    for i, b in enumerate(m.buttons):
        yield from _length(
            "button_title_max", f"buttons[{i}].title", lim.button_title_max, b.title, _CHARS
        )
        yield from _length(
            "button_id_max", f"buttons[{i}].id", lim.button_id_max, b.id, lim.id_unit
        )


def _list(m: OutboundMessage, lim: OutboundLimits) -> Iterator[Measure]:
    assert isinstance(m, ListMessage)
    yield from _frame(m, lim)
    yield from _length(
        "list_button_text_max", "button_text", lim.list_button_text_max, m.button_text, _CHARS
    )
    yield from _count("list_sections_max", "sections", lim.list_sections_max, len(m.sections))
    rows = sum(len(s.rows) for s in m.sections)
    yield from _count("list_rows_max", "sections[*].rows", lim.list_rows_max, rows)
    for i, section in enumerate(m.sections):
        yield from _length(
            "section_title_max",
            f"sections[{i}].title",
            lim.section_title_max,
            section.title,
            _CHARS,
        )
        for j, row in enumerate(section.rows):
            at = f"sections[{i}].rows[{j}]"
            yield from _length("row_title_max", f"{at}.title", lim.row_title_max, row.title, _CHARS)
            yield from _length(
                "row_description_max",
                f"{at}.description",
                lim.row_description_max,
                row.description,
                _CHARS,
            )
            yield from _length("row_id_max", f"{at}.id", lim.row_id_max, row.id, lim.id_unit)


def _poll(m: OutboundMessage, lim: OutboundLimits) -> Iterator[Measure]:
    assert isinstance(m, PollMessage)
    yield from _length("poll_question_max", "question", lim.poll_question_max, m.question, _CHARS)
    yield from _count("poll_options_max", "options", lim.poll_options_max, len(m.options))
    for i, option in enumerate(m.options):
        yield from _length("poll_option_max", f"options[{i}]", lim.poll_option_max, option, _CHARS)


def _contacts(m: OutboundMessage, lim: OutboundLimits) -> Iterator[Measure]:
    assert isinstance(m, ContactsMessage)
    yield from _count("contacts_max", "contacts", lim.contacts_max, len(m.contacts))


_MEASURES: Mapping[str, Callable[[OutboundMessage, OutboundLimits], Iterator[Measure]]] = {
    "text": _text,
    "edit": _text,
    "media": _media,
    "buttons": _buttons,
    "list": _list,
    "poll": _poll,
    "contacts": _contacts,
}
"""What is measured per message kind; kinds not listed have nothing a platform limits."""


def measure(message: OutboundMessage, limits: OutboundLimits) -> Iterator[Measure]:
    """Every limited part of ``message`` with the limit that applies to it."""
    measures = _MEASURES.get(message.kind)
    if measures is not None:
        yield from measures(message, limits)


def check_limits(message: OutboundMessage, limits: OutboundLimits, *, platform: str = "") -> None:
    """Raise :class:`MessageLimitError` for the first part of ``message`` over its limit."""
    for m in measure(message, limits):
        if m.allowed is not None and m.actual > m.allowed:
            raise MessageLimitError(
                f"{m.field} is {m.actual} {m.unit}, more than the {m.allowed} allowed ({m.limit})",
                limit=m.limit,
                field=m.field,
                allowed=m.allowed,
                actual=m.actual,
                unit=m.unit,
                platform=platform,
            )
