"""Proactive rate limiting against a fake Bot API that enforces Telegram's limits itself.

The fake answers 429 with ``retry_after`` as soon as a send would break one of its windows,
measured on its own monotonic clock when the request reaches it. Telegram's limits (30 sends
a second per bot, 1 a second per chat, 20 a minute per group) are kept in *shape* but scaled
down in time: the fake and the limiter are both configured with the same amounts over
periods of milliseconds instead of seconds, so a thousand sends to one chat take about
forty seconds rather than a thousand.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator

import httpx
import pytest

from ventros_channels import Channel
from ventros_channels.adapters.telegram import TelegramAdapter
from ventros_channels.errors import InvalidInputError, RateLimitedError
from ventros_channels.messaging import MediaMessage, TextMessage
from ventros_channels.outbox import InMemoryOutbox, SendState
from ventros_channels.ratelimit import RateLimit, SendRateLimiter
from ventros_channels.services import ChannelService
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.factories import ChannelFactory

pytest.importorskip("limits")

TENANT = "tenant-a"


def telegram_limits(period: float) -> tuple[RateLimit, ...]:
    """Telegram's published limits with one second scaled to ``period`` seconds."""
    return (
        RateLimit("channel", 30, period),
        RateLimit("chat", 1, period),
        RateLimit("group", 20, 60 * period),
    )


class LimitedBotAPI:
    """``sendMessage`` of the Bot API, refusing what breaks the limits with a 429.

    Every limit is a moving window over the arrival times of the accepted sends.
    """

    def __init__(self, limits: tuple[RateLimit, ...], *, retry_after: float = 0.0) -> None:
        self.limits = limits
        self.retry_after = retry_after
        self.arrivals: dict[str, deque[float]] = {}
        self.accepted: Counter[str] = Counter()
        self.throttled = 0
        self.arrived: dict[str, list[float]] = {}
        self.first: float | None = None
        self.last = 0.0

    def _windows(self, chat: str) -> Iterator[tuple[RateLimit, str]]:
        for limit in self.limits:
            if limit.scope == "channel":
                yield limit, f"bot:{limit.period}"
            elif limit.scope == "chat" or chat.startswith("-"):
                yield limit, f"chat:{chat}:{limit.period}"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = time.monotonic()
        chat = str(json.loads(request.content)["chat_id"])
        windows = list(self._windows(chat))
        for limit, key in windows:
            seen = self.arrivals.setdefault(key, deque())
            while seen and seen[0] <= now - limit.period:
                seen.popleft()
            if len(seen) >= limit.amount:
                self.throttled += 1
                body = {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry later",
                    "parameters": {"retry_after": self.retry_after},
                }
                return httpx.Response(429, json=body)
        for _, key in windows:
            self.arrivals[key].append(now)
        self.accepted[chat] += 1
        self.arrived.setdefault(chat, []).append(now)
        self.first = now if self.first is None else self.first
        self.last = now
        result = {"message_id": sum(self.accepted.values()), "chat": {"id": int(chat)}, "date": 0}
        return httpx.Response(200, json={"ok": True, "result": result})


def make_service(
    api: LimitedBotAPI, limiter: SendRateLimiter | None
) -> tuple[ChannelService, InMemoryChannelRepository, FixedClock]:
    clock = FixedClock()
    repo = InMemoryChannelRepository(clock=clock)
    service = ChannelService(
        repo,
        http=httpx.AsyncClient(transport=httpx.MockTransport(api)),
        clock=clock,
        outbox=InMemoryOutbox(clock=clock),
        rate_limiter=limiter,
    )
    return service, repo, clock


async def active_telegram(repo: InMemoryChannelRepository, clock: FixedClock) -> Channel:
    channel = ChannelFactory(clock, tenant_id=TENANT)("telegram", active=True)
    await repo.save(channel)
    return channel


