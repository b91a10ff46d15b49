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

Layout: the wire format in ``_payloads``, deliveries mapped by the table in ``_inbound``,
outbound messages encoded by the table in ``_outbound``, and what session statuses mean for a
channel in ``_session`` (reached through :meth:`WAHAAdapter.apply_session_status`).
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar, cast

import httpx

from ventros_channels.adapters._safe import ParseLimits, check_window, epoch
from ventros_channels.adapters.base import (
    MALFORMED,
    Capability,
    ChannelAdapter,
    ChatSummary,
    ConnectionInfo,
    ContactProfile,
    HistoryPage,
    MediaContent,
    PairingStep,
    WebhookInfo,
)
from ventros_channels.adapters.waha import _session as sessions
from ventros_channels.adapters.waha._inbound import (
    ACK_STATUS,
    Context,
    chat_type,
    map_envelope,
    map_history_item,
    map_message,
    normalize_jid,
    read_jid,
    unsupported,
)
from ventros_channels.adapters.waha._limits import OUTBOUND_LIMITS
from ventros_channels.adapters.waha._outbound import ENCODERS
from ventros_channels.adapters.waha._payloads import Contact, Envelope, Me, WAMessage
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
from ventros_channels.messaging.inbound import (
    Attachment,
    InboundEvent,
    MediaKind,
    MessageEcho,
    MessageReceived,
)
from ventros_channels.messaging.limits import OutboundLimits
from ventros_channels.messaging.outbound import OutboundMessage, SendResult
from ventros_channels.webhooks.request import VerificationKeys, WebhookRequest
from ventros_channels.webhooks.signatures import hmac_hex, verify_hmac

__all__ = [
    "ACK_STATUS",
    "DEFAULT_REPLAY_WINDOW",
    "WAHAAdapter",
    "WAHAConfig",
    "normalize_jid",
]

