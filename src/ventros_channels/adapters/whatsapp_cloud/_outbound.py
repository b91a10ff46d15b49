"""Outbound messages -> WhatsApp Cloud request bodies, by table.

:data:`ENCODERS` maps each outbound message class to the function that writes its body for
``POST /{phone_number_id}/messages``. Media given as bytes is uploaded by the adapter first, so
every encoder is a pure function of the message. Actions that carry no message (marking read,
showing the typing indicator) have bodies of their own, in :data:`ACTIONS`: WhatsApp shows a
typing indicator only together with a read receipt of the customer's message, so ``Typing``
needs that message's id; hiding it is a no-op (it disappears with the reply or after 25 s).

WhatsApp Cloud cannot edit or delete a message the business sent, nor send polls: those kinds
have no encoder and are refused before any request.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import cast

from ventros_channels.adapters.whatsapp_cloud._payloads import (
    OutAction,
    OutContactCard,
    OutContactPhone,
    OutInteractive,
    OutLocation,
    OutMedia,
    OutRow,
    OutSection,
    OutTemplate,
    ReadRequest,
    SendRequest,
)
from ventros_channels.errors import CapabilityNotSupportedError, InvalidRequestError
from ventros_channels.messaging.inbound import MediaKind, SharedContact
from ventros_channels.messaging.outbound import (
    ButtonsMessage,
    ContactsMessage,
    ListMessage,
    ListSection,
    LocationMessage,
    MarkAsRead,
    MediaMessage,
    Reaction,
    TemplateMessage,
    TextMessage,
    Typing,
)

__all__ = ["ACTIONS", "ENCODERS", "MEDIA_TYPES", "action_body", "encode"]

MEDIA_TYPES: dict[MediaKind, str] = {
    MediaKind.IMAGE: "image",
    MediaKind.VIDEO: "video",
    MediaKind.AUDIO: "audio",
    MediaKind.VOICE: "audio",
    MediaKind.DOCUMENT: "document",
    MediaKind.STICKER: "sticker",
}
"""Media kinds WhatsApp sends -> the request's ``type``."""

_CAPTIONED = frozenset({"image", "video", "document"})
MAX_BUTTONS = 3
BUTTON_TITLE = 20


Sendable = (
    TextMessage
    | MediaMessage
    | TemplateMessage
    | ButtonsMessage
    | ListMessage
    | Reaction
    | LocationMessage
    | ContactsMessage
)


def _head(message: Sendable) -> SendRequest:
    """Recipient, quoted message and correlation id: what every message body starts with."""
    body: SendRequest = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    to = message.to
    if to.startswith("US.") or not to.lstrip("+").replace(" ", "").isdigit():
        body["recipient"] = to  # a business-scoped user id
    else:
        body["to"] = to
    if message.reply_to:
        body["context"] = {"message_id": message.reply_to}
    if message.correlation_id:
        body["biz_opaque_callback_data"] = message.correlation_id
    return body


def _text(message: TextMessage) -> SendRequest:
    body = _head(message)
    body["type"] = "text"
    body["text"] = {"body": message.text, "preview_url": message.preview_url}
    return body


def _media(message: MediaMessage) -> SendRequest:
    kind = MEDIA_TYPES.get(message.media_kind)
    if kind is None:
        raise CapabilityNotSupportedError("whatsapp", f"send {message.media_kind} media")
    media: OutMedia = {"link": message.url} if message.url is not None else {}
    if message.media_id is not None:
        media["id"] = message.media_id
    if message.caption and kind in _CAPTIONED:
        media["caption"] = message.caption
    if message.filename and kind == "document":
        media["filename"] = message.filename
    body = _head(message)
    body["type"] = kind
    cast(dict[str, OutMedia], body)[kind] = media
    return body


def _template(message: TemplateMessage) -> SendRequest:
    components = [dict(c) for c in message.components]
    if message.body_parameters:
        parameters = [{"type": "text", "text": p} for p in message.body_parameters]
        components.append({"type": "body", "parameters": parameters})
    template: OutTemplate = {"name": message.name, "language": {"code": message.language}}
    if components:
        template["components"] = components
    body = _head(message)
    body["type"] = "template"
    body["template"] = template
    return body


def _interactive(message: ButtonsMessage | ListMessage, action: OutAction) -> SendRequest:
    interactive: OutInteractive = {
        "type": "button" if isinstance(message, ButtonsMessage) else "list",
        "body": {"text": message.text},
        "action": action,
    }
    if message.header:
        interactive["header"] = {"type": "text", "text": message.header}
    if message.footer:
        interactive["footer"] = {"text": message.footer}
    body = _head(message)
    body["type"] = "interactive"
    body["interactive"] = interactive
    return body


