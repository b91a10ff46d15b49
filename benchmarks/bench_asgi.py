"""Webhook endpoint benchmark: the ASGI app called directly, against a floor in the same run.

The floor is a bare Starlette endpoint that only reads the body, plus HMAC-SHA256 and
``json.loads`` of the same bytes. Ours is the full path: routing, channel lookup (cached),
verification, parsing, recording in the (in-memory) inbox with its dedupe, metrics. A
duplicate delivery is measured too, next to a plain dict lookup.

    .venv/bin/python benchmarks/bench_asgi.py

Target: a new delivery <= 1.5x the bare endpoint + floor; a duplicate close to a dict lookup.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import timedelta
from typing import Any
from uuid import UUID

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ventros_channels import Channel, IntakeSettings, RoutingContext, WebhookDispatcher
from ventros_channels.adapters import default_registry
from ventros_channels.integrations.asgi import create_app
from ventros_channels.messaging import InboundEvent
from ventros_channels.testing import FixedClock, InMemoryChannelRepository

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
SECRET = "bench-secret-token"
CONFIG = {
    "bot_token": "7000000001:BENCH-telegram-token-000",
    "webhook_secret_token": SECRET,
}


def body_for(i: int) -> bytes:
    """A Telegram text update, unique per ``i`` (a new delivery each time)."""
    return json.dumps(
        {
            "update_id": 100000 + i,
            "message": {
                "message_id": 5000 + i,
                "from": {"id": 123456789, "is_bot": False, "first_name": "Ana", "username": "ana"},
                "chat": {"id": 123456789, "type": "private", "first_name": "Ana"},
                "date": 1767268800,
                "text": "Hello, is anyone there? I have a question about my order.",
            },
        }
    ).encode()


async def call(app: ASGIApp, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "server": ("bench", 443),
        "client": ("127.0.0.1", 5000),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def main() -> None:
    clock = FixedClock()
    repo = InMemoryChannelRepository(clock=clock)
    channel = Channel.create(
        tenant_id="t",
        project_id=UUID(int=1),
        name="bench",
        channel_type="telegram",
        config=CONFIG,
        clock=clock,
    )
    channel.configure_webhook(base_url="https://crm.example.test")
    channel.activate()
    await repo.save(channel)
    adapter = default_registry().get("telegram")

    async def handler(event: InboundEvent, context: RoutingContext) -> None:
        return None

    dispatcher = WebhookDispatcher(
        repo, handler, clock=clock, settings=IntakeSettings(cache_ttl=timedelta(hours=1))
    )
    app = create_app(dispatcher)

    async def bare_endpoint(request: Request) -> Response:
        await request.body()
        return Response(b"OK")

    bare = Starlette(
        routes=[Route("/webhooks/{channel_type}/{channel_id}", bare_endpoint, methods=["POST"])]
    )
    path = f"/webhooks/telegram/{channel.id}"
    key = SECRET.encode()
    n = 3000
    bodies = [body_for(i) for i in range(n * 8)]
    headers = [
        [
            (k.lower().encode(), v.encode())
            for k, v in adapter.sign(b, SECRET, now=clock.now()).items()
        ]
        for b in bodies
    ]
    async with dispatcher:
        assert await call(app, path, bodies[0], headers[0]) == 200
        best_bare = best_floor = best_ours = best_dup = float("inf")
        for r in range(7):
            chunk = range(n * r + 1, n * (r + 1)) if r < 7 else range(0)
            start = time.perf_counter()
            for i in chunk:
                await call(bare, path, bodies[i], headers[i])
            best_bare = min(best_bare, time.perf_counter() - start)
            start = time.perf_counter()
            for i in chunk:
                b = bodies[i]
                hmac.compare_digest(hmac.new(key, b, hashlib.sha256).hexdigest(), "0" * 64)
                json.loads(b)
            best_floor = min(best_floor, time.perf_counter() - start)
            start = time.perf_counter()
            for i in chunk:
                await call(app, path, bodies[i], headers[i])
            best_ours = min(best_ours, time.perf_counter() - start)
            start = time.perf_counter()
            for i in chunk:  # every one of these was already accepted above
                await call(app, path, bodies[i], headers[i])
            best_dup = min(best_dup, time.perf_counter() - start)
            await dispatcher.drain()
        lookup: dict[str, int] = {f"k{i}": i for i in range(n)}
        start = time.perf_counter()
        for i in range(n):
            _ = lookup.get(f"k{i}")
        dict_us = (time.perf_counter() - start) / n * 1e6
    count = n - 1
    bare_us, floor_us = best_bare / count * 1e6, best_floor / count * 1e6
    ours_us, dup_us = best_ours / count * 1e6, best_dup / count * 1e6
    reference = bare_us + floor_us
    print(f"python {sys.version.split()[0]}; Telegram delivery, {len(bodies[1])} B; best of 7")
    print(f"  bare Starlette endpoint     {bare_us:8.2f} us")
    print(f"  floor (HMAC + json.loads)   {floor_us:8.2f} us")
    print(
        f"  ours, new delivery          {ours_us:8.2f} us  ratio {ours_us / reference:5.2f}x "
        f"of bare+floor ({'ok' if ours_us <= 1.5 * reference else 'OVER TARGET'} <= 1.5x)"
    )
    print(
        f"  ours, duplicate delivery    {dup_us:8.2f} us  (dedupe itself: a dict lookup "
        f"~{dict_us:.2f} us; the rest is routing, verify and parse)"
    )


if __name__ == "__main__":
    asyncio.run(main())
