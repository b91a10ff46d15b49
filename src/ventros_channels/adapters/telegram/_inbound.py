"""Updates to events, by table: the update's field names its mapper, and inside a message each
content field (``text``, ``photo``, ``voice``, ``location``...) names the function that adds
its part of the event.

An update the tables do not cover becomes :class:`Unsupported` carrying the chat, sender,
message id and date it holds, wherever in the update they sit, plus the raw update.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from ventros_channels.adapters._safe import epoch, note_malformed, timestamp_fields
from ventros_channels.adapters.telegram._payloads import (
    CallbackQuery,
    Chat,
    ChatMemberUpdated,
    Contact,
    File,
    LocationData,
    Message,
    MessageReactionUpdated,
    PhotoSize,
    Update,
    User,
    Venue,
)
from ventros_channels.domain.types import ChannelType
from ventros_channels.messaging.inbound import (
    Attachment,
    BotMembershipChanged,
    ChatMigrated,
    ChatType,
    InboundEvent,
    Location,
    MediaKind,
    MessageEcho,
    MessageEdited,
    MessageReceived,
    Postback,
    ReactionChanged,
    SharedContact,
    Unsupported,
)

__all__ = ["Context", "display_name", "map_update", "unsupported"]

TELEGRAM = ChannelType.TELEGRAM
_CHAT_TYPES = {
    "private": ChatType.DIRECT,
    "group": ChatType.GROUP,
    "supergroup": ChatType.GROUP,
    "channel": ChatType.CHANNEL,
}
Fields = dict[str, Any]
"""Keyword arguments of an event under construction."""


class Context:
    """What every mapper needs besides its object: the bot, the update and its key."""

    __slots__ = ("bot", "key", "update")

    def __init__(self, update: Update, bot: str | None, key: str) -> None:
        self.update = update
        self.bot = bot
        self.key = key


def chat_type(chat: Chat) -> ChatType:
    return _CHAT_TYPES.get(str(chat.get("type")), ChatType.DIRECT)


def display_name(who: User | Chat | Contact) -> str | None:
    first = who.get("first_name")
    last = who.get("last_name")
    if first and last:
        return f"{first} {last}"
    return first or last or cast("Chat", who).get("title")


def _sender(who: User | Chat | None) -> Fields:
    if not who or "id" not in who:
        return {}
    return {
        "sender_id": str(who["id"]),
        "sender_name": display_name(who),
        "sender_username": who.get("username"),
    }


def _when(date: object, name: str = "date") -> Fields:
    """The event time; an inaccessible message's ``date`` of 0 means "unknown", not 1970."""
    if date == 0:
        return {"timestamp": datetime.now(UTC)}
    return timestamp_fields(date, name=name)


# ------------------------------------------------------------------ message content


def _text(value: str, out: Fields, message: Message) -> None:
    out["text"] = value


def _photo(sizes: list[PhotoSize], out: Fields, message: Message) -> None:
    variants = [
        Attachment(
            kind=MediaKind.IMAGE,
            media_id=p["file_id"],
            file_size=p.get("file_size"),
            width=p.get("width"),
            height=p.get("height"),
        )
        for p in sizes
    ]
    largest = sizes[-1]
    out.setdefault("attachments", []).append(
        Attachment(
            kind=MediaKind.IMAGE,
            media_id=largest["file_id"],
            file_size=largest.get("file_size"),
            width=largest.get("width"),
            height=largest.get("height"),
            caption=message.get("caption"),
            variants=tuple(variants[:-1]),
        )
    )


def _file(kind: MediaKind) -> Callable[[File, Fields, Message], None]:
    def add(media: File, out: Fields, message: Message) -> None:
        out.setdefault("attachments", []).append(
            Attachment(
                kind=kind,
                media_id=media["file_id"],
                mime_type=media.get("mime_type"),
                file_size=media.get("file_size"),
                filename=media.get("file_name"),
                duration=media.get("duration"),
                width=media.get("width"),
                height=media.get("height"),
                caption=message.get("caption"),
            )
        )

    return add


def _location(loc: LocationData, out: Fields, message: Message) -> None:
    out.setdefault("location", Location(latitude=loc["latitude"], longitude=loc["longitude"]))


def _venue(venue: Venue, out: Fields, message: Message) -> None:
    loc = venue["location"]
    out["location"] = Location(  # a venue message carries its location twice: the venue wins
        latitude=loc["latitude"],
        longitude=loc["longitude"],
        name=venue.get("title"),
        address=venue.get("address"),
    )


def _contact(contact: Contact, out: Fields, message: Message) -> None:
    phone = contact.get("phone_number")
    user = contact.get("user_id")
    out["contacts"] = (
        SharedContact(
            name=display_name(contact),
            phones=(phone,) if phone else (),
            user_id=str(user) if user else None,
            vcard=contact.get("vcard"),
        ),
    )


