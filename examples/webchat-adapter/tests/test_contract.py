"""The example plug-in passes the library's adapter contract, and a few checks of its own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from ventros_webchat import WebchatAdapter, WebchatConfig

from ventros_channels import WebhookVerificationError
from ventros_channels.adapters import default_registry
from ventros_channels.messaging import MessageReceived, StatusChanged, TextMessage, Unsupported
from ventros_channels.testing.contract import AdapterContract
from ventros_channels.webhooks import VerificationKeys, WebhookRequest

PAYLOADS = Path(__file__).parent / "payloads"


class TestWebchatContract(AdapterContract):
    @pytest.fixture
    def adapter(self) -> WebchatAdapter:
        return WebchatAdapter()

    @pytest.fixture
    def config(self) -> WebchatConfig:
        return WebchatConfig(
            site_id="site-42",
            base_url="https://chat.example.test",
            api_key=SecretStr("test-webchat-api-key"),
            signing_secret=SecretStr("test-webchat-signing-secret"),
        )

    @pytest.fixture
    def samples(self) -> Sequence[bytes]:
        return [p.read_bytes() for p in sorted(PAYLOADS.glob("*.json"))]


def test_found_through_its_entry_point() -> None:
    adapter = default_registry().get("webchat")
    assert isinstance(adapter, WebchatAdapter)


def test_batch_maps_each_event() -> None:
    events = WebchatAdapter().parse((PAYLOADS / "batch.json").read_bytes())
    assert [type(e) for e in events] == [MessageReceived, StatusChanged, Unsupported]
    assert isinstance(events[0], MessageReceived)
    assert events[0].text == "One more thing"
    assert events[0].chat_id == "conv-7"
    assert events[1].message_id == "m-900"


def test_stale_delivery_is_rejected_as_a_replay() -> None:
    adapter = WebchatAdapter()
    body = (PAYLOADS / "message.json").read_bytes()
    signed_at = datetime(2026, 1, 1, 12, tzinfo=UTC)
    headers = adapter.sign(body, "s", now=signed_at)
    keys = VerificationKeys((SecretStr("s"),), now=signed_at + timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        adapter.verify(WebhookRequest("POST", body, headers), keys)


async def test_send_returns_the_platform_message_id() -> None:
    seen: list[httpx.Request] = []

    def platform(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "m-2000"})

    config = WebchatConfig(
        site_id="site-42", base_url="https://chat.example.test", api_key=SecretStr("k-123")
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(platform)) as client:
        result = await WebchatAdapter().send(client, config, TextMessage(to="conv-7", text="hi"))
    assert result.message_id == "m-2000"
    assert seen[0].url.path == "/v1/conversations/conv-7/messages"
    assert seen[0].headers["authorization"] == "Bearer k-123"
