"""WAHA adapter: WhatsApp through a self-hosted WAHA server (one WAHA session per channel).

Verification: with a ``webhook_hmac_key`` in the config, WAHA signs each delivery with
``X-Webhook-Hmac`` = hex HMAC-SHA512 of the raw body. Replays are refused on the envelope's own
``timestamp`` (milliseconds, inside the signed body): a delivery without one, or older than
``replay_window`` (default one hour, which covers WAHA's retries), is refused. The
``X-Webhook-Timestamp`` header is not covered by the HMAC, so it is ignored. Without a key,
deliveries are refused unless the host opted into unsigned deliveries for the channel.

Ids: WhatsApp ids come as ``<digits>@c.us``, ``<digits>@s.whatsapp.net`` (possibly with a
``:device`` suffix), ``@g.us`` groups, ``@lid`` privacy ids, ``@newsletter`` channels and
``status@broadcast``. Phone JIDs are normalized to ``<digits>@c.us``; ``@lid`` ids are kept as
they are, with the phone JID in ``sender_aliases`` when the payload carries it.

Idempotency: a message has the same key whether it came as ``message`` or ``message.any``
(``waha:{session}:msg:{id}``), so subscribing to both does not process it twice.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from ventros_channels.adapters._safe import (
    ParseLimits,
    check_window,
    epoch,
    timestamp_fields,
)
from ventros_channels.adapters.base import (
    MALFORMED,
    Capability,
    ChannelAdapter,
    ChatSummary,
    ConnectionInfo,
    HistoryPage,
    MediaContent,
    WebhookInfo,
)
from ventros_channels.adapters.waha.config import WAHAApiKeyAuth, WAHAConfig
from ventros_channels.domain.channel import Channel
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.domain.types import ChannelType
from ventros_channels.errors import (
    CapabilityNotSupportedError,
    InvalidRequestError,
    PlatformError,
    ResourceNotFoundError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from ventros_channels.http import RetryPolicy, error_for_status
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
    ReactionChanged,
    SessionStatusChanged,
    SharedContact,
    StatusChanged,
    Unsupported,
    content_key,
)
from ventros_channels.messaging.outbound import (
    MarkAsRead,
    MediaMessage,
    OutboundMessage,
    Reaction,
    SendResult,
    TextMessage,
    Typing,
)
from ventros_channels.webhooks.request import VerificationKeys, WebhookRequest
from ventros_channels.webhooks.signatures import hmac_hex, verify_hmac

__all__ = [
    "ACK_STATUS",
    "DEFAULT_REPLAY_WINDOW",
    "WAHAAdapter",
    "apply_session_status",
    "normalize_jid",
]

WAHA = ChannelType.WAHA
ACK_STATUS = {
    -1: DeliveryStatus.FAILED,
    0: DeliveryStatus.PENDING,
    1: DeliveryStatus.SENT,
    2: DeliveryStatus.DELIVERED,
    3: DeliveryStatus.READ,
    4: DeliveryStatus.PLAYED,
}
"""WAHA ``ack`` values and the delivery status each one means."""
DEFAULT_REPLAY_WINDOW = timedelta(hours=1)
"""How old a signed envelope may be: the retries this library registers (exponential, ten
attempts from 2 s) end within about 35 minutes; older copies are replays."""
_SEND_ENDPOINT = {
    MediaKind.IMAGE: "sendImage",
    MediaKind.VOICE: "sendVoice",
    MediaKind.VIDEO: "sendVideo",
}


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


def _chat_type(chat_id: str) -> ChatType:
    if chat_id.endswith(("@c.us", "@lid")):
        return ChatType.DIRECT
    if chat_id.endswith("@g.us"):
        return ChatType.GROUP
    if chat_id.endswith("@newsletter"):
        return ChatType.CHANNEL
    if chat_id.endswith("@broadcast"):
        return ChatType.BROADCAST
    return ChatType.DIRECT


def _stamp(seconds: Any, envelope_ms: Any) -> dict[str, Any]:
    """The ``timestamp`` of an event: the payload's own time (seconds), else the envelope's
    (milliseconds); a payload time that is present but unusable is recorded as malformed.
    """
    envelope = epoch(envelope_ms, 1000)
    if seconds is None and envelope is not None:
        return {"timestamp": envelope}
    return timestamp_fields(seconds, fallback=envelope)


def _media_kind(mime: str | None, data_type: Any) -> MediaKind:
    if data_type == "ptt":
        return MediaKind.VOICE
    if data_type == "sticker" or (mime or "").startswith("image/webp"):
        return MediaKind.STICKER
    prefix = (mime or "").split("/", 1)[0]
    return {
        "image": MediaKind.IMAGE,
        "video": MediaKind.VIDEO,
        "audio": MediaKind.AUDIO,
    }.get(prefix, MediaKind.DOCUMENT)


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


def apply_session_status(channel: Channel, event: SessionStatusChanged) -> None:
    """Apply a WAHA ``session.status`` event to the channel (WORKING activates,
    SCAN_QR_CODE/STARTING mean connecting, STOPPED disconnects, FAILED is an error).

    An unknown status raises :class:`~ventros_channels.errors.UnknownSessionStatusError`.
    """
    channel.record_session_status(event.status)


class WAHAAdapter(ChannelAdapter[WAHAConfig]):
    """WhatsApp through WAHA (WhatsApp HTTP API)."""

    channel_type: ClassVar[ChannelType] = WAHA
    config_model: ClassVar[type[ChannelConfig]] = WAHAConfig
    display_name: ClassVar[str] = "WhatsApp via WAHA"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.GROUPS,
            Capability.INBOUND_MEDIA,
            Capability.OUTBOUND_MEDIA,
            Capability.MEDIA_UPLOAD,
            Capability.MEDIA_DOWNLOAD,
            Capability.REACTIONS,
            Capability.EDITS,
            Capability.READ_RECEIPTS,
            Capability.TYPING,
            Capability.HISTORY_IMPORT,
            Capability.WEBHOOK_REGISTRATION,
            Capability.SESSION_PAIRING,
        }
    )
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset(
        {MediaKind.IMAGE, MediaKind.DOCUMENT, MediaKind.VOICE, MediaKind.VIDEO, MediaKind.AUDIO}
    )

    def __init__(
        self,
        *,
        policy: RetryPolicy | None = None,
        limits: ParseLimits | None = None,
        replay_window: timedelta = DEFAULT_REPLAY_WINDOW,
        accept_unstamped: bool = False,
    ) -> None:
        """``accept_unstamped``: accept envelopes without a timestamp (WAHA releases before
        2025 send none); such deliveries are then protected from replay only by their
        idempotency keys, for as long as the inbox keeps them (its retention).
        """
        super().__init__(policy=policy, limits=limits)
        self.replay_window = replay_window
        self.accept_unstamped = accept_unstamped

    # ------------------------------------------------------------------ sans-IO

    def signed_time(self, body: bytes) -> datetime | None:
        try:
            envelope = self.load_json(body)
        except WebhookPayloadError:
            return None
        return epoch(envelope.get("timestamp"), 1000) if isinstance(envelope, dict) else None

    key_name: ClassVar[str] = "HMAC key"

    def check_signature(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        headers = request.headers  # names are stored lower-case
        algorithm = headers.get("x-webhook-hmac-algorithm")
        if algorithm is not None and algorithm.lower() != "sha512":
            raise WebhookVerificationError("unsupported signature algorithm")
        verify_hmac(
            headers.get("x-webhook-hmac"), request.body, keys.secret_bytes(), algorithm="sha512"
        )

    def check_freshness(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        try:
            envelope = self.load_json(request.body)
        except WebhookPayloadError:
            return  # signed but unreadable: parse reports it as a malformed delivery
        if isinstance(envelope, dict):
            sent_at = epoch(envelope.get("timestamp"), 1000)
            if sent_at is None and self.accept_unstamped and "timestamp" not in envelope:
                return
            check_window(sent_at, keys.now, self.replay_window, keys.tolerance)

    def sign(self, body: bytes, secret: str, *, now: datetime) -> dict[str, str]:
        return {
            "X-Webhook-Hmac": hmac_hex(secret.encode(), body, "sha512"),
            "X-Webhook-Hmac-Algorithm": "sha512",
            "X-Webhook-Timestamp": str(int(now.timestamp() * 1000)),
        }

    def parse(self, body: bytes, config: WAHAConfig | None = None) -> list[InboundEvent]:
        envelope = self.load_json(body)
        if (
            not isinstance(envelope, dict)
            or not isinstance(envelope.get("event"), str)
            or not isinstance(envelope.get("payload"), dict)
        ):
            raise WebhookPayloadError("waha", "expected an envelope with 'event' and 'payload'")
        session = envelope.get("session")
        session = session if isinstance(session, str) else None
        try:
            return [self._event(envelope, session)]
        except MALFORMED as exc:
            return [self._unsupported(envelope, session, f"malformed ({type(exc).__name__})")]

    def _unsupported(
        self, envelope: dict[str, Any], session: str | None, reason: str
    ) -> Unsupported:
        payload = envelope.get("payload")
        chat = payload.get("from") if isinstance(payload, dict) else None
        ident = envelope.get("id")
        return Unsupported(
            channel_type=WAHA,
            account_id=session,
            chat_id=normalize_jid(chat) if isinstance(chat, str) else "",
            **_stamp(None, envelope.get("timestamp")),
            idempotency_key=f"waha:{session}:event:{ident}"
            if isinstance(ident, str)
            else content_key(f"waha:{session}:event", envelope),
            reason=reason,
            raw=envelope,
        )

    def _event(self, envelope: dict[str, Any], session: str | None) -> InboundEvent:
        kind = envelope["event"]
        payload = envelope["payload"]
        if kind in ("message", "message.any"):
            return self.message_event(
                payload, session, envelope, envelope.get("me"), envelope.get("timestamp")
            )
        if kind == "message.ack":
            return self._ack(payload, session, envelope)
        if kind == "message.reaction":
            return self._reaction(payload, session, envelope)
        if kind == "message.edited":
            return self._edited(payload, session, envelope)
        if kind == "message.revoked":
            return self._revoked(payload, session, envelope)
        if kind == "session.status":
            status = str(payload["status"])
            ident = envelope.get("id")
            key = (
                f"waha:{session}:session:{ident}"
                if isinstance(ident, str)
                else content_key(f"waha:{session}:session", envelope)
            )
            return SessionStatusChanged(
                channel_type=WAHA,
                account_id=session,
                chat_id=str(payload.get("name") or session or ""),
                **_stamp(None, envelope.get("timestamp")),
                status=status,
                idempotency_key=key,
                raw=envelope,
            )
        return self._unsupported(envelope, session, f"event {kind!r} is not mapped")

    def _participants(
        self, payload: dict[str, Any], me: Any
    ) -> tuple[str, str | None, tuple[str, ...], bool]:
        """(chat id, sender id, sender aliases, from me) of a message payload."""
        from_me = bool(payload.get("fromMe"))
        raw_from, raw_to = payload.get("from"), payload.get("to")
        chat_raw = raw_to if from_me and isinstance(raw_to, str) else raw_from
        chat_id = normalize_jid(str(chat_raw))
        participant = payload.get("participant") or payload.get("author")
        if from_me:
            sender_raw = me.get("id") if isinstance(me, dict) else None
        elif participant:
            sender_raw = participant
        else:
            sender_raw = raw_from
        sender = normalize_jid(sender_raw) if isinstance(sender_raw, str) else None
        aliases: list[str] = []
        info = (
            (payload.get("_data") or {}).get("Info")
            if isinstance(payload.get("_data"), dict)
            else None
        )
        if isinstance(info, dict):
            for field in ("SenderAlt", "RecipientAlt"):
                alt = info.get(field)
                if isinstance(alt, str) and alt and normalize_jid(alt) != sender:
                    aliases.append(normalize_jid(alt))
        return chat_id, sender, tuple(aliases), from_me

    def message_event(
        self,
        payload: dict[str, Any],
        session: str | None,
        raw: Any = None,
        me: Any = None,
        envelope_ms: Any = None,
    ) -> MessageReceived | MessageEcho:
        """Map one WAHA message (a webhook payload or a history item) to an event."""
        chat_id, sender, aliases, from_me = self._participants(payload, me)
        raw_data = payload.get("_data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        ident = str(payload["id"])
        fields: dict[str, Any] = {
            "channel_type": WAHA,
            "account_id": session,
            "message_id": ident,
            "chat_id": chat_id,
            "chat_type": _chat_type(chat_id),
            "sender_id": sender,
            **_stamp(payload.get("timestamp"), envelope_ms),
            "idempotency_key": f"waha:{session}:msg:{ident}",
            "raw": raw if raw is not None else payload,
        }
        if aliases:
            fields["sender_aliases"] = aliases
        body = payload.get("body") or None
        if payload.get("hasMedia"):
            media = payload.get("media") or {}
            mime = media.get("mimetype")
            fields["attachments"] = (
                Attachment(
                    kind=_media_kind(mime, data.get("type")),
                    url=media.get("url") or payload.get("mediaUrl"),
                    mime_type=mime,
                    filename=media.get("filename"),
                    caption=body,
                ),
            )
        else:
            fields["text"] = body
        loc = payload.get("location")
        if loc and loc.get("latitude") is not None:
            fields["location"] = Location(
                latitude=float(loc["latitude"]),
                longitude=float(loc["longitude"]),
                name=loc.get("description") or loc.get("name"),
            )
        cards = payload.get("vCards")
        if cards:
            fields["contacts"] = tuple(_vcard(c) for c in cards if isinstance(c, str))
        reply = payload.get("replyTo")
        if reply and reply.get("id"):
            fields["reply_to"] = str(reply["id"])
        if data:
            if data.get("isForwarded"):
                fields["forwarded"] = True
            if not from_me:
                info = data.get("Info")
                fields["sender_name"] = data.get("notifyName") or (
                    info.get("PushName") if isinstance(info, dict) else None
                )
        # model_validate on a ready dict: the cheapest validated construction
        if from_me:
            return MessageEcho.model_validate(fields)
        return MessageReceived.model_validate(fields)

    def _ack(
        self, payload: dict[str, Any], session: str | None, envelope: dict[str, Any]
    ) -> InboundEvent:
        ack = int(payload["ack"])
        status = ACK_STATUS.get(ack)
        if status is None:
            return self._unsupported(envelope, session, f"unknown ack value {ack}")
        # in an ack, "from" is the chat the message went to, whoever sent it
        chat_id = normalize_jid(str(payload["from"]))
        ident = str(payload["id"])
        return StatusChanged(
            channel_type=WAHA,
            account_id=session,
            message_id=ident,
            chat_id=chat_id,
            chat_type=_chat_type(chat_id),
            recipient_id=chat_id,
            **_stamp(payload.get("timestamp"), envelope.get("timestamp")),
            status=status,
            error=DeliveryError(code="ERROR", title=payload.get("ackName")) if ack == -1 else None,
            idempotency_key=f"waha:{session}:ack:{ident}:{ack}",
            raw=envelope,
        )

    def _reaction(
        self, payload: dict[str, Any], session: str | None, envelope: dict[str, Any]
    ) -> InboundEvent:
        reaction = payload["reaction"]
        chat_id, sender, aliases, from_me = self._participants(payload, envelope.get("me"))
        text = reaction.get("text") or None
        return ReactionChanged(
            channel_type=WAHA,
            account_id=session,
            message_id=str(payload.get("id")),
            chat_id=chat_id,
            chat_type=_chat_type(chat_id),
            sender_id=sender,
            sender_aliases=aliases,
            from_me=from_me,
            **_stamp(payload.get("timestamp"), envelope.get("timestamp")),
            target_message_id=str(reaction["messageId"]),
            emoji=text,
            idempotency_key=f"waha:{session}:reaction:{payload.get('id')}:{text or ''}",
            raw=envelope,
        )

    def _edited(
        self, payload: dict[str, Any], session: str | None, envelope: dict[str, Any]
    ) -> InboundEvent:
        chat_id, sender, aliases, from_me = self._participants(payload, envelope.get("me"))
        return MessageEdited(
            channel_type=WAHA,
            account_id=session,
            message_id=str(payload["id"]),
            chat_id=chat_id,
            chat_type=_chat_type(chat_id),
            sender_id=sender,
            sender_aliases=aliases,
            from_me=from_me,
            **_stamp(payload.get("timestamp"), envelope.get("timestamp")),
            target_message_id=str(payload["editedMessageId"]),
            text=payload.get("body"),
            idempotency_key=f"waha:{session}:edit:{payload['id']}",
            raw=envelope,
        )

    def _revoked(
        self, payload: dict[str, Any], session: str | None, envelope: dict[str, Any]
    ) -> InboundEvent:
        after = payload.get("after") or payload.get("before") or {}
        chat_id, sender, aliases, from_me = self._participants(after, envelope.get("me"))
        target = str(payload["revokedMessageId"])
        return MessageDeleted(
            channel_type=WAHA,
            account_id=session,
            message_id=after.get("id"),
            chat_id=chat_id,
            chat_type=_chat_type(chat_id),
            sender_id=sender,
            sender_aliases=aliases,
            from_me=from_me,
            **_stamp(after.get("timestamp"), envelope.get("timestamp")),
            target_message_id=target,
            idempotency_key=f"waha:{session}:revoke:{target}",
            raw=envelope,
        )

    # ------------------------------------------------------------------ network

    def _map_error(
        self, response: httpx.Response, redact: Callable[[str], str]
    ) -> PlatformError | None:
        if response.is_success:
            return None
        detail = response.text[:300]
        if "json" in response.headers.get("content-type", ""):
            try:
                data = response.json()
                if isinstance(data, dict):
                    detail = str(data.get("message") or data.get("error") or detail)
            except ValueError:
                pass
        return error_for_status(response, "waha", redact(detail) or response.reason_phrase)

    @staticmethod
    def _auth(config: WAHAConfig) -> tuple[dict[str, str], tuple[str, ...]]:
        auth = config.auth
        if isinstance(auth, WAHAApiKeyAuth):
            key = auth.api_key.get_secret_value()
            return {"X-Api-Key": key}, (key,)
        password = auth.password.get_secret_value()
        token = base64.b64encode(f"{auth.username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}, (password, token)

    async def _request(
        self,
        client: httpx.AsyncClient,
        config: WAHAConfig,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        headers, secrets = self._auth(config)
        hmac_key = config.webhook_hmac_key
        if hmac_key is not None:
            secrets = (*secrets, hmac_key.get_secret_value())
        return await self.http.request(
            client,
            method,
            f"{config.base_url}{path}",
            idempotent=idempotent,
            secrets=secrets,
            headers=headers,
            json=json_body,
            params=params,
        )

    def _session_config(self, config: WAHAConfig, url: str) -> dict[str, Any]:
        hook: dict[str, Any] = {
            "url": url,
            "events": list(config.webhook_events),
            "retries": {"policy": "exponential", "delaySeconds": 2, "attempts": 10},
        }
        if config.webhook_hmac_key is not None:
            hook["hmac"] = {"key": config.webhook_hmac_key.get_secret_value()}
        return {"webhooks": [hook], "noweb": {"store": {"enabled": True, "fullSync": False}}}

    async def register_webhook(
        self, client: httpx.AsyncClient, config: WAHAConfig, url: str
    ) -> WebhookInfo:
        """Create the session with our webhook, or update an existing session's webhook."""
        body = {"name": config.session_id, "config": self._session_config(config, url)}
        try:
            await self._request(
                client,
                config,
                "PUT",
                f"/api/sessions/{config.session_id}",
                idempotent=True,
                json_body=body,
            )
        except ResourceNotFoundError:
            await self._request(
                client,
                config,
                "POST",
                "/api/sessions",
                idempotent=True,
                json_body={**body, "start": False},
            )
        return WebhookInfo(url=url, active=True)

    async def unregister_webhook(self, client: httpx.AsyncClient, config: WAHAConfig) -> None:
        await self._request(
            client,
            config,
            "PUT",
            f"/api/sessions/{config.session_id}",
            idempotent=True,
            json_body={"name": config.session_id, "config": {"webhooks": []}},
        )

    async def start_session(self, client: httpx.AsyncClient, config: WAHAConfig) -> str:
        response = await self._request(
            client, config, "POST", f"/api/sessions/{config.session_id}/start", idempotent=True
        )
        data = response.json() if response.content else {}
        status = data.get("status") if isinstance(data, dict) else None
        return str(status) if status else await self.session_status(client, config)

    async def stop_session(self, client: httpx.AsyncClient, config: WAHAConfig) -> None:
        await self._request(
            client, config, "POST", f"/api/sessions/{config.session_id}/stop", idempotent=True
        )

    async def logout_session(self, client: httpx.AsyncClient, config: WAHAConfig) -> None:
        """Unlink the WhatsApp account from the session (pairing is needed again)."""
        await self._request(
            client, config, "POST", f"/api/sessions/{config.session_id}/logout", idempotent=True
        )

    async def _session(self, client: httpx.AsyncClient, config: WAHAConfig) -> dict[str, Any]:
        response = await self._request(
            client, config, "GET", f"/api/sessions/{config.session_id}", idempotent=True
        )
        data = response.json()
        return data if isinstance(data, dict) else {}

    async def session_status(self, client: httpx.AsyncClient, config: WAHAConfig) -> str:
        return str((await self._session(client, config)).get("status", "STOPPED"))

    async def get_qr_code(self, client: httpx.AsyncClient, config: WAHAConfig) -> str:
        """The raw value of the current pairing QR code (render it, or print it)."""
        response = await self._request(
            client,
            config,
            "GET",
            f"/api/{config.session_id}/auth/qr",
            idempotent=True,
            params={"format": "raw"},
        )
        try:
            data = response.json()
        except ValueError:
            return response.text
        if isinstance(data, dict):
            for field in ("value", "qr", "data"):
                if isinstance(data.get(field), str):
                    return str(data[field])
        raise InvalidRequestError("WAHA answered no QR value", platform="waha")

    async def request_pairing_code(
        self, client: httpx.AsyncClient, config: WAHAConfig, phone_number: str
    ) -> str:
        """A code that links the account by phone number instead of a QR scan (the user
        enters it in WhatsApp under Linked devices)."""
        response = await self._request(
            client,
            config,
            "POST",
            f"/api/{config.session_id}/auth/request-code",
            idempotent=False,
            json_body={"phoneNumber": phone_number.lstrip("+")},
        )
        data = response.json() if response.content else {}
        code = data.get("code") if isinstance(data, dict) else None
        if not isinstance(code, str) or not code:
            raise InvalidRequestError("WAHA answered no pairing code", platform="waha")
        return code

    async def get_qr_image(self, client: httpx.AsyncClient, config: WAHAConfig) -> bytes:
        """The current pairing QR code as a PNG image."""
        response = await self._request(
            client,
            config,
            "GET",
            f"/api/{config.session_id}/auth/qr",
            idempotent=True,
            params={"format": "image"},
        )
        return response.content

    async def test_connection(
        self, client: httpx.AsyncClient, config: WAHAConfig
    ) -> ConnectionInfo:
        session = await self._session(client, config)
        me = session.get("me") if isinstance(session.get("me"), dict) else {}
        return ConnectionInfo(
            ok=True,
            account_id=config.session_id,
            display_name=(me or {}).get("pushName"),
            details={"status": session.get("status"), "me": (me or {}).get("id")},
        )

    async def webhook_info(self, client: httpx.AsyncClient, config: WAHAConfig) -> WebhookInfo:
        session = await self._session(client, config)
        hooks = ((session.get("config") or {}).get("webhooks")) or []
        url = hooks[0].get("url") if hooks and isinstance(hooks[0], dict) else None
        return WebhookInfo(
            url=url, active=url is not None, details={"status": session.get("status")}
        )

    async def send(
        self, client: httpx.AsyncClient, config: WAHAConfig, message: OutboundMessage
    ) -> SendResult:
        base: dict[str, Any] = {"session": config.session_id, "chatId": message.to}
        if isinstance(message, TextMessage):
            body = {**base, "text": message.text, "linkPreview": message.preview_url}
            if message.reply_to:
                body["reply_to"] = message.reply_to
            return self._result(
                await self._request(
                    client, config, "POST", "/api/sendText", idempotent=False, json_body=body
                ),
                message.to,
            )
        if isinstance(message, MediaMessage):
            if message.media_id is not None:
                raise CapabilityNotSupportedError("waha", "send media by platform media id")
            file: dict[str, Any] = {
                "mimetype": message.mime_type or "application/octet-stream",
                "filename": message.filename or "file",
            }
            if message.url is not None:
                file["url"] = message.url
            else:
                file["data"] = base64.b64encode(message.data or b"").decode()
            body = {**base, "file": file}
            if message.caption:
                body["caption"] = message.caption
            if message.reply_to:
                body["reply_to"] = message.reply_to
            endpoint = _SEND_ENDPOINT.get(message.media_kind, "sendFile")
            return self._result(
                await self._request(
                    client, config, "POST", f"/api/{endpoint}", idempotent=False, json_body=body
                ),
                message.to,
            )
        if isinstance(message, MarkAsRead):
            body = {**base, "messageIds": [message.message_id], "messageId": message.message_id}
            await self._request(
                client, config, "POST", "/api/sendSeen", idempotent=True, json_body=body
            )
            return SendResult(message_id=None, chat_id=message.to)
        if isinstance(message, Reaction):
            body = {
                "session": config.session_id,
                "messageId": message.message_id,
                "reaction": message.emoji or "",
            }
            await self._request(
                client, config, "PUT", "/api/reaction", idempotent=True, json_body=body
            )
            return SendResult(message_id=None, chat_id=message.to)
        if isinstance(message, Typing):
            path = "/api/startTyping" if message.on else "/api/stopTyping"
            await self._request(client, config, "POST", path, idempotent=True, json_body=base)
            return SendResult(message_id=None, chat_id=message.to)
        raise CapabilityNotSupportedError("waha", f"send {message.kind}")

    @staticmethod
    def _result(response: httpx.Response, chat_id: str) -> SendResult:
        data = response.json() if response.content else {}
        ident = data.get("id") if isinstance(data, dict) else None
        if isinstance(ident, dict):  # some engines answer {"id": {"_serialized": ...}}
            ident = ident.get("_serialized")
        return SendResult(message_id=str(ident) if ident else None, chat_id=chat_id, raw=data)

    async def list_chats(
        self,
        client: httpx.AsyncClient,
        config: WAHAConfig,
        *,
        cursor: str | None = None,
        limit: int = 100,
    ) -> HistoryPage[ChatSummary]:
        offset = int(cursor or 0)
        response = await self._request(
            client,
            config,
            "GET",
            f"/api/{config.session_id}/chats",
            idempotent=True,
            params={"limit": limit, "offset": offset},
        )
        chats = response.json()
        if not isinstance(chats, list):
            raise InvalidRequestError("WAHA chat list is not a list", platform="waha")
        items = []
        for chat in chats:
            raw_id = chat.get("id")
            if isinstance(raw_id, dict):
                raw_id = raw_id.get("_serialized")
            if not isinstance(raw_id, str):
                continue
            chat_id = normalize_jid(raw_id)
            stamp = chat.get("timestamp") or chat.get("conversationTimestamp")
            items.append(
                ChatSummary(
                    chat_id=chat_id,
                    chat_type=_chat_type(chat_id),
                    name=chat.get("name"),
                    last_activity_at=epoch(stamp),
                )
            )
        next_cursor = str(offset + len(chats)) if len(chats) >= limit else None
        return HistoryPage(tuple(items), next_cursor)

    async def fetch_history(
        self,
        client: httpx.AsyncClient,
        config: WAHAConfig,
        chat_id: str,
        *,
        cursor: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> HistoryPage[InboundEvent]:
        offset = int(cursor or 0)
        params: dict[str, Any] = {"limit": limit, "offset": offset, "downloadMedia": "false"}
        if since is not None:
            params["filter.timestamp.gte"] = int(since.timestamp())
        response = await self._request(
            client,
            config,
            "GET",
            f"/api/{config.session_id}/chats/{chat_id}/messages",
            idempotent=True,
            params=params,
        )
        messages = response.json()
        if not isinstance(messages, list):
            raise InvalidRequestError("WAHA message list is not a list", platform="waha")
        session = config.session_id
        events: list[InboundEvent] = []
        for item in messages:
            try:
                events.append(self.message_event(item, session))
            except MALFORMED as exc:
                events.append(
                    self._unsupported(
                        {"payload": item}, session, f"malformed ({type(exc).__name__})"
                    )
                )
        next_cursor = str(offset + len(messages)) if len(messages) >= limit else None
        return HistoryPage(tuple(events), next_cursor)

    async def download_media(
        self, client: httpx.AsyncClient, config: WAHAConfig, attachment: Attachment
    ) -> MediaContent:
        if attachment.url is None:
            raise InvalidRequestError(
                "WAHA did not download this media (media is null); fetch the message again "
                "with downloadMedia=true",
                platform="waha",
            )
        headers, secrets = self._auth(config)
        response = await self.http.request(
            client, "GET", attachment.url, idempotent=True, secrets=secrets, headers=headers
        )
        return MediaContent(
            content=response.content,
            mime_type=attachment.mime_type or response.headers.get("content-type"),
            filename=attachment.filename,
        )
