"""WhatsApp Cloud webhook changes -> normalized events, by table.

Two tables drive the mapping: :data:`FIELDS` (a change's ``field`` -> handler of its ``value``)
and :data:`MESSAGES` (a message's ``type`` -> mapper). What no table knows, or what cannot be
read, becomes :class:`Unsupported` carrying every id, chat, sender and time that could be read
and the platform's item as ``raw``.

Field by field:

* ``messages``: customer messages, statuses of our messages, and ``value.errors``.
* ``smb_message_echoes`` (WhatsApp Business app coexistence): what the business sent from the
  app or a linked device. Echoes are :class:`MessageEcho` (``from_me``) in the customer's chat;
  an echoed edit, revoke or reaction is the matching event with ``from_me`` set.
* ``history`` (coexistence onboarding): the synced past of each thread. Every synced message is
  the event it would have been live (:class:`MessageReceived` from the customer,
  :class:`MessageEcho` from the business) with its own time and the live idempotency key, so a
  message seen both live and in the sync is stored once; ``raw["history_metadata"]`` holds the
  sync's phase and progress. A ``media_placeholder`` is :class:`Unsupported` under its own key
  (the media follows in a later ``history`` delivery, which then maps normally). A declined
  sync is :class:`Unsupported` with the platform's error code.
* ``smb_app_state_sync``: a contact added to or removed from the Business app's address book.
  No event kind describes an address book, so it is :class:`Unsupported` with ``reason``
  ``"app contact add"`` / ``"app contact remove"``, ``chat_id`` and ``sender_id`` the contact's
  number and ``sender_name`` its full name: a CRM can update the contact from it.
* ``message_template_status_update`` and every account-level field (``account_update``, ...):
  :class:`Unsupported` whose ``reason`` names the field and its ``event``; ``raw`` is the entry
  reduced to that change, so the WhatsApp Business Account id is kept.

Statuses of messages sent to a group (``recipient_type: "group"``) are group events: the chat
is the group, ``recipient_id`` the participant, and the key names the participant, since every
member's ``read`` is its own fact. A ``system`` message saying the customer changed number is a
:class:`ChatMigrated` to the new number.

Times are Unix seconds as strings; a value too large for seconds is read as milliseconds; an
item without a usable time takes its entry's ``time``, else the time of parsing, and says so in
``malformed_fields``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from ventros_channels.adapters._events import validator
from ventros_channels.adapters._safe import epoch, timestamp_fields
from ventros_channels.adapters.base import MALFORMED
from ventros_channels.adapters.whatsapp_cloud._payloads import (
    Change,
    Contact,
    ContactCard,
    Entry,
    Error,
    HistoryChunk,
    InteractiveBody,
    MediaBody,
    Message,
    StateSync,
    Status,
    Value,
)
from ventros_channels.domain.types import ChannelType
from ventros_channels.messaging.delivery import DeliveryStatus
from ventros_channels.messaging.inbound import (
    Attachment,
    ChatMigrated,
    ChatType,
    DeliveryError,
    InboundEvent,
    InteractiveReply,
    Location,
    MediaKind,
    MessageDeleted,
    MessageEcho,
    MessageEdited,
    MessageReceived,
    ReactionChanged,
    SharedContact,
    StatusChanged,
    Unsupported,
    content_key,
)

__all__ = ["FIELDS", "MESSAGES", "parse_entry"]

WHATSAPP = str(ChannelType.WHATSAPP)

Fields = dict[str, Any]
"""Keyword arguments of an event model being assembled."""

T = TypeVar("T")

Names = tuple[str | None, str | None, tuple[str, ...]]
"""A sender's profile name, username and other ids, from ``value.contacts``."""


class KeyMaker(Protocol):
    def __call__(self, account: str | None, kind: str, *parts: object) -> str: ...

    def __hash__(self) -> int: ...


class Scope:
    """What every item of one change shares."""

    __slots__ = ("account", "contacts", "echo", "fallback", "make_key")

    def __init__(
        self,
        make_key: KeyMaker,
        account: str | None,
        fallback: datetime | None,
        contacts: list[Contact],
        *,
        echo: bool = False,
    ) -> None:
        self.make_key = make_key
        self.account = account
        self.fallback = fallback
        self.contacts = contacts
        self.echo = echo

    def key(self, kind: str, *parts: object) -> str:
        return self.make_key(self.account, kind, *parts)