def _buttons(message: ButtonsMessage) -> SendRequest:
    if len(message.buttons) > MAX_BUTTONS:
        raise InvalidRequestError(
            f"WhatsApp allows at most {MAX_BUTTONS} reply buttons", platform="whatsapp"
        )
    buttons: OutAction = {
        "buttons": [
            {"type": "reply", "reply": {"id": b.id, "title": b.title[:BUTTON_TITLE]}}
            for b in message.buttons
        ]
    }
    return _interactive(message, buttons)


def _section(section: ListSection) -> OutSection:
    rows: list[OutRow] = []
    for row in section.rows:
        out: OutRow = {"id": row.id, "title": row.title}
        if row.description:
            out["description"] = row.description
        rows.append(out)
    encoded: OutSection = {"rows": rows}
    if section.title:
        encoded["title"] = section.title
    return encoded


def _list(message: ListMessage) -> SendRequest:
    action: OutAction = {
        "button": message.button_text,
        "sections": [_section(s) for s in message.sections],
    }
    return _interactive(message, action)


def _reaction(message: Reaction) -> SendRequest:
    body = _head(message)
    body.pop("context", None)  # a reaction names its message itself
    body["type"] = "reaction"
    body["reaction"] = {"message_id": message.message_id, "emoji": message.emoji or ""}
    return body


def _degrees(value: float) -> str:
    """A coordinate as a plain decimal string (never ``1e-05``), as Meta documents it."""
    return format(Decimal(repr(value)), "f")


def _location(message: LocationMessage) -> SendRequest:
    location: OutLocation = {
        "latitude": _degrees(message.latitude),
        "longitude": _degrees(message.longitude),
    }
    if message.name is not None:
        location["name"] = message.name
    if message.address is not None:
        location["address"] = message.address
    body = _head(message)
    body["type"] = "location"
    body["location"] = location
    return body


def _card(card: SharedContact, index: int) -> OutContactCard:
    """A contact card; WhatsApp needs a formatted name and takes no vCard text."""
    if not (card.name and card.name.strip()):
        raise InvalidRequestError(
            f"contact {index} needs a name: WhatsApp cards have a required formatted name "
            "and take no vCard",
            platform="whatsapp",
        )
    encoded: OutContactCard = {"name": {"formatted_name": card.name}}
    phones: list[OutContactPhone] = [{"phone": p} for p in card.phones]
    if phones and card.user_id:
        phones[0]["wa_id"] = card.user_id
    if phones:
        encoded["phones"] = phones
    if card.emails:
        encoded["emails"] = [{"email": e} for e in card.emails]
    return encoded


def _contacts(message: ContactsMessage) -> SendRequest:
    body = _head(message)
    body["type"] = "contacts"
    body["contacts"] = [_card(c, i) for i, c in enumerate(message.contacts)]
    return body


ENCODERS: dict[type[object], Callable[..., SendRequest]] = {
    TextMessage: _text,
    MediaMessage: _media,
    TemplateMessage: _template,
    ButtonsMessage: _buttons,
    ListMessage: _list,
    Reaction: _reaction,
    LocationMessage: _location,
    ContactsMessage: _contacts,
}
"""Outbound message class -> encoder of its request body."""


def encode(message: object) -> SendRequest:
    """The request body of ``message``, or :class:`CapabilityNotSupportedError`."""
    encoder = ENCODERS.get(type(message))
    if encoder is None:
        kind = getattr(message, "kind", type(message).__name__)
        raise CapabilityNotSupportedError("whatsapp", f"send {kind}")
    return encoder(message)


def _read(message: MarkAsRead) -> ReadRequest:
    return {"messaging_product": "whatsapp", "status": "read", "message_id": message.message_id}


def _typing(message: Typing) -> ReadRequest | None:
    if not message.on:
        return None  # WhatsApp hides the indicator itself: with the reply, or after 25 seconds
    if message.message_id is None:
        raise InvalidRequestError(
            "WhatsApp shows a typing indicator only with the customer's message id "
            "(Typing.message_id), which it also marks read",
            platform="whatsapp",
        )
    return {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": message.message_id,
        "typing_indicator": {"type": "text"},
    }


ACTIONS: dict[type[object], Callable[..., ReadRequest | None]] = {
    MarkAsRead: _read,
    Typing: _typing,
}
"""Action class -> its request body (``None``: nothing to request)."""


def action_body(message: object) -> ReadRequest | None:
    """The body of an action from :data:`ACTIONS` (``None`` when nothing is to be sent)."""
    return ACTIONS[type(message)](message)
