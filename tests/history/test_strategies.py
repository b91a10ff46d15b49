"""History import strategies against the fake WAHA server: none, new_only, all, recent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from ventros_channels import Channel, ImportStrategy, InvariantError
from ventros_channels.history import HistoryImporter, ImportOptions, InMemoryHistorySink
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.fakes import FakePlatforms, SyntheticHistory

CHATS, PER_CHAT = 2, 60


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def fakes(clock: FixedClock) -> FakePlatforms:
    platforms = FakePlatforms(clock=clock.now)
    # one message a minute from 30 minutes before the channel connects to 29 minutes after
    platforms.waha.history = SyntheticHistory(
        CHATS, PER_CHAT, start=clock.now() - timedelta(minutes=30)
    )
    return platforms


@pytest.fixture
def repo(clock: FixedClock) -> InMemoryChannelRepository:
    return InMemoryChannelRepository(clock=clock)


@pytest.fixture
async def importer(
    repo: InMemoryChannelRepository, fakes: FakePlatforms, clock: FixedClock
) -> AsyncIterator[HistoryImporter]:
    async with fakes.client() as http:
        yield HistoryImporter(repo, http=http, clock=clock)


async def waha_channel(
    repo: InMemoryChannelRepository,
    fakes: FakePlatforms,
    clock: FixedClock,
    *,
    activate: bool = True,
    **config: Any,
) -> Channel:
    channel = Channel.create(
        tenant_id="t",
        project_id="00000000-0000-4000-8000-000000000001",
        name="WhatsApp",
        channel_type="waha",
        config={**fakes.waha.config(), **config},
        clock=clock,
    )
    channel.configure_webhook(base_url="https://crm.example.test")
    if activate:
        channel.activate()
    await repo.save(channel)
    clock.advance(seconds=3600)  # the import runs an hour after the connection
    return channel


async def imported(
    importer: HistoryImporter, channel: Channel, options: ImportOptions | None = None
) -> int:
    sink = InMemoryHistorySink()
    report = await importer.run(channel.id, tenant_id="t", sink=sink, options=options)
    assert report.messages == len(sink.events)
    return report.messages


async def test_all_imports_everything(
    importer: HistoryImporter,
    repo: InMemoryChannelRepository,
    fakes: FakePlatforms,
    clock: FixedClock,
) -> None:
    channel = await waha_channel(repo, fakes, clock)
    assert await imported(importer, channel, ImportOptions(ImportStrategy.ALL)) == CHATS * PER_CHAT


async def test_the_channels_configured_strategy_is_the_default(
    importer: HistoryImporter,
    repo: InMemoryChannelRepository,
    fakes: FakePlatforms,
    clock: FixedClock,
) -> None:
    everything = await waha_channel(repo, fakes, clock, import_strategy="all")
    assert await imported(importer, everything) == CHATS * PER_CHAT
    stored = await repo.get(everything.id, tenant_id="t")
    assert stored.history_import is not None
    assert stored.history_import.strategy is ImportStrategy.ALL


async def test_new_only_takes_only_what_arrived_since_the_connection_on_the_first_run(
    importer: HistoryImporter,
    repo: InMemoryChannelRepository,
    fakes: FakePlatforms,
    clock: FixedClock,
) -> None:
    channel = await waha_channel(repo, fakes, clock)  # WAHA's default strategy: new_only
    assert await imported(importer, channel) == CHATS * 30
    # nothing newer than the last import's start is left: the second run brings nothing
    assert await imported(importer, channel) == 0


async def test_recent_takes_the_configured_window(
    importer: HistoryImporter,
    repo: InMemoryChannelRepository,
    fakes: FakePlatforms,
    clock: FixedClock,
) -> None:
    channel = await waha_channel(
        repo, fakes, clock, import_strategy="recent", import_recent_window="PT45M"
    )
    # an hour after connecting, 45 minutes back: the last 15 minutes of messages
    assert await imported(importer, channel) == CHATS * 15
    clock.advance(seconds=60)
    shorter = ImportOptions(ImportStrategy.RECENT, window=timedelta(minutes=40))
    assert await imported(importer, channel, shorter) == CHATS * 9


async def test_none_imports_nothing_and_asks_the_platform_nothing(
    importer: HistoryImporter,
    repo: InMemoryChannelRepository,
    fakes: FakePlatforms,
    clock: FixedClock,
) -> None:
    channel = await waha_channel(repo, fakes, clock, import_strategy="none")
    with pytest.raises(InvariantError) as caught:
        await imported(importer, channel)
    assert caught.value.rule == "nothing_to_import"
    assert fakes.waha.requests == []
    assert (await repo.get(channel.id, tenant_id="t")).history_import is None


async def test_importing_for_a_channel_never_activated_is_refused(
    importer: HistoryImporter,
    repo: InMemoryChannelRepository,
    fakes: FakePlatforms,
    clock: FixedClock,
) -> None:
    channel = await waha_channel(repo, fakes, clock, activate=False)
    with pytest.raises(InvariantError) as caught:
        await imported(importer, channel, ImportOptions(ImportStrategy.ALL))
    assert caught.value.rule == "never_activated"
    assert fakes.waha.requests == []
