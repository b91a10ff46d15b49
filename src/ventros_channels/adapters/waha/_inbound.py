"""WAHA deliveries to events, by table: the envelope's ``event`` names the mapper.

Who and where: the three engines fill ``from`` / ``to`` / ``participant`` differently (GOWS puts
the sender of our own group message in ``to``; some engines name a Status poster in ``from``),
but every engine writes the chat into the message id (``{fromMe}_{chat}_{id}[_{participant}]``,
or an id object with ``remote``). So a group, broadcast or channel named by the id is the chat,
whatever ``from`` says; WhatsApp Status posts (``status@broadcast``) are filed as a broadcast
chat with the poster as sender, never as a direct chat with the poster.

Times: a payload's own ``timestamp`` (seconds; milliseconds, digit strings and ISO strings are
recognized too), else the envelope's (milliseconds).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from ventros_channels.adapters._safe import epoch, timestamp_fields
from ventros_channels.adapters.base import MALFORMED
from ventros_channels.adapters.waha._payloads import (
    AckPayload,
    EngineData,
    Envelope,
    Me,
    MediaData,
    PresenceData,
    PresencePayload,
    ReactionPayload,
    RevokedPayload,
    SessionStatusPayload,
    WAMessage,
)
from ventros_channels.domain.types import ChannelType
from ventros_channels.messaging.delivery import DeliveryStatus
from ventros_channels.messaging.inbound import (
    Attachment,
    ChatType,
    DeliveryError,
    InboundEvent,
    Location,
    MediaKind,
    MessageDeleted,
    MessageEcho,
    MessageEdited,
    MessageReceived,
    Presence,
    PresenceChanged,
    ReactionChanged,
    SessionStatusChanged,
    SharedContact,
    StatusChanged,
    Unsupported,
    content_key,
)

__all__ = [
    "ACK_STATUS",
    "STATUS_BROADCAST",
    "Address",
    "Context",
    "address",
    "chat_type",
    "map_envelope",
    "map_history_item",
    "map_message",
    "normalize_jid",
    "read_jid",
    "unsupported",
]

WAHA = ChannelType.WAHA
STATUS_BROADCAST = "status@broadcast"
"""The chat WhatsApp Status (stories) are posted to."""
ACK_STATUS = {
    -1: DeliveryStatus.FAILED,
    0: DeliveryStatus.PENDING,
    1: DeliveryStatus.SENT,
    2: DeliveryStatus.DELIVERED,
    3: DeliveryStatus.READ,
    4: DeliveryStatus.PLAYED,
}
"""WAHA ``ack`` values and the delivery status each one means."""
_SHARED = ("@g.us", "@broadcast", "@newsletter")
_CHAT_TYPES = (
    ("@c.us", ChatType.DIRECT),
    ("@lid", ChatType.DIRECT),
    ("@g.us", ChatType.GROUP),
    ("@newsletter", ChatType.CHANNEL),
    ("@broadcast", ChatType.BROADCAST),
)
_MS_FROM = 100_000_000_000
"""A Unix time above this (the year 5138 in seconds) is counted in milliseconds."""
Fields = dict[str, Any]
KeyFn = Callable[..., str]


class Context:
    """One delivery's envelope facts that every mapper needs."""

    __slots__ = ("envelope", "envelope_time", "key", "me", "session")

    def __init__(self, envelope: Envelope, session: str | None, key: KeyFn) -> None:
        self.envelope = envelope
        self.session = session
        self.key = key
        me = envelope.get("me")
        self.me: Me = me if isinstance(me, dict) else {}
        self.envelope_time = envelope.get("timestamp")


# ------------------------------------------------------------------ ids


def normalize_jid(jid: str) -> str:
    """One form per WhatsApp user id: phone JIDs become ``<digits>@c.us`` (device suffix
    dropped); groups, ``@lid``, newsletters and broadcasts are kept as they are.
    """
    if jid.endswith("@c.us") and ":" not in jid:  # already normal: the common case
        return jid
    user, _, server = jid.partition("@")
    if server in ("s.whatsapp.net", "c.us"):
        return f"{user.partition(':')[0]}@c.us"
    return jid


def chat_type(chat_id: str) -> ChatType:
    for suffix, kind in _CHAT_TYPES:
        if chat_id.endswith(suffix):
            return kind
    return ChatType.DIRECT