class Unmapped(Exception):
    """An item that is well formed but has no mapping: becomes ``Unsupported(reason)``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------- small readers


def instant(value: object) -> datetime | None:
    """A WhatsApp time: seconds (usually a string), or milliseconds when too large for seconds.

    A value valid as seconds is never read as milliseconds, so no date is ever shifted.
    """
    when = epoch(value)
    return when if when is not None or value is None else epoch(value, 1000)


def _when(value: object, fallback: datetime | None) -> Fields:
    when = instant(value)
    if when is not None:
        return {"timestamp": when}
    return timestamp_fields(value, fallback=fallback)


def _text(value: object) -> str | None:
    """An id or name as a string (numbers too); ``None`` for anything else or empty."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _key_prefix(make_key: KeyMaker, account: str | None, kind: str) -> str:
    """``make_key(account, kind, "")``: the key of an item is this plus its id."""
    return make_key(account, kind, "")


def _required(value: object, what: str) -> str:
    text = _text(value)
    if text is None:
        raise ValueError(what)
    return text


def _id(value: object) -> str | None:
    """:func:`_text`, without a call for the usual case of a non-empty string."""
    return value if type(value) is str and value else _text(value)


def _digits(number: str) -> str:
    """``+1 650-555-1234`` -> ``16505551234`` (how ``wa_id`` and ``from`` spell numbers)."""
    stripped = number.translate(_PHONE_PUNCTUATION)
    return stripped if stripped.isdigit() else number


_PHONE_PUNCTUATION = str.maketrans("", "", "+-() ")


def _error(errors: list[Error] | None) -> tuple[DeliveryError | None, str]:
    """The first asynchronous error, and ``" (code: title)"`` for a reason text."""
    if not errors:
        return None, ""
    first = errors[0]
    details = (first.get("error_data") or {}).get("details")
    error = DeliveryError(
        code=_text(first.get("code")),
        title=first.get("title"),
        message=details or first.get("message"),
    )
    return error, f" ({error.code}: {error.title or error.message})"


# ---------------------------------------------------------------------------- message content


def _text_body(message: Message) -> Fields:
    return {"text": message["text"]["body"]}


def _media(kind: str, default: MediaKind) -> Callable[[Message], Fields]:
    def read(message: Message) -> Fields:
        media = cast(dict[str, MediaBody], message)[kind]
        voice = media.get("voice") is True
        return {
            "attachments": (
                Attachment(
                    kind=MediaKind.VOICE if voice else default,
                    media_id=_text(media.get("id")),
                    url=media.get("url"),
                    mime_type=media.get("mime_type"),
                    sha256=media.get("sha256"),
                    filename=media.get("filename"),
                    caption=media.get("caption"),
                ),
            )
        }

    return read


def _location(message: Message) -> Fields:
    loc = message["location"]
    return {
        "location": Location(
            latitude=loc["latitude"],
            longitude=loc["longitude"],
            name=loc.get("name"),
            address=loc.get("address"),
            url=loc.get("url"),
        )
    }


def _card(card: ContactCard) -> SharedContact:
    phones = card.get("phones") or []
    return SharedContact(
        name=(card.get("name") or {}).get("formatted_name"),
        phones=tuple(p.get("phone") or p.get("wa_id") or "" for p in phones),
        emails=tuple(e["email"] for e in card.get("emails") or () if e.get("email")),
        user_id=next((p["wa_id"] for p in phones if p.get("wa_id")), None),
    )


def _contacts(message: Message) -> Fields:
    return {"contacts": tuple(_card(c) for c in message["contacts"])}


def _button_reply(body: InteractiveBody) -> Fields:
    reply = body["button_reply"]
    title = reply.get("title")
    return {
        "interactive": InteractiveReply(type="button", id=reply.get("id"), title=title),
        "text": title,
    }


def _list_reply(body: InteractiveBody) -> Fields:
    reply = body["list_reply"]
    title = reply.get("title")
    return {
        "interactive": InteractiveReply(
            type="list", id=reply.get("id"), title=title, description=reply.get("description")
        ),
        "text": title,
    }


def _flow_reply(body: InteractiveBody) -> Fields:
    reply = body["nfm_reply"]
    return {
        "interactive": InteractiveReply(
            type="flow",
            id=reply.get("name"),
            title=reply.get("body"),
            description=reply.get("response_json"),
        )
    }


