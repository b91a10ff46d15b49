"""The conversation store contract: behaviour every
:class:`~ventros_channels.conversations.ConversationStore` shows.

Subclass :class:`ConversationStoreContract` and provide the ``store`` fixture (it may be
async). The stores take time as arguments, so ``now`` only picks the moments the tests use.
Every test uses channels of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import uuid4

import attrs
import pytest

from ventros_channels.conversations import Conversation, ConversationStore, SessionMetrics
from ventros_channels.errors import InvariantError
from ventros_channels.testing.contract._clock import TimedContract

__all__ = ["ConversationStoreContract"]

TENANT = "contract-tenant"
TIMEOUT = timedelta(minutes=30)


def _inbound(at: datetime) -> Callable[[Conversation], Conversation]:
    return lambda conversation: conversation.record_inbound(at, timeout=TIMEOUT)


def _more_sessions(conversation: Conversation) -> Conversation:
    return attrs.evolve(conversation, sessions=conversation.sessions + 1)


class ConversationStoreContract(TimedContract):
    """Atomic updates, tenant scoping, listing and session metrics. See the module docstring."""

    @pytest.fixture
    def store(self) -> ConversationStore:
        raise NotImplementedError("override the 'store' fixture")

    async def test_an_unknown_chat_is_none(self, store: ConversationStore) -> None:
        assert await store.get(uuid4(), "chat-1", tenant_id=TENANT) is None

    async def test_the_first_update_starts_from_a_first_contact(
        self, store: ConversationStore, now: Callable[[], datetime]
    ) -> None:
        channel, at, pipeline = uuid4(), now(), uuid4()
        stored = await store.update(
            channel,
            "chat-1",
            lambda c: c.record_inbound(at, timeout=TIMEOUT, pipeline_id=pipeline),
            tenant_id=TENANT,
            at=at,
        )
        assert stored.version == 1
        assert stored.first_seen_at == at
        assert (stored.sessions, stored.pipeline_id, stored.last_inbound_at) == (1, pipeline, at)
        assert stored.expires_at == at + TIMEOUT
        assert await store.get(channel, "chat-1", tenant_id=TENANT) == stored

    async def test_every_field_round_trips(
        self, store: ConversationStore, now: Callable[[], datetime]
    ) -> None:
        channel, at = uuid4(), now().replace(microsecond=123456)
        full = Conversation(
            channel,
            TENANT,
            "chat:é/1",
            first_seen_at=at - timedelta(days=3),
            session_started_at=at - timedelta(hours=1),
            last_inbound_at=at - timedelta(minutes=5),
            last_outbound_at=at - timedelta(minutes=1),
            expires_at=at + TIMEOUT,
            closed_at=at - timedelta(days=1),
            pipeline_id=uuid4(),
            sessions=7,
        )
        stored = await store.update(channel, full.chat_id, lambda _: full, tenant_id=TENANT, at=at)
        assert stored == attrs.evolve(full, version=1)
        assert await store.get(channel, full.chat_id, tenant_id=TENANT) == stored

    async def test_concurrent_updates_of_one_chat_are_all_kept(
        self, store: ConversationStore, now: Callable[[], datetime]
    ) -> None:
        channel, at = uuid4(), now()

        async def bump() -> Conversation:
            return await store.update(channel, "busy", _more_sessions, tenant_id=TENANT, at=at)

        await asyncio.gather(*(bump() for _ in range(12)))
        stored = await store.get(channel, "busy", tenant_id=TENANT)
        assert stored is not None
        assert (stored.sessions, stored.version) == (12, 12)

    async def test_tenants_never_see_or_change_each_others_chats(
        self, store: ConversationStore, now: Callable[[], datetime]
    ) -> None:
        channel, at = uuid4(), now()
        await store.update(channel, "chat-1", _more_sessions, tenant_id=TENANT, at=at)
        assert await store.get(channel, "chat-1", tenant_id="someone-else") is None
        with pytest.raises(InvariantError):
            await store.update(channel, "chat-1", _more_sessions, tenant_id="someone-else", at=at)
        assert await store.find(channel, tenant_id="someone-else") == []
        metrics = await store.session_metrics(channel, tenant_id="someone-else", now=at)
        assert metrics == SessionMetrics(0, 0)
        kept = await store.get(channel, "chat-1", tenant_id=TENANT)
        assert kept is not None
        assert kept.sessions == 1

    async def test_find_lists_latest_sessions_first_and_filters_open_ones(
        self, store: ConversationStore, now: Callable[[], datetime]
    ) -> None:
        channel, start = uuid4(), now()
        for n, chat in enumerate(("a", "b", "c")):
            at = start + timedelta(minutes=20 * n)
            await store.update(
                channel,
                chat,
                _inbound(at),
                tenant_id=TENANT,
                at=at,
            )
        at = start + timedelta(hours=2)
        await store.update(
            channel,
            "never-wrote",
            lambda c: c.record_outbound(at, timeout=TIMEOUT),
            tenant_id=TENANT,
            at=at,
        )
        listed = await store.find(channel, tenant_id=TENANT)
        assert [c.chat_id for c in listed] == ["c", "b", "a", "never-wrote"]
        assert [c.chat_id for c in await store.find(channel, tenant_id=TENANT, limit=2)] == [
            "c",
            "b",
        ]
        later = start + timedelta(minutes=45)  # a ended at 30, b ends at 50, c at 70
        assert [c.chat_id for c in await store.find(channel, tenant_id=TENANT, open_at=later)] == [
            "c",
            "b",
        ]

    async def test_session_metrics_count_started_and_running_sessions(
        self, store: ConversationStore, now: Callable[[], datetime]
    ) -> None:
        channel, start = uuid4(), now()
        assert await store.session_metrics(channel, tenant_id=TENANT, now=start) == (
            SessionMetrics(0, 0)
        )
        for at in (start, start + timedelta(hours=1)):  # two sessions in one chat
            await store.update(
                channel,
                "repeat",
                _inbound(at),
                tenant_id=TENANT,
                at=at,
            )
        at = start + timedelta(hours=1, minutes=10)
        await store.update(
            channel,
            "other",
            lambda c: c.record_inbound(at, timeout=TIMEOUT),
            tenant_id=TENANT,
            at=at,
        )
        closing = start + timedelta(hours=1, minutes=15)
        await store.update(
            channel, "other", lambda c: c.close(closing), tenant_id=TENANT, at=closing
        )
        during = start + timedelta(hours=1, minutes=20)
        assert await store.session_metrics(channel, tenant_id=TENANT, now=during) == (
            SessionMetrics(sessions_created=3, active_sessions=1)
        )
        after = start + timedelta(hours=3)
        assert await store.session_metrics(channel, tenant_id=TENANT, now=after) == (
            SessionMetrics(sessions_created=3, active_sessions=0)
        )
