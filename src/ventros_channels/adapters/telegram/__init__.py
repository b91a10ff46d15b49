"""Telegram Bot API adapter.

Deliveries are authenticated by the ``X-Telegram-Bot-Api-Secret-Token`` header, which Telegram
copies from the ``secret_token`` given to ``setWebhook`` (there is no body signature). One
update per delivery; its idempotency key is ``telegram:{bot_id}:{update_id}``.

Message ids are unique per chat only, so events carry ``message_id`` as ``"{chat_id}:{id}"``;
``reply_to`` and send results use the same form, and outbound ``reply_to`` / ``message_id``
accept it (or the bare number). Bots have no history API: the capability is absent.

Bots cannot mark messages as read and receive no typing events, so neither ``read_receipts``
nor ``presence`` is declared. ``fetch_profile`` reads ``getChat``; the avatar comes back as a
file id (``avatar_media_id``), never as a link, because Telegram's file links embed the bot
token.

The wire format is described in ``_payloads``, updates are mapped by the tables in ``_inbound``
and outbound messages encoded by the table in ``_outbound``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, cast

import httpx

from ventros_channels.adapters._safe import epoch
from ventros_channels.adapters.base import (
    MALFORMED,
    Capability,
    ChannelAdapter,
    ConnectionInfo,
    ContactProfile,
    MediaContent,
    WebhookInfo,
)
from ventros_channels.adapters.telegram._inbound import (
    Context,
    display_name,
    map_update,
    unsupported,
)
from ventros_channels.adapters.telegram._limits import OUTBOUND_LIMITS
from ventros_channels.adapters.telegram._outbound import (
    ENCODERS,
    SEND_METHODS,
    ApiCall,
    send_result,
)
from ventros_channels.adapters.telegram._payloads import (
    ApiAnswer,
    ChatFullInfo,
    Update,
    WebhookInfoData,
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
from ventros_channels.messaging.inbound import Attachment, InboundEvent, MediaKind
from ventros_channels.messaging.limits import OutboundLimits
from ventros_channels.messaging.outbound import OutboundMessage, SendResult
from ventros_channels.ratelimit import RateLimit
from ventros_channels.webhooks.request import VerificationKeys, WebhookRequest
from ventros_channels.webhooks.signatures import verify_shared_token

__all__ = ["TelegramAdapter", "TelegramConfig"]

TELEGRAM = ChannelType.TELEGRAM
_ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
    "callback_query",
    "message_reaction",
    "my_chat_member",
]
_REFUSED_RECIPIENT = ("blocked", "deactivated", "kicked", "not a member")
_ERRORS_BY_CODE: dict[int, type[PlatformError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
}


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
            Capability.EDIT_MESSAGES,
            Capability.DELETE_MESSAGES,
            Capability.LOCATION_MESSAGES,
            Capability.CONTACT_MESSAGES,
            Capability.POLLS,
            Capability.PROFILES,
        }
    )
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset(SEND_METHODS)
    outbound_limits: ClassVar[OutboundLimits] = OUTBOUND_LIMITS
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
        doc = self.load_json(body)
        if not isinstance(doc, dict) or type(doc.get("update_id")) is not int:
            raise WebhookPayloadError("telegram", "expected an Update with an integer update_id")
        update = cast(Update, doc)
        bot = config.external_id() if config is not None else None
        ident = update["update_id"]
        ctx = Context(update, bot, f"telegram:{bot}:{ident}" if bot else f"telegram:{ident}")
        try:
            return [map_update(update, ctx)]
        except MALFORMED as exc:
            return [unsupported(ctx, f"malformed update ({type(exc).__name__})")]

    # ------------------------------------------------------------------ network

    def _map_error(
        self, response: httpx.Response, redact: Callable[[str], str]
    ) -> PlatformError | None:
        data: object = None
        if "json" in response.headers.get("content-type", ""):
            try:
                data = response.json()
            except ValueError:
                data = None
        if response.is_success and (not isinstance(data, dict) or data.get("ok", True)):
            return None
        if not isinstance(data, dict):
            return error_for_status(response, "telegram", redact(response.text[:200]) or "error")
        return self._api_error(response, cast(ApiAnswer, data), redact)

    @staticmethod
    def _api_error(
        response: httpx.Response, answer: ApiAnswer, redact: Callable[[str], str]
    ) -> PlatformError:
        code = answer.get("error_code", response.status_code)
        text = redact(str(answer.get("description", "")))
        params = answer.get("parameters")
        params = params if isinstance(params, dict) else {}
        kw: dict[str, Any] = {"platform": "telegram", "status_code": response.status_code}
        kw["code"] = code
        lowered = text.lower()
        if "migrate_to_chat_id" in params:
            return ChatMigratedError(text, new_chat_id=str(params["migrate_to_chat_id"]), **kw)
        if code == 429 or "retry_after" in params:
            retry = parse_retry_after(params.get("retry_after"))
            if retry is None:  # no usable body hint: the header, in either of its forms
                retry = parse_retry_after(response.headers.get("retry-after"))
            return RateLimitedError(text, retry_after=retry, **kw)
        refused = (code == 403 and any(w in lowered for w in _REFUSED_RECIPIENT)) or (
            code == 400 and "chat not found" in lowered
        )
        if refused:
            return RecipientUnavailableError(text, **kw)
        kind = _ERRORS_BY_CODE.get(code) if isinstance(code, int) else None
        if kind is not None:
            return kind(text, **kw)
        return error_for_status(response, "telegram", text or "error", code=code)

    def _url(self, config: TelegramConfig, method: str) -> str:
        return f"{config.api_base_url}/bot{config.bot_token.get_secret_value()}/{method}"

    async def _call(
        self, client: httpx.AsyncClient, config: TelegramConfig, call: ApiCall
    ) -> object:
        response = await self.http.request(
            client,
            "POST",
            self._url(config, call.method),
            idempotent=call.idempotent,
            secrets=(config.bot_token.get_secret_value(),),
            json=call.json_body,
            data=call.data,
            files=call.files,
        )
        return cast(ApiAnswer, response.json())["result"]

    async def _get(
        self,
        client: httpx.AsyncClient,
        config: TelegramConfig,
        method: str,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """An idempotent call (reads, settings) and its ``result``."""
        return await self._call(client, config, ApiCall(method, body, idempotent=True))

    async def send(
        self, client: httpx.AsyncClient, config: TelegramConfig, message: OutboundMessage
    ) -> SendResult:
        encoder = ENCODERS.get(type(message))
        if encoder is None:
            raise CapabilityNotSupportedError("telegram", f"send {message.kind}")
        call = encoder(message)
        if call is None:
            return SendResult(message_id=None, chat_id=message.to)
        result = await self._call(client, config, call)
        if not call.sends:
            return SendResult(message_id=None, chat_id=message.to)
        return send_result(result, message)

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
        await self._get(client, config, "answerCallbackQuery", body)

    async def test_connection(
        self, client: httpx.AsyncClient, config: TelegramConfig
    ) -> ConnectionInfo:
        me = await self._get(client, config, "getMe")
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
        await self._get(client, config, "setWebhook", body)
        return WebhookInfo(url=url, active=True)

    async def unregister_webhook(self, client: httpx.AsyncClient, config: TelegramConfig) -> None:
        await self._get(client, config, "deleteWebhook", {})

    async def webhook_info(self, client: httpx.AsyncClient, config: TelegramConfig) -> WebhookInfo:
        info: WebhookInfoData = await self._get(client, config, "getWebhookInfo")
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
        info = await self._get(client, config, "getFile", {"file_id": attachment.media_id})
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

    async def fetch_profile(
        self, client: httpx.AsyncClient, config: TelegramConfig, user_id: str
    ) -> ContactProfile:
        """``getChat`` on the user's private chat (bots see users who wrote to them).

        The avatar is returned as ``avatar_media_id`` (the big photo's file id), not as a
        link: a file link holds the bot token. Download it with :meth:`download_media`.
        """
        chat: ChatFullInfo = await self._get(client, config, "getChat", {"chat_id": user_id})
        photo = chat.get("photo") or {}
        return ContactProfile(
            user_id=str(chat["id"]),
            display_name=display_name(chat),
            username=chat.get("username"),
            avatar_media_id=photo.get("big_file_id"),
            about=chat.get("bio") or chat.get("description"),
            raw=chat,
        )
