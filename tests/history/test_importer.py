"""The history import engine against a scripted in-memory platform."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest

from ventros_channels import (
    AuthenticationError,
    Channel,
    ChannelConfig,
    ChannelType,
    HistoryImportState,
    RateLimitedError,
    RoutingContext,
)
from ventros_channels.adapters import AdapterRegistry, Capability, ChannelAdapter, HistoryPage
from ventros_channels.adapters.base import ChatSummary
from ventros_channels.errors import PlatformUnavailableError
from ventros_channels.history import (
    HistoryImporter,
    ImportOptions,
    ImportProgress,
    InMemoryCheckpointStore,
    InMemoryHistorySink,
)
from ventros_channels.messaging import InboundEvent, MessageReceived
from ventros_channels.publisher import InMemoryEventPublisher
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.webhooks import VerificationKeys, WebhookRequest

ARCHIVE = ChannelType("archive")
T0 = datetime(2025, 12, 1, tzinfo=UTC)


class ArchiveConfig(ChannelConfig):
    channel_type: ClassVar[ChannelType] = ARCHIVE
    name: str = "archive"


class ArchiveAdapter(ChannelAdapter[ArchiveConfig]):
    """A platform with ``chats`` chats of ``per_chat`` messages each, one per minute."""

    channel_type: ClassVar[ChannelType] = ARCHIVE
    config_model: ClassVar[type[ChannelConfig]] = ArchiveConfig
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.HISTORY_IMPORT})
    chats = 6
    per_chat = 25
    listing_page = 4
    failures: ClassVar[dict[str, list[Exception]]] = {}
    calls: ClassVar[list[tuple[str, str | None]]] = []

    def check_signature(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        return None

    def parse(self, body: bytes, config: ArchiveConfig | None = None) -> list[InboundEvent]:
        return []

    async def list_chats(
        self, client: httpx.AsyncClient, config: ArchiveConfig, *, cursor: str | None = None
    ) -> HistoryPage[ChatSummary]:
        start = int(cursor or 0)
        end = min(self.chats, start + self.listing_page)
        items = tuple(ChatSummary(f"chat-{i}") for i in range(start, end))
        return HistoryPage(items, str(end) if end < self.chats else None)

    async def fetch_history(
        self,
        client: httpx.AsyncClient,
        config: ArchiveConfig,
        chat_id: str,
        *,
        cursor: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> HistoryPage[InboundEvent]:
        self.calls.append((chat_id, cursor))
        pending = self.failures.get(chat_id)
        if pending:
            raise pending.pop(0)
        offset = int(cursor or 0)
        newest_first = list(range(self.per_chat - 1, -1, -1))[offset : offset + limit]
        items = tuple(
            MessageReceived(
                channel_type=ARCHIVE,
                chat_id=chat_id,
                message_id=f"{chat_id}:{n}",
                timestamp=T0 + timedelta(minutes=n),
                idempotency_key=f"archive:{chat_id}:{n}",
                text=f"message {n}",
            )
            for n in newest_first
        )
        nxt = offset + len(items)
        return HistoryPage(items, str(nxt) if nxt < self.per_chat else None)


@pytest.fixture
def world() -> tuple[InMemoryChannelRepository, AdapterRegistry, FixedClock]:
    ArchiveAdapter.failures = {}
    ArchiveAdapter.calls = []
    registry = AdapterRegistry(group="ventros_channels.tests.none")
    registry.register(ArchiveAdapter)
    clock = FixedClock()
    return InMemoryChannelRepository(clock=clock), registry, clock


async def make_channel(repo: InMemoryChannelRepository, clock: FixedClock) -> Channel:
    channel = Channel.create(
        tenant_id="t",
        project_id="00000000-0000-4000-8000-000000000001",
        name="Archive",
        channel_type=ARCHIVE,
        config={},
        clock=clock,
    )
    channel.configure_webhook(base_url="https://crm.example.test")
    channel.activate()
    await repo.save(channel)
    return channel


def importer(
    world: tuple[InMemoryChannelRepository, AdapterRegistry, FixedClock], **kw: Any
) -> HistoryImporter:
    repo, registry, clock = world
    waits: list[float] = kw.pop("waits", [])

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return HistoryImporter(
        repo, http=httpx.AsyncClient(), registry=registry, clock=clock, sleep=sleep, **kw
    )


async def test_imports_every_message_once_and_completes_the_aggregate(
    world: tuple[InMemoryChannelRepository, AdapterRegistry, FixedClock],
) -> None:
    repo, _, clock = world
    channel = await make_channel(repo, clock)
    publisher = InMemoryEventPublisher()
    seen: list[ImportProgress] = []
    sink = InMemoryHistorySink()
    report = await importer(world, publisher=publisher, progress=seen.append).run(
        channel.id, tenant_id="t", sink=sink, options=ImportOptions(page_size=10, concurrency=3)
    )
    assert report.messages == len(sink.events) == 6 * 25
    assert report.chats == 6
    assert report.skipped == 0
    stored = await repo.get(channel.id, tenant_id="t")
    assert stored.history_import is not None
    assert stored.history_import.state is HistoryImportState.COMPLETED
    assert stored.history_import.messages == 150
    assert (
        publisher.types()[-3:]
        == [
            "channel.history_import.requested",
            "channel.history_import.started",
            "channel.history_import.completed",
        ][-3:]
    )
    assert seen[-1].messages == 150
    assert seen[-1].rate >= 0


async def test_since_and_per_chat_limit(
    world: tuple[InMemoryChannelRepository, AdapterRegistry, FixedClock],
) -> None:
    repo, _, clock = world
    channel = await make_channel(repo, clock)
    sink = InMemoryHistorySink()
    await importer(world).run(
        channel.id,
        tenant_id="t",
        sink=sink,
        options=ImportOptions(since=T0 + timedelta(minutes=20), page_size=3),
    )
    assert {e.timestamp >= T0 + timedelta(minutes=20) for e in sink.events.values()} == {True}
    assert len(sink.events) == 6 * 5

    channel2 = await make_channel(repo, clock)
    sink2 = InMemoryHistorySink()
    await importer(world).run(
        channel2.id, tenant_id="t", sink=sink2, options=ImportOptions(per_chat_limit=7, page_size=5)
    )
    assert len(sink2.events) == 6 * 7


async def test_rate_limits_slow_the_import_down_instead_of_failing_it(
    world: tuple[InMemoryChannelRepository, AdapterRegistry, FixedClock],
) -> None:
    repo, _, clock = world
    channel = await make_channel(repo, clock)
    ArchiveAdapter.failures = {"chat-2": [RateLimitedError("slow down", retry_after=12)] * 2}
    waits: list[float] = []
    sink = InMemoryHistorySink()
    report = await importer(world, waits=waits).run(channel.id, tenant_id="t", sink=sink)
    assert report.messages == 150
    assert waits == [12, 12]


async def test_a_chat_that_keeps_failing_is_skipped_with_its_reason(
    world: tuple[InMemoryChannelRepository, AdapterRegistry, FixedClock],
) -> None:
    repo, _, clock = world
    channel = await make_channel(repo, clock)
    ArchiveAdapter.failures = {"chat-4": [PlatformUnavailableError("gone")] * 5}
    sink = InMemoryHistorySink()
    report = await importer(world).run(
        channel.id, tenant_id="t", sink=sink, options=ImportOptions(max_chat_failures=3)
    )
    assert set(report.skipped_chats) == {"chat-4"}
    assert "gone" in report.skipped_chats["chat-4"]
    assert report.messages == 5 * 25


async def test_authentication_errors_fail_the_import(
    world: tuple[InMemoryChannelRepository, AdapterRegistry, FixedClock],
) -> None:
    repo, _, clock = world
    channel = await make_channel(repo, clock)
    ArchiveAdapter.failures = {"chat-0": [AuthenticationError("token expired")]}
    with pytest.raises(AuthenticationError):
        await importer(world).run(channel.id, tenant_id="t", sink=InMemoryHistorySink())
    stored = await repo.get(channel.id, tenant_id="t")
    assert stored.history_import is not None
    assert stored.history_import.state is HistoryImportState.FAILED


class Killed(BaseException):
    """Stands for the process being killed: nothing after it runs."""


class CrashingSink(InMemoryHistorySink):
    """Dies (like a killed process) after ``crash_after`` acknowledged batches."""

    def __init__(self, shared: InMemoryHistorySink, crash_after: int) -> None:
        super().__init__()
        self.shared = shared
        self.crash_after = crash_after

    async def write(self, context: RoutingContext, events: Sequence[InboundEvent]) -> None:
        await self.shared.write(context, events)
        self.crash_after -= 1
        if self.crash_after == 0:
            raise Killed


async def test_a_killed_import_resumes_without_duplicates_or_gaps(
    world: tuple[InMemoryChannelRepository, AdapterRegistry, FixedClock],
) -> None:
    repo, _, clock = world
    channel = await make_channel(repo, clock)
    checkpoints = InMemoryCheckpointStore()
    everything = InMemoryHistorySink()
    opts = ImportOptions(page_size=4, concurrency=2)
    with pytest.raises(Killed):
        await importer(world, checkpoints=checkpoints).run(
            channel.id, tenant_id="t", sink=CrashingSink(everything, crash_after=9), options=opts
        )
    partial = len(everything.events)
    assert 0 < partial < 150
    fetched_before = len(ArchiveAdapter.calls)
    report = await importer(world, checkpoints=checkpoints).run(
        channel.id, tenant_id="t", sink=everything, options=opts
    )
    assert report.resumed
    assert len(everything.events) == 150  # no gap
    # at most the batch in flight per worker was written twice, and the sink ignored it
    assert everything.replayed <= opts.concurrency * opts.page_size
    refetched = len(ArchiveAdapter.calls) - fetched_before
    assert refetched < 150 / opts.page_size  # resumed from the cursors, not from scratch
