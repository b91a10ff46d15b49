"""What the three Meta platforms share: the Graph API base.

Subscription handshake (``hub.mode`` / ``hub.verify_token`` / ``hub.challenge``), the
``X-Hub-Signature-256`` HMAC over the raw body with the app secret, the versioned base URL,
bearer authentication, the error envelope (``error.code``, ``error_subcode``, ``fbtrace_id``)
mapped onto the typed hierarchy, cursor paging, and the Messenger-platform ``messaging[]`` item
parser that Messenger and Instagram both use.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from ventros_channels.adapters._meta.config import GraphConfig
from ventros_channels.adapters._safe import (
    ParseLimits,
    epoch,
    note_malformed,
    timestamp_fields,
)
from ventros_channels.adapters.base import MALFORMED, ChannelAdapter, ChatSummary, HistoryPage
from ventros_channels.errors import (
    AuthenticationError,
    InvalidRequestError,
    OutsideMessagingWindowError,
    PermissionDeniedError,
    PlatformError,
    PlatformUnavailableError,
    RateLimitedError,
    RecipientUnavailableError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from ventros_channels.http import RetryPolicy, error_for_status, parse_retry_after
from ventros_channels.messaging.delivery import DeliveryStatus
from ventros_channels.messaging.inbound import (
    Attachment,
    InboundEvent,
    InteractiveReply,
    Location,
    MediaKind,
    MessageDeleted,
    MessageEcho,
    MessageEdited,
    MessageReceived,
    Postback,
    ReactionChanged,
    StatusChanged,
    Unsupported,
    content_key,
)
from ventros_channels.webhooks.request import VerificationKeys, WebhookRequest, WebhookResponse
from ventros_channels.webhooks.signatures import hmac_hex, verify_hmac

__all__ = ["DEFAULT_REPLAY_WINDOW", "GraphAdapter", "graph_error"]

ConfigT = TypeVar("ConfigT", bound=GraphConfig)

_AUTH_CODES = {190, 102, 463, 467}
_RATE_CODES = {4, 17, 32, 613, 80004, 80006, 80007, 130429, 131056, 131048}
_WINDOW = {(10, 2018278), (10, 2534022)}
_WINDOW_CODES = {131047}
_RECIPIENT_CODES = {131026, 551, 131030}
_RECIPIENT_SUBCODES = {1545041, 2018001, 2018108}
_TRANSIENT_CODES = {1, 2, 131000, 131016}
_INVALID_CODES = {100, 131008, 131009, 132000, 132001, 132012, 131051, 131052, 131053}

DEFAULT_REPLAY_WINDOW = timedelta(days=7)
"""How old a signed Meta delivery may be. Meta retries a failed delivery for up to seven days
(WhatsApp) with the original body, so a shorter window would drop genuine late retries; within
the window, a replayed copy is a duplicate of an idempotency key the dispatcher keeps for as
long (``dedupe_retain``, seven days by default)."""


def graph_error(
    response: httpx.Response, platform: str, redact: Callable[[str], str]
) -> PlatformError | None:
    """Map a Graph API answer onto the typed errors (``None`` when it is a success)."""
    if response.is_success:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return error_for_status(response, platform, redact(response.text[:200]) or "error")
    code = error.get("code")
    sub = error.get("error_subcode")
    details = (
        (error.get("error_data") or {}).get("details")
        if isinstance(error.get("error_data"), dict)
        else None
    )
    text = redact(str(details or error.get("message") or "Graph API error"))
    kw: dict[str, Any] = {
        "platform": platform,
        "status_code": response.status_code,
        "code": code,
        "subcode": sub if isinstance(sub, int) else None,
        "trace_id": error.get("fbtrace_id"),
    }
    if code in _AUTH_CODES or sub in (458, 459, 460, 463, 464, 467):
        return AuthenticationError(text, **kw)
    if (code, sub) in _WINDOW or code in _WINDOW_CODES:
        return OutsideMessagingWindowError(text, **kw)
    if code in _RATE_CODES or response.status_code == 429:
        retry = parse_retry_after(response.headers.get("retry-after"))
        return RateLimitedError(text, retry_after=retry, **kw)
    if code in _RECIPIENT_CODES or sub in _RECIPIENT_SUBCODES:
        return RecipientUnavailableError(text, **kw)
    if code in (3, 10) or (isinstance(code, int) and 200 <= code <= 299):
        return PermissionDeniedError(text, **kw)
    if code in _TRANSIENT_CODES or error.get("is_transient") or response.status_code >= 500:
        return PlatformUnavailableError(text, **kw)
    if code in _INVALID_CODES:
        return InvalidRequestError(text, **kw)
    return error_for_status(
        response, platform, text, **{k: kw[k] for k in ("code", "subcode", "trace_id")}
    )


def _watermark(value: Any, fields: dict[str, Any]) -> datetime | None:
    """A receipt watermark (milliseconds); ``None``, recorded as malformed, when unusable."""
    when = epoch(value, 1000)
    if when is None and value:
        note_malformed(fields, "watermark: not a valid time")
    return when


def _iso(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)


_ATTACHMENT_KINDS = {
    "image": MediaKind.IMAGE,
    "video": MediaKind.VIDEO,
    "audio": MediaKind.AUDIO,
    "file": MediaKind.DOCUMENT,
    "share": MediaKind.SHARE,
    "ig_post": MediaKind.SHARE,
    "ig_reel": MediaKind.SHARE,
    "reel": MediaKind.SHARE,
    "story_mention": MediaKind.SHARE,
    "animated_image": MediaKind.ANIMATION,
    "like_heart": MediaKind.STICKER,
}


class GraphAdapter(ChannelAdapter[ConfigT], Generic[ConfigT]):
    """Base of the WhatsApp Cloud, Messenger and Instagram adapters."""

    graph_object: ClassVar[str]
    """The webhook envelope's ``object`` value."""

    def __init__(
        self,
        *,
        policy: RetryPolicy | None = None,
        limits: ParseLimits | None = None,
        replay_window: timedelta = DEFAULT_REPLAY_WINDOW,
    ) -> None:
        super().__init__(policy=policy, limits=limits)
        self.replay_window = replay_window

    # ------------------------------------------------------------------ sans-IO

    def _signed_times(self, entries: list[Any]) -> Iterator[datetime | None]:
        """Every time the platform wrote in the entries (``entry.time``, milliseconds)."""
        for entry in entries:
            if isinstance(entry, dict):
                yield epoch(entry.get("time"), 1000)

    def signed_time(self, body: bytes) -> datetime | None:
        """The newest time written in the signed entries (``None`` when there is none)."""
        try:
            data = self.load_json(body)
        except WebhookPayloadError:
            return None
        entries = data.get("entry") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            return None
        newest: datetime | None = None
        for when in self._signed_times(entries):
            if when is not None and (newest is None or when > newest):
                newest = when
        return newest

    key_name: ClassVar[str] = "app secret"

    def check_signature(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        verify_hmac(
            request.headers.get("x-hub-signature-256"),
            request.body,
            keys.secret_bytes(),
            prefix="sha256=",
        )

    def sign(self, body: bytes, secret: str, *, now: datetime | None = None) -> dict[str, str]:
        """Meta signs the body alone; the time plays no part (``now`` optional)."""
        return {"X-Hub-Signature-256": "sha256=" + hmac_hex(secret.encode(), body)}

    def handshake(self, request: WebhookRequest, config: ConfigT) -> WebhookResponse | None:
        token = config.verify_token
        return self.app_handshake(request, [token.get_secret_value()] if token else [])

    def app_handshake(
        self, request: WebhookRequest, verify_tokens: Sequence[str]
    ) -> WebhookResponse | None:
        if request.method != "GET":
            return None
        query = request.query
        if query.get("hub.mode") != "subscribe":
            raise WebhookVerificationError("not a subscription handshake")
        given = query.get("hub.verify_token", "").encode()
        ok = False
        for expected in verify_tokens:  # compare with every token: timing reveals nothing
            ok |= hmac.compare_digest(given, expected.encode())
        if not ok:
            raise WebhookVerificationError("verify token mismatch")
        challenge = query.get("hub.challenge", "")
        return WebhookResponse(200, challenge.encode(), "text/plain; charset=utf-8")

    def _envelope(self, body: bytes) -> list[Any]:
        data = self.load_json(body)
        if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
            raise WebhookPayloadError(str(self.channel_type), "expected an object with 'entry'")
        if data.get("object") != self.graph_object:
            raise WebhookPayloadError(
                str(self.channel_type), f"object is not {self.graph_object!r}"
            )
        entries: list[Any] = data["entry"]
        return entries

    def _unsupported(
        self, item: Any, account: str | None, chat_id: Any, stamp: datetime, reason: str
    ) -> Unsupported:
        return Unsupported(
            channel_type=self.channel_type,
            account_id=account,
            chat_id=str(chat_id) if isinstance(chat_id, str | int) else "",
            timestamp=stamp,
            reason=reason,
            idempotency_key=content_key(f"{self.channel_type}:{account}:unsupported", item),
            raw=item,
        )

    # ------------------------------------------------------------------ Messenger platform items

    def parse_messaging(self, entry: Any, *, seen_has_mid: bool) -> list[InboundEvent]:
        """Events of one ``entry`` of an ``object=page`` / ``object=instagram`` delivery."""
        if not isinstance(entry, dict):
            return [self._unsupported(entry, None, "", datetime.now(UTC), "malformed entry")]
        account = str(entry.get("id")) if entry.get("id") is not None else None
        items = entry.get("messaging") or entry.get("standby")
        stamp = epoch(entry.get("time"), 1000) or datetime.now(UTC)
        if not isinstance(items, list):
            reason = "non-messaging change" if entry.get("changes") else "entry without messaging"
            return [self._unsupported(entry, account, "", stamp, reason)]
        out: list[InboundEvent] = []
        for item in items:
            try:
                out.append(self._messaging_item(item, account, stamp, seen_has_mid=seen_has_mid))
            except MALFORMED as exc:
                out.append(
                    self._unsupported(item, account, "", stamp, f"malformed ({type(exc).__name__})")
                )
        return out

    def _messaging_item(
        self, item: dict[str, Any], account: str | None, entry_time: datetime, *, seen_has_mid: bool
    ) -> InboundEvent:
        sender = str(item["sender"]["id"])
        recipient = str(item["recipient"]["id"])
        when = timestamp_fields(item.get("timestamp"), unit=1000, fallback=entry_time)
        stamp = when["timestamp"]
        ctype = self.channel_type
        message = item.get("message")
        if message is not None:
            mid = str(message["mid"])
            echo = bool(message.get("is_echo"))
            chat = recipient if echo else sender
            base: dict[str, Any] = {
                "channel_type": ctype,
                "account_id": account,
                "message_id": mid,
                "chat_id": chat,
                "sender_id": sender,
                "raw": item,
                **when,
            }
            if message.get("is_deleted"):
                return MessageDeleted(
                    target_message_id=mid, idempotency_key=f"{ctype}:{account}:del:{mid}", **base
                )
            base["idempotency_key"] = f"{ctype}:{account}:msg:{mid}"
            if message.get("is_unsupported"):
                return Unsupported(reason="message type not supported by the platform", **base)
            fields = self._content(message)
            base.update(fields)
            return (
                MessageEcho.model_validate(base) if echo else MessageReceived.model_validate(base)
            )
        common: dict[str, Any] = {
            "channel_type": ctype,
            "account_id": account,
            "chat_id": sender,
            "sender_id": sender,
            "raw": item,
            **when,
        }
        if "postback" in item:
            pb = item["postback"]
            key = pb.get("mid") or f"{sender}:{item['timestamp']}:{pb.get('payload')}"
            return Postback(
                message_id=pb.get("mid"),
                payload=pb.get("payload"),
                title=pb.get("title"),
                idempotency_key=f"{ctype}:{account}:postback:{key}",
                **common,
            )
        if "referral" in item:  # m.me / ig.me link or ad opened the thread
            ref = item["referral"]
            return Postback(
                payload=ref.get("ref"),
                title=f"referral:{ref.get('source')}",
                idempotency_key=f"{ctype}:{account}:referral:{sender}:{item['timestamp']}",
                **common,
            )
        if "reaction" in item:
            r = item["reaction"]
            removed = r.get("action") == "unreact"
            emoji = None if removed else (r.get("emoji") or r.get("reaction"))
            return ReactionChanged(
                target_message_id=str(r["mid"]),
                emoji=emoji,
                idempotency_key=f"{ctype}:{account}:reaction:{r['mid']}:{sender}:{item['timestamp']}",
                **common,
            )
        if "delivery" in item:
            d = item["delivery"]
            mids = tuple(str(m) for m in d.get("mids") or ())
            return StatusChanged(
                status=DeliveryStatus.DELIVERED,
                watermark=_watermark(d.get("watermark"), common),
                message_ids=mids,
                message_id=mids[0] if len(mids) == 1 else None,
                recipient_id=sender,
                idempotency_key=f"{ctype}:{account}:delivered:{sender}:{d.get('watermark')}:{','.join(mids)}",
                **common,
            )
        if "read" in item:
            r = item["read"]
            if seen_has_mid and r.get("mid"):
                mid = str(r["mid"])
                return StatusChanged(
                    status=DeliveryStatus.READ,
                    message_id=mid,
                    message_ids=(mid,),
                    recipient_id=sender,
                    idempotency_key=f"{ctype}:{account}:read:{mid}",
                    **common,
                )
            return StatusChanged(
                status=DeliveryStatus.READ,
                watermark=_watermark(r["watermark"], common),
                recipient_id=sender,
                idempotency_key=f"{ctype}:{account}:read:{sender}:{r['watermark']}",
                **common,
            )
        if "message_edit" in item:
            e = item["message_edit"]
            return MessageEdited(
                message_id=str(e["mid"]),
                target_message_id=str(e["mid"]),
                text=e.get("text"),
                idempotency_key=f"{ctype}:{account}:edit:{e['mid']}:{e.get('num_edit')}",
                **common,
            )
        kinds = sorted(k for k in item if k not in ("sender", "recipient", "timestamp"))
        return self._unsupported(
            item, account, sender, stamp, f"messaging event {kinds[0] if kinds else '?'!r}"
        )

    @staticmethod
    def _content(message: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        text = message.get("text")
        if text is not None:
            out["text"] = text
            if len(message) == 2:  # just mid and text: the common case
                return out
        attachments = []
        for att in message.get("attachments") or ():
            kind = att.get("type")
            payload = att.get("payload") or {}
            if kind == "location":
                coords = payload.get("coordinates") or {}
                out["location"] = Location(
                    latitude=coords["lat"], longitude=coords["long"], name=att.get("title")
                )
                continue
            if kind == "fallback" or (kind not in _ATTACHMENT_KINDS and kind != "template"):
                continue
            if kind == "template":
                continue
            media_kind = _ATTACHMENT_KINDS[kind]
            if payload.get("sticker_id"):
                media_kind = MediaKind.STICKER
            attachments.append(
                Attachment(
                    kind=media_kind,
                    url=payload.get("url") or att.get("url"),
                    media_id=str(
                        payload.get("ig_post_media_id")
                        or payload.get("reel_video_id")
                        or payload.get("sticker_id")
                        or payload.get("attachment_id")
                        or ""
                    )
                    or None,
                    caption=payload.get("title"),
                )
            )
        if attachments:
            out["attachments"] = tuple(attachments)
        quick = message.get("quick_reply")
        if quick:
            out["interactive"] = InteractiveReply(
                type="quick_reply", id=quick.get("payload"), title=message.get("text")
            )
        reply = message.get("reply_to")
        if reply:
            if reply.get("mid"):
                out["reply_to"] = str(reply["mid"])
            elif isinstance(reply.get("story"), dict):
                out["reply_to"] = f"story:{reply['story'].get('id')}"
                out["referral"] = {"story": reply["story"]}
        if message.get("referral"):
            out["referral"] = message["referral"]
        if not out.get("text") and not attachments and "location" not in out:
            fallback = [a for a in message.get("attachments") or () if a.get("type") == "fallback"]
            if fallback:
                out["text"] = fallback[0].get("title") or fallback[0].get("url")
        return out

    # ------------------------------------------------------------------ network

    def _map_error(
        self, response: httpx.Response, redact: Callable[[str], str]
    ) -> PlatformError | None:
        return graph_error(response, str(self.channel_type), redact)

    @staticmethod
    def _token(config: ConfigT) -> str:
        raise NotImplementedError

    def _url(self, config: ConfigT, path: str) -> str:
        return f"{config.graph_base_url}/{config.api_version}/{path.lstrip('/')}"

    async def _graph(
        self,
        client: httpx.AsyncClient,
        config: ConfigT,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        files: Any = None,
        absolute: bool = False,
    ) -> Any:
        token = self._token(config)
        response = await self.http.request(
            client,
            method,
            path if absolute else self._url(config, path),
            idempotent=idempotent,
            secrets=(token,),
            headers={"Authorization": f"Bearer {token}"},
            json=json_body,
            params=params,
            data=data,
            files=files,
        )
        return response.json() if response.content else {}

    async def _page(
        self,
        client: httpx.AsyncClient,
        config: ConfigT,
        path: str,
        params: dict[str, Any],
        cursor: str | None,
    ) -> tuple[list[Any], str | None]:
        """One page of a Graph collection, following ``paging.cursors.after``."""
        if cursor:
            params = {**params, "after": cursor}
        data = await self._graph(client, config, "GET", path, idempotent=True, params=params)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise InvalidRequestError(
                "Graph collection has no data list", platform=str(self.channel_type)
            )
        paging = data.get("paging") or {}
        after = (paging.get("cursors") or {}).get("after")
        return items, after if paging.get("next") and after else None

    async def _conversations(
        self,
        client: httpx.AsyncClient,
        config: ConfigT,
        owner: str,
        platform: str,
        cursor: str | None,
    ) -> HistoryPage[ChatSummary]:
        items, after = await self._page(
            client,
            config,
            f"{owner}/conversations",
            {"platform": platform, "fields": "id,updated_time"},
            cursor,
        )
        chats = tuple(
            ChatSummary(
                chat_id=str(c["id"]),
                last_activity_at=_iso(c["updated_time"]) if c.get("updated_time") else None,
            )
            for c in items
            if isinstance(c, dict) and c.get("id")
        )
        return HistoryPage(chats, after)

    def _history_item(self, item: dict[str, Any], account: str, conversation: str) -> InboundEvent:
        sender = item.get("from") or {}
        sender_id = str(sender.get("id", ""))
        mine = sender_id == account
        recipients = ((item.get("to") or {}).get("data")) or [{}]
        other = str(recipients[0].get("id", "")) if mine else sender_id
        mid = str(item["id"])
        fields: dict[str, Any] = {
            "channel_type": self.channel_type,
            "account_id": account,
            "message_id": mid,
            "chat_id": other,
            "sender_id": sender_id,
            "sender_name": sender.get("name") or sender.get("username"),
            "sender_username": sender.get("username"),
            "timestamp": _iso(item["created_time"]),
            "text": item.get("message") or None,
            "idempotency_key": f"{self.channel_type}:{account}:msg:{mid}",
            "raw": {**item, "conversation_id": conversation},
        }
        attachments = []
        for att in ((item.get("attachments") or {}).get("data")) or ():
            mime = att.get("mime_type") or ""
            url = (
                (att.get("image_data") or {}).get("url")
                or att.get("file_url")
                or (att.get("video_data") or {}).get("url")
            )
            kind = (
                MediaKind.IMAGE
                if mime.startswith("image/")
                else MediaKind.VIDEO
                if mime.startswith("video/")
                else MediaKind.AUDIO
                if mime.startswith("audio/")
                else MediaKind.DOCUMENT
            )
            attachments.append(
                Attachment(kind=kind, url=url, mime_type=mime or None, filename=att.get("name"))
            )
        if attachments:
            fields["attachments"] = tuple(attachments)
        return (
            MessageEcho.model_validate(fields) if mine else MessageReceived.model_validate(fields)
        )
