"""The inbox contract: behaviour every :class:`~ventros_channels.inbox.Inbox` shows.

Subclass :class:`InboxContract` and provide the ``inbox`` fixture (it may be async)::

    class TestMyInbox(InboxContract):
        @pytest.fixture
        async def inbox(self) -> AsyncIterator[MyInbox]:
            yield MyInbox(...)

Leases and retry times run out through the ``advance`` fixture: by default it sleeps for real
(the kit uses visibility timeouts of a fraction of a second); an inbox on an injected clock
overrides it to move the clock. Every test uses channels of its own, so one store can serve
the whole class.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from uuid import UUID, uuid4

import pytest

from ventros_channels.domain.channel import RoutingContext
from ventros_channels.domain.types import ChannelType
from ventros_channels.inbox import Delivery, Inbox, Leased, decode_delivery, encode_delivery
from ventros_channels.messaging.inbound import MessageReceived
from ventros_channels.testing.contract._clock import Advance, TimedContract

__all__ = ["Advance", "InboxContract", "make_delivery"]

LONG = timedelta(minutes=10)
_T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _context(channel_id: UUID) -> RoutingContext:
    return RoutingContext(
        channel_id=channel_id,
        tenant_id="contract-tenant",
        project_id=UUID("00000000-0000-4000-8000-00000000c0de"),
        channel_type=ChannelType.TELEGRAM,
        pipeline_id=None,
        default_session_timeout_minutes=30,
        ai_enabled=False,
        ai_agents_enabled=False,
    )


def make_delivery(
    channel_id: UUID, key: str, *, chat: str = "chat-1", text: str = "hi"
) -> Delivery:
    """A message delivery with idempotency key ``key`` in ``chat`` of the given channel."""
    event = MessageReceived(
        channel_type="telegram",
        message_id=key,
        chat_id=chat,
        sender_id="user-1",
        timestamp=_T0,
        idempotency_key=key,
        text=text,
        raw={"update_id": key, "text": text},
    )
    return Delivery(event=event, context=_context(channel_id))


class InboxContract(TimedContract):
    """Accept / lease / complete / fail / dead-letter semantics. See the module docstring."""

    concurrent_workers: ClassVar[int] = 6

    @pytest.fixture
    def inbox(self) -> Inbox:
        raise NotImplementedError("override the 'inbox' fixture")

    async def _drain(self, inbox: Inbox, channel: UUID, limit: int = 100) -> list[Leased]:
        """Lease everything ready of ``channel`` (leases of other channels are given back)."""
        got = await inbox.lease("contract", limit=limit, visibility=LONG)
        mine = [lease for lease in got if lease.delivery.channel_id == channel]
        for other in got:
            if other.delivery.channel_id != channel:
                await inbox.fail(other, error="not this test's", retry_at=_T0)
        return mine

    # ------------------------------------------------------------------ accept

    async def test_accepted_delivery_is_leased_whole(self, inbox: Inbox) -> None:
        channel = uuid4()
        delivery = make_delivery(channel, "k1", text="hello")
        result = await inbox.accept([delivery])
        assert result.accepted == (delivery,)
        assert result.duplicates == 0
        leased = await self._drain(inbox, channel)
        assert len(leased) == 1
        assert leased[0].delivery == delivery
        assert leased[0].attempt == 1
        assert leased[0].leased_until > leased[0].accepted_at

    async def test_duplicate_keys_are_recorded_once(self, inbox: Inbox) -> None:
        channel = uuid4()
        first = await inbox.accept([make_delivery(channel, "k1"), make_delivery(channel, "k1")])
        again = await inbox.accept([make_delivery(channel, "k1"), make_delivery(channel, "k2")])
        assert (len(first.accepted), first.duplicates) == (1, 1)
        assert [d.key for d in again.accepted] == ["k2"]
        assert again.duplicates == 1
        keys = []
        while leased := await self._drain(inbox, channel):
            for lease in leased:
                keys.append(lease.delivery.key)
                assert await inbox.complete(lease)
        assert keys == ["k1", "k2"]

    async def test_same_key_in_another_channel_is_not_a_duplicate(self, inbox: Inbox) -> None:
        a, b = uuid4(), uuid4()
        assert (await inbox.accept([make_delivery(a, "k")])).accepted
        assert (await inbox.accept([make_delivery(b, "k")])).accepted

    async def test_completed_key_stays_a_duplicate(self, inbox: Inbox) -> None:
        channel = uuid4()
        await inbox.accept([make_delivery(channel, "k1")])
        (lease,) = await self._drain(inbox, channel)
        assert await inbox.complete(lease)
        result = await inbox.accept([make_delivery(channel, "k1")])
        assert result.accepted == ()
        assert result.duplicates == 1
        assert await self._drain(inbox, channel) == []

    async def test_concurrent_accepts_of_one_key_record_it_once(self, inbox: Inbox) -> None:
        channel = uuid4()
        results = await asyncio.gather(
            *(inbox.accept([make_delivery(channel, "same")]) for _ in range(20))
        )
        assert sum(len(r.accepted) for r in results) == 1
        assert sum(r.duplicates for r in results) == 19

    async def test_stored_form_round_trips(self, inbox: Inbox) -> None:
        delivery = make_delivery(uuid4(), "k1", text="olá \U0001f600")
        assert decode_delivery(encode_delivery(delivery)) == delivery

    async def test_trace_context_comes_back_with_the_lease(self, inbox: Inbox) -> None:
        channel = uuid4()
        trace = {"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01", "tracestate": "k=v"}
        plain = make_delivery(channel, "k1")
        traced = Delivery(event=plain.event, context=plain.context, trace=trace)
        await inbox.accept([traced, make_delivery(channel, "k2", chat="chat-2")])
        leases = {lease.delivery.key: lease for lease in await self._drain(inbox, channel)}
        assert leases["k1"].delivery.trace == trace
        assert leases["k2"].delivery.trace is None

    # ------------------------------------------------------------------ leases

    async def test_leased_delivery_is_not_handed_out_twice(self, inbox: Inbox) -> None:
        channel = uuid4()
        await inbox.accept([make_delivery(channel, "k1")])
        assert len(await self._drain(inbox, channel)) == 1
        assert await self._drain(inbox, channel) == []

    async def test_expired_lease_is_handed_out_again(self, inbox: Inbox, advance: Advance) -> None:
        channel = uuid4()
        await inbox.accept([make_delivery(channel, "k1")])
        first = await inbox.lease("w1", limit=10, visibility=self.short)
        first = [lease for lease in first if lease.delivery.channel_id == channel]
        assert len(first) == 1
        await self._expire(advance)
        second = await self._drain(inbox, channel)
        assert len(second) == 1
        assert second[0].attempt == 2
        assert second[0].token != first[0].token
        assert not await inbox.complete(first[0]), "a lost lease must not complete"
        assert await inbox.complete(second[0])

    async def test_extend_keeps_the_lease(self, inbox: Inbox, advance: Advance) -> None:
        channel = uuid4()
        await inbox.accept([make_delivery(channel, "k1")])
        (lease,) = [
            x
            for x in await inbox.lease("w1", limit=10, visibility=self.short)
            if x.delivery.channel_id == channel
        ]
        renewed = await inbox.extend(lease, visibility=LONG)
        assert renewed is not None
        assert renewed.leased_until > lease.leased_until
        await self._expire(advance)
        assert await self._drain(inbox, channel) == []
        assert await inbox.complete(renewed)

    async def test_concurrent_workers_lease_each_delivery_once(self, inbox: Inbox) -> None:
        channel = uuid4()
        await inbox.accept([make_delivery(channel, f"k{i}", chat=f"c{i}") for i in range(60)])
        seen: list[str] = []

        async def work(name: str) -> None:
            idle = 0
            while idle < 3:
                got = await inbox.lease(name, limit=4, visibility=LONG)
                mine = [x for x in got if x.delivery.channel_id == channel]
                for other in got:
                    if other.delivery.channel_id != channel:
                        await inbox.fail(other, error="not this test's", retry_at=_T0)
                if not mine:
                    idle += 1
                    await asyncio.sleep(0.01)
                    continue
                idle = 0
                for lease in mine:
                    seen.append(lease.delivery.key)
                    assert await inbox.complete(lease)

        await asyncio.gather(*(work(f"w{i}") for i in range(self.concurrent_workers)))
        assert sorted(seen) == sorted(f"k{i}" for i in range(60))

    # ------------------------------------------------------------------ ordering

    async def test_one_chat_is_handed_out_in_order_one_at_a_time(self, inbox: Inbox) -> None:
        channel = uuid4()
        await inbox.accept(
            [
                make_delivery(channel, "a1", chat="A"),
                make_delivery(channel, "a2", chat="A"),
                make_delivery(channel, "b1", chat="B"),
                make_delivery(channel, "a3", chat="A"),
            ]
        )
        first = await self._drain(inbox, channel)
        assert sorted(x.delivery.key for x in first) == ["a1", "b1"]
        for lease in first:
            assert await inbox.complete(lease)
        assert [x.delivery.key for x in await self._drain(inbox, channel)] == ["a2"]

    async def test_a_failed_delivery_holds_its_chat_until_handled(
        self, inbox: Inbox, advance: Advance, now: Callable[[], datetime]
    ) -> None:
        channel = uuid4()
        await inbox.accept(
            [make_delivery(channel, "a1", chat="A"), make_delivery(channel, "a2", chat="A")]
        )
        (lease,) = await self._drain(inbox, channel)
        retry_at = now() + self.short
        assert await inbox.fail(lease, error="boom", retry_at=retry_at)
        assert await self._drain(inbox, channel) == [], "a2 must wait for a1"
        await self._expire(advance)
        (again,) = await self._drain(inbox, channel)
        assert (again.delivery.key, again.attempt) == ("a1", 2)
        assert await inbox.complete(again)
        assert [x.delivery.key for x in await self._drain(inbox, channel)] == ["a2"]

    async def test_failed_delivery_waits_for_its_retry_time(
        self, inbox: Inbox, advance: Advance, now: Callable[[], datetime]
    ) -> None:
        channel = uuid4()
        await inbox.accept([make_delivery(channel, "k1")])
        (lease,) = await self._drain(inbox, channel)
        assert await inbox.fail(lease, error="boom", retry_at=now() + self.short)
        assert not await inbox.complete(lease), "a failed lease is given back"
        stats = await inbox.stats()
        assert stats.scheduled >= 1
        await self._expire(advance)
        (again,) = await self._drain(inbox, channel)
        assert again.attempt == 2

    # ------------------------------------------------------------------ dead letters

    async def test_dead_letters_are_kept_listed_replayed_and_purged(self, inbox: Inbox) -> None:
        channel = uuid4()
        await inbox.accept([make_delivery(channel, "k1"), make_delivery(channel, "k2", chat="B")])
        leases = await self._drain(inbox, channel)
        for lease in leases:
            assert await inbox.dead_letter(lease, error=f"gave up on {lease.delivery.key}")
        letters = await inbox.dead_letters(channel_id=channel)
        assert sorted(x.delivery.key for x in letters) == ["k1", "k2"]
        assert all(x.error == f"gave up on {x.delivery.key}" for x in letters)
        assert all(x.attempts == 1 for x in letters)
        assert await self._drain(inbox, channel) == []
        assert (await inbox.accept([make_delivery(channel, "k1")])).duplicates == 1
        by_key = {x.delivery.key: x.id for x in letters}
        assert await inbox.replay([by_key["k1"]]) == 1
        (again,) = await self._drain(inbox, channel)
        assert (again.delivery.key, again.attempt) == ("k1", 1)
        assert await inbox.complete(again)
        assert await inbox.purge([by_key["k2"]]) == 1
        assert await inbox.dead_letters(channel_id=channel) == []
        assert await inbox.replay([by_key["k2"]]) == 0
        assert (await inbox.accept([make_delivery(channel, "k2")])).duplicates == 1

    async def test_stats_count_by_state(self, inbox: Inbox) -> None:
        channel = uuid4()
        before = await inbox.stats()
        await inbox.accept([make_delivery(channel, f"k{i}", chat=f"c{i}") for i in range(3)])
        mid = await inbox.stats()
        assert mid.backlog - before.backlog == 3
        assert mid.oldest_waiting_age is not None
        leases = await self._drain(inbox, channel)
        assert len(leases) == 3
        await inbox.complete(leases[0])
        await inbox.dead_letter(leases[1], error="x")
        after = await inbox.stats()
        assert after.dead - before.dead == 1
        assert after.backlog - before.backlog == 1