def read_jid(value: object) -> str | None:
    """A JID given as a string or as an object with ``_serialized`` (WEBJS)."""
    if type(value) is str:
        return value or None
    if isinstance(value, dict):
        inner = value.get("_serialized")
        return inner if isinstance(inner, str) and inner else None
    return None


def id_parts(ident: object) -> tuple[str | None, str | None]:
    """(chat, participant) named by a message id: ``{fromMe}_{chat}_{id}[_{participant}]`` or
    an id object (``remote``, ``participant``); ``(None, None)`` for a bare id."""
    if type(ident) is str:
        parts = ident.split("_")
        if len(parts) in (3, 4) and parts[0] in ("true", "false"):
            return parts[1] or None, parts[3] if len(parts) == 4 else None
        return None, None
    if isinstance(ident, dict):
        remote = read_jid(ident.get("remote"))
        if remote is None:
            return id_parts(ident.get("_serialized"))
        return remote, read_jid(ident.get("participant"))
    return None, None


def message_id(ident: object) -> str:
    """The WAHA id of a message, given as a string or an id object."""
    if type(ident) is str:
        return ident
    serialized = read_jid(ident)
    if serialized is None:
        raise TypeError("message id is neither a string nor an id object")
    return serialized


class Address:
    """Where a message was posted and by whom."""

    __slots__ = ("aliases", "chat_id", "from_me", "sender")

    def __init__(
        self, chat_id: str, sender: str | None, aliases: tuple[str, ...], from_me: bool
    ) -> None:
        self.chat_id = chat_id
        self.sender = sender
        self.aliases = aliases
        self.from_me = from_me

    def fields(self) -> Fields:
        out: Fields = {
            "chat_id": self.chat_id,
            "chat_type": chat_type(self.chat_id),
            "sender_id": self.sender,
            "from_me": self.from_me,
        }
        if self.aliases:
            out["sender_aliases"] = self.aliases
        return out


def _engine(payload: WAMessage) -> EngineData:
    data = payload.get("_data")
    return data if isinstance(data, dict) else {}


def _chat(payload: WAMessage, id_chat: str | None, from_me: bool) -> str:
    raw_from, raw_to = read_jid(payload.get("from")), read_jid(payload.get("to"))
    if id_chat is not None and id_chat.endswith(_SHARED):
        return id_chat  # a group, broadcast or channel named by the id is the chat
    if STATUS_BROADCAST in (raw_from, raw_to):
        return STATUS_BROADCAST
    chat = (raw_to if from_me and raw_to else raw_from) or id_chat
    if chat is None:
        raise KeyError("from")
    return chat


def _sender_candidates(payload: WAMessage, id_participant: str | None) -> list[str]:
    """Every id the payload gives its sender, the most specific first."""
    data = _engine(payload)
    info = data.get("Info") or {}
    key = data.get("key") or {}
    found = (
        payload.get("participant"),
        payload.get("author"),
        id_participant,
        info.get("Sender"),
        key.get("participant"),
        info.get("SenderAlt"),
        key.get("participantAlt"),
        key.get("participantPn"),
        key.get("senderPn"),
    )
    return [normalize_jid(j) for j in found if isinstance(j, str) and j]


def address(payload: WAMessage, me: Me) -> Address:
    """Chat, sender, sender aliases and direction of a message payload."""
    from_me = bool(payload.get("fromMe"))
    id_chat, id_participant = id_parts(payload.get("id"))
    chat_id = normalize_jid(_chat(payload, id_chat, from_me))
    candidates = _sender_candidates(payload, id_participant)
    shared = chat_id.endswith(_SHARED)
    if from_me:
        mine = me.get("id")
        sender = normalize_jid(mine) if isinstance(mine, str) and mine else None
    elif shared:
        raw_from = read_jid(payload.get("from"))
        poster = raw_from if raw_from and not raw_from.endswith(_SHARED) else None
        sender = candidates[0] if candidates else (normalize_jid(poster) if poster else None)
    else:
        sender = chat_id
    info = _engine(payload).get("Info") or {}
    alt = info.get("RecipientAlt")
    if isinstance(alt, str) and alt:
        candidates.append(normalize_jid(alt))
    # the sender's other ids (e.g. the phone behind a @lid), never the chat itself
    aliases = tuple(dict.fromkeys(c for c in candidates if c not in (sender, chat_id)))
    return Address(chat_id, sender, aliases, from_me)


# ------------------------------------------------------------------ times


