"""Normalizing Messenger Platform webhooks: tables from event field to a small mapper.

A delivery is ``entry[]``; each entry holds ``messaging[]`` (``standby[]`` while another app
owns the thread) and/or ``changes[]``. A messaging item names its kind by the one field beside
``sender`` / ``recipient`` / ``timestamp`` (``message``, ``postback``, ``read``, ...), so the
mapper is found by looking the item's keys up in :attr:`Dialect.events`. What the two platforms
share is here; each package adds its own fields to a :class:`Dialect`.

Every item is first read for its facts (:class:`Facts`: account, sender, recipient, time) so
that an item no mapper understands, or one that breaks its mapper, still becomes an
:class:`Unsupported` carrying them. Times: the item's ``timestamp`` when usable, else the
entry's ``time``; delivery and read receipts, which Meta sends without a ``timestamp``, take
their ``watermark``. A missing time is no fault (Meta omits it on receipts); an unusable one is
recorded in ``malformed_fields``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, Protocol, TypedDict, cast

import attrs

from ventros_channels.adapters._events import validator
from ventros_channels.adapters._meta._messaging._payloads import (
    Attachment,
    AttachmentPayload,
    Change,
    Entry,
    Message,
    MessagingItem,
)
from ventros_channels.adapters._meta._time import graph_time
from ventros_channels.adapters.base import MALFORMED
from ventros_channels.messaging.delivery import DeliveryStatus
from ventros_channels.messaging.inbound import (
    Attachment as MediaHandle,
)
from ventros_channels.messaging.inbound import (
    InboundEvent,
    InteractiveReply,
    Location,
    MediaKind,
    MessageEcho,
    MessageEdited,
    MessageReceived,
    Postback,
    ReactionChanged,
    StatusChanged,
    Unsupported,
    content_key,
)

if TYPE_CHECKING:
    from ventros_channels.domain.types import ChannelType

__all__ = [
    "SHARED_ATTACHMENTS",
    "SHARED_EVENTS",
    "AttachmentMapper",
    "Content",
    "Dialect",
    "Facts",
    "Host",
    "Mapper",
    "media",
    "parse_entries",
    "read_watermark",
]


class Host(Hashable, Protocol):
    """What the mappers need of the adapter: its type, its key helper, its fallback."""

    channel_type: ClassVar[ChannelType]

    def event_key(self, account: str | None, kind: str, *parts: object) -> str: ...

    def _unsupported(
        self,
        item: object,
        account: str | None,
        chat_id: object,
        stamp: datetime | None,
        reason: str,
        *,
        message_id: str | None = None,
        sender_id: str | None = None,
        malformed: tuple[str, ...] = (),
    ) -> Unsupported: ...


class Common(TypedDict, total=False):
    """The fields every event of one messaging item shares."""

    channel_type: str
    account_id: str | None
    chat_id: str
    sender_id: str | None
    timestamp: datetime
    raw: object
    malformed_fields: tuple[str, ...]


class Fields(Common, total=False):
    """A message's fields as the mappers collect them (validated once, by the event model)."""

    message_id: str | None
    idempotency_key: str
    text: str | None
    attachments: tuple[MediaHandle, ...]
    location: Location
    interactive: InteractiveReply
    reply_to: str
    referral: dict[str, object]


def _party(value: object) -> str | None:
    """``sender`` / ``recipient`` id as text, ``None`` when absent or not an id."""
    pid = value.get("id") if type(value) is dict else None
    if type(pid) is str:
        return pid
    if isinstance(pid, int) and not isinstance(pid, bool):
        return str(pid)
    return None


