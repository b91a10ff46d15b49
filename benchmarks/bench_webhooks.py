"""Webhook and send hot-path benchmark: our cost as a ratio of a floor measured in the same run.

Inbound: verify + parse + normalize one delivery, next to the floor ``json.loads`` of the same
bytes plus one HMAC-SHA256 of them. Outbound: one send through the adapter over an
``httpx.MockTransport``, next to the same request posted with bare httpx.

    python3 scripts/dev.py bench        (or .venv/bin/python benchmarks/bench_webhooks.py)

Targets: inbound <= 2.0x the floor per platform; send <= 1.25x bare httpx.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from ventros_channels.adapters import ChannelAdapter, default_registry
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.errors import AdapterLoadError, AdapterNotFoundError
from ventros_channels.messaging import TextMessage
from ventros_channels.testing.factories import SAMPLE_CONFIGS
from ventros_channels.webhooks import VerificationKeys, WebhookRequest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
WEBCHAT = ROOT / "examples" / "webchat-adapter" / "tests" / "payloads"

INBOUND = {
    "whatsapp": FIXTURES / "whatsapp_cloud" / "text.json",
    "messenger": FIXTURES / "messenger" / "message_text.json",
    "instagram": FIXTURES / "instagram" / "message_text.json",
    "telegram": FIXTURES / "telegram" / "message_text_private.json",
    "waha": FIXTURES / "waha" / "message_text_dm.json",
    "webchat": WEBCHAT / "message.json",
}
SEND_OK: dict[str, Any] = {
    "whatsapp": {"messaging_product": "whatsapp", "messages": [{"id": "wamid.BENCH"}]},
    "messenger": {"recipient_id": "100", "message_id": "m_BENCH"},
    "instagram": {"recipient_id": "100", "message_id": "aWdf_BENCH"},
    "telegram": {"ok": True, "result": {"message_id": 7, "chat": {"id": 100}, "date": 1}},
    "waha": {"id": "true_100@c.us_BENCH", "timestamp": 1},
    "webchat": {"id": "m-bench"},
}
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
TARGET_INBOUND = 2.0
TARGET_SEND = 1.25


def per_call(fn: Callable[[], object], number: int) -> float:
    """Best of 7 runs, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def config_for(name: str, adapter: ChannelAdapter[Any]) -> ChannelConfig:
    if name == "webchat":
        return adapter.config_model.parse(
            {
                "site_id": "site-42",
                "base_url": "https://chat.example.test",
                "api_key": "bench-key",
                "signing_secret": "bench-secret",
            }
        )
    return adapter.config_model.parse(SAMPLE_CONFIGS[name])


def bench_inbound(name: str, adapter: ChannelAdapter[Any], config: ChannelConfig) -> float:
    body = INBOUND[name].read_bytes()
    secret = config.webhook_secret()
    assert secret is not None
    raw_secret = secret.get_secret_value()
    key = raw_secret.encode()
    now = adapter.signed_time(body) or NOW  # replay windows: arrive when the body was signed
    request = WebhookRequest("POST", body, adapter.sign(body, raw_secret, now=now))
    keys = VerificationKeys((SecretStr(raw_secret),), now=now)
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()

    def floor() -> None:
        hmac.compare_digest(hmac.new(key, body, hashlib.sha256).hexdigest(), expected)
        json.loads(body)

    def ours() -> None:
        adapter._last_doc = None  # every real delivery is new bytes: no remembered parse
        adapter.verify(request, keys)
        adapter.parse(body, config)

    ours()  # warm up and fail fast
    number = 5000
    floor_us = per_call(floor, number)
    ours_us = per_call(ours, number)
    ratio = ours_us / floor_us
    verdict = "ok" if ratio <= TARGET_INBOUND else "OVER TARGET"
    print(
        f"  inbound {name:<10} {len(body):>5} B  floor {floor_us:7.2f} us  "
        f"ours {ours_us:7.2f} us  ratio {ratio:5.2f}x  {verdict}"
    )
    return ratio


async def bench_send(name: str, adapter: ChannelAdapter[Any], config: ChannelConfig) -> float:
    answer = json.dumps(SEND_OK[name]).encode()

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not seen:
            seen.append(request)
        return httpx.Response(200, content=answer, headers={"content-type": "application/json"})

    message = TextMessage(to="100", text="benchmark reply")
    rounds, number = 7, 400
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await adapter.send(client, config, message)
        # the bare baseline sends the very request the adapter sent: same URL, headers, body
        url, body = str(seen[0].url), seen[0].content
        headers = {k: v for k, v in seen[0].headers.items() if k.lower() not in ("content-length",)}
        best_bare = best_ours = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(number):
                response = await client.post(url, content=body, headers=headers)
                response.json()
            best_bare = min(best_bare, time.perf_counter() - start)
            start = time.perf_counter()
            for _ in range(number):
                await adapter.send(client, config, message)
            best_ours = min(best_ours, time.perf_counter() - start)
    bare_us, ours_us = best_bare / number * 1e6, best_ours / number * 1e6
    ratio = ours_us / bare_us
    verdict = "ok" if ratio <= TARGET_SEND else "OVER TARGET"
    print(
        f"  send    {name:<10}         bare  {bare_us:7.2f} us  "
        f"ours {ours_us:7.2f} us  ratio {ratio:5.2f}x  {verdict}"
    )
    return ratio


def main() -> int:
    registry = default_registry()
    print(
        f"python {sys.version.split()[0]}; best of 7 runs; targets: inbound <= "
        f"{TARGET_INBOUND}x floor (json.loads + HMAC-SHA256), send <= {TARGET_SEND}x bare httpx"
    )
    over = 0
    for name in INBOUND:
        try:
            adapter = registry.get(name)
        except (AdapterNotFoundError, AdapterLoadError):
            print(f"  {name:<10} not installed, skipped")
            continue
        config = config_for(name, adapter)
        over += bench_inbound(name, adapter, config) > TARGET_INBOUND
        over += asyncio.run(bench_send(name, adapter, config)) > TARGET_SEND
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
