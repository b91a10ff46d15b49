"""Telegram Bot API adapter.

Deliveries are authenticated by the ``X-Telegram-Bot-Api-Secret-Token`` header, which Telegram
copies from the ``secret_token`` given to ``setWebhook`` (there is no body signature). One
update per delivery; its idempotency key is ``telegram:{bot_id}:{update_id}``.

Message ids are unique per chat only, so events carry ``message_id`` as ``"{chat_id}:{id}"``;
``reply_to`` and send results use the same form, and outbound ``reply_to`` / ``message_id``
accept it (or the bare number). Bots have no history API: the capability is absent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from ventros_channels.adapters._safe import epoch, note_malformed, timestamp_fields
from ventros_channels.adapters.base import (
    MALFORMED,
    Capability,
    ChannelAdapter,
    ConnectionInfo,
    MediaContent,
    WebhookInfo,
)
from ventros_channels.adapters.telegram.config import TelegramConfig
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.domain.types import ChannelType
from ventros_channels.errors import (
    AuthenticationError,
    CapabilityNotSupportedError,
    ChatMigratedError,
    InvalidRequestError,
    PermissionDeniedError,
    PlatformError,
    RateLimitedError,
    RecipientUnavailableError,
    WebhookPayloadError,
)
from ventros_channels.http import error_for_status, parse_retry_after
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
    content_key,
)
from ventros_channels.messaging.outbound import (
    ButtonsMessage,
    ListMessage,
    MediaMessage,
    OutboundMessage,
    Reaction,
    SendResult,
    TextMessage,
    Typing,
)
from ventros_channels.ratelimit import RateLimit
from ventros_channels.webhooks.request import VerificationKeys, WebhookRequest
from ventros_channels.webhooks.signatures import verify_shared_token

__all__ = ["TelegramAdapter"]

TELEGRAM = ChannelType.TELEGRAM
_CHAT_TYPES = {
    "private": ChatType.DIRECT,
    "group": ChatType.GROUP,
    "supergroup": ChatType.GROUP,
    "channel": ChatType.CHANNEL,
}
_MEDIA_FIELDS = (
    ("document", MediaKind.DOCUMENT),
    ("audio", MediaKind.AUDIO),
    ("voice", MediaKind.VOICE),
    ("video", MediaKind.VIDEO),
    ("video_note", MediaKind.VIDEO_NOTE),
    ("animation", MediaKind.ANIMATION),
    ("sticker", MediaKind.STICKER),
)
_SEND_METHOD = {
    MediaKind.IMAGE: ("sendPhoto", "photo"),
    MediaKind.DOCUMENT: ("sendDocument", "document"),
    MediaKind.VIDEO: ("sendVideo", "video"),
    MediaKind.AUDIO: ("sendAudio", "audio"),
    MediaKind.VOICE: ("sendVoice", "voice"),
    MediaKind.ANIMATION: ("sendAnimation", "animation"),
    MediaKind.STICKER: ("sendSticker", "sticker"),
    MediaKind.VIDEO_NOTE: ("sendVideoNote", "video_note"),
}
_ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "message_reaction",
    "my_chat_member",
]


def _chat_type(chat: dict[str, Any]) -> ChatType:
    return _CHAT_TYPES.get(str(chat.get("type")), ChatType.DIRECT)


def _name(user: dict[str, Any]) -> str | None:
    first = user.get("first_name")
    last = user.get("last_name")
    if first and last:
        return f"{first} {last}"
    return first or last or user.get("title")


def _split_id(value: str) -> tuple[str | None, int]:
    """``"chat:msg"`` or ``"msg"`` → (chat id or None, message id)."""
    chat, sep, msg = value.rpartition(":")
    return (chat if sep else None), int(msg)


class TelegramAdapter(ChannelAdapter[TelegramConfig]):
    """Telegram bots through the Bot API."""

    channel_type: ClassVar[ChannelType] = TELEGRAM
    config_model: ClassVar[type[ChannelConfig]] = TelegramConfig
    display_name: ClassVar[str] = "Telegram Bot API"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.GROUPS,
            Capability.INBOUND_MEDIA,
            Capability.OUTBOUND_MEDIA,
            Capability.MEDIA_UPLOAD,
            Capability.MEDIA_DOWNLOAD,
            Capability.REACTIONS,
            Capability.EDITS,
            Capability.INTERACTIVE,
            Capability.TYPING,
            Capability.WEBHOOK_REGISTRATION,
        }
    )
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset(_SEND_METHOD)
    verifies_body: ClassVar[bool] = False  # a shared header token, no signature of the body
    rate_limits: ClassVar[tuple[RateLimit, ...]] = (
        # Bot API FAQ: about 30 messages a second per bot, one a second per chat (short
        # bursts tolerated), about 20 a minute per group
        RateLimit("channel", 30, 1.0),
        RateLimit("chat", 1, 1.0),
        RateLimit("group", 20, 60.0),
    )

    def rate_limit_target(self, message: OutboundMessage) -> tuple[str, bool]:
        """Group and channel chats have negative ids in the Bot API."""
        return message.to, message.to.startswith("-")

    # ------------------------------------------------------------------ sans-IO

    key_name: ClassVar[str] = "secret token"

    def check_signature(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        verify_shared_token(request.header("x-telegram-bot-api-secret-token"), keys.secret_bytes())

    def sign(self, body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
        """Telegram sends the secret token itself; the time plays no part (``now`` optional)."""
        return {"X-Telegram-Bot-Api-Secret-Token": secret}

    def parse(self, body: bytes, config: TelegramConfig | None = None) -> list[InboundEvent]:
        update = self.load_json(body)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            raise WebhookPayloadError("telegram", "expected an Update with an integer update_id")
        bot = config.external_id() if config is not None else None
        key = f"telegram:{bot}:{update['update_id']}" if bot else f"telegram:{update['update_id']}"
        try:
            return [self._update(update, bot, key)]
        except MALFORMED as exc:
            return [self._unsupported(update, bot, key, f"malformed update ({type(exc).__name__})")]

    def _unsupported(self, update: Any, bot: str | None, key: str, reason: str) -> Unsupported:
        chat_id = ""
        for value in update.values() if isinstance(update, dict) else ():
            if isinstance(value, dict) and isinstance(value.get("chat"), dict):
                chat_id = str(value["chat"].get("id", ""))
                break
        return Unsupported(
            channel_type=TELEGRAM,
            account_id=bot,
            chat_id=chat_id,
            timestamp=datetime.now(UTC),
            idempotency_key=key or content_key("telegram:unsupported", update),
            reason=reason,
            raw=update,
        )

    def _update(self, update: dict[str, Any], bot: str | None, key: str) -> InboundEvent:
        for field in ("message", "channel_post"):
            message = update.get(field)
            if message is not None:
                return self._message(message, update, bot, key)
        for field in ("edited_message", "edited_channel_post"):
            message = update.get(field)
            if message is not None:
                return self._edited(message, update, bot, key)
        if "callback_query" in update:
            return self._callback(update["callback_query"], update, bot, key)
        if "message_reaction" in update:
            return self._reaction(update["message_reaction"], update, bot, key)
        if "my_chat_member" in update:
            return self._membership(update["my_chat_member"], update, bot, key)
        kinds = [k for k in update if k != "update_id"]
        return self._unsupported(update, bot, key, f"update kind {kinds[0] if kinds else '?'!r}")

    def _common(
        self, message: dict[str, Any], update: dict[str, Any], bot: str | None
    ) -> dict[str, Any]:
        chat = message["chat"]
        chat_id = str(chat["id"])
        sender = message.get("from") or message.get("sender_chat") or {}
        thread = message.get("message_thread_id")
        return {
            "channel_type": TELEGRAM,
            "account_id": bot,
            "chat_id": chat_id,
            "chat_type": _chat_type(chat),
            "thread_id": str(thread)
            if thread is not None and message.get("is_topic_message")
            else None,
            "sender_id": str(sender["id"]) if "id" in sender else None,
            "sender_name": _name(sender) if sender else None,
            "sender_username": sender.get("username"),
            "raw": update,
            **timestamp_fields(message.get("date"), name="date"),
        }

    def _content(self, message: dict[str, Any]) -> dict[str, Any]:
        attachments: list[Attachment] = []
        caption = message.get("caption")
        photos = message.get("photo")
        if photos:
            sizes = [
                Attachment(
                    kind=MediaKind.IMAGE,
                    media_id=p["file_id"],
                    file_size=p.get("file_size"),
                    width=p.get("width"),
                    height=p.get("height"),
                )
                for p in photos
            ]
            largest = sizes[-1]
            attachments.append(  # validated again: model_copy would let a bad caption through
                Attachment.model_validate(
                    {
                        **largest.model_dump(exclude={"variants"}),
                        "caption": caption,
                        "variants": sizes[:-1],
                    }
                )
            )
        for field, kind in _MEDIA_FIELDS:
            media = message.get(field)
            if media is not None:
                attachments.append(
                    Attachment(
                        kind=kind,
                        media_id=media["file_id"],
                        mime_type=media.get("mime_type"),
                        file_size=media.get("file_size"),
                        filename=media.get("file_name"),
                        duration=media.get("duration"),
                        width=media.get("width"),
                        height=media.get("height"),
                        caption=caption,
                    )
                )
        out: dict[str, Any] = {"text": message.get("text", caption if not attachments else None)}
        if attachments:
            out["attachments"] = tuple(attachments)
        loc = message.get("location")
        venue = message.get("venue")
        if venue is not None:
            loc = venue["location"]
            out["location"] = Location(
                latitude=loc["latitude"],
                longitude=loc["longitude"],
                name=venue.get("title"),
                address=venue.get("address"),
            )
        elif loc is not None:
            out["location"] = Location(latitude=loc["latitude"], longitude=loc["longitude"])
        contact = message.get("contact")
        if contact is not None:
            out["contacts"] = (
                SharedContact(
                    name=_name(contact),
                    phones=(contact["phone_number"],) if contact.get("phone_number") else (),
                    user_id=str(contact["user_id"]) if contact.get("user_id") else None,
                    vcard=contact.get("vcard"),
                ),
            )
        reply = message.get("reply_to_message")
        if reply is not None:
            out["reply_to"] = f"{reply['chat']['id']}:{reply['message_id']}"
        if message.get("forward_origin") is not None or message.get("forward_date") is not None:
            out["forwarded"] = True
        if message.get("media_group_id") is not None:
            out["media_group_id"] = str(message["media_group_id"])
        return out

    def _message(
        self, message: dict[str, Any], update: dict[str, Any], bot: str | None, key: str
    ) -> InboundEvent:
        common = self._common(message, update, bot)
        message_id = f"{common['chat_id']}:{message['message_id']}"
        if "migrate_to_chat_id" in message:
            return ChatMigrated(
                message_id=message_id,
                idempotency_key=key,
                new_chat_id=str(message["migrate_to_chat_id"]),
                **common,
            )
        if "migrate_from_chat_id" in message:
            return self._unsupported(update, bot, key, "service message: migrated from a group")
        from_bot = bot is not None and common["sender_id"] == bot
        cls = MessageEcho if from_bot else MessageReceived
        common.update(self._content(message))
        common["message_id"] = message_id
        common["idempotency_key"] = key
        return cls.model_validate(common)

    def _edited(
        self, message: dict[str, Any], update: dict[str, Any], bot: str | None, key: str
    ) -> InboundEvent:
        common = self._common(message, update, bot)
        target = f"{common['chat_id']}:{message['message_id']}"
        content = self._content(message)
        edit_date = message.get("edit_date")
        if edit_date:
            edited = epoch(edit_date)
            if edited is not None:
                common["timestamp"] = edited
            else:
                note_malformed(common, "edit_date: not a valid time; the message date is kept")
        return MessageEdited(
            message_id=target,
            target_message_id=target,
            text=content.get("text"),
            attachments=content.get("attachments", ()),
            idempotency_key=key,
            **common,
        )

    def _callback(
        self, query: dict[str, Any], update: dict[str, Any], bot: str | None, key: str
    ) -> InboundEvent:
        user = query["from"]
        message = query.get("message") or {}
        chat = message.get("chat") or {}
        chat_id = str(chat.get("id", user["id"]))
        return Postback(
            channel_type=TELEGRAM,
            account_id=bot,
            chat_id=chat_id,
            chat_type=_chat_type(chat),
            message_id=f"{chat_id}:{message['message_id']}" if "message_id" in message else None,
            sender_id=str(user["id"]),
            sender_name=_name(user),
            sender_username=user.get("username"),
            **(
                timestamp_fields(message["date"], name="message.date")
                if "date" in message
                else {"timestamp": datetime.now(UTC)}
            ),
            payload=query.get("data"),
            callback_id=str(query["id"]),
            idempotency_key=key,
            raw=update,
        )

    def _reaction(
        self, reaction: dict[str, Any], update: dict[str, Any], bot: str | None, key: str
    ) -> InboundEvent:
        chat = reaction["chat"]
        user = reaction.get("user") or reaction.get("actor_chat") or {}
        emojis = [
            r.get("emoji") or r.get("custom_emoji_id") for r in reaction.get("new_reaction", [])
        ]
        chat_id = str(chat["id"])
        return ReactionChanged(
            channel_type=TELEGRAM,
            account_id=bot,
            chat_id=chat_id,
            chat_type=_chat_type(chat),
            sender_id=str(user["id"]) if "id" in user else None,
            sender_name=_name(user) if user else None,
            **timestamp_fields(reaction.get("date"), name="date"),
            target_message_id=f"{chat_id}:{reaction['message_id']}",
            emoji=next((e for e in emojis if e), None),
            idempotency_key=key,
            raw=update,
        )

    def _membership(
        self, change: dict[str, Any], update: dict[str, Any], bot: str | None, key: str
    ) -> InboundEvent:
        chat = change["chat"]
        user = change.get("from") or {}
        old = change.get("old_chat_member", {}).get("status")
        new = change["new_chat_member"]["status"]
        private = chat.get("type") == "private"
        return BotMembershipChanged(
            channel_type=TELEGRAM,
            account_id=bot,
            chat_id=str(chat["id"]),
            chat_type=_chat_type(chat),
            sender_id=str(user["id"]) if "id" in user else None,
            sender_name=_name(user) if user else None,
            **timestamp_fields(change.get("date"), name="date"),
            old_status=old,
            new_status=new,
            blocked=private and new == "kicked",
            idempotency_key=key,
            raw=update,
        )

    # ------------------------------------------------------------------ network

    def _map_error(
        self, response: httpx.Response, redact: Callable[[str], str]
    ) -> PlatformError | None:
        data: Any = None
        if "json" in response.headers.get("content-type", ""):
            try:
                data = response.json()
            except ValueError:
                data = None
        if response.is_success and (not isinstance(data, dict) or data.get("ok", True)):
            return None
        if not isinstance(data, dict):
            return error_for_status(response, "telegram", redact(response.text[:200]) or "error")
        code = data.get("error_code", response.status_code)
        text = redact(str(data.get("description", "")))
        params = data.get("parameters")
        params = params if isinstance(params, dict) else {}
        kw: dict[str, Any] = {
            "platform": "telegram",
            "status_code": response.status_code,
            "code": code,
        }
        if "migrate_to_chat_id" in params:
            return ChatMigratedError(text, new_chat_id=str(params["migrate_to_chat_id"]), **kw)
        if code == 429 or "retry_after" in params:
            retry = parse_retry_after(params.get("retry_after"))
            if retry is None:  # no usable body hint: the header, in either of its forms
                retry = parse_retry_after(response.headers.get("retry-after"))
            return RateLimitedError(text, retry_after=retry, **kw)
        if code == 401:
            return AuthenticationError(text, **kw)
        if code == 403:
            lowered = text.lower()
            if any(w in lowered for w in ("blocked", "deactivated", "kicked", "not a member")):
                return RecipientUnavailableError(text, **kw)
            return PermissionDeniedError(text, **kw)
        if code == 400 and "chat not found" in text.lower():
            return RecipientUnavailableError(text, **kw)
        if code == 400:
            return InvalidRequestError(text, **kw)
        return error_for_status(response, "telegram", text or "error", code=code)

    def _url(self, config: TelegramConfig, method: str) -> str:
        return f"{config.api_base_url}/bot{config.bot_token.get_secret_value()}/{method}"

    async def _call(
        self,
        client: httpx.AsyncClient,
        config: TelegramConfig,
        method: str,
        *,
        idempotent: bool,
        json_body: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        files: Any = None,
    ) -> Any:
        response = await self.http.request(
            client,
            "POST",
            self._url(config, method),
            idempotent=idempotent,
            secrets=(config.bot_token.get_secret_value(),),
            json=json_body,
            data=data,
            files=files,
        )
        return response.json()["result"]

    @staticmethod
    def _target(message: OutboundMessage) -> dict[str, Any]:
        body: dict[str, Any] = {"chat_id": message.to}
        if message.thread_id is not None:
            body["message_thread_id"] = int(message.thread_id)
        if message.reply_to is not None:
            _, msg = _split_id(message.reply_to)
            body["reply_parameters"] = {"message_id": msg, "allow_sending_without_reply": True}
        return body

    @staticmethod
    def _result(result: Any) -> SendResult:
        if isinstance(result, dict) and "message_id" in result:
            chat = str(result["chat"]["id"])
            return SendResult(message_id=f"{chat}:{result['message_id']}", chat_id=chat, raw=result)
        return SendResult(message_id=None, raw=result)

    async def send(
        self, client: httpx.AsyncClient, config: TelegramConfig, message: OutboundMessage
    ) -> SendResult:
        body = self._target(message)
        if isinstance(message, TextMessage):
            body["text"] = message.text
            if message.parse_mode:
                body["parse_mode"] = message.parse_mode
            if not message.preview_url:
                body["link_preview_options"] = {"is_disabled": True}
            return self._result(
                await self._call(client, config, "sendMessage", idempotent=False, json_body=body)
            )
        if isinstance(message, ButtonsMessage | ListMessage):
            body["text"] = message.text
            if isinstance(message, ButtonsMessage):
                rows = [[{"text": b.title, "callback_data": b.id}] for b in message.buttons]
            else:
                rows = [
                    [{"text": r.title, "callback_data": r.id}]
                    for s in message.sections
                    for r in s.rows
                ]
            body["reply_markup"] = {"inline_keyboard": rows}
            return self._result(
                await self._call(client, config, "sendMessage", idempotent=False, json_body=body)
            )
        if isinstance(message, MediaMessage):
            method, field = _SEND_METHOD.get(message.media_kind, ("sendDocument", "document"))
            if message.caption:
                body["caption"] = message.caption
            if message.data is not None:
                form = {
                    k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in body.items()
                }
                files = {field: (message.filename or field, message.data, message.mime_type)}
                result = await self._call(
                    client, config, method, idempotent=False, data=form, files=files
                )
            else:
                body[field] = message.url or message.media_id
                result = await self._call(client, config, method, idempotent=False, json_body=body)
            return self._result(result)
        if isinstance(message, Reaction):
            _, msg = _split_id(message.message_id)
            reaction = [{"type": "emoji", "emoji": message.emoji}] if message.emoji else []
            await self._call(
                client,
                config,
                "setMessageReaction",
                idempotent=True,
                json_body={"chat_id": message.to, "message_id": msg, "reaction": reaction},
            )
            return SendResult(message_id=None, chat_id=message.to)
        if isinstance(message, Typing):
            if message.on:
                await self._call(
                    client,
                    config,
                    "sendChatAction",
                    idempotent=True,
                    json_body={"chat_id": message.to, "action": "typing"},
                )
            return SendResult(message_id=None, chat_id=message.to)
        raise CapabilityNotSupportedError("telegram", f"send {message.kind}")

    async def answer_callback_query(
        self,
        client: httpx.AsyncClient,
        config: TelegramConfig,
        callback_id: str,
        text: str | None = None,
    ) -> None:
        """Stop the client's spinner after a :class:`Postback` (optionally with a toast)."""
        body: dict[str, Any] = {"callback_query_id": callback_id}
        if text:
            body["text"] = text
        await self._call(client, config, "answerCallbackQuery", idempotent=True, json_body=body)

    async def test_connection(
        self, client: httpx.AsyncClient, config: TelegramConfig
    ) -> ConnectionInfo:
        me = await self._call(client, config, "getMe", idempotent=True)
        return ConnectionInfo(
            ok=True,
            account_id=str(me["id"]),
            display_name=me.get("username") or me.get("first_name"),
            details={k: v for k, v in me.items() if k.startswith(("can_", "supports_"))},
        )

    async def register_webhook(
        self,
        client: httpx.AsyncClient,
        config: TelegramConfig,
        url: str,
        *,
        drop_pending_updates: bool = False,
    ) -> WebhookInfo:
        body: dict[str, Any] = {
            "url": url,
            "allowed_updates": _ALLOWED_UPDATES,
            "drop_pending_updates": drop_pending_updates,
        }
        if config.webhook_secret_token is not None:
            body["secret_token"] = config.webhook_secret_token.get_secret_value()
        await self._call(client, config, "setWebhook", idempotent=True, json_body=body)
        return WebhookInfo(url=url, active=True)

    async def unregister_webhook(self, client: httpx.AsyncClient, config: TelegramConfig) -> None:
        await self._call(client, config, "deleteWebhook", idempotent=True, json_body={})

    async def webhook_info(self, client: httpx.AsyncClient, config: TelegramConfig) -> WebhookInfo:
        info = await self._call(client, config, "getWebhookInfo", idempotent=True)
        last_error_date = info.get("last_error_date")
        return WebhookInfo(
            url=info.get("url") or None,
            active=bool(info.get("url")),
            pending_updates=info.get("pending_update_count"),
            last_error=info.get("last_error_message"),
            last_error_at=epoch(last_error_date) if last_error_date else None,
            details={k: v for k, v in info.items() if k in ("max_connections", "allowed_updates")},
        )

    async def download_media(
        self, client: httpx.AsyncClient, config: TelegramConfig, attachment: Attachment
    ) -> MediaContent:
        if attachment.media_id is None:
            raise InvalidRequestError("attachment has no file_id", platform="telegram")
        info = await self._call(
            client, config, "getFile", idempotent=True, json_body={"file_id": attachment.media_id}
        )
        token = config.bot_token.get_secret_value()
        response = await self.http.request(
            client,
            "GET",
            f"{config.api_base_url}/file/bot{token}/{info['file_path']}",
            idempotent=True,
            secrets=(token,),
        )
        return MediaContent(
            content=response.content,
            mime_type=attachment.mime_type or response.headers.get("content-type"),
            filename=attachment.filename or str(info["file_path"]).rsplit("/", 1)[-1],
        )