WAHA = ChannelType.WAHA
logger = logging.getLogger(__name__)
DEFAULT_REPLAY_WINDOW = timedelta(hours=1)
"""How old a signed envelope may be: the retries this library registers (exponential, ten
attempts from 2 s) end within about 35 minutes; older copies are replays."""


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
            Capability.EDIT_MESSAGES,
            Capability.DELETE_MESSAGES,
            Capability.LOCATION_MESSAGES,
            Capability.CONTACT_MESSAGES,
            Capability.POLLS,
            Capability.PROFILES,
            Capability.PRESENCE,
        }
    )
    outbound_limits: ClassVar[OutboundLimits] = OUTBOUND_LIMITS
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
        self.restarts = sessions.RestartBudget()

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
        doc = self.load_json(body)
        if (
            not isinstance(doc, dict)
            or not isinstance(doc.get("event"), str)
            or not isinstance(doc.get("payload"), dict)
        ):
            raise WebhookPayloadError("waha", "expected an envelope with 'event' and 'payload'")
        envelope = cast(Envelope, doc)
        session = envelope.get("session")
        ctx = Context(envelope, session if isinstance(session, str) else None, self.event_key)
        try:
            return map_envelope(ctx)
        except MALFORMED as exc:
            return [unsupported(ctx, f"malformed ({type(exc).__name__})")]

    def message_event(
        self,
        payload: WAMessage,
        session: str | None,
        raw: Any = None,
        me: Any = None,
        envelope_ms: Any = None,
    ) -> MessageReceived | MessageEcho:
        """Map one WAHA message (a webhook payload or a history item) to an event."""
        envelope: Envelope = {"event": "message", "payload": cast(dict[str, object], payload)}
        if isinstance(me, dict):
            envelope["me"] = cast(Me, me)
        if envelope_ms is not None:
            envelope["timestamp"] = envelope_ms
        return map_message(payload, Context(envelope, session, self.event_key), raw)

    # ------------------------------------------------------------------ session pairing

    def apply_session_status(self, channel: Channel, status: str) -> PairingStep:
        """Record a WAHA session status on the channel (see :mod:`._session`); ``restart`` in
        the answer means the config asks for a FAILED session to be restarted."""
        step = sessions.apply_status(channel, status)
        if step.status is sessions.WORKING and isinstance(channel.config, WAHAConfig):
            self.restarts.reset(channel.config)
        return step

    async def restart_failed_session(
        self, client: httpx.AsyncClient, config: WAHAConfig
    ) -> str | None:
        """Restart the session if it is still FAILED, after the policy's wait
        (``config.auto_restart``); returns the status it is left in, or ``None`` when no
        restart is allowed (the policy is off, or its attempts since the session last worked
        are used up). ``POST /api/sessions/{session}/restart`` stops and starts it again."""
        delay = self.restarts.next_delay(config)
        if delay is None:
            return None
        await self.policy.sleep(delay)
        status = await self.session_status(client, config)
        if status != sessions.FAILED:
            return status  # recovered, or restarted by someone else meanwhile
        path = f"/api/sessions/{config.session_id}/restart"
        response = await self._request(client, config, "POST", path, idempotent=True)
        data = _json_object(response).get("status")
        return str(data) if data else await self.session_status(client, config)

    def pairing_step(self, channel: Channel) -> PairingStep:
        return sessions.current_step(channel)

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

    async def end_session(
        self, client: httpx.AsyncClient, config: WAHAConfig, *, logout: bool
    ) -> str:
        """Stop the session, or log it out (the phone must pair again); a session WAHA does
        not know is already stopped."""
        end = self.logout_session if logout else self.stop_session
        with contextlib.suppress(ResourceNotFoundError):
            await end(client, config)
        return str(sessions.STOPPED)

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
        encoder = ENCODERS.get(type(message))
        if encoder is None:
            raise CapabilityNotSupportedError("waha", f"send {message.kind}")
        call = encoder(config.session_id, message)
        response = await self._request(
            client, config, call.method, call.path, idempotent=call.idempotent, json_body=call.body
        )
        if not call.sends:
            return SendResult(message_id=None, chat_id=message.to)
        data = response.json() if response.content else {}
        ident = data.get("id") if isinstance(data, dict) else None
        if isinstance(ident, dict):  # some engines answer {"id": {"_serialized": ...}}
            ident = ident.get("_serialized")
        return SendResult(message_id=str(ident) if ident else None, chat_id=message.to, raw=data)

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
                    chat_type=chat_type(chat_id),
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
        events = [map_history_item(item, session, self.event_key) for item in messages]
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

    async def fetch_profile(
        self, client: httpx.AsyncClient, config: WAHAConfig, user_id: str
    ) -> ContactProfile:
        """``GET /api/contacts`` and ``/api/contacts/profile-picture`` for ``user_id`` (a chat id
        such as ``<digits>@c.us`` or an ``@lid``). WAHA answers for any number, registered or
        not; the picture is ``None`` when the contact's privacy settings hide it. Its link
        points at WhatsApp's servers and expires after a while.
        """
        params = {"contactId": user_id, "session": config.session_id}
        found = await self._request(
            client, config, "GET", "/api/contacts", idempotent=True, params=params
        )
        picture = await self._request(
            client, config, "GET", "/api/contacts/profile-picture", idempotent=True, params=params
        )
        contact = cast(Contact, _json_object(found))
        number = contact.get("number")
        phone = number or (user_id.split("@", 1)[0] if user_id.endswith("@c.us") else None)
        return ContactProfile(
            user_id=normalize_jid(read_jid(contact.get("id")) or user_id),
            display_name=contact.get("name") or contact.get("pushname") or None,
            avatar_url=_json_object(picture).get("profilePictureURL") or None,
            phone=phone,
            raw=contact or None,
        )


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; ``{}`` for an empty body or ``null`` (an unknown contact)."""
    data = response.json() if response.content else None
    return data if isinstance(data, dict) else {}