@pytest.fixture
def quiet_gc() -> Iterator[None]:
    """No collector pause between a send's turn and its arrival while the time is measured
    (in production the network's jitter plays that part, and the headroom absorbs it)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def minimum(sends: int, amount: int, period: float) -> float:
    """The shortest time ``sends`` sends can span under ``amount`` per ``period``."""
    return ((sends - 1) // amount) * period


async def send_all(
    service: ChannelService, channel: Channel, chats: list[str], per_chat: int
) -> None:
    """Each chat gets its messages one after the other; the chats are served concurrently."""

    async def chat_worker(chat: str) -> None:
        for n in range(per_chat):
            await service.send(channel.id, TextMessage(to=chat, text=f"m{n}"), tenant_id=TENANT)

    await asyncio.gather(*(chat_worker(chat) for chat in chats))


@pytest.mark.slow
@pytest.mark.usefixtures("quiet_gc")
async def test_a_thousand_sends_to_one_chat_meet_no_429() -> None:
    """1,000 sends to one chat, 1 per 40 ms (Telegram's 1/s per chat scaled by 1/25). How
    close the run comes to the minimum time is measured by ``benchmarks/bench_ratelimit.py``."""
    period = 0.04
    api = LimitedBotAPI(telegram_limits(period))
    limiter = SendRateLimiter(limits={"telegram": telegram_limits(period)}, headroom=0.0)
    service, repo, clock = make_service(api, limiter)
    channel = await active_telegram(repo, clock)

    started = time.monotonic()
    await send_all(service, channel, ["4242"], 1000)
    took = time.monotonic() - started

    ideal = minimum(1000, 1, period)
    print(f"\none chat: {took:.3f}s for 1000 sends, minimum {ideal:.3f}s ({took / ideal:.3f}x)")
    assert api.throttled == 0
    assert api.accepted["4242"] == 1000
    assert limiter.throttled == 0
    assert took >= ideal * 0.99  # paced: never faster than the limits allow


@pytest.mark.slow
@pytest.mark.usefixtures("quiet_gc")
async def test_a_thousand_sends_across_a_hundred_chats_meet_no_429() -> None:
    """10 sends to each of 100 chats: the bot's 30 per period bounds the total
    (Telegram's 30/s per bot and 1/s per chat, one second scaled to 100 ms); the time is
    measured by ``benchmarks/bench_ratelimit.py``."""
    period = 0.1
    api = LimitedBotAPI(telegram_limits(period))
    limiter = SendRateLimiter(limits={"telegram": telegram_limits(period)}, headroom=0.0)
    service, repo, clock = make_service(api, limiter)
    channel = await active_telegram(repo, clock)
    chats = [str(100_000 + n) for n in range(100)]

    started = time.monotonic()
    await send_all(service, channel, chats, 10)
    took = time.monotonic() - started

    ideal = minimum(1000, 30, period)
    print(f"\n100 chats: {took:.3f}s for 1000 sends, minimum {ideal:.3f}s ({took / ideal:.3f}x)")
    assert api.throttled == 0
    assert sorted(api.accepted.values()) == [10] * 100
    assert took >= ideal * 0.99  # paced: never faster than the limits allow


async def test_without_a_limiter_the_same_sends_are_throttled() -> None:
    """The fake does enforce its limits: unpaced sends to one chat meet 429s."""
    api = LimitedBotAPI(telegram_limits(1.0), retry_after=0.0)
    service, repo, clock = make_service(api, None)
    channel = await active_telegram(repo, clock)
    with pytest.raises(RateLimitedError):
        await send_all(service, channel, ["4242"], 3)
    assert api.throttled > 0


async def test_group_chats_also_keep_to_the_group_limit() -> None:
    """20 per group-period on a group id (negative in the Bot API), none on a private chat."""
    limits = (RateLimit("group", 2, 0.2),)
    api = LimitedBotAPI(limits)
    limiter = SendRateLimiter(limits={"telegram": limits}, headroom=0.05)
    service, repo, clock = make_service(api, limiter)
    channel = await active_telegram(repo, clock)

    started = time.monotonic()
    await send_all(service, channel, ["-1001"], 5)
    group_took = time.monotonic() - started
    started = time.monotonic()
    await send_all(service, channel, ["777"], 5)
    private_took = time.monotonic() - started

    assert api.throttled == 0
    assert group_took >= 2 * 0.2  # 5 sends, 2 per 0.2 s: the fifth waits two periods
    assert private_took < 0.1


async def test_a_wait_longer_than_max_wait_fails_with_the_wait_needed() -> None:
    limits = (RateLimit("chat", 1, 5.0),)
    api = LimitedBotAPI(limits)
    limiter = SendRateLimiter(limits={"telegram": limits}, max_wait=0.05)
    service, repo, clock = make_service(api, limiter)
    channel = await active_telegram(repo, clock)
    await service.send(channel.id, TextMessage(to="1", text="a"), tenant_id=TENANT)

    started = time.monotonic()
    with pytest.raises(RateLimitedError) as caught:
        await service.send(channel.id, TextMessage(to="1", text="b"), tenant_id=TENANT)
    assert time.monotonic() - started < 0.05
    assert caught.value.retry_after is not None
    assert 4.5 < caught.value.retry_after <= 5.0 * 1.05
    assert api.accepted["1"] == 1


async def test_a_429_pauses_the_whole_channel_for_its_retry_after() -> None:
    """The limiter's windows allow more than the platform: the first 429 holds every chat."""
    api = LimitedBotAPI((RateLimit("channel", 2, 0.3),), retry_after=0.3)
    limiter = SendRateLimiter(limits={"telegram": (RateLimit("channel", 100, 1.0),)})
    service, repo, clock = make_service(api, limiter)
    channel = await active_telegram(repo, clock)
    for chat in ("1", "2"):
        await service.send(channel.id, TextMessage(to=chat, text="a"), tenant_id=TENANT)

    # the third send meets the 429; the HTTP layer waits out retry_after and sends again
    third = asyncio.create_task(
        service.send(channel.id, TextMessage(to="3", text="c"), tenant_id=TENANT)
    )
    await asyncio.sleep(0.05)
    throttled_at = time.monotonic() - 0.05
    assert limiter.throttled == 1
    # meanwhile a send to another chat waits for the pause instead of meeting a 429 itself
    await service.send(channel.id, TextMessage(to="4", text="d"), tenant_id=TENANT)
    await third
    assert api.throttled == 1
    assert api.arrived["4"][0] >= throttled_at + 0.3 - 0.01
    assert api.accepted["3"] == api.accepted["4"] == 1


async def test_media_limits_apply_only_to_their_media_kinds() -> None:
    limits = (RateLimit("channel", 1, 5.0, media_kinds=frozenset({"video"})),)
    api = LimitedBotAPI(())
    limiter = SendRateLimiter(limits={"telegram": limits}, max_wait=0.01)
    adapter = TelegramAdapter()
    video = MediaMessage(to="1", media_kind="video", url="https://cdn.example.test/v.mp4")
    assert await limiter.acquire(adapter, "c1", video) == 0
    with pytest.raises(RateLimitedError):
        await limiter.acquire(adapter, "c1", video)
    assert await limiter.acquire(adapter, "c1", TextMessage(to="1", text="t")) == 0
    assert api.throttled == 0


async def test_queued_sends_wait_for_the_limit_and_requeue_past_max_wait() -> None:
    limits = (RateLimit("chat", 1, 0.2),)
    api = LimitedBotAPI(limits)
    limiter = SendRateLimiter(limits={"telegram": limits}, max_wait=0.5)
    service, repo, clock = make_service(api, limiter)
    channel = await active_telegram(repo, clock)
    for n in range(3):
        await service.send(
            channel.id, TextMessage(to="9", text=f"q{n}"), tenant_id=TENANT, queued=True
        )
    worker = service.send_worker(concurrency=1)
    started = time.monotonic()
    for _ in range(3):  # one send per chat at a time
        assert await worker.run_once(limit=10) == 1
    assert time.monotonic() - started >= 0.4
    assert (worker.sent, api.throttled, api.accepted["9"]) == (3, 0, 3)

    strict = SendRateLimiter(limits={"telegram": (RateLimit("chat", 1, 60.0),)}, max_wait=0)
    service.rate_limiter = strict
    await service.send(channel.id, TextMessage(to="8", text="x"), tenant_id=TENANT)
    await service.send(
        channel.id,
        TextMessage(to="8", text="y"),
        tenant_id=TENANT,
        queued=True,
        idempotency_key="y",
    )
    worker = service.send_worker(concurrency=1)
    assert await worker.run_once(limit=10) == 1
    record = await service.sender.outbox.get(channel.id, "y")
    assert record is not None
    assert record.state is SendState.QUEUED  # put back for later, not failed
    assert api.accepted["8"] == 1


def test_adapters_declare_their_platform_limits() -> None:
    from ventros_channels.adapters.messenger import MessengerAdapter
    from ventros_channels.adapters.whatsapp_cloud import WhatsAppCloudAdapter

    telegram = {(lim.scope, lim.amount, lim.period) for lim in TelegramAdapter.rate_limits}
    assert telegram == {("channel", 30, 1.0), ("chat", 1, 1.0), ("group", 20, 60.0)}
    assert ("channel", 80, 1.0) in {
        (lim.scope, lim.amount, lim.period) for lim in WhatsAppCloudAdapter.rate_limits
    }
    assert any(lim.media_kinds for lim in MessengerAdapter.rate_limits)
    assert TelegramAdapter().rate_limit_target(TextMessage(to="-100123", text="x")) == (
        "-100123",
        True,
    )


def test_limits_reject_nonsense() -> None:
    with pytest.raises(InvalidInputError):
        RateLimit("chat", 0, 1.0)
    with pytest.raises(InvalidInputError):
        RateLimit("chat", 1, 0)
    with pytest.raises(InvalidInputError):
        SendRateLimiter(max_wait=-1)


def test_the_wait_hook_reports_to_telemetry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ventros_channels import telemetry

    calls: list[tuple[str, float]] = []
    monkeypatch.setattr(
        telemetry,
        "record_rate_limit_wait",
        lambda platform, seconds: calls.append((platform, seconds)),
    )
    limits = (RateLimit("chat", 1, 0.05),)
    limiter = SendRateLimiter(limits={"telegram": limits})

    api = LimitedBotAPI(limits)
    http = httpx.AsyncClient(transport=httpx.MockTransport(api))
    config = TelegramAdapter.config_model.model_validate(
        {"bot_token": "7000000001:TEST-telegram-bot-token-000"}
    )

    async def twice() -> None:
        for _ in range(2):
            message = TextMessage(to="1", text="t")
            await limiter.send(TelegramAdapter(), http, "c", config, message)

    asyncio.run(twice())
    assert len(calls) == 1
    assert calls[0][0] == "telegram"
    assert calls[0][1] > 0.03
    assert api.accepted["1"] == 2

    def broken(platform: str, seconds: float) -> None:
        raise RuntimeError("telemetry is down")

    monkeypatch.setattr(telemetry, "record_rate_limit_wait", broken)
    asyncio.run(twice())  # the sends are made and reported sent all the same
    assert api.accepted["1"] == 4


@pytest.mark.slow
async def test_two_limiters_sharing_redis_keep_the_limit_together() -> None:
    """Two limiters on one Redis stand for two processes sending for the same bot.

    Redis windows last whole seconds, so this runs at Telegram's real scale with a smaller
    bot limit (10 a second) to stay short: 40 sends over 8 chats, half from each process.
    """
    url = os.environ.get("VENTROS_TEST_REDIS_URL")
    if not url:
        pytest.skip("Redis integration tests SKIPPED: set VENTROS_TEST_REDIS_URL to run them")
    limits = (RateLimit("channel", 10, 1.0), RateLimit("chat", 2, 1.0))
    api = LimitedBotAPI(limits)
    prefix = f"vct-rl-{uuid.uuid4().hex[:8]}"
    limiters = [
        SendRateLimiter(url, limits={"telegram": limits}, storage_options={"key_prefix": prefix})
        for _ in range(2)
    ]
    first, repo, clock = make_service(api, limiters[0])
    second = ChannelService(repo, http=first.http, clock=clock, rate_limiter=limiters[1])
    channel = await active_telegram(repo, clock)
    chats = [str(200 + n) for n in range(8)]
    try:
        started = time.monotonic()
        await asyncio.gather(
            send_all(first, channel, chats, 3),
            send_all(second, channel, chats, 2),
        )
        took = time.monotonic() - started
    finally:
        await limiters[0].storage.reset()
        for limiter in limiters:
            await limiter.aclose()
    # in Redis the 5 % headroom lowers the amounts: 9 a second per bot, 1 per chat
    ideal = minimum(40, 9, 1.0)
    print(f"\ntwo processes over Redis: {took:.3f}s for 40 sends, minimum {ideal:.1f}s")
    assert api.throttled == 0
    assert sum(api.accepted.values()) == 40
    assert limiters[0].throttled == limiters[1].throttled == 0
    assert took >= minimum(40, 10, 1.0)  # the limit was actually in force