def when(value: object) -> datetime | None:
    """The instant of a WAHA time: Unix seconds or milliseconds (numbers or digit strings) or
    an ISO 8601 string; ``None`` when there is none (Go's zero time included)."""
    kind = type(value)
    if kind is int or kind is float:
        number = cast(float, value)
        return epoch(number, 1000 if number > _MS_FROM else 1)
    if kind is not str:
        return None
    text = cast(str, value)
    if text.isdigit():
        return when(int(text)) if len(text) <= 20 else None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.year <= 1970:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def stamp(value: object, envelope: object) -> Fields:
    """The event's ``timestamp``: its own time, else the envelope's; an own time that is
    present but unusable is recorded in ``malformed_fields``."""
    own = when(value)
    if own is not None:
        return {"timestamp": own}
    fallback = when(envelope)
    if value is None and fallback is not None:
        return {"timestamp": fallback}
    return timestamp_fields(value, fallback=fallback)


# ------------------------------------------------------------------ message content


def _media_kind(mime: str | None, data_type: object) -> MediaKind:
    special = _MEDIA_BY_TYPE.get(str(data_type))
    if special is not None:
        return special
    if (mime or "").startswith("image/webp"):
        return MediaKind.STICKER
    return _MEDIA_BY_PREFIX.get((mime or "").split("/", 1)[0], MediaKind.DOCUMENT)


_MEDIA_BY_TYPE = {"ptt": MediaKind.VOICE, "sticker": MediaKind.STICKER}
_MEDIA_BY_PREFIX = {"image": MediaKind.IMAGE, "video": MediaKind.VIDEO, "audio": MediaKind.AUDIO}


def _vcard(card: str) -> SharedContact:
    name = None
    phones: list[str] = []
    for line in card.splitlines():
        key, _, value = line.partition(":")
        if key.upper() == "FN":
            name = value.strip()
        elif key.upper().startswith("TEL"):
            phones.append(value.strip())
    return SharedContact(name=name, phones=tuple(phones), vcard=card)


def _media(flag: object, out: Fields, payload: WAMessage) -> None:
    media: MediaData = payload.get("media") or {}
    mime = media.get("mimetype")
    out["attachments"] = (
        Attachment(
            kind=_media_kind(mime, _engine(payload).get("type")),
            url=media.get("url") or payload.get("mediaUrl"),
            mime_type=mime,
            filename=media.get("filename"),
            caption=out.pop("text", None),
        ),
    )


def _location(loc: dict[str, Any], out: Fields, payload: WAMessage) -> None:
    if loc.get("latitude") is not None:
        out["location"] = Location(
            latitude=float(loc["latitude"]),
            longitude=float(loc["longitude"]),
            name=loc.get("description") or loc.get("name"),
        )


def _contacts(cards: list[object], out: Fields, payload: WAMessage) -> None:
    out["contacts"] = tuple(_vcard(c) for c in cards if isinstance(c, str))


def _reply(reply: dict[str, Any], out: Fields, payload: WAMessage) -> None:
    if reply.get("id"):
        out["reply_to"] = str(reply["id"])


_CONTENT: tuple[tuple[str, Callable[[Any, Fields, WAMessage], None]], ...] = (
    ("hasMedia", _media),
    ("location", _location),
    ("vCards", _contacts),
    ("replyTo", _reply),
)
"""Payload field -> what it adds to a message event (applied when the field is truthy)."""


def _sender_name(data: EngineData) -> str | None:
    info = data.get("Info") or {}
    return data.get("notifyName") or info.get("PushName") or data.get("pushName")


def map_message(
    payload: WAMessage, ctx: Context, raw: object = None
) -> MessageReceived | MessageEcho:
    """One message (a webhook payload or a history item) as an event."""
    where = address(payload, ctx.me)
    ident = message_id(payload["id"])
    fields = where.fields()
    fields.update(
        channel_type=WAHA,
        account_id=ctx.session,
        message_id=ident,
        idempotency_key=ctx.key(ctx.session, "msg", ident),
        raw=raw if raw is not None else payload,
        text=payload.get("body") or None,
        **stamp(payload.get("timestamp"), ctx.envelope_time),
    )
    for field, add in _CONTENT:
        value = payload.get(field)
        if value:
            add(value, fields, payload)
    data = _engine(payload)
    if data.get("isForwarded"):
        fields["forwarded"] = True
    if where.from_me:  # model_validate on a ready dict: the cheapest validated construction
        return MessageEcho.model_validate(fields)
    fields["sender_name"] = _sender_name(data)
    return MessageReceived.model_validate(fields)