INTERACTIVE: dict[str, Callable[[InteractiveBody], Fields]] = {
    "button_reply": _button_reply,
    "list_reply": _list_reply,
    "nfm_reply": _flow_reply,
}
"""``interactive.type`` -> reader of the reply."""


def _interactive(message: Message) -> Fields:
    body = message["interactive"]
    kind = body["type"]
    read = INTERACTIVE.get(kind)
    if read is None:
        raise Unmapped(f"interactive {kind!r}")
    return read(body)


def _template_button(message: Message) -> Fields:
    button = message["button"]
    text = button.get("text")
    return {
        "interactive": InteractiveReply(
            type="template_button", id=button.get("payload"), title=text
        ),
        "text": text,
    }


def _order(message: Message) -> Fields:
    order = message["order"]
    return {"text": order.get("text") or None, "referral": {"order": order}}


CONTENT: dict[str, Callable[[Message], Fields]] = {
    "text": _text_body,
    "image": _media("image", MediaKind.IMAGE),
    "video": _media("video", MediaKind.VIDEO),
    "audio": _media("audio", MediaKind.AUDIO),
    "document": _media("document", MediaKind.DOCUMENT),
    "sticker": _media("sticker", MediaKind.STICKER),
    "location": _location,
    "contacts": _contacts,
    "interactive": _interactive,
    "button": _template_button,
    "order": _order,
}
"""Message types that carry content -> the content's event fields."""


# ---------------------------------------------------------------------------- message mappers

Mapper = Callable[[Message, Fields, Scope], InboundEvent]

_RECEIVED = validator(MessageReceived)
_ECHO = validator(MessageEcho)


def _content_message(read: Callable[[Message], Fields]) -> Mapper:
    def content_message(message: Message, fields: Fields, scope: Scope) -> InboundEvent:
        fields.update(read(message))
        _context(fields, message)
        return (_ECHO if scope.echo else _RECEIVED)(fields)

    return content_message


def _reaction(message: Message, fields: Fields, scope: Scope) -> InboundEvent:
    reaction = message["reaction"]
    fields["target_message_id"] = str(reaction["message_id"])
    fields["emoji"] = reaction.get("emoji") or None
    return ReactionChanged.model_validate(fields)


def _edit(message: Message, fields: Fields, scope: Scope) -> InboundEvent:
    edit = message["edit"]
    inner = edit.get("message") or {}
    read = CONTENT.get(inner.get("type", ""))
    content = read(inner) if read is not None else {}
    attachments: tuple[Attachment, ...] = content.get("attachments", ())
    text = content.get("text") or next((a.caption for a in attachments if a.caption), None)
    fields.update(
        target_message_id=str(edit["original_message_id"]), text=text, attachments=attachments
    )
    return MessageEdited.model_validate(fields)


def _revoke(message: Message, fields: Fields, scope: Scope) -> InboundEvent:
    fields["target_message_id"] = str(message["revoke"]["original_message_id"])
    return MessageDeleted.model_validate(fields)


def _system(message: Message, fields: Fields, scope: Scope) -> InboundEvent:
    system = message["system"]
    kind = system.get("type")
    new_number = _text(system.get("wa_id")) or _text(system.get("new_wa_id"))
    if kind == "user_changed_number" and new_number:
        return ChatMigrated(new_chat_id=new_number, **fields)
    return Unsupported(reason=f"system message: {kind}", **fields)


def _unsupported(message: Message, fields: Fields, scope: Scope) -> InboundEvent:
    _, detail = _error(message.get("errors"))
    what = (message.get("unsupported") or {}).get("type")
    inner = f" ({what})" if what else ""
    return Unsupported(reason=f"message type {message.get('type')!r}{inner}{detail}", **fields)


def _placeholder(message: Message, fields: Fields, scope: Scope) -> InboundEvent:
    # the media arrives later under the same message id: this must not take its key
    fields["idempotency_key"] = scope.key("history_placeholder", fields["message_id"])
    reason = "history media placeholder: the media follows in a later history delivery"
    return Unsupported(reason=reason, **fields)


MESSAGES: dict[str, Mapper] = {
    **{kind: _content_message(read) for kind, read in CONTENT.items()},
    "reaction": _reaction,
    "edit": _edit,
    "revoke": _revoke,
    "system": _system,
    "unsupported": _unsupported,
    "media_placeholder": _placeholder,
}
"""``messages[].type`` -> mapper; any other type is ``Unsupported`` with its ids."""