def _reply(reply: Message, out: Fields, message: Message) -> None:
    out["reply_to"] = f"{reply['chat']['id']}:{reply['message_id']}"


def _forwarded(value: object, out: Fields, message: Message) -> None:
    out["forwarded"] = True


def _media_group(value: object, out: Fields, message: Message) -> None:
    out["media_group_id"] = str(value)


_CONTENT: dict[str, Callable[[Any, Fields, Message], None]] = {
    "text": _text,
    "photo": _photo,
    "document": _file(MediaKind.DOCUMENT),
    "audio": _file(MediaKind.AUDIO),
    "voice": _file(MediaKind.VOICE),
    "video": _file(MediaKind.VIDEO),
    "video_note": _file(MediaKind.VIDEO_NOTE),
    "animation": _file(MediaKind.ANIMATION),
    "sticker": _file(MediaKind.STICKER),
    "location": _location,
    "venue": _venue,
    "contact": _contact,
}
"""Content fields: a message with none of them is reported as :class:`Unsupported`."""
_DETAILS: dict[str, Callable[[Any, Fields, Message], None]] = {
    "reply_to_message": _reply,
    "forward_origin": _forwarded,
    "forward_date": _forwarded,
    "media_group_id": _media_group,
}
"""Fields that qualify a message's content."""
_CONTENT_OR_DETAIL = {**_CONTENT, **_DETAILS}
_SUPERSEDED_BY = {"document": "animation"}
"""A field skipped when the other is present: Telegram repeats an animation as ``document``
for older clients, and the one file must give one attachment."""


def _content(message: Message) -> Fields | None:
    """The content fields of an event, or ``None`` when the message holds no known content."""
    out: Fields = {}
    known = False
    for field, value in message.items():
        add = _CONTENT_OR_DETAIL.get(field)
        if add is not None and _SUPERSEDED_BY.get(field) not in message:
            add(value, out, message)
            known = known or field in _CONTENT
    if not known:
        return None
    attachments = out.get("attachments")
    if attachments:
        out["attachments"] = tuple(attachments)
    elif "text" not in out:
        out["text"] = message.get("caption")
    return out


def _message_fields(message: Message, ctx: Context) -> Fields:
    chat = message["chat"]
    thread = message.get("message_thread_id")
    fields: Fields = {
        "channel_type": TELEGRAM,
        "account_id": ctx.bot,
        "chat_id": str(chat["id"]),
        "chat_type": chat_type(chat),
        "message_id": f"{chat['id']}:{message['message_id']}",
        "idempotency_key": ctx.key,
        "raw": ctx.update,
        **_sender(message.get("from") or message.get("sender_chat")),
        **_when(message.get("date")),
    }
    if thread is not None and message.get("is_topic_message"):
        fields["thread_id"] = str(thread)
    return fields


def _unknown_content(message: Message) -> str:
    extra = [f for f in message if f not in _KNOWN_MESSAGE_FIELDS]
    return f"message content {extra[0] if extra else '?'!r} is not mapped"


def _message(message: Message, ctx: Context) -> InboundEvent:
    fields = _message_fields(message, ctx)
    if "migrate_to_chat_id" in message:
        return ChatMigrated(new_chat_id=str(message["migrate_to_chat_id"]), **fields)
    content = _content(message)
    if content is None:
        return Unsupported(reason=_unknown_content(message), **fields)
    fields.update(content)
    if ctx.bot is not None and fields.get("sender_id") == ctx.bot:
        return MessageEcho.model_validate(fields)
    return MessageReceived.model_validate(fields)


def _edited(message: Message, ctx: Context) -> InboundEvent:
    fields = _message_fields(message, ctx)
    content = _content(message) or {}
    edit_date = message.get("edit_date")
    if edit_date:
        edited = epoch(edit_date)
        if edited is not None:
            fields["timestamp"] = edited
        else:
            note_malformed(fields, "edit_date: not a valid time; the message date is kept")
    return MessageEdited(
        target_message_id=fields["message_id"],
        text=content.get("text"),
        attachments=content.get("attachments", ()),
        **fields,
    )


def _callback(query: CallbackQuery, ctx: Context) -> InboundEvent:
    user = query["from"]
    message = query.get("message")
    chat: Chat = message["chat"] if message else {"id": user["id"], "type": "private"}
    return Postback(
        channel_type=TELEGRAM,
        account_id=ctx.bot,
        chat_id=str(chat["id"]),
        chat_type=chat_type(chat),
        message_id=f"{chat['id']}:{message['message_id']}" if message else None,
        **_sender(user),
        **(_when(message.get("date"), "message.date") if message else _when(0)),
        payload=query.get("data"),
        callback_id=str(query["id"]),
        idempotency_key=ctx.key,
        raw=ctx.update,
    )


