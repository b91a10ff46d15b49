"""The outbox contract: behaviour every :class:`~ventros_channels.outbox.Outbox` shows.

Subclass :class:`OutboxContract` and provide the ``outbox`` fixture (it may be async). As in
the inbox kit, ``advance`` lets leases and retry times run out (real sleeps by default) and
``now`` tells the time the outbox sees. Every test uses channels of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from ventros_channels.errors import OutboxError
from ventros_channels.messaging.outbound import MediaMessage, TextMessage
from ventros_channels.outbox import (
    LeasedSend,
    Outbox,
    SendRecord,
    SendState,
    decode_message,
    encode_message,
)
from ventros_channels.testing.contract._clock import Advance, TimedContract

__all__ = ["OutboxContract", "make_record"]
LONG = timedelta(minutes=10)


def make_record(
    channel_id: UUID,
    key: str,
    *,
    chat: str = "chat-1",
    queued: bool = False,
    at: datetime | None = None,
    text: str = "hello",
) -> SendRecord:
    """A new record: ``pending`` (a direct send) or ``queued`` with its message."""
    moment = at or datetime.now(UTC)
    message = TextMessage(to=chat, text=text)
    return SendRecord(
        channel_id=channel_id,
        key=key,
        tenant_id="contract-tenant",
        chat_id=chat,
        state=SendState.QUEUED if queued else SendState.PENDING,
        created_at=moment,
        updated_at=moment,
        message=encode_message(message) if queued else None,
        available_at=moment if queued else None,
    )


class OutboxContract(TimedContract):
    """Reserve / finish / reopen / queued-lease semantics. See the module docstring."""

    @pytest.fixture
    def outbox(self) -> Outbox:
        raise NotImplementedError("override the 'outbox' fixture")

    async def _mine(self, outbox: Outbox, channel: UUID, visibility: timedelta = LONG) -> list[str]:
        got = await outbox.lease("contract", limit=100, visibility=visibility)
        mine = [x for x in got if x.record.channel_id == channel]
        for other in got:
            if other.record.channel_id != channel:
                await outbox.requeue(
                    other, retry_at=datetime(2000, 1, 1, tzinfo=UTC), error_type="X", error="x"
                )
        self._leases = {x.record.key: x for x in mine}
        return [x.record.key for x in mine]

    _leases: dict[str, LeasedSend]

    # ------------------------------------------------------------------ direct sends

    async def test_a_key_is_reserved_once(
        self, outbox: Outbox, now: Callable[[], datetime]
    ) -> None:
        channel = uuid4()
        first, created = await outbox.reserve(make_record(channel, "k1", at=now()))
        again, created_again = await outbox.reserve(make_record(channel, "k1", text="other"))
        assert (created, created_again) == (True, False)
        assert again == first
        _, created_other = await outbox.reserve(make_record(uuid4(), "k1", at=now()))
        assert created_other

    async def test_concurrent_reserves_let_exactly_one_through(
        self, outbox: Outbox, now: Callable[[], datetime]
    ) -> None:
        channel = uuid4()
        results = await asyncio.gather(
            *(outbox.reserve(make_record(channel, "same", at=now())) for _ in range(20))
        )
        assert sum(created for _, created in results) == 1

    async def test_finish_records_the_outcome_once(
        self, outbox: Outbox, now: Callable[[], datetime]
    ) -> None:
        channel = uuid4()
        await outbox.reserve(make_record(channel, "k1", at=now()))
        done = await outbox.finish(channel, "k1", state=SendState.SENT, message_id="wamid.1")
        assert done is not None
        assert (done.state, done.message_id) == (SendState.SENT, "wamid.1")
        assert await outbox.finish(channel, "k1", state=SendState.FAILED) is None
        stored = await outbox.get(channel, "k1")
        assert stored is not None
        assert stored.state is SendState.SENT
        assert await outbox.get(channel, "missing") is None

    async def test_an_uncertain_send_is_reopened_only_on_request(
        self, outbox: Outbox, now: Callable[[], datetime]
    ) -> None:
        channel = uuid4()
        await outbox.reserve(make_record(channel, "k1", at=now()))
        await outbox.finish(
            channel,
            "k1",
            state=SendState.UNCERTAIN,
            error_type="DeliveryUncertainError",
            error="502",
        )
        uncertain = await outbox.find(state=SendState.UNCERTAIN, channel_id=channel)
        assert [r.key for r in uncertain] == ["k1"]
        assert uncertain[0].error_type == "DeliveryUncertainError"
        reopened = await outbox.reopen(channel, "k1")
        assert reopened is not None
        assert reopened.state is SendState.PENDING
        assert reopened.attempts == uncertain[0].attempts + 1
        await outbox.finish(channel, "k1", state=SendState.SENT, message_id="m1")
        assert await outbox.reopen(channel, "k1") is None, "a sent message is never reopened"
        assert await outbox.reopen(channel, "missing") is None

    async def test_a_confirmed_uncertain_send_becomes_sent(
        self, outbox: Outbox, now: Callable[[], datetime]
    ) -> None:
        channel = uuid4()
        await outbox.reserve(make_record(channel, "k1", at=now()))
        await outbox.finish(channel, "k1", state=SendState.UNCERTAIN, error_type="X", error="502")
        assert await outbox.resolve(channel, "k1", message_id="wamid.9")
        record = await outbox.get(channel, "k1")
        assert record is not None
        assert (record.state, record.message_id) == (SendState.SENT, "wamid.9")
        assert not await outbox.resolve(channel, "k1", message_id="again"), "already sent"
        assert not await outbox.resolve(channel, "missing", message_id="x")

    # ------------------------------------------------------------------ queued sends

    async def test_queued_sends_of_a_chat_go_one_at_a_time_in_order(
        self, outbox: Outbox, now: Callable[[], datetime]
    ) -> None:
        channel = uuid4()
        for key, chat in (("a1", "A"), ("a2", "A"), ("b1", "B"), ("a3", "A")):
            await outbox.reserve(make_record(channel, key, chat=chat, queued=True, at=now()))
        assert sorted(await self._mine(outbox, channel)) == ["a1", "b1"]
        assert await self._mine(outbox, channel) == []
        first = await outbox.lease("other", limit=10, visibility=LONG)
        assert [x for x in first if x.record.channel_id == channel] == []

    async def test_a_settled_send_lets_the_next_of_its_chat_go(
        self, outbox: Outbox, now: Callable[[], datetime]
    ) -> None:
        channel = uuid4()
        for key in ("a1", "a2"):
            await outbox.reserve(make_record(channel, key, chat="A", queued=True, at=now()))
        assert await self._mine(outbox, channel) == ["a1"]
        lease = self._leases["a1"]
        assert lease.record.state is SendState.PENDING
        assert decode_message(lease.record.message or b"") == TextMessage(to="A", text="hello")
        assert await outbox.finish(channel, "a1", state=SendState.SENT) is None, "leased"
        assert await outbox.settle(lease, state=SendState.SENT, message_id="m1")
        assert not await outbox.settle(lease, state=SendState.SENT, message_id="m1")
        assert await self._mine(outbox, channel) == ["a2"]
        stored = await outbox.get(channel, "a1")
        assert stored is not None
        assert (stored.state, stored.message_id) == (SendState.SENT, "m1")

    async def test_a_requeued_send_waits_and_keeps_its_place(
        self, outbox: Outbox, advance: Advance, now: Callable[[], datetime]
    ) -> None:
        channel = uuid4()
        for key in ("a1", "a2"):
            await outbox.reserve(make_record(channel, key, chat="A", queued=True, at=now()))
        await self._mine(outbox, channel)
        assert await outbox.requeue(
            self._leases["a1"],
            retry_at=now() + self.short,
            error_type="RateLimitedError",
            error="429",
        )
        assert await self._mine(outbox, channel) == []
        await self._expire(advance)
        assert await self._mine(outbox, channel) == ["a1"]
        assert self._leases["a1"].record.attempts == 2

    async def test_a_lease_that_runs_out_makes_the_send_uncertain(
        self, outbox: Outbox, advance: Advance, now: Callable[[], datetime]
    ) -> None:
        channel = uuid4()
        for key in ("a1", "a2"):
            await outbox.reserve(make_record(channel, key, chat="A", queued=True, at=now()))
        assert await self._mine(outbox, channel, visibility=self.short) == ["a1"]
        stale = self._leases["a1"]
        await self._expire(advance)
        assert await self._mine(outbox, channel) == ["a2"], "the chat goes on"
        assert not await outbox.settle(stale, state=SendState.SENT, message_id="late")
        record = await outbox.get(channel, "a1")
        assert record is not None
        assert record.state is SendState.UNCERTAIN

    def test_bytes_cannot_be_queued(self) -> None:
        media = MediaMessage(to="A", media_kind="image", data=b"\x89PNG", mime_type="image/png")
        with pytest.raises(OutboxError):
            encode_message(media)
        with pytest.raises(OutboxError):
            decode_message(b"{not json")
