"""The Bot API's wire format, as far as the adapter reads it (https://core.telegram.org/bots/api).

Every object is ``total=False``: Telegram omits absent optional fields, and a delivery of an
unexpected shape must reach the mapping code as data, never fail the type checker's promise
silently. Fields named ``from`` need the functional ``TypedDict`` form.
"""

from __future__ import annotations

from typing import Required, TypedDict

__all__ = [
    "ApiAnswer",
    "CallbackQuery",
    "Chat",
    "ChatFullInfo",
    "ChatMember",
    "ChatMemberUpdated",
    "ChatPhoto",
    "Contact",
    "File",
    "LocationData",
    "Message",
    "MessageReactionUpdated",
    "PhotoSize",
    "ReactionType",
    "ResponseParameters",
    "Update",
    "User",
    "Venue",
    "WebhookInfoData",
]


class User(TypedDict, total=False):
    id: Required[int]
    is_bot: bool
    first_name: str
    last_name: str
    username: str


class Chat(TypedDict, total=False):
    id: Required[int]
    type: str  # private | group | supergroup | channel
    title: str
    username: str
    first_name: str
    last_name: str
    is_forum: bool


class ChatPhoto(TypedDict, total=False):
    small_file_id: str
    small_file_unique_id: str
    big_file_id: str
    big_file_unique_id: str


class ChatFullInfo(Chat, total=False):
    """What ``getChat`` answers: the chat and its details (see ``#chatfullinfo`` of the API)."""

    bio: str
    description: str
    photo: ChatPhoto
    active_usernames: list[str]


class PhotoSize(TypedDict, total=False):
    file_id: Required[str]
    file_unique_id: str
    width: int
    height: int
    file_size: int


class File(TypedDict, total=False):
    """Document, Audio, Voice, Video, VideoNote, Animation and Sticker share these fields."""

    file_id: Required[str]
    file_unique_id: str
    mime_type: str
    file_size: int
    file_name: str
    duration: float
    width: int
    height: int
    file_path: str


class LocationData(TypedDict, total=False):
    latitude: Required[float]
    longitude: Required[float]


class Venue(TypedDict, total=False):
    location: Required[LocationData]
    title: str
    address: str


class Contact(TypedDict, total=False):
    phone_number: str
    first_name: str
    last_name: str
    user_id: int
    vcard: str


Message = TypedDict(
    "Message",
    {
        "message_id": Required[int],
        "chat": Required[Chat],
        "date": int,  # 0 for an InaccessibleMessage inside a callback query
        "edit_date": int,
        "from": User,
        "sender_chat": Chat,
        "message_thread_id": int,
        "is_topic_message": bool,
        "business_connection_id": str,
        "text": str,
        "caption": str,
        "photo": list[PhotoSize],
        "document": File,
        "audio": File,
        "voice": File,
        "video": File,
        "video_note": File,
        "animation": File,
        "sticker": File,
        "location": LocationData,
        "venue": Venue,
        "contact": Contact,
        "reply_to_message": "Message",
        "forward_origin": dict[str, object],
        "forward_date": int,
        "media_group_id": str,
        "migrate_to_chat_id": int,
        "migrate_from_chat_id": int,
    },
    total=False,
)


CallbackQuery = TypedDict(
    "CallbackQuery",
    {
        "id": Required[str],
        "from": Required[User],
        "message": Message,
        "inline_message_id": str,
        "chat_instance": str,
        "data": str,
    },
    total=False,
)


class ReactionType(TypedDict, total=False):
    type: str  # emoji | custom_emoji | paid
    emoji: str
    custom_emoji_id: str


class MessageReactionUpdated(TypedDict, total=False):
    chat: Required[Chat]
    message_id: Required[int]
    user: User
    actor_chat: Chat
    date: int
    old_reaction: list[ReactionType]
    new_reaction: list[ReactionType]


class ChatMember(TypedDict, total=False):
    status: Required[str]  # creator | administrator | member | restricted | left | kicked
    user: User


ChatMemberUpdated = TypedDict(
    "ChatMemberUpdated",
    {
        "chat": Required[Chat],
        "from": User,
        "date": int,
        "old_chat_member": ChatMember,
        "new_chat_member": Required[ChatMember],
    },
    total=False,
)


class Update(TypedDict, total=False):
    """One delivery: ``update_id`` and at most one of the optional fields."""

    update_id: Required[int]
    message: Message
    edited_message: Message
    channel_post: Message
    edited_channel_post: Message
    business_message: Message
    edited_business_message: Message
    callback_query: CallbackQuery
    message_reaction: MessageReactionUpdated
    my_chat_member: ChatMemberUpdated
    chat_member: ChatMemberUpdated


class ResponseParameters(TypedDict, total=False):
    migrate_to_chat_id: int
    retry_after: int


class ApiAnswer(TypedDict, total=False):
    """Every Bot API answer: ``ok`` with a ``result``, or an error description."""

    ok: bool
    result: object
    error_code: int
    description: str
    parameters: ResponseParameters


class WebhookInfoData(TypedDict, total=False):
    url: str
    pending_update_count: int
    last_error_date: int
    last_error_message: str
    max_connections: int
    allowed_updates: list[str]
