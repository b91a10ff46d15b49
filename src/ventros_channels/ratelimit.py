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
import contextlib
import functools
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import attrs
import httpx

from ventros_channels import telemetry
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

logger = logging.getLogger(__name__)

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
_Keys = list[tuple["RateLimitItem", str]]
_DONE = "answered:"
_TICK = 1e-4
"""A window's reset time is checked again a little after it, not exactly at it."""


@attrs.define
class _Held:
    waited: bool = False
    """Whether the send slept for a window or queued behind another send."""


@attrs.define
class _Turn:
    lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)
    users: int = 0


def _report_wait(platform: str, seconds: float) -> None:
    """Tell telemetry about a wait; a failing hook never fails the send that was made."""
    try:
        telemetry.record_rate_limit_wait(platform, seconds)
    except Exception:
        logger.exception("recording a rate-limit wait failed")


class SendRateLimiter:
    """Waits before each send until every limit that applies to it has room.

    ``storage`` is ``"memory://"`` (this process), a Redis URI (``redis://host:6379/0``,
    shared by every process using it; ``storage_options`` go to its client, e.g.
    ``key_prefix``) or a ``limits.aio.storage`` instance. ``limits`` maps a
    channel type to the limits used instead of its adapter's declaration. ``max_wait`` bounds
    how long one send waits before :class:`RateLimitedError`. ``headroom`` widens every
    period by that fraction: within a process the sends in flight are counted exactly, but
    the sends other processes have in flight are not, and the headroom absorbs their travel
    time. In Redis the moving windows expire in whole seconds,
    so there the headroom lowers the amount of a window instead (never below one) and
    periods are rounded up to whole seconds.
    """

    def __init__(
        self,
        storage: str | Storage = "memory://",
        *,
        limits: Mapping[str, Sequence[RateLimit]] | None = None,
        max_wait: float = 30.0,
        headroom: float = 0.05,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        # imported here: the core does not need the 'ratelimit' extra unless a limiter is used
        from limits.aio.storage import MemoryStorage, Storage  # noqa: PLC0415
        from limits.aio.strategies import MovingWindowRateLimiter  # noqa: PLC0415
        from limits.storage import storage_from_string  # noqa: PLC0415

        if max_wait < 0:
            raise _invalid("max_wait", "cannot be negative")
        if headroom < 0:
            raise _invalid("headroom", "cannot be negative")
        self._owns_storage = isinstance(storage, str)
        if isinstance(storage, str):
            storage = _storage(storage, storage_from_string, dict(storage_options or {}))
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
        self._turns: dict[str, _Turn] = {}
        self._in_flight: Counter[str] = Counter()
        self._answered = asyncio.Event()
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
    ) -> tuple[_Keys, _Keys]:
        """The windows a send takes: those of its chat, and those of the whole channel."""
        chat, group = adapter.rate_limit_target(message)
        base = f"{adapter.channel_type}:{channel_id}"
        narrow: _Keys = []
        broad: _Keys = []
        for limit in self.limits_for(adapter):
            if limit.applies_to(message, group=group):
                only = ",".join(sorted(limit.kinds | limit.media_kinds))
                scope = base if limit.scope == "channel" else f"{base}:chat:{chat}"
                name = f"{scope}:{limit.amount}/{limit.period}:{only}"
                (broad if limit.scope == "channel" else narrow).append((self._item(limit), name))
        return narrow, broad

    # ------------------------------------------------------------------ waiting

    async def acquire(
        self, adapter: ChannelAdapter[Any], channel_id: object, message: OutboundMessage
    ) -> float:
        """Wait until ``message`` may be sent now and take its place in every window.

        For a send made at once by the caller; :meth:`send` also counts the time the request
        is on its way. Returns the seconds waited; raises :class:`RateLimitedError`
        (``retry_after`` the wait still needed, as far as known) past ``max_wait``.
        """
        waited, keys = await self._acquire(adapter, channel_id, message)
        await self._settle(keys)
        return waited

    async def _acquire(
        self, adapter: ChannelAdapter[Any], channel_id: object, message: OutboundMessage
    ) -> tuple[float, _Keys]:
        """Wait for room, then take it; the taken windows stay in flight until settled.

        Sends of this process to one chat take their turns in order, and one sender at a time
        watches the channel's windows, so a crowd of waiting sends does not poll the storage.
        """
        platform = str(adapter.channel_type)
        narrow, broad = self._keys(adapter, channel_id, message)
        chat, _ = adapter.rate_limit_target(message)
        channel = f"{platform}:{channel_id}"
        started = time.time()
        deadline = started + self.max_wait
        held = _Held()
        try:
            async with (
                asyncio.timeout(self.max_wait + 0.05),
                self._turn(f"{channel}:{chat}", held),
            ):
                while True:
                    await self._wait_for_room(narrow, None, deadline, platform, held)
                    async with self._turn(channel, held):
                        await self._wait_for_room(broad, channel, deadline, platform, held)
                        if await self._hit_all(narrow + broad):
                            break
                    # another process took the room between the look and the hit
        except TimeoutError:
            raise RateLimitedError(
                f"the send waited its turn longer than max_wait={self.max_wait}s",
                retry_after=self.max_wait,
                platform=platform,
            ) from None
        if not held.waited:
            return 0.0, narrow + broad
        waited = time.time() - started
        self.waited += waited
        return waited, narrow + broad

    async def _wait_for_room(
        self, keys: _Keys, channel: str | None, deadline: float, platform: str, held: _Held
    ) -> None:
        """Sleep until every window of ``keys`` (and the channel's pause) has room.

        A window has room when fewer than its amount of sends started in the last period, and
        fewer than its amount were answered in the last period or are still on their way.
        The second count is what keeps the platform's clock happy: a request reaches the
        platform before its answer comes back, so a send that starts one period after an
        answer arrives at least one period after that request, however long the way took.
        """
        while True:
            now = time.time()
            opens = await self._paused_until(channel, now) if channel is not None else 0.0
            answer_awaited = False
            for item, key in keys:
                started = await self.strategy.get_window_stats(item, key)
                if started.remaining < 1:
                    opens = max(opens, started.reset_time, now + _TICK)
                answered = await self.strategy.get_window_stats(item, _DONE + key)
                if answered.remaining < self._in_flight[key] + 1:
                    if answered.remaining < item.amount:  # an answer leaves the window
                        opens = max(opens, answered.reset_time, now + _TICK)
                    else:  # only requests on their way: the next answer changes things
                        answer_awaited = True
            if opens <= now and not answer_awaited:
                return
            if opens > deadline:
                raise RateLimitedError(
                    f"the send would wait {opens - now:.3f}s for the rate limit, "
                    f"more than max_wait={self.max_wait}s",
                    retry_after=opens - now,
                    platform=platform,
                )
            held.waited = True
            if opens > now:
                await self.sleep(opens - now)
            else:
                await self._answered.wait()

    @contextlib.asynccontextmanager
    async def _turn(self, key: str, held: _Held) -> AsyncIterator[None]:
        """This process's queue for ``key``: first come, first served; gone when empty."""
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = _Turn()
        turn.users += 1
        held.waited = held.waited or turn.lock.locked()
        try:
            async with turn.lock:
                yield
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[key]

    async def _hit_all(self, keys: _Keys) -> bool:
        # counted in flight first: a look at the windows while the hits are written (the
        # storage may yield) must not see room that is being taken. An earlier hit is not
        # returned when a later one fails: a slot wasted, never one too many on the platform.
        for _, key in keys:
            self._in_flight[key] += 1
        for item, key in keys:
            if not await self.strategy.hit(item, key):
                self._release(keys)
                return False
        return True

    def _release(self, keys: _Keys) -> None:
        for _, key in keys:
            self._in_flight[key] -= 1
            if not self._in_flight[key]:
                del self._in_flight[key]

    async def _settle(self, keys: _Keys) -> None:
        """The send's answer came (or it failed): its windows count the answer from now."""
        # the answer is recorded before the send leaves the in-flight count, never after
        for item, key in keys:
            await self.strategy.hit(item, _DONE + key)
        self._release(keys)
        answered, self._answered = self._answered, asyncio.Event()
        answered.set()

    async def _paused_until(self, channel: str, now: float) -> float:
        pause_key = f"ventros-pause:{channel}"
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

    async def aclose(self) -> None:
        """Close the connections of a storage this limiter opened from a URI."""
        if not self._owns_storage:
            return
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()

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
        waited, keys = await self._acquire(adapter, channel_id, message)

        async def on_throttled(retry_after: float | None) -> None:
            self.throttled += 1
            fallback = min((limit.period for limit in self.limits_for(adapter)), default=1.0)
            await self.pause(adapter, channel_id, retry_after or fallback)

        try:
            with _listening(on_throttled):
                result: SendResult = await adapter.send(http, config, message)
        finally:
            await asyncio.shield(self._settle(keys))
        if waited:  # reported after the send, to keep the send itself on time
            _report_wait(str(adapter.channel_type), waited)
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


def _storage(uri: str, parse: Callable[..., Any], options: dict[str, Any]) -> Storage:
    """A ``limits`` storage from a URI; plain Redis URIs use the redis-py client."""
    scheme = uri.split("://", 1)[0]
    if scheme in ("redis", "rediss"):
        storage: Storage = parse(f"async+{uri}", implementation="redispy", **options)
    elif scheme == "memory":
        storage = parse("async+memory://", **options)
    else:
        storage = parse(uri, **options)
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
