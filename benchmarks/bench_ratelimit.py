"""Rate-limit benchmark: 1,000 sends paced by the ``SendRateLimiter`` next to the shortest
time the platform's limits allow (the floor), against a fake Bot API that answers 429 to any
send that breaks a limit.

Two scenarios, Telegram's limits scaled down so a run takes about a minute: one chat at 1 per
40 ms, and 100 chats at 30 per 100 ms for the bot. The limiter starts a send one period after
the previous answer came back (so the platform never sees two inside a period, however long
the way took), so each paced send adds its own round trip and the timer's lateness to the
floor; the ratio shows how much. Any 429 is a failure of the limiter, not a slow run.

    .venv/bin/python benchmarks/bench_ratelimit.py

Target: at most 1.10x the floor, no 429.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services.test_rate_limit import (  # noqa: E402
    LimitedBotAPI,
    active_telegram,
    make_service,
    minimum,
    send_all,
    telegram_limits,
)

from ventros_channels.ratelimit import SendRateLimiter  # noqa: E402

TARGET = 1.10


async def scenario(chats: int, per_chat: int, amount: int, period: float) -> tuple[float, int]:
    api = LimitedBotAPI(telegram_limits(period))
    limiter = SendRateLimiter(limits={"telegram": telegram_limits(period)}, headroom=0.0)
    service, repo, clock = make_service(api, limiter)
    channel = await active_telegram(repo, clock)
    names = ["4242"] if chats == 1 else [str(100_000 + n) for n in range(chats)]
    gc.collect()
    gc.disable()
    try:
        started = time.monotonic()
        await send_all(service, channel, names, per_chat)
        took = time.monotonic() - started
    finally:
        gc.enable()
    return took / minimum(chats * per_chat, amount, period), api.throttled


def main() -> int:
    failed = False
    for label, args in (("one chat", (1, 1000, 1, 0.04)), ("100 chats", (100, 10, 30, 0.1))):
        ratio, throttled = asyncio.run(scenario(*args))
        over = ratio > TARGET or throttled
        failed |= bool(throttled)
        verdict = "OVER TARGET" if over else "ok"
        print(f"  {label:<10} 1000 sends  ratio {ratio:5.3f}x  429s {throttled}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}; target <= {TARGET}x the floor, no 429")
    sys.exit(main())
