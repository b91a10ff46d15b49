"""The outbound message model: what a host asks an adapter to send."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ventros_channels.messaging.inbound import MediaKind, SharedContact

__all__ = [
    "ACTION_KINDS",
    "Button",
    "ButtonsMessage",
    "ContactsMessage",
    "DeleteMessage",
    "EditMessage",
    "ListMessage",
    "ListRow",
    "ListSection",
    "LocationMessage",
    "MarkAsRead",
    "MediaMessage",
    "OutboundMessage",
    "PollMessage",
    "Reaction",
    "SendResult",
    "TemplateMessage",
    "TextMessage",
    "Typing",
    "TypingActivity",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    to: str = Field(min_length=1)
    """Chat or recipient id as the platform knows it (what inbound events call ``chat_id``)."""
    reply_to: str | None = None
    """Platform message id to quote."""
    thread_id: str | None = None
    """Forum topic (Telegram) to post into."""
    tag: str | None = None
    """Messenger / Instagram message tag for sends outside the 24 h window (``HUMAN_AGENT``)."""
    correlation_id: str | None = None
    """Echoed back in status webhooks where the platform supports it (WhatsApp Cloud)."""


class TextMessage(_Out):
    """Plain text, optionally formatted (Telegram) or with a link preview (WhatsApp)."""

    kind: Literal["text"] = "text"
    text: str = Field(min_length=1)
    preview_url: bool = False
    parse_mode: Literal["MarkdownV2", "HTML", "Markdown"] | None = None
    """Telegram formatting; ignored elsewhere."""


class MediaMessage(_Out):
    """Media by URL, by uploaded bytes, or by a platform media id (exactly one).

    A sticker is a ``MediaMessage`` with ``media_kind=sticker``: every platform that sends
    stickers takes them from the same sources as other media (a URL, an upload or its own
    file id), so a separate message kind would add nothing. Whether an adapter sends
    stickers shows in its ``media_kinds``; stickers take no caption.
    """

    kind: Literal["media"] = "media"
    media_kind: MediaKind
    url: str | None = None
    data: bytes | None = Field(default=None, repr=False)
    media_id: str | None = None
    mime_type: str | None = None
    filename: str | None = None
    caption: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> MediaMessage:
        given = sum(x is not None for x in (self.url, self.data, self.media_id))
        if given != 1:
            raise ValueError("give exactly one of url, data or media_id")
        if self.data is not None and not self.mime_type:
            raise ValueError("mime_type is required with data")
        return self


class TemplateMessage(_Out):
    """A pre-approved template (WhatsApp Cloud): the only way to open a conversation."""

    kind: Literal["template"] = "template"
    name: str = Field(min_length=1)
    language: str = Field(min_length=2)
    body_parameters: tuple[str, ...] = ()
    components: tuple[dict[str, Any], ...] = ()
    """Raw platform components for anything beyond body text parameters."""


class Button(BaseModel):
    """One reply button: ``id`` comes back in the user's reply, ``title`` is shown."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)


class ButtonsMessage(_Out):
    """Text with reply buttons (WhatsApp reply buttons, Messenger/Instagram quick replies,
    Telegram inline keyboard).
    """

    kind: Literal["buttons"] = "buttons"
    text: str = Field(min_length=1)
    buttons: tuple[Button, ...] = Field(min_length=1)
    header: str | None = None
    footer: str | None = None


class ListRow(BaseModel):
    """One selectable row of a list message."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str | None = None


class ListSection(BaseModel):
    """A titled group of list rows."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    title: str | None = None
    rows: tuple[ListRow, ...] = Field(min_length=1)


class ListMessage(_Out):
    """Text with a menu of rows in sections (WhatsApp list; keyboard elsewhere)."""

    kind: Literal["list"] = "list"
    text: str = Field(min_length=1)
    button_text: str = Field(min_length=1)
    sections: tuple[ListSection, ...] = Field(min_length=1)
    header: str | None = None
    footer: str | None = None


class Reaction(_Out):
    """React to ``message_id``; ``emoji=None`` removes our reaction."""

    kind: Literal["reaction"] = "reaction"
    message_id: str = Field(min_length=1)
    emoji: str | None = None


class MarkAsRead(_Out):
    """Mark ``message_id`` (and what came before it) as read."""

    kind: Literal["mark_as_read"] = "mark_as_read"
    message_id: str = Field(min_length=1)
    """The customer's message to mark. Platforms that mark a whole chat (Messenger,
    Instagram) use only ``to``; the id is still required so one message works everywhere."""