# ------------------------------------------------------------------ other events


def _message_event(payload: WAMessage, ctx: Context) -> InboundEvent:
    return map_message(payload, ctx, ctx.envelope)


def _ack(payload: AckPayload, ctx: Context) -> InboundEvent:
    ack = int(payload["ack"])
    status = ACK_STATUS.get(ack)
    if status is None:
        return unsupported(ctx, f"unknown ack value {ack}")
    id_chat, _id_participant = id_parts(payload.get("id"))
    raw_from = read_jid(payload.get("from"))
    # in an ack, "from" is the chat the message went to, whoever sent it; a group or
    # broadcast named by the id wins (NOWEB names the reader in "from" there)
    chat = id_chat if id_chat and id_chat.endswith(_SHARED) else raw_from or id_chat
    if chat is None:
        raise KeyError("from")
    chat_id = normalize_jid(chat)
    reader = read_jid(payload.get("participant")) or (raw_from if raw_from != chat else None)
    ident = message_id(payload["id"])
    return StatusChanged(
        channel_type=WAHA,
        account_id=ctx.session,
        message_id=ident,
        chat_id=chat_id,
        chat_type=chat_type(chat_id),
        recipient_id=normalize_jid(reader) if reader else chat_id,
        **stamp(payload.get("timestamp"), ctx.envelope_time),
        status=status,
        error=DeliveryError(code="ERROR", title=payload.get("ackName")) if ack == -1 else None,
        idempotency_key=ctx.key(ctx.session, "ack", ident, ack),
        raw=ctx.envelope,
    )


def _reaction(payload: ReactionPayload, ctx: Context) -> InboundEvent:
    reaction = payload["reaction"]
    text = reaction.get("text") or None
    ident = payload.get("id")
    return ReactionChanged(
        channel_type=WAHA,
        account_id=ctx.session,
        message_id=str(read_jid(ident) or ident),
        **address(payload, ctx.me).fields(),
        **stamp(payload.get("timestamp"), ctx.envelope_time),
        target_message_id=str(reaction["messageId"]),
        emoji=text,
        idempotency_key=ctx.key(ctx.session, "reaction", read_jid(ident) or ident, text or ""),
        raw=ctx.envelope,
    )


def _edited(payload: WAMessage, ctx: Context) -> InboundEvent:
    ident = message_id(payload["id"])
    return MessageEdited(
        channel_type=WAHA,
        account_id=ctx.session,
        message_id=ident,
        **address(payload, ctx.me).fields(),
        **stamp(payload.get("timestamp"), ctx.envelope_time),
        target_message_id=str(payload["editedMessageId"]),
        text=payload.get("body"),
        idempotency_key=ctx.key(ctx.session, "edit", ident),
        raw=ctx.envelope,
    )


def _revoked(payload: RevokedPayload, ctx: Context) -> InboundEvent:
    after: WAMessage = payload.get("after") or payload.get("before") or {}
    target = str(payload["revokedMessageId"])
    ident = after.get("id")
    return MessageDeleted(
        channel_type=WAHA,
        account_id=ctx.session,
        message_id=read_jid(ident),
        **address(after, ctx.me).fields(),
        **stamp(after.get("timestamp"), ctx.envelope_time),
        target_message_id=target,
        idempotency_key=ctx.key(ctx.session, "revoke", target),
        raw=ctx.envelope,
    )


def _session_status(payload: SessionStatusPayload, ctx: Context) -> InboundEvent:
    ident = ctx.envelope.get("id")
    return SessionStatusChanged(
        channel_type=WAHA,
        account_id=ctx.session,
        chat_id=str(payload.get("name") or ctx.session or ""),
        **stamp(None, ctx.envelope_time),
        status=str(payload["status"]),
        idempotency_key=ctx.key(ctx.session, "session", ident)
        if isinstance(ident, str)
        else content_key(f"waha:{ctx.session}:session", ctx.envelope),
        raw=ctx.envelope,
    )


PRESENCES: dict[str, Presence] = {
    "typing": "typing",
    "recording": "recording",
    "paused": "paused",
    "online": "online",
    "offline": "offline",
}
"""WAHA's ``lastKnownPresence`` values (the same in every engine) and what each one is."""


