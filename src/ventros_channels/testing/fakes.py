"""Fake platforms at the HTTP layer, for host tests and the offline demo.

:class:`FakePlatforms` is an ``httpx`` transport that answers like Telegram, WAHA and Meta's
Graph API would, on hosts that cannot be reached by accident (``*.fake``), records every
request, and builds signed webhook deliveries shaped as each platform sends them::

    fakes = FakePlatforms()
    async with fakes.client() as http:                      # an httpx.AsyncClient
        service = ChannelService(repo, http=http, ...)
        channel = await service.create_channel(..., channel_type="telegram",
                                               config=fakes.config("telegram"))
        request = fakes.telegram.text_update(chat_id=42, text="hi")   # a WebhookRequest

Nothing here touches the network.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from ventros_channels.adapters._meta.fake import GRAPH_HOST, FakeGraph
from ventros_channels.adapters.telegram.fake import TELEGRAM_HOST, FakeTelegram
from ventros_channels.adapters.waha.fake import WAHA_HOST, FakeWAHA, SyntheticHistory
from ventros_channels.testing._fake import FakePlatform, SentMessage

__all__ = [
    "FakeGraph",
    "FakePlatform",
    "FakePlatforms",
    "FakeTelegram",
    "FakeWAHA",
    "SentMessage",
    "SyntheticHistory",
]


class FakePlatforms:
    """Telegram, WAHA and Meta's Graph API behind one ``httpx`` transport."""

    def __init__(
        self, *, clock: Callable[[], datetime] | None = None, waha_latency: float = 0.0
    ) -> None:
        now = clock or (lambda: datetime.now(UTC))
        self.telegram = FakeTelegram(now)
        self.waha = FakeWAHA(now, waha_latency)
        self.graph = FakeGraph(now)

    def config(self, channel_type: str) -> dict[str, Any]:
        """A channel config pointing at the fake platform (with fake secrets)."""
        if channel_type == "telegram":
            return self.telegram.config()
        if channel_type == "waha":
            return self.waha.config()
        return self.graph.config(channel_type)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        host = f"{request.url.scheme}://{request.url.host}"
        if host == TELEGRAM_HOST:
            self.telegram.requests.append(request)
            return self.telegram.handle(request)
        if host == WAHA_HOST:
            self.waha.requests.append(request)
            return await self.waha.handle(request)
        if host == GRAPH_HOST:
            self.graph.requests.append(request)
            return self.graph.handle(request)
        return httpx.Response(502, text=f"no fake platform at {host}")

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def client(self) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` whose requests go to the fakes."""
        return httpx.AsyncClient(transport=self.transport())

    @property
    def sent(self) -> list[SentMessage]:
        """Everything sent to any fake platform, in order per platform."""
        return [*self.telegram.sent, *self.waha.sent, *self.graph.sent]