class Facts:
    """What could be read of one messaging item before its kind is mapped."""

    __slots__ = (
        "account",
        "dialect",
        "host",
        "item",
        "notes",
        "own_time",
        "prefix",
        "recipient",
        "sender",
        "when",
    )

    def __init__(
        self,
        host: Host,
        dialect: Dialect,
        item: MessagingItem,
        account: str | None,
        entry: Entry,
        prefix: str | None = None,
    ) -> None:
        self.host = host
        self.dialect = dialect
        self.item = item
        self.account = account
        # host.event_key(account, ""): what every key of the item starts with
        self.prefix = _key_prefix(host, account) if prefix is None else prefix
        self.sender = _party(item.get("sender"))
        self.recipient = _party(item.get("recipient"))
        stamp = item.get("timestamp")
        when = graph_time(stamp) if stamp is not None else None
        self.own_time = when is not None
        self.notes: tuple[str, ...] = ()
        if when is None:
            when = graph_time(entry.get("time"))  # read only when needed: most items have their own
            if stamp is not None:
                used = "the entry's time" if when is not None else "the time of parsing"
                self.notes = (f"timestamp: not a valid time; {used} is used instead",)
        self.when: datetime = when or datetime.now(UTC)

    @property
    def customer(self) -> str:
        """The other side of the conversation: the recipient when our account sent it."""
        chat = self.recipient if self.sender == self.account else self.sender
        if chat is None:
            raise KeyError("sender")
        return chat

    def common(self, chat: str) -> Common:
        """The fields every event of this item shares, in a fresh dict to add to."""
        fields: Common = {
            "channel_type": self.host.channel_type,
            "account_id": self.account,
            "chat_id": chat,
            "sender_id": self.sender,
            "timestamp": self.when,
            "raw": self.item,
        }
        if self.notes:
            fields["malformed_fields"] = self.notes
        return fields

    def key(self, kind: str, *parts: object) -> str:
        """``host.event_key(account, kind, *parts)``, from its per-account prefix."""
        return self.prefix + ":".join(map(str, (kind, *parts)))

    def stamp_part(self) -> str:
        """The item's own time as written (stable across Meta's retries), else its content."""
        stamp = self.item.get("timestamp")
        return str(stamp) if stamp is not None else content_key("item", self.item)

    def unsupported(self, reason: str) -> Unsupported:
        chat = self.recipient if self.sender == self.account else self.sender
        return self.host._unsupported(
            self.item,
            self.account,
            chat or "",
            self.when,
            reason,
            message_id=_any_mid(self.item),
            sender_id=self.sender,
            malformed=self.notes,
        )


def _key_prefix(host: Host, account: str | None) -> str:
    """What the adapter's key helper puts before the kind (``"messenger:<page>:"``), computed
    once per entry."""
    return host.event_key(account, "")


def _any_mid(item: Mapping[str, object]) -> str | None:
    """The message id an item of any kind names (``message.mid``, ``reaction.mid``, ...)."""
    for value in item.values():
        if isinstance(value, dict):
            mid = value.get("mid")
            if isinstance(mid, str):
                return mid
    return None


class Content:
    """The content of one message, collected part by part."""

    __slots__ = ("attachments", "fallback", "fields")

    def __init__(self) -> None:
        self.fields: Fields = {}
        self.attachments: list[MediaHandle] = []
        self.fallback: str | None = None

    def done(self) -> Fields:
        if self.attachments:
            self.fields["attachments"] = tuple(self.attachments)
        if self.fallback and not (
            self.fields.get("text") or self.attachments or "location" in self.fields
        ):
            self.fields["text"] = self.fallback
        return self.fields


Mapper = Callable[[Facts], InboundEvent]
"""Maps one messaging item, found by its event field."""
AttachmentMapper = Callable[[Attachment, Content], None]
"""Adds one attachment, found by its ``type``, to a message's content."""
FlagMapper = Callable[[Facts, Message, str], InboundEvent]
"""Maps a message carrying a flag (``is_deleted``) to its own event instead of a message."""
ChangeMapper = Callable[[Host, Change, str | None, datetime | None], InboundEvent]
"""Maps one ``changes[]`` element (account, entry time given)."""


@attrs.frozen
class Dialect:
    """One platform's tables: which fields it sends and what each becomes."""

    events: Mapping[str, Mapper]
    attachments: Mapping[str, AttachmentMapper]
    message_flags: Mapping[str, FlagMapper] = attrs.Factory(dict)
    changes: Mapping[str, ChangeMapper] = attrs.Factory(dict)


# ---------------------------------------------------------------- message content

_MEDIA_ID_KEYS = ("ig_post_media_id", "reel_video_id", "sticker_id", "attachment_id")


def _media_id(payload: AttachmentPayload) -> str | None:
    for name in _MEDIA_ID_KEYS:
        value = payload.get(name)
        if value:
            return str(value)
    return None


def media(kind: MediaKind) -> AttachmentMapper:
    """The mapper of an attachment type that holds media of ``kind`` (a sticker is always one)."""

    def add(att: Attachment, content: Content) -> None:
        payload = att.get("payload") or {}
        content.attachments.append(
            MediaHandle(
                kind=MediaKind.STICKER if payload.get("sticker_id") else kind,
                url=payload.get("url") or att.get("url"),
                media_id=_media_id(payload),
                caption=payload.get("title"),
            )
        )

    return add


def _location(att: Attachment, content: Content) -> None:
    coords = (att.get("payload") or {}).get("coordinates") or {}
    content.fields["location"] = Location(
        latitude=coords["lat"], longitude=coords["long"], name=att.get("title")
    )


