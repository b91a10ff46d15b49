"""The channel-cache contract: behaviour every :class:`~ventros_channels.ChannelCache` shows.

Subclass :class:`ChannelCacheContract` and provide the ``cache`` fixture (it may be async)::

    class TestMyCache(ChannelCacheContract):
        @pytest.fixture
        async def cache(self) -> AsyncIterator[MyCache]:
            yield MyCache(...)

TTLs run out through the ``advance`` fixture: it sleeps for real by default; a cache on an
injected clock overrides it to move the clock.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, ClassVar
from uuid import uuid4

import pytest

from ventros_channels.cache import ChannelCache
from ventros_channels.domain.channel import Channel
from ventros_channels.domain.snapshot import reveal_snapshot
from ventros_channels.testing.clock import FixedClock
from ventros_channels.testing.contract.inbox import Advance
from ventros_channels.testing.factories import ChannelFactory

__all__ = ["ChannelCacheContract"]

LONG = timedelta(minutes=10)


def _snapshot(channel_type: str = "telegram", **overrides: Any) -> dict[str, Any]:
    channel = ChannelFactory(FixedClock())(channel_type, **overrides)
    return channel.to_snapshot()


def _plain(snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
    """Snapshots compare by their revealed form: a cache may store secrets as plain strings."""
    return None if snapshot is None else reveal_snapshot(snapshot)


class ChannelCacheContract:
    """Get / set / invalidate with TTL. See the module docstring."""

    short: ClassVar[timedelta] = timedelta(milliseconds=200)
    """TTL used by the expiry test."""

    @pytest.fixture
    def cache(self) -> ChannelCache:
        raise NotImplementedError("override the 'cache' fixture")

    @pytest.fixture
    def advance(self) -> Advance:
        """Let time pass; the default sleeps for real."""

        async def sleep(delta: timedelta) -> None:
            await asyncio.sleep(delta.total_seconds())

        return sleep

    async def test_implements_the_protocol(self, cache: ChannelCache) -> None:
        assert isinstance(cache, ChannelCache)

    async def test_miss_is_none(self, cache: ChannelCache) -> None:
        assert await cache.get(uuid4()) is None

    async def test_snapshot_round_trips(self, cache: ChannelCache) -> None:
        snap = _snapshot("waha", active=True)
        cid = uuid4()
        await cache.set(cid, snap, ttl=LONG)
        got = await cache.get(cid)
        assert got is not None
        # a cache that serializes must reveal the secrets to store them (sealed, ideally)
        assert reveal_snapshot(got) == reveal_snapshot(snap)
        assert Channel.from_snapshot(got).to_snapshot() == snap

    async def test_set_replaces(self, cache: ChannelCache) -> None:
        cid = uuid4()
        await cache.set(cid, _snapshot(name="before"), ttl=LONG)
        after = _snapshot(name="after")
        await cache.set(cid, after, ttl=LONG)
        assert _plain(await cache.get(cid)) == _plain(after)

    async def test_entries_are_per_channel(self, cache: ChannelCache) -> None:
        a, b = uuid4(), uuid4()
        snap_a, snap_b = _snapshot(name="a"), _snapshot(name="b")
        await cache.set(a, snap_a, ttl=LONG)
        await cache.set(b, snap_b, ttl=LONG)
        await cache.invalidate(a)
        assert await cache.get(a) is None
        assert _plain(await cache.get(b)) == _plain(snap_b)

    async def test_invalidate_deletes(self, cache: ChannelCache) -> None:
        cid = uuid4()
        await cache.set(cid, _snapshot(), ttl=LONG)
        await cache.invalidate(cid)
        assert await cache.get(cid) is None

    async def test_invalidate_of_a_missing_entry_is_a_no_op(self, cache: ChannelCache) -> None:
        await cache.invalidate(uuid4())

    async def test_entries_expire_after_their_ttl(
        self, cache: ChannelCache, advance: Advance
    ) -> None:
        cid, kept = uuid4(), uuid4()
        await cache.set(cid, _snapshot(), ttl=self.short)
        await cache.set(kept, _snapshot(), ttl=LONG)
        await advance(self.short * 2 + timedelta(milliseconds=50))
        assert await cache.get(cid) is None
        assert await cache.get(kept) is not None