TypingActivity = Literal["typing", "recording"]
"""What the indicator shows: typing text, or recording a voice message. Platforms with only
a typing indicator (WhatsApp Cloud, Messenger, Instagram) show ``typing`` for both."""


class Typing(_Out):
    """Show (or stop showing) a typing indicator."""

    kind: Literal["typing"] = "typing"
    on: bool = True
    """``False`` hides the indicator where the platform can (Messenger ``typing_off``, WAHA
    ``stopTyping``); elsewhere it disappears by itself after a few seconds."""
    activity: TypingActivity = "typing"
    message_id: str | None = None
    """The customer's message being answered. WhatsApp Cloud shows its indicator only with
    one (and marks it read); other platforms ignore it."""


class EditMessage(_Out):
    """Replace the text of a message our account sent earlier."""

    kind: Literal["edit"] = "edit"
    message_id: str = Field(min_length=1)
    """The platform's id of the message to change (``SendResult.message_id``)."""
    text: str = Field(min_length=1)
    parse_mode: Literal["MarkdownV2", "HTML", "Markdown"] | None = None
    """Telegram formatting; ignored elsewhere."""


class DeleteMessage(_Out):
    """Delete (revoke) a message in the chat ``to``."""

    kind: Literal["delete"] = "delete"
    message_id: str = Field(min_length=1)
    for_everyone: bool = True
    """Revoke it for every member of the chat (WhatsApp's "delete for everyone").
    ``False`` asks to remove it from our own account only; platforms that only delete for
    everyone (Telegram, WAHA) refuse ``False`` before any request."""


class LocationMessage(_Out):
    """A point on the map, optionally named (a venue)."""

    kind: Literal["location"] = "location"
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(default=None, min_length=1)
    address: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _named_venue(self) -> LocationMessage:
        if self.address is not None and self.name is None:
            raise ValueError("an address needs a name (platforms send it as a venue)")
        return self


class ContactsMessage(_Out):
    """One or more contact cards, in the same shape inbound messages report them."""

    kind: Literal["contacts"] = "contacts"
    contacts: tuple[SharedContact, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _named_cards(self) -> ContactsMessage:
        for i, card in enumerate(self.contacts):
            if not (card.name and card.name.strip()) and card.vcard is None:
                raise ValueError(f"contact {i} needs a name or a vcard")
            if not (card.phones or card.emails or card.vcard is not None):
                raise ValueError(f"contact {i} needs a phone, an email or a vcard")
        return self


class PollMessage(_Out):
    """A question with answer options the members of the chat vote on."""

    kind: Literal["poll"] = "poll"
    question: str = Field(min_length=1)
    options: tuple[str, ...] = Field(min_length=2)
    multiple_answers: bool = False
    """Whether one voter may pick several options."""
    anonymous: bool = True
    """Whether votes are hidden from the other members (Telegram; WhatsApp polls are not)."""

    @model_validator(mode="after")
    def _distinct_options(self) -> PollMessage:
        if any(not o.strip() for o in self.options):
            raise ValueError("poll options must not be blank")
        if len(set(self.options)) != len(self.options):
            raise ValueError("poll options must differ from each other")
        return self


OutboundMessage = Annotated[
    TextMessage
    | MediaMessage
    | TemplateMessage
    | ButtonsMessage
    | ListMessage
    | Reaction
    | MarkAsRead
    | Typing
    | EditMessage
    | DeleteMessage
    | LocationMessage
    | ContactsMessage
    | PollMessage,
    Field(discriminator="kind"),
]
"""Union of every outbound message, discriminated by ``kind``."""

ACTION_KINDS: frozenset[str] = frozenset({"reaction", "mark_as_read", "typing", "edit", "delete"})
"""Kinds that act on the chat or on an earlier message instead of adding a new message: they
count neither as sent messages nor as activity in the conversation."""


class SendResult(BaseModel):
    """What the platform answered: its id for the message (``None`` for actions)."""

    model_config = ConfigDict(frozen=True)
    message_id: str | None
    chat_id: str | None = None
    raw: Any = Field(default=None, repr=False)
    idempotency_key: str | None = None
    """The send's key in the outbox."""
    replayed: bool = False
    """An earlier send with the same key was made: this is its recorded result, and no
    request went to the platform this time."""
    queued: bool = False
    """Recorded for the sender worker (``send(..., queued=True)``); not sent yet."""