def _message_fields(message: Message, scope: Scope, chat: str | None = None) -> Fields:
    """The fields every event about one message has: ids, chat, sender, time, key, raw.

    Runs for every message: the common shapes (string ids, a valid time) take no detour.
    """
    wamid = message["id"]
    if type(wamid) is not str or not wamid:
        wamid = _required(wamid, "message id")
    sender = message.get("from")
    if type(sender) is not str or not sender:
        sender = _text(sender) or _text(message.get("user_id")) or ""
    stamp = message.get("timestamp")
    when = epoch(stamp)
    fields: Fields = {
        "channel_type": WHATSAPP,
        "account_id": scope.account,
        "message_id": wamid,
        "chat_id": chat or sender,
        "sender_id": sender,
        "idempotency_key": _key_prefix(scope.make_key, scope.account, "msg") + wamid,
        "raw": message,
    }
    if when is None:
        fields.update(_when(stamp, scope.fallback))
    else:
        fields["timestamp"] = when
    group = _text(message.get("group_id")) if "group_id" in message else None
    if group:
        fields["chat_id"] = group
        fields["chat_type"] = ChatType.GROUP
    if scope.echo:
        fields["from_me"] = True
        if chat is None:
            to = _text(message.get("to")) or _text(message.get("to_user_id"))
            fields["chat_id"] = group or (_digits(to) if to else sender)
        return fields
    if scope.contacts or "user_id" in message:
        _name_sender(fields, sender, _text(message.get("user_id")), scope)
    return fields


def _name_sender(fields: Fields, sender: str, user_id: str | None, scope: Scope) -> None:
    """Name, username and other ids of the sender, from ``value.contacts`` (looked up here:
    a delivery usually names one contact, for its one message)."""
    name = username = other = None
    for contact in scope.contacts:
        wa_id, bsuid = contact.get("wa_id"), contact.get("user_id")
        if type(wa_id) is not str or not wa_id:  # _id() inlined: one call fewer per contact
            wa_id = _text(wa_id)
        if bsuid is not None:
            bsuid = _id(bsuid)
        if sender in (wa_id, bsuid):
            profile = contact.get("profile") or {}
            name, username = profile.get("name"), profile.get("username")
            other = bsuid if sender == wa_id else wa_id
            break
    aliases = (other,) if other else ()
    if user_id and user_id not in (sender, other):
        aliases = (*aliases, user_id)
    if name:
        fields["sender_name"] = name
    if username:
        fields["sender_username"] = username
    if aliases:
        fields["sender_aliases"] = aliases


def _context(fields: Fields, message: Message) -> None:
    referral = message.get("referral")
    if referral:
        fields["referral"] = dict(referral)
    context = message.get("context")
    if not context:
        return
    if context.get("forwarded") or context.get("frequently_forwarded"):
        fields["forwarded"] = True
    elif context.get("id"):
        fields["reply_to"] = str(context["id"])
    product = context.get("referred_product")
    if product and not referral:
        fields["referral"] = {"referred_product": product}


def map_message(message: Message, scope: Scope, chat: str | None = None) -> InboundEvent:
    """One message (inbound, echoed or synced) as its event; never raises for bad data."""
    try:
        fields = _message_fields(message, scope, chat)
        mapper = MESSAGES.get(message["type"])
        if mapper is None:
            return _unsupported(message, fields, scope)
        return mapper(message, fields, scope)
    except Unmapped as exc:
        return _salvage(message, scope, exc.reason)
    except MALFORMED as exc:
        return _salvage(message, scope, f"malformed message ({type(exc).__name__})")


def _salvage(item: object, scope: Scope, reason: str, *, timed: bool = True) -> Unsupported:
    """``Unsupported`` with whatever ids of ``item`` can still be read. An item that has no
    time of its own by design (``timed=False``: errors about the account) takes its entry's,
    else the time of receipt, without calling that malformed."""
    data: dict[str, Any] = item if isinstance(item, dict) else {}
    when = (
        _when(data.get("timestamp"), scope.fallback)
        if timed
        else {"timestamp": scope.fallback or datetime.now(UTC)}
    )
    sender = _text(data.get("from")) or _text(data.get("user_id"))
    recipient = _text(data.get("recipient_id")) or _text(data.get("to"))
    chat = _text(data.get("group_id")) or (recipient if scope.echo or not sender else sender)
    return Unsupported(
        channel_type=WHATSAPP,
        account_id=scope.account,
        message_id=_text(data.get("id")),
        chat_id=chat or "",
        sender_id=sender,
        from_me=scope.echo,
        reason=reason,
        idempotency_key=content_key(scope.key("unsupported"), item),
        raw=item,
        **when,
    )


