"""What the three Meta platforms (WhatsApp Cloud, Messenger, Instagram) share: the Graph API.

The subscription handshake (``hub.mode`` / ``hub.verify_token`` / ``hub.challenge``), the
``X-Hub-Signature-256`` HMAC over the raw body with the app secret, the versioned base URL,
bearer authentication, the error envelope mapped onto the typed hierarchy (:mod:`._errors`),
cursor paging, and the times Meta writes (:mod:`._time`). The webhook format Messenger and
Instagram share lives in :mod:`._messaging`; WhatsApp's own format in its package.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from ventros_channels.adapters._meta._errors import graph_error
from ventros_channels.adapters._meta._time import graph_time
from ventros_channels.adapters._meta.config import GraphConfig
from ventros_channels.adapters._safe import ParseLimits
from ventros_channels.adapters.base import ChannelAdapter
from ventros_channels.errors import (
    InvalidRequestError,
    PlatformError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from ventros_channels.http import RetryPolicy
from ventros_channels.messaging.inbound import Unsupported, content_key
from ventros_channels.webhooks.request import VerificationKeys, WebhookRequest, WebhookResponse
from ventros_channels.webhooks.signatures import hmac_hex, verify_hmac

__all__ = ["DEFAULT_REPLAY_WINDOW", "GraphAdapter", "graph_error", "graph_time"]

ConfigT = TypeVar("ConfigT", bound=GraphConfig)

DEFAULT_REPLAY_WINDOW = timedelta(days=7)
"""How old a signed Meta delivery may be. Meta retries a failed delivery for up to seven days
(WhatsApp) with the original body, so a shorter window would drop genuine late retries; within
the window, a replayed copy is a duplicate of an idempotency key the dispatcher keeps for as
long (``dedupe_retain``, seven days by default)."""


class GraphAdapter(ChannelAdapter[ConfigT], Generic[ConfigT]):
    """Base of the WhatsApp Cloud, Messenger and Instagram adapters."""

    graph_object: ClassVar[str]
    """The webhook envelope's ``object`` value."""

    key_name: ClassVar[str] = "app secret"

    def __init__(
        self,
        *,
        policy: RetryPolicy | None = None,
        limits: ParseLimits | None = None,
        replay_window: timedelta = DEFAULT_REPLAY_WINDOW,
    ) -> None:
        super().__init__(policy=policy, limits=limits)
        self.replay_window = replay_window

    # ------------------------------------------------------------------ verification

    def _stamps(self, entries: list[Any]) -> list[object]:
        """Every time the platform wrote in the entries, as written (``entry.time``)."""
        return [entry.get("time") for entry in entries if isinstance(entry, dict)]

    _instant: Callable[[object], datetime | None] = staticmethod(graph_time)
    """How this platform's times read (``None``: no usable instant)."""

    def signed_time(self, body: bytes) -> datetime | None:
        """The newest time written in the signed entries (``None`` when there is none)."""
        try:
            data = self.load_json(body)
        except WebhookPayloadError:
            return None
        entries = data.get("entry") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            return None
        stamps = self._stamps(entries)
        if len(stamps) == 1:  # the usual delivery: one item
            return self._instant(stamps[0])
        times = [when for when in map(self._instant, stamps) if when is not None]
        return max(times, default=None)

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

    # ------------------------------------------------------------------ envelope

    def _envelope(self, body: bytes) -> list[Any]:
        """The ``entry`` list of a delivery for this platform's ``object``."""
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
    ) -> Unsupported:
        """An item that is not mapped, with every id, chat, sender and time that was read."""
        return Unsupported(
            channel_type=self.channel_type,
            account_id=account,
            message_id=message_id,
            chat_id=str(chat_id) if isinstance(chat_id, str | int) else "",
            sender_id=sender_id,
            timestamp=stamp or datetime.now(UTC),
            reason=reason,
            malformed_fields=malformed,
            idempotency_key=content_key(f"{self.channel_type}:{account}:unsupported", item),
            raw=item,
        )

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
