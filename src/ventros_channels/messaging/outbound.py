"""The outbound message model: what a host asks an adapter to send."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ventros_channels.messaging.inbound import MediaKind

__all__ = [
    "Button",
    "ButtonsMessage",
    "ListMessage",
    "ListRow",
    "ListSection",
    "MarkAsRead",
    "MediaMessage",
    "OutboundMessage",
    "Reaction",
    "SendResult",
    "TemplateMessage",
    "TextMessage",
    "Typing",
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
    """Media by URL, by uploaded bytes, or by a platform media id (exactly one)."""

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


class Typing(_Out):
    """Show (or stop showing) a typing indicator."""

    kind: Literal["typing"] = "typing"
    on: bool = True


OutboundMessage = Annotated[
    TextMessage
    | MediaMessage
    | TemplateMessage
    | ButtonsMessage
    | ListMessage
    | Reaction
    | MarkAsRead
    | Typing,
    Field(discriminator="kind"),
]
"""Union of every outbound message, discriminated by ``kind``."""


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