# ---------------------------------------------------------------------------- statuses

STATES: dict[str, DeliveryStatus] = {
    s: DeliveryStatus(s) for s in ("sent", "delivered", "read", "played", "failed")
}
"""``statuses[].status`` -> delivery status; any other value is ``Unsupported``."""


def map_status(status: Status, scope: Scope) -> InboundEvent:
    """One status of a message we sent; never raises for bad data."""
    try:
        return _status(status, scope)
    except MALFORMED as exc:
        return _salvage(status, scope, f"malformed status ({type(exc).__name__})")


def _status(status: Status, scope: Scope) -> InboundEvent:
    wamid = str(status["id"])
    state = status["status"]
    recipient = _text(status.get("recipient_id")) or _text(status.get("recipient_user_id")) or ""
    fields: Fields = {
        "channel_type": WHATSAPP,
        "account_id": scope.account,
        "message_id": wamid,
        "chat_id": recipient,
        "raw": status,
        **_when(status.get("timestamp"), scope.fallback),
    }
    parts: tuple[str, ...] = (wamid, state)
    if status.get("recipient_type") == "group":
        member = _text(status.get("recipient_participant_id")) or _text(
            status.get("recipient_participant_user_id")
        )
        fields["chat_type"] = ChatType.GROUP
        recipient = member or ""
        parts = (wamid, state, recipient)
    known = STATES.get(state)
    if known is None:
        fields["idempotency_key"] = scope.key("status", *parts)
        return Unsupported(reason=f"status {state!r}", from_me=True, **fields)
    error, _ = _error(status.get("errors"))
    return StatusChanged(
        status=known,
        message_ids=(wamid,),
        recipient_id=recipient or None,
        error=error,
        correlation_id=_text(status.get("biz_opaque_callback_data")),
        idempotency_key=scope.key("status", *parts),
        **fields,
    )


# ---------------------------------------------------------------------------- fields


def _value_errors(value: Value, scope: Scope) -> list[InboundEvent]:
    out: list[InboundEvent] = []
    for error in value.get("errors") or ():
        _, detail = _error([error])
        item = {"error": error, "metadata": value.get("metadata")}
        out.append(_salvage(item, scope, f"platform error{detail}", timed=False))
    return out


def _messages_field(value: Value, scope: Scope) -> list[InboundEvent]:
    contacts = value.get("contacts")
    if contacts:
        scope.contacts = contacts
    out = [map_message(m, scope) for m in value.get("messages") or ()]
    if "statuses" in value:
        out.extend([map_status(s, scope) for s in value["statuses"] or ()])
    if "errors" in value:
        out.extend(_value_errors(value, scope))
    return out


def _echoes_field(value: Value, scope: Scope) -> list[InboundEvent]:
    scope.echo = True
    out = [map_message(m, scope) for m in value.get("message_echoes") or ()]
    out.extend(_value_errors(value, scope))
    return out


def _history_chunk(chunk: HistoryChunk, scope: Scope) -> list[InboundEvent]:
    errors = chunk.get("errors")
    if errors:
        _, detail = _error(errors)
        return [_salvage(chunk, scope, f"history sync refused{detail}", timed=False)]
    meta = chunk.get("metadata") or {}
    out: list[InboundEvent] = []
    for thread in chunk["threads"]:
        chat = str(thread["id"])
        for message in thread.get("messages") or ():
            scope.echo = _text(message.get("from")) not in (chat, None) or "to" in message
            synced = cast(Message, {**message, "history_metadata": meta})
            out.append(map_message(synced, scope, chat))
    return out


def _history_field(value: Value, scope: Scope) -> list[InboundEvent]:
    business = _text((value.get("metadata") or {}).get("display_phone_number"))
    out = _each(value.get("history"), _history_chunk, scope, "history chunk")
    # the media of earlier placeholders arrives as plain messages under this field
    for message in value.get("messages") or ():
        scope.echo = _text(message.get("from")) == business
        out.append(map_message(message, scope))
    scope.echo = False
    out.extend(_value_errors(value, scope))
    return out


