"""Webhook and send hot-path benchmark: our cost as a ratio of a floor measured in the same run.

Inbound: verify + parse + normalize one delivery, next to the floor ``json.loads`` of the same
bytes plus one HMAC-SHA256 of them. Outbound: one send through the adapter over an
``httpx.MockTransport``, next to the same request posted with bare httpx.

    python3 scripts/dev.py bench        (or .venv/bin/python benchmarks/bench_webhooks.py)
    benchmarks/bench_webhooks.py --inbound --repeat 200   inbound only, best of 200 batches
    benchmarks/bench_webhooks.py --callgrind              inbound as instruction counts

Targets: inbound <= 1.5x the floor per platform; send <= 1.25x bare httpx.

Times on a shared machine move with its load (printed first), which is why every ratio is
taken against a floor timed in the same run, and why ``--callgrind`` exists: it runs the
inbound part once under valgrind's callgrind and counts the instructions each call executes,
which no other process on the machine changes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from ventros_channels.adapters import ChannelAdapter, default_registry
from ventros_channels.adapters._safe import json_decoder
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
TARGET_INBOUND = 1.5
TARGET_SEND = 1.25


def interleaved(fns: tuple[Callable[[], object], ...], number: int, repeat: int) -> list[float]:
    """Best of ``repeat`` runs of each, in microseconds per call. The runs alternate between
    the functions, so a change in the machine's load reaches all of them alike, and are short
    (a few milliseconds), so on a busy machine some of them fit between two preemptions."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for index, fn in enumerate(fns):
            best[index] = min(best[index], timeit.timeit(fn, number=number))
    return [b / number * 1e6 for b in best]


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


def inbound_pair(
    name: str, adapter: ChannelAdapter[Any], config: ChannelConfig
) -> tuple[Callable[[], None], Callable[[], None]]:
    """The floor and our verify + parse of the platform's sample delivery."""
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
    return floor, ours


def report_inbound(name: str, size: int, floor: float, ours: float, unit: str) -> float:
    ratio = ours / floor
    verdict = "ok" if ratio <= TARGET_INBOUND else "OVER TARGET"
    print(
        f"  inbound {name:<10} {size:>5} B  floor {floor:9.2f} {unit}  "
        f"ours {ours:9.2f} {unit}  ratio {ratio:5.2f}x  {verdict}"
    )
    return ratio


def bench_inbound(
    name: str, adapter: ChannelAdapter[Any], config: ChannelConfig, repeat: int
) -> float:
    floor, ours = inbound_pair(name, adapter, config)
    floor_us, ours_us = interleaved((floor, ours), 250, repeat)
    return report_inbound(name, len(INBOUND[name].read_bytes()), floor_us, ours_us, "us")


async def bench_send(name: str, adapter: ChannelAdapter[Any], config: ChannelConfig) -> float:
    answer = json.dumps(SEND_OK[name]).encode()

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not seen:
            seen.append(request)
        return httpx.Response(200, content=answer, headers={"content-type": "application/json"})

    message = TextMessage(to="100", text="benchmark reply")
    rounds, number = 7, 400  # send: best of 7 runs of 400
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


def platforms() -> list[tuple[str, ChannelAdapter[Any], ChannelConfig]]:
    registry = default_registry()
    found = []
    for name in INBOUND:
        try:
            adapter = registry.get(name)
        except (AdapterNotFoundError, AdapterLoadError):
            print(f"  {name:<10} not installed, skipped")
            continue
        found.append((name, adapter, config_for(name, adapter)))
    return found


# ---------------------------------------------------------------- instruction counts
#
# Under callgrind, collection is switched on only inside one C function that runs a whole
# measurement (``sorted`` or ``max`` with the measured call as its key), and the counters
# are dumped when it returns: each dump is exactly one measurement. The wrapper must be one
# the measured code never calls itself, or its own calls would switch collection off.

