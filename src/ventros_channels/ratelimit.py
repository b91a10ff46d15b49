"""Proactive rate limiting of outbound sends, per channel, per chat and per group.

Each adapter declares its platform's published limits as :class:`RateLimit` entries
(``ChannelAdapter.rate_limits``); a host may replace them per channel type. A
:class:`SendRateLimiter` enforces them before every ``adapter.send``: a send whose window is
full **waits** for the window to open, up to ``max_wait`` seconds, and otherwise fails with
:class:`~ventros_channels.errors.RateLimitedError` carrying the wait as ``retry_after`` (a queued
send is then put back on the outbox for later). A 429 the platform still answers pauses the
channel's sends for the platform's ``retry_after``, so the other senders slow down too.

The windows are moving windows from the ``limits`` library (the ``ratelimit`` extra), kept in
memory for one process or in Redis to share them across processes. This module imports
``limits`` only when a :class:`SendRateLimiter` is created.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import attrs
import httpx

from ventros_channels.errors import FieldError, InvalidInputError, RateLimitedError
from ventros_channels.http import throttle_listener

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.aio.storage import Storage
    from limits.aio.strategies import MovingWindowRateLimiter

    from ventros_channels.adapters.base import ChannelAdapter
    from ventros_channels.domain.config import ChannelConfig
    from ventros_channels.messaging.outbound import OutboundMessage, SendResult

__all__ = ["RateLimit", "RateLimitScope", "SendRateLimiter"]

RateLimitScope = Literal["channel", "chat", "group"]
"""What a limit counts: every send of the channel (the bot, number or page), the sends to one
chat, or the sends to one group chat."""


@attrs.frozen
class RateLimit:
    """At most ``amount`` sends per ``period`` seconds in ``scope``.

    ``kinds`` restricts the limit to some message kinds (``"text"``, ``"media"``, ...) and
    ``media_kinds`` to some media kinds (``"audio"``, ``"video"``); empty means every send.
    """

    scope: RateLimitScope
    amount: int = attrs.field()
    period: float = attrs.field()
    kinds: frozenset[str] = frozenset()
    media_kinds: frozenset[str] = frozenset()

    @amount.validator
    def _positive_amount(self, _: object, value: int) -> None:
        if value < 1:
            raise _invalid("amount", "allows at least one send")

    @period.validator
    def _positive_period(self, _: object, value: float) -> None:
        if not value > 0:
            raise _invalid("period", "must be a positive number of seconds")

    def applies_to(self, message: OutboundMessage, *, group: bool) -> bool:
        """Whether a send of ``message`` counts against this limit."""
        if self.scope == "group" and not group:
            return False
        if self.kinds and message.kind not in self.kinds:
            return False
        if self.media_kinds:
            return str(getattr(message, "media_kind", "")) in self.media_kinds
        return True


WaitHook = Callable[[str, float], None]


def _telemetry_hook() -> WaitHook:
    """``ventros_channels.telemetry.record_rate_limit_wait`` when it exists, else a no-op."""
    try:
        module = importlib.import_module("ventros_channels.telemetry")
    except ImportError:
        return _ignore
    hook = getattr(module, "record_rate_limit_wait", None)
    return hook if callable(hook) else _ignore


def _ignore(platform: str, seconds: float) -> None:
    return None


class SendRateLimiter:
    """Waits before each send until every limit that applies to it has room.

    ``storage`` is ``"memory://"`` (this process), a Redis URI (``redis://host:6379/0``,
    shared by every process using it) or a ``limits.aio.storage`` instance. ``limits`` maps a
    channel type to the limits used instead of its adapter's declaration. ``max_wait`` bounds
    how long one send waits before :class:`RateLimitedError`. ``headroom`` widens every
    period by that fraction so that the requests' travel time, which varies, does not bring
    two sends closer on the platform's clock than the limit allows. In Redis the moving
    windows expire in whole seconds, so there the headroom lowers the amount of a window
    instead (never below one) and periods are rounded up to whole seconds.
    """

    def __init__(
        self,
        storage: str | Storage = "memory://",
        *,
        limits: Mapping[str, Sequence[RateLimit]] | None = None,
        max_wait: float = 30.0,
        headroom: float = 0.05,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # imported here: the core does not need the 'ratelimit' extra unless a limiter is used
        from limits.aio.storage import MemoryStorage, Storage  # noqa: PLC0415
        from limits.aio.strategies import MovingWindowRateLimiter  # noqa: PLC0415
        from limits.storage import storage_from_string  # noqa: PLC0415

        if max_wait < 0:
            raise _invalid("max_wait", "cannot be negative")
        if headroom < 0:
            raise _invalid("headroom", "cannot be negative")
        if isinstance(storage, str):
            storage = _storage(storage, storage_from_string)
        if not isinstance(storage, Storage):
            raise _invalid("storage", "is a URI or a limits.aio.storage.Storage")
        self.storage: Storage = storage
        self.fractional = isinstance(storage, MemoryStorage)
        self.strategy: MovingWindowRateLimiter = MovingWindowRateLimiter(storage)
        self.overrides = {str(k): tuple(v) for k, v in (limits or {}).items()}
        self.max_wait = max_wait
        self.headroom = headroom
        self.sleep = sleep
        self._items: dict[RateLimit, RateLimitItem] = {}
        self.waited = 0.0
        """Seconds spent waiting by every send so far (in this process)."""
        self.throttled = 0
        """429 answers seen by sends through this limiter."""

    # ------------------------------------------------------------------ declarations

    def limits_for(self, adapter: ChannelAdapter[Any]) -> tuple[RateLimit, ...]:
        """The limits in force for ``adapter``'s channel type (the host's, else its own)."""
        declared = self.overrides.get(str(adapter.channel_type))
        return declared if declared is not None else tuple(adapter.rate_limits)

    def _item(self, limit: RateLimit) -> RateLimitItem:
        cached = self._items.get(limit)
        if cached is not None:
            return cached
        period = limit.period * (1 + self.headroom)
        amount = limit.amount
        if not self.fractional:  # Redis EXPIRE takes whole seconds
            period = float(math.ceil(limit.period))
            amount = max(1, math.floor(limit.amount / (1 + self.headroom)))
        item = self._items[limit] = _window_type()(amount, period)  # type: ignore[arg-type]
        return item

    def _keys(
        self, adapter: ChannelAdapter[Any], channel_id: object, message: OutboundMessage
    ) -> list[tuple[RateLimitItem, str]]:
        chat, group = adapter.rate_limit_target(message)
        scope_key = {
            "channel": f"{adapter.channel_type}:{channel_id}",
            "chat": f"{adapter.channel_type}:{channel_id}:chat:{chat}",
            "group": f"{adapter.channel_type}:{channel_id}:chat:{chat}",
        }
        keys = []
        for limit in self.limits_for(adapter):
            if limit.applies_to(message, group=group):
                only = ",".join(sorted(limit.kinds | limit.media_kinds))
                name = f"{scope_key[limit.scope]}:{limit.amount}/{limit.period}:{only}"
                keys.append((self._item(limit), name))
        return keys

    # ------------------------------------------------------------------ waiting

    async def acquire(
        self, adapter: ChannelAdapter[Any], channel_id: object, message: OutboundMessage
    ) -> float:
        """Wait until ``message`` may be sent and take its place in every window.

        Returns the seconds waited; raises :class:`RateLimitedError` (``retry_after`` the wait
        still needed) when the wait would exceed ``max_wait``.
        """
        platform = str(adapter.channel_type)
        keys = self._keys(adapter, channel_id, message)
        pause_key = f"ventros-pause:{platform}:{channel_id}"
        started = time.time()
        deadline = started + self.max_wait
        while True:
            now = time.time()
            opens = await self._paused_until(pause_key, now)
            for item, key in keys:
                if not await self.strategy.test(item, key):
                    stats = await self.strategy.get_window_stats(item, key)
                    opens = max(opens, stats.reset_time)
            if opens <= now and await self._hit_all(keys):
                break
            if opens <= now:  # another sender took the room between test and hit
                await self.sleep(0)
                continue
            if opens > deadline:
                raise RateLimitedError(
                    f"the send would wait {opens - now:.3f}s for the rate limit, "
                    f"more than max_wait={self.max_wait}s",
                    retry_after=opens - now,
                    platform=platform,
                )
            await self.sleep(opens - now)
        waited = time.time() - started
        if waited > 0:
            self.waited += waited
            _telemetry_hook()(platform, waited)
        return waited

    async def _hit_all(self, keys: list[tuple[RateLimitItem, str]]) -> bool:
        # an earlier hit is not returned when a later one fails: a slot wasted, never one
        # too many on the platform
        for item, key in keys:
            if not await self.strategy.hit(item, key):
                return False
        return True

    async def _paused_until(self, pause_key: str, now: float) -> float:
        if await self.storage.get(pause_key) > 0:
            return max(now, await self.storage.get_expiry(pause_key))
        return 0.0

    async def pause(self, adapter: ChannelAdapter[Any], channel_id: object, seconds: float) -> None:
        """Hold every send of the channel for ``seconds`` (what a 429 asks for)."""
        if seconds <= 0:
            return
        expiry = seconds if self.fractional else math.ceil(seconds)
        pause_key = f"ventros-pause:{adapter.channel_type}:{channel_id}"
        await self.storage.clear(pause_key)
        await self.storage.incr(pause_key, expiry)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ sending

    async def send(
        self,
        adapter: ChannelAdapter[Any],
        http: httpx.AsyncClient,
        channel_id: object,
        config: ChannelConfig,
        message: OutboundMessage,
    ) -> SendResult:
        """``adapter.send`` once the limits allow it; a 429 on the way pauses the channel."""
        await self.acquire(adapter, channel_id, message)

        async def on_throttled(retry_after: float | None) -> None:
            self.throttled += 1
            fallback = min((limit.period for limit in self.limits_for(adapter)), default=1.0)
            await self.pause(adapter, channel_id, retry_after or fallback)

        with _listening(on_throttled):
            result: SendResult = await adapter.send(http, config, message)
        return result


@contextmanager
def _listening(hook: Callable[[float | None], Awaitable[None]]) -> Iterator[None]:
    token = throttle_listener.set(hook)
    try:
        yield
    finally:
        throttle_listener.reset(token)


def _invalid(field: str, message: str) -> InvalidInputError:
    return InvalidInputError("rate limit", [FieldError(field, message)])


def _storage(uri: str, parse: Callable[..., Any]) -> Storage:
    """A ``limits`` storage from a URI; plain Redis URIs use the redis-py client."""
    scheme = uri.split("://", 1)[0]
    if scheme in ("redis", "rediss"):
        storage: Storage = parse(f"async+{uri}", implementation="redispy")
    elif scheme == "memory":
        storage = parse("async+memory://")
    else:
        storage = parse(uri)
    return storage


@functools.cache
def _window_type() -> type[RateLimitItem]:
    from limits import RateLimitItemPerSecond  # noqa: PLC0415

    class Window(RateLimitItemPerSecond):
        """``amount`` per ``period`` seconds, a fraction of a second allowed (memory only)."""

        __slots__ = ("period",)

        def __init__(self, amount: int, period: float) -> None:
            super().__init__(amount, max(1, math.ceil(period)), namespace="ventros")
            self.period = period

        def get_expiry(self) -> float:  # type: ignore[override]
            return self.period

    return Window