def _presence(item: PresenceData, chat_id: str, ctx: Context) -> InboundEvent:
    member = normalize_jid(str(item.get("participant") or chat_id))
    ident = ctx.envelope.get("id")
    parts = (ident, member) if isinstance(ident, str) else (content_key("c", ctx.envelope), member)
    last_seen = item.get("lastSeen")
    return PresenceChanged(
        channel_type=WAHA,
        account_id=ctx.session,
        chat_id=chat_id,
        chat_type=chat_type(chat_id),
        sender_id=member,
        **stamp(None, ctx.envelope_time),
        presence=PRESENCES[str(item.get("lastKnownPresence"))],
        last_seen=epoch(last_seen) if last_seen else None,
        idempotency_key=ctx.key(ctx.session, "presence", *parts),
        raw=ctx.envelope,
    )


def _presences(payload: PresencePayload, ctx: Context) -> list[InboundEvent]:
    """``presence.update``: one event per member whose presence the delivery reports."""
    chat_id = normalize_jid(str(payload["id"]))
    return [_presence(item, chat_id, ctx) for item in payload.get("presences") or ()]


BATCH_MAPPERS: dict[str, Callable[[Any, Context], list[InboundEvent]]] = {
    "presence.update": _presences,
}
"""Envelope ``event`` -> mapper of an event that reports several items at once."""

EVENT_MAPPERS: dict[str, Callable[[Any, Context], InboundEvent]] = {
    "message": _message_event,
    "message.any": _message_event,
    "message.ack": _ack,
    "message.reaction": _reaction,
    "message.edited": _edited,
    "message.revoked": _revoked,
    "session.status": _session_status,
}
"""Envelope ``event`` -> mapper; every other event arrives as :class:`Unsupported`."""


def map_history_item(item: object, session: str | None, key: KeyFn) -> InboundEvent:
    """One message of a chat's history: its event, or :class:`Unsupported` when malformed."""
    payload = cast(dict[str, object], item if isinstance(item, dict) else {})
    ctx = Context({"event": "message", "payload": payload}, session, key)
    try:
        if not payload:
            raise TypeError("a history item is not a message object")
        return map_message(cast(WAMessage, payload), ctx)
    except MALFORMED as exc:
        return unsupported(ctx, f"malformed ({type(exc).__name__})")


def map_envelope(ctx: Context) -> list[InboundEvent]:
    """The delivery's events: one per item (most events hold one); an event kind the tables
    do not cover, or a batch with no items, is :class:`Unsupported`."""
    kind = ctx.envelope["event"]
    batch = BATCH_MAPPERS.get(kind)
    if batch is not None:
        return batch(ctx.envelope["payload"], ctx) or [unsupported(ctx, f"empty {kind!r}")]
    mapper = EVENT_MAPPERS.get(kind)
    if mapper is None:
        return [unsupported(ctx, f"event {kind!r} is not mapped")]
    return [mapper(ctx.envelope["payload"], ctx)]


# ------------------------------------------------------------------ lossless fallback


def _what_can_be_read(payload: WAMessage, ctx: Context) -> Fields:
    """Chat, sender and message id of a payload that could not be mapped, as far as they go."""
    try:
        fields = address(payload, ctx.me).fields()
    except MALFORMED:
        chat = read_jid(payload.get("from"))
        fields = {"chat_id": normalize_jid(chat)} if chat else {}
        if chat:
            fields["chat_type"] = chat_type(fields["chat_id"])
    ident = read_jid(payload.get("id"))
    if ident is not None:
        fields["message_id"] = ident
    return fields


def unsupported(ctx: Context, reason: str) -> Unsupported:
    """:class:`Unsupported` with every id, chat, sender and time the delivery holds."""
    inner = ctx.envelope.get("payload")
    payload = cast(WAMessage, inner if isinstance(inner, dict) else {})
    fields = {"chat_id": "", **_what_can_be_read(payload, ctx)}
    ident = ctx.envelope.get("id")
    return Unsupported(
        channel_type=WAHA,
        account_id=ctx.session,
        **fields,
        **stamp(payload.get("timestamp"), ctx.envelope_time),
        idempotency_key=ctx.key(ctx.session, "event", ident)
        if isinstance(ident, str)
        else content_key(f"waha:{ctx.session}:event", ctx.envelope),
        reason=reason,
        raw=ctx.envelope,
    )
