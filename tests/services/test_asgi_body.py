"""The ASGI endpoint's body read: its deadline answers 408, and nothing else is cut short."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from ventros_channels import Channel
from ventros_channels.adapters import AdapterRegistry
from ventros_channels.inbox import AcceptResult, Delivery, InMemoryInbox
from ventros_channels.integrations.asgi import create_app
from ventros_channels.services import WebhookDispatcher
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.webhooks import WebhookRequest

from .conftest import Recorder, delivery

Signer = Callable[..., WebhookRequest]
Receive = Callable[[], Awaitable[dict[str, Any]]]


def scope_for(channel: Channel, request: WebhookRequest) -> dict[str, Any]:
    path = f"/webhooks/webchat/{channel.id}"
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()],
        "server": ("test", 80),
        "client": ("127.0.0.1", 5000),
    }


def stalling(first: bytes) -> Receive:
    """Sends ``first`` as the first chunk of a longer body, then never the rest."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": first, "more_body": True}
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return receive


def whole(body: bytes) -> Receive:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def serve(app: Any, scope: dict[str, Any], receive: Receive) -> list[int]:
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses


class SlowInbox(InMemoryInbox):
    """Takes longer to record than the endpoint's read deadline."""

    async def accept(self, deliveries: Sequence[Delivery]) -> AcceptResult:
        await asyncio.sleep(0.15)
        return await super().accept(deliveries)


@pytest.fixture
def dispatcher(
    repo: InMemoryChannelRepository,
    recorder: Recorder,
    registry: AdapterRegistry,
    clock: FixedClock,
) -> WebhookDispatcher:
    return WebhookDispatcher(repo, recorder, registry=registry, clock=clock)


async def test_a_body_that_stops_arriving_is_408_and_not_recorded(
    dispatcher: WebhookDispatcher, active_channel: Channel, signed: Signer, recorder: Recorder
) -> None:
    request = signed(delivery("m1"))
    app = create_app(dispatcher, read_timeout=0.05)
    async with dispatcher:
        statuses = await serve(app, scope_for(active_channel, request), stalling(b"{"))
        await dispatcher.drain()
    assert statuses == [408]
    assert recorder.seen == []
    assert dispatcher.stats.deliveries == 0
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0  # the deadline's own cancellation was taken back


async def test_a_cancelled_request_is_cancelled_not_answered_408(
    dispatcher: WebhookDispatcher, active_channel: Channel, signed: Signer
) -> None:
    request = signed(delivery("m1"))
    app = create_app(dispatcher, read_timeout=5.0)
    async with dispatcher:
        reading = asyncio.create_task(
            serve(app, scope_for(active_channel, request), stalling(b"{"))
        )
        await asyncio.sleep(0.02)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
    assert reading.cancelled()


async def test_the_deadline_covers_the_body_only_not_the_recording(
    repo: InMemoryChannelRepository,
    recorder: Recorder,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
) -> None:
    d = WebhookDispatcher(repo, recorder, registry=registry, clock=clock, inbox=SlowInbox())
    request = signed(delivery("m1"))
    app = create_app(d, read_timeout=0.05)
    async with d:
        statuses = await serve(app, scope_for(active_channel, request), whole(request.body))
        await asyncio.sleep(0.1)  # past the deadline: its timer must be gone
        await d.drain()
    assert statuses == [200]
    assert [event.message_id for event, _ in recorder.seen] == ["m1"]