WRAPPERS: dict[str, Callable[[Callable[[int], int], int], object]] = {
    "builtin_sorted": lambda key, n: sorted(range(n), key=key),
    "builtin_max": lambda key, n: max(range(n), key=key),
}
CG_CALLS = 300


def builtins_called(fn: Callable[[], None]) -> set[str]:
    seen: set[str] = set()

    def spy(frame: object, event: str, arg: object) -> None:
        if event == "c_call":
            seen.add(getattr(arg, "__name__", ""))

    sys.setprofile(spy)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return seen


def pick_wrapper(pairs: list[tuple[Callable[[], None], Callable[[], None]]]) -> str | None:
    used = set().union(*(builtins_called(f) | builtins_called(o) for f, o in pairs))
    return next((w for w in WRAPPERS if w.removeprefix("builtin_") not in used), None)


def counted(fn: Callable[[], None]) -> Callable[[int], int]:
    def call(i: int) -> int:
        fn()
        return i

    return call


def callgrind_child(wrapper: str) -> int:
    """Inside valgrind: per platform, the wrapper's own cost, then the floor, then ours."""
    run = WRAPPERS[wrapper]
    for name, adapter, config in platforms():
        floor, ours = inbound_pair(name, adapter, config)
        for fn in (lambda: None, floor, ours):
            run(counted(fn), CG_CALLS)
    return 0


def callgrind_inbound() -> int:
    valgrind = shutil.which("valgrind")
    found = platforms()
    wrapper = pick_wrapper([inbound_pair(n, a, c) for n, a, c in found])
    if valgrind is None or wrapper is None:
        print("  callgrind view unavailable (no valgrind, or no free wrapper function)")
        return 1
    with tempfile.TemporaryDirectory() as out:
        command = [
            valgrind,
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--toggle-collect={wrapper}",
            f"--dump-after={wrapper}",
            f"--callgrind-out-file={out}/cg",
            sys.executable,
            __file__,
            "--callgrind-child",
            wrapper,
        ]
        subprocess.run(command, check=True, capture_output=True)  # noqa: S603
        dumps = sorted(Path(out).glob("cg.*"), key=lambda p: int(p.suffix[1:]))
        totals = [int(re.findall(r"^totals: (\d+)", p.read_text(), re.M)[0]) for p in dumps]
    mine = totals[-3 * len(found) :]  # earlier dumps are the interpreter's own start-up
    if len(mine) != 3 * len(found) or any(t == 0 for t in mine):
        print(f"  callgrind view unavailable ({wrapper} has no symbol in this interpreter?)")
        return 1
    print(f"instructions per call (callgrind, {CG_CALLS} calls each, wrapper cost removed)")
    for index, (name, _, _) in enumerate(found):
        empty, floor, ours = mine[3 * index : 3 * index + 3]
        size = len(INBOUND[name].read_bytes())
        report_inbound(name, size, (floor - empty) / CG_CALLS, (ours - empty) / CG_CALLS, "i ")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inbound", action="store_true", help="inbound only, no sends")
    parser.add_argument(
        "--repeat", type=int, default=60, help="inbound: best of this many batches of 250 calls"
    )
    parser.add_argument("--callgrind", action="store_true", help="inbound instruction counts")
    parser.add_argument("--callgrind-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.callgrind_child:
        return callgrind_child(args.callgrind_child)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"python {sys.version.split()[0]}; JSON decoder {json_decoder()}; "
        f"load average {load} on {os.cpu_count()} CPUs"
    )
    print(
        f"targets: inbound <= {TARGET_INBOUND}x floor (json.loads + HMAC-SHA256), "
        f"send <= {TARGET_SEND}x bare httpx"
    )
    if args.callgrind:
        return callgrind_inbound()
    for name, adapter, config in platforms():
        bench_inbound(name, adapter, config, args.repeat)
        if not args.inbound:
            asyncio.run(bench_send(name, adapter, config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