def _fallback(att: Attachment, content: Content) -> None:
    """A link Meta could not render as media: its title (or URL) stands in for text."""
    if content.fallback is None:
        content.fallback = att.get("title") or att.get("url")


SHARED_ATTACHMENTS: Mapping[str, AttachmentMapper] = {
    "image": media(MediaKind.IMAGE),
    "video": media(MediaKind.VIDEO),
    "audio": media(MediaKind.AUDIO),
    "file": media(MediaKind.DOCUMENT),
    "location": _location,
    "fallback": _fallback,
}
"""Attachment types both platforms send; a ``template`` (a Page's structured message, seen in
echoes) has no media and is left in ``raw``."""


def _text(message: Message, content: Content) -> None:
    content.fields["text"] = message["text"]


def _attachments(message: Message, content: Content, dialect: Dialect) -> None:
    for att in message.get("attachments") or ():
        add = dialect.attachments.get(att.get("type") or "")
        if add is not None:
            add(att, content)


def _quick_reply(message: Message, content: Content) -> None:
    quick = message["quick_reply"]
    content.fields["interactive"] = InteractiveReply(
        type="quick_reply", id=quick.get("payload"), title=message.get("text")
    )


def _reply_to(message: Message, content: Content) -> None:
    reply = message["reply_to"]
    mid = reply.get("mid")
    story = reply.get("story")
    if mid:
        content.fields["reply_to"] = str(mid)
    elif isinstance(story, dict):  # a reply to one of our Instagram stories
        content.fields["reply_to"] = f"story:{story.get('id')}"
        content.fields.setdefault("referral", {"story": story})


def _referral(message: Message, content: Content) -> None:
    content.fields["referral"] = dict(message["referral"])


_PARTS: Mapping[str, Callable[[Message, Content], None]] = {
    "text": _text,
    "quick_reply": _quick_reply,
    "reply_to": _reply_to,
    "referral": _referral,
}


def read_content(message: Message, dialect: Dialect) -> Fields:
    """Text, attachments, quick reply, reply and referral of a message."""
    if len(message) == 2 and "text" in message:  # mid and text: the common case
        return {"text": message["text"]}
    content = Content()
    for name in message:
        part = _PARTS.get(name)
        if part is not None:
            part(message, content)
    if "attachments" in message:
        _attachments(message, content, dialect)
    return content.done()


# ---------------------------------------------------------------- messaging events


def _message(facts: Facts) -> InboundEvent:
    message = facts.item["message"]
    mid = message["mid"]
    if type(mid) is not str:
        mid = str(mid)  # ids are text; a number is read as its digits
    flags = facts.dialect.message_flags
    if flags and not flags.keys().isdisjoint(message):  # one set test for the usual message
        for flag, mapper in flags.items():
            if message.get(flag):
                return mapper(facts, message, mid)
    echo = bool(message.get("is_echo"))
    chat = facts.recipient if echo else facts.sender
    if chat is None:
        raise KeyError("recipient" if echo else "sender")
    fields = cast(Fields, facts.common(chat))
    fields["message_id"] = mid
    fields["idempotency_key"] = facts.prefix + "msg:" + mid  # facts.key("msg", mid)
    fields.update(read_content(message, facts.dialect))
    return (_ECHO if echo else _RECEIVED)(fields)


_RECEIVED = validator(MessageReceived)
_ECHO = validator(MessageEcho)


def _postback(facts: Facts) -> InboundEvent:
    pb = facts.item["postback"]
    mid = pb.get("mid")
    payload = pb.get("payload")
    key = (
        facts.key("postback", mid)
        if mid
        else facts.key("postback", facts.customer, facts.stamp_part(), payload)
    )
    return Postback(
        message_id=mid,
        payload=payload,
        title=pb.get("title"),
        idempotency_key=key,
        **facts.common(facts.customer),
    )


def _referral_event(facts: Facts) -> InboundEvent:
    """An m.me / ig.me link, an ad or a chat plugin opened the thread (``messaging_referrals``)."""
    ref = facts.item["referral"]
    return Postback(
        payload=ref.get("ref"),
        title=f"referral:{ref.get('source')}",
        idempotency_key=facts.key("referral", facts.customer, facts.stamp_part()),
        **facts.common(facts.customer),
    )


def _reaction(facts: Facts) -> InboundEvent:
    r = facts.item["reaction"]
    target = str(r["mid"])
    removed = r.get("action") == "unreact"
    return ReactionChanged(
        target_message_id=target,
        emoji=None if removed else (r.get("emoji") or r.get("reaction")),
        idempotency_key=facts.key("reaction", target, facts.customer, facts.stamp_part()),
        **facts.common(facts.customer),
    )