def _reaction(reaction: MessageReactionUpdated, ctx: Context) -> InboundEvent:
    chat = reaction["chat"]
    emojis = (r.get("emoji") or r.get("custom_emoji_id") for r in reaction.get("new_reaction", ()))
    return ReactionChanged(
        channel_type=TELEGRAM,
        account_id=ctx.bot,
        chat_id=str(chat["id"]),
        chat_type=chat_type(chat),
        **_sender(reaction.get("user") or reaction.get("actor_chat")),
        **_when(reaction.get("date")),
        target_message_id=f"{chat['id']}:{reaction['message_id']}",
        emoji=next((e for e in emojis if e), None),
        idempotency_key=ctx.key,
        raw=ctx.update,
    )


def _membership(change: ChatMemberUpdated, ctx: Context) -> InboundEvent:
    chat = change["chat"]
    new = change["new_chat_member"]["status"]
    return BotMembershipChanged(
        channel_type=TELEGRAM,
        account_id=ctx.bot,
        chat_id=str(chat["id"]),
        chat_type=chat_type(chat),
        **_sender(change.get("from")),
        **_when(change.get("date")),
        old_status=change.get("old_chat_member", {}).get("status"),
        new_status=new,
        blocked=chat.get("type") == "private" and new == "kicked",
        idempotency_key=ctx.key,
        raw=ctx.update,
    )


UPDATE_MAPPERS: dict[str, Callable[[Any, Context], InboundEvent]] = {
    "message": _message,
    "channel_post": _message,
    "business_message": _message,
    "edited_message": _edited,
    "edited_channel_post": _edited,
    "edited_business_message": _edited,
    "callback_query": _callback,
    "message_reaction": _reaction,
    "my_chat_member": _membership,
}
"""Update field -> mapper. ``chat_member`` (another member's change), polls, inline queries,
payments and boosts have no event of their own: they arrive as :class:`Unsupported`."""
_KNOWN_MESSAGE_FIELDS = frozenset(
    {
        *_CONTENT_OR_DETAIL,
        *Message.__annotations__,
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_markup",
        "via_bot",
        "author_signature",
        "has_protected_content",
        "is_automatic_forward",
        "is_from_offline",
        "sender_boost_count",
        "sender_business_bot",
        "external_reply",
        "quote",
        "show_caption_above_media",
        "has_media_spoiler",
        "effect_id",
        "forward_from",
        "forward_from_chat",
        "forward_from_message_id",
        "forward_signature",
        "forward_sender_name",
    }
)
"""Message fields that are envelope or formatting, never the content itself (used only to name
the field that made a message :class:`Unsupported`)."""


def map_update(update: Update, ctx: Context) -> InboundEvent:
    """The event for one update: the first field with a mapper decides."""
    for field, value in update.items():
        mapper = UPDATE_MAPPERS.get(field)
        if mapper is not None:
            return mapper(value, ctx)
    kinds = [k for k in update if k != "update_id"]
    return unsupported(ctx, f"update kind {kinds[0] if kinds else '?'!r} is not mapped")


# ------------------------------------------------------------------ lossless fallback


def _locate(update: Update) -> tuple[dict[str, Any], dict[str, Any]]:
    """The update's object and the message inside it (the object itself when it is one)."""
    for field, value in update.items():
        if field != "update_id" and isinstance(value, dict):
            inner = value.get("message")
            return value, inner if isinstance(inner, dict) else value
    return {}, {}


def _safe_str(value: object) -> str | None:
    return str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None


def unsupported(ctx: Context, reason: str) -> Unsupported:
    """:class:`Unsupported` with every id, chat, sender and date the update holds."""
    obj, message = _locate(ctx.update)
    chat = message.get("chat") or obj.get("chat")
    chat = chat if isinstance(chat, dict) else {}
    chat_id = _safe_str(chat.get("id"))
    who = obj.get("from") or obj.get("user") or message.get("from") or message.get("sender_chat")
    who = who if isinstance(who, dict) else {}
    message_id = _safe_str(message.get("message_id", obj.get("message_id")))
    fields: Fields = {}
    sender_id = _safe_str(who.get("id"))
    if sender_id is not None:
        name = display_name(cast("User", who))
        fields = {"sender_id": sender_id, "sender_name": name if isinstance(name, str) else None}
    date = message.get("date", obj.get("date"))
    return Unsupported(
        channel_type=TELEGRAM,
        account_id=ctx.bot,
        chat_id=chat_id or "",
        chat_type=_CHAT_TYPES.get(str(chat.get("type")), ChatType.DIRECT),
        message_id=f"{chat_id}:{message_id}" if chat_id and message_id else None,
        **fields,
        **(_when(date) if date is not None else {"timestamp": datetime.now(UTC)}),
        idempotency_key=ctx.key,
        reason=reason,
        raw=ctx.update,
    )