def _state_sync(item: StateSync, scope: Scope) -> list[InboundEvent]:
    contact = item["contact"]
    number = _text(contact.get("phone_number")) or ""
    action = item.get("action")
    stamp = (item.get("metadata") or {}).get("timestamp")
    contact_change = Unsupported(
        channel_type=WHATSAPP,
        account_id=scope.account,
        chat_id=number,
        sender_id=number or None,
        sender_name=contact.get("full_name") or contact.get("first_name"),
        reason=f"app {item.get('type')} {action}",
        idempotency_key=scope.key("app_contact", number, action, stamp),
        raw=item,
        **_when(stamp, scope.fallback),
    )
    return [contact_change]


def _state_sync_field(value: Value, scope: Scope) -> list[InboundEvent]:
    return _each(value.get("state_sync"), _state_sync, scope, "state sync")


def _each(
    items: Iterable[T] | None,
    read: Callable[[T, Scope], list[InboundEvent]],
    scope: Scope,
    what: str,
) -> list[InboundEvent]:
    """``read`` applied to every item; an item that cannot be read is ``Unsupported``."""
    out: list[InboundEvent] = []
    for item in items or ():
        try:
            out.extend(read(item, scope))
        except MALFORMED as exc:
            out.append(_salvage(item, scope, f"malformed {what} ({type(exc).__name__})"))
    return out


AccountHandler = Callable[[Value, str], str]


def _entry_time(scope: Scope) -> Fields:
    """Account notifications have no time of their own: their entry's ``time`` is theirs."""
    if scope.fallback is not None:
        return {"timestamp": scope.fallback}
    return timestamp_fields(None, name="entry.time")


def _template_reason(value: Value, field: str) -> str:
    return (
        f"{field}: template {value.get('message_template_name')!r} "
        f"({value.get('message_template_id')}, {value.get('message_template_language')}) "
        f"{value.get('event')}"
    )


def _event_reason(value: Value, field: str) -> str:
    return f"{field}: {value.get('event')}" if "event" in value else f"field {field!r}"


FieldHandler = Callable[[Value, Scope], list[InboundEvent]]

FIELDS: dict[str, FieldHandler] = {
    "messages": _messages_field,
    "smb_message_echoes": _echoes_field,
    "history": _history_field,
    "smb_app_state_sync": _state_sync_field,
}
"""``changes[].field`` -> handler of its ``value``; other fields are account notifications."""

NOTIFICATIONS: dict[str, AccountHandler] = {
    "message_template_status_update": _template_reason,
    "message_template_quality_update": _template_reason,
    "message_template_components_update": _template_reason,
    "template_category_update": _template_reason,
}
"""Account-level fields whose reason names more than the ``event``."""


def _notification(change: Change, entry: Entry, scope: Scope) -> InboundEvent:
    field = str(change.get("field"))
    value = change.get("value") or {}
    reason = NOTIFICATIONS.get(field, _event_reason)(value, field)
    raw = {k: v for k, v in entry.items() if k != "changes"} | {"changes": [change]}
    return Unsupported(
        channel_type=WHATSAPP,
        account_id=scope.account,
        chat_id="",
        reason=reason,
        idempotency_key=content_key(scope.key(field), raw),
        raw=raw,
        **_entry_time(scope),
    )


# ---------------------------------------------------------------------------- entries


def parse_entry(entry: Entry, make_key: KeyMaker) -> list[InboundEvent]:
    """Every event of one ``entry``; bad data becomes ``Unsupported``, never an exception."""
    fallback = instant(entry.get("time")) if isinstance(entry, dict) and "time" in entry else None
    changes = entry.get("changes") if isinstance(entry, dict) else None
    if not isinstance(changes, list):
        return [_salvage(entry, Scope(make_key, None, fallback, []), "malformed entry")]
    out: list[InboundEvent] = []
    for change in changes:
        scope = Scope(make_key, None, fallback, [])
        try:
            out.extend(_change(change, entry, scope))
        except MALFORMED as exc:
            out.append(_salvage(change, scope, f"malformed change ({type(exc).__name__})"))
    return out


def _change(change: Change, entry: Entry, scope: Scope) -> list[InboundEvent]:
    value = change["value"]
    metadata = value.get("metadata")
    if metadata:
        scope.account = _text(metadata.get("phone_number_id"))
    handler = FIELDS.get(change.get("field", ""))
    if handler is None:
        return [_notification(change, entry, scope)]
    return handler(value, scope)