def _edit(facts: Facts) -> InboundEvent:
    e = facts.item["message_edit"]
    mid = str(e["mid"])
    return MessageEdited(
        message_id=mid,
        target_message_id=mid,
        text=e.get("text"),
        idempotency_key=facts.key("edit", mid, e.get("num_edit")),
        **facts.common(facts.customer),
    )


_BAD_WATERMARK = "watermark: not a valid time"


def watermark_fields(facts: Facts, value: object) -> tuple[datetime | None, Common]:
    """A receipt's watermark and its event fields: a receipt without its own ``timestamp``
    (Meta sends deliveries so) is dated by the watermark."""
    fields = facts.common(facts.customer)
    mark = graph_time(value)
    if mark is None and value is not None:
        fields["malformed_fields"] = (*fields.get("malformed_fields", ()), _BAD_WATERMARK)
    elif mark is not None and not facts.own_time:
        fields["timestamp"] = mark
    return mark, fields


def read_watermark(facts: Facts) -> InboundEvent:
    """Messenger's read receipt: everything sent before ``watermark`` was read."""
    value = facts.item["read"].get("watermark")
    mark, fields = watermark_fields(facts, value)
    return StatusChanged(
        status=DeliveryStatus.READ,
        watermark=mark,
        recipient_id=facts.customer,
        idempotency_key=facts.key("read", facts.customer, value),
        **fields,
    )


SHARED_EVENTS: Mapping[str, Mapper] = {
    "message": _message,
    "postback": _postback,
    "referral": _referral_event,
    "reaction": _reaction,
    "message_edit": _edit,
}
"""Event fields both platforms send. Handover (``pass_thread_control``, ...) and other fields
no table names become :class:`Unsupported` with the item's ids."""


# ---------------------------------------------------------------- the delivery


def _item(
    host: Host, dialect: Dialect, item: object, account: str | None, entry: Entry, prefix: str
) -> InboundEvent:
    if type(item) is not dict:
        when = graph_time(entry.get("time"))
        return host._unsupported(item, account, "", when, "malformed messaging item")
    facts = Facts(host, dialect, cast(MessagingItem, item), account, entry, prefix)
    events = dialect.events
    try:
        for name in reversed(item):  # Meta writes the event field after sender and time
            mapper = events.get(name)
            if mapper is not None:
                return mapper(facts)
    except MALFORMED as exc:
        return facts.unsupported(f"malformed ({type(exc).__name__})")
    kinds = sorted(k for k in item if k not in ("sender", "recipient", "timestamp"))
    return facts.unsupported(f"messaging event {kinds[0] if kinds else '?'!r}")


def _change(
    host: Host, dialect: Dialect, change: object, account: str | None, entry: Entry
) -> InboundEvent:
    entry_time = graph_time(entry.get("time"))
    field = change.get("field") if isinstance(change, dict) else None
    mapper = dialect.changes.get(field) if isinstance(field, str) else None
    if mapper is not None:
        try:
            return mapper(host, cast(Change, change), account, entry_time)
        except MALFORMED as exc:
            reason = f"malformed {field} change ({type(exc).__name__})"
            return host._unsupported(change, account, "", entry_time, reason)
    return host._unsupported(change, account, "", entry_time, f"change {field!r}")


def _entry(host: Host, dialect: Dialect, entry: Entry, out: list[InboundEvent]) -> None:
    raw_id = entry.get("id")
    account = raw_id if type(raw_id) is str else str(raw_id) if isinstance(raw_id, int) else None
    found = False
    for name in _ITEM_LISTS:
        items = entry.get(name)
        if type(items) is list:
            found = True
            prefix = _key_prefix(host, account)
            for item in items:
                out.append(_item(host, dialect, item, account, entry, prefix))
    changes = entry.get("changes")
    if type(changes) is not list and "field" in entry:
        changes = [entry]  # one change written on the entry itself: it is its own raw
    if type(changes) is list:
        found = True
        for change in changes:
            out.append(_change(host, dialect, change, account, entry))
    if not found:
        when = graph_time(entry.get("time"))
        out.append(host._unsupported(entry, account, "", when, "entry without messaging"))


_ITEM_LISTS = ("messaging", "standby")
"""``standby`` holds the items of threads another app owns (handover protocol)."""


def parse_entries(host: Host, dialect: Dialect, entries: list[object]) -> list[InboundEvent]:
    """Every event of a delivery's entries, in order; nothing is dropped."""
    out: list[InboundEvent] = []
    for entry in entries:
        if isinstance(entry, dict):
            _entry(host, dialect, cast(Entry, entry), out)
        else:
            out.append(host._unsupported(entry, None, "", None, "malformed entry"))
    return out
