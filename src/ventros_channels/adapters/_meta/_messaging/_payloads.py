"""The Messenger Platform webhook format, shared by Messenger (``object=page``) and Instagram
(``object=instagram``), as TypedDicts.

Every key is optional (``total=False``): Meta adds and drops fields over API versions, and a
missing one must become a fallback or an ``Unsupported`` event, not a crash. Values are typed as
Meta documents them; mapping code still checks the few it relies on, since the body is untrusted.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = [
    "Attachment",
    "AttachmentPayload",
    "Change",
    "Delivery",
    "Entry",
    "HistoryAttachment",
    "HistoryMessage",
    "Message",
    "MessageEdit",
    "MessagingItem",
    "Optin",
    "Party",
    "Postback",
    "QuickReply",
    "Reaction",
    "Read",
    "Referral",
    "ReplyTo",
]

Time = int | float | str
"""Milliseconds on the wire; seconds, digit strings and ISO-8601 are read as well."""


class Party(TypedDict, total=False):
    """``sender`` / ``recipient``: a page-scoped (PSID) or Instagram-scoped (IGSID) id, or the
    ``user_ref`` of a checkbox-plugin user who has no PSID yet."""

    id: str
    user_ref: str


class Coordinates(TypedDict, total=False):
    lat: float
    long: float


class AttachmentPayload(TypedDict, total=False):
    url: str
    title: str
    sticker_id: int
    attachment_id: str
    coordinates: Coordinates
    reel_video_id: str | int
    ig_post_media_id: str | int
    template_type: str


class Attachment(TypedDict, total=False):
    """``image``, ``video``, ``audio``, ``file``, ``location``, ``fallback``, ``template``;
    Instagram adds ``share``, ``story_mention``, ``ig_post``, ``ig_reel``, ``reel``, ..."""

    type: str
    payload: AttachmentPayload
    title: str
    url: str


class QuickReply(TypedDict, total=False):
    payload: str


class Story(TypedDict, total=False):
    """The story a message replies to (Instagram); its CDN ``url`` expires."""

    id: str
    url: str


class ReplyTo(TypedDict, total=False):
    mid: str
    story: Story


class Message(TypedDict, total=False):
    """``messaging[].message``: a message sent to us, or with ``is_echo`` one we sent."""

    mid: str
    text: str
    attachments: list[Attachment]
    quick_reply: QuickReply
    reply_to: ReplyTo
    referral: dict[str, object]
    is_echo: bool
    app_id: int
    metadata: str
    is_deleted: bool
    is_unsupported: bool
    sticker_id: int


class Postback(TypedDict, total=False):
    mid: str
    title: str
    payload: str
    referral: dict[str, object]


class Referral(TypedDict, total=False):
    ref: str
    source: str
    type: str
    ad_id: str
    referer_uri: str


class Reaction(TypedDict, total=False):
    mid: str
    action: str
    emoji: str
    reaction: str


class Delivery(TypedDict, total=False):
    """Everything sent before ``watermark`` (ms) was delivered; ``mids`` may be absent."""

    mids: list[str]
    watermark: Time
    seq: int


class Read(TypedDict, total=False):
    """Messenger: everything sent before ``watermark`` was read. Instagram: ``mid`` was seen."""

    watermark: Time
    mid: str
    seq: int


class MessageEdit(TypedDict, total=False):
    mid: str
    text: str
    num_edit: int | str


class Optin(TypedDict, total=False):
    """``messaging_optins``: a plugin opt-in or a notification-messages subscription."""

    type: str
    ref: str
    user_ref: str
    payload: str
    notification_messages_token: str
    notification_messages_status: str


class MessagingItem(TypedDict, total=False):
    """One element of ``entry[].messaging`` (or ``entry[].standby``)."""

    sender: Party
    recipient: Party
    timestamp: Time
    message: Message
    postback: Postback
    referral: Referral
    reaction: Reaction
    delivery: Delivery
    read: Read
    message_edit: MessageEdit
    optin: Optin


class Change(TypedDict, total=False):
    """One element of ``entry[].changes``: a Graph object change (comments, feed, mentions)."""

    field: str
    value: dict[str, object]


class Entry(TypedDict, total=False):
    """One element of the delivery's ``entry``: ``id`` is the Page / Instagram account."""

    id: str
    time: Time
    messaging: list[MessagingItem]
    standby: list[MessagingItem]
    changes: list[Change]
    field: str
    value: dict[str, object]
    """Instagram Login examples put one change's ``field`` / ``value`` on the entry itself."""


class HistoryParty(TypedDict, total=False):
    id: str
    name: str
    username: str
    email: str


class HistoryRecipients(TypedDict, total=False):
    data: list[HistoryParty]


class ImageData(TypedDict, total=False):
    url: str


class HistoryAttachment(TypedDict, total=False):
    mime_type: str
    name: str
    file_url: str
    image_data: ImageData
    video_data: ImageData


class HistoryAttachments(TypedDict, total=False):
    data: list[HistoryAttachment]


HistoryMessage = TypedDict(
    "HistoryMessage",
    {
        "id": str,
        "created_time": str,
        "from": HistoryParty,
        "to": HistoryRecipients,
        "message": str,
        "attachments": HistoryAttachments,
    },
    total=False,
)
"""A message as the Conversations API returns it (``created_time`` in ISO-8601)."""
