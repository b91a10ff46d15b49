"""The repository contract: what every ``ChannelRepository`` must do, as a pytest base class.

Subclass :class:`RepositoryContract` and override the ``repository`` fixture (async or not)
with your implementation, built on the ``fixed_clock`` fixture the library's pytest plugin
provides::

    class TestMyRepository(RepositoryContract):
        @pytest.fixture
        async def repository(self, fixed_clock):
            repo = MyRepository(dsn, clock=fixed_clock)
            yield repo
            await repo.drop_everything()

The tests are written from the protocol's docstrings and also run against the in-memory
reference, so a failure on your store is a difference from the reference. They need
pytest-asyncio (they carry the ``asyncio`` mark, so strict mode works too).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from ventros_channels import (
    Channel,
    ChannelNotFoundError,
    ChannelStatus,
    ConcurrencyError,
    InvalidMetricsError,
    MetricsDelta,
)
from ventros_channels.repository import ChannelFilters, ChannelRepository, SortField
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.factories import DEFAULT_PROJECT_ID, DEFAULT_TENANT, ChannelFactory

TENANT = DEFAULT_TENANT
OTHER = "tenant-b"
PROJECT = DEFAULT_PROJECT_ID
SORTS: tuple[SortField, ...] = (
    "created_at",
    "updated_at",
    "name",
    "messages_received",
    "last_message_at",
)


def ids(channels: Any) -> list[UUID]:
    return [c.id for c in channels]


class RepositoryContract:
    """Behaviour every ChannelRepository shows; override the ``repository`` fixture."""

    pytestmark = pytest.mark.asyncio

    @pytest.fixture
    def repository(self) -> ChannelRepository:
        raise NotImplementedError

    @pytest.fixture
    def factory(self, fixed_clock: FixedClock) -> ChannelFactory:
        return ChannelFactory(fixed_clock)

    async def saved(self, repo: ChannelRepository, channel: Channel) -> Channel:
        await repo.save(channel)
        return channel

    # ------------------------------------------------------------ save / get

    async def test_concurrent_increments_are_never_lost(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, factory())
        await asyncio.gather(
            *(
                repository.record_metrics(ch.id, MetricsDelta(received=1, sent=2), tenant_id=TENANT)
                for _ in range(300)
            )
        )
        got = await repository.get(ch.id, tenant_id=TENANT)
        assert (got.metrics.messages_received, got.metrics.messages_sent) == (300, 600)
        assert got.version == 1

    async def test_two_concurrent_writers_on_one_version_one_conflicts(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, factory(name="original"))
        first = await repository.get(ch.id, tenant_id=TENANT)
        second = await repository.get(ch.id, tenant_id=TENANT)
        first.rename("first writer")
        second.rename("second writer")
        results = await asyncio.gather(
            repository.save(first), repository.save(second), return_exceptions=True
        )
        assert sum(isinstance(r, ConcurrencyError) for r in results) == 1
        assert sum(r is None for r in results) == 1
        got = await repository.get(ch.id, tenant_id=TENANT)
        assert got.version == 2
        assert got.name in ("first writer", "second writer")

    async def test_implements_the_protocol(self, repository: ChannelRepository) -> None:
        assert isinstance(repository, ChannelRepository)

    async def test_save_then_get_round_trips_the_whole_snapshot(
        self, repository: ChannelRepository, factory: ChannelFactory, fixed_clock: FixedClock
    ) -> None:
        ch = factory("waha", active=True, user_id=uuid4(), pipeline_id=uuid4(), ai_enabled=True)
        ch.update_qr_code("qr-data")
        ch.request_history_import("all")
        ch.rotate_webhook_secret(grace=timedelta(hours=1))
        ch.record_message_received(count=3)
        ch.record_error("boom")
        await repository.save(ch)
        assert ch.version == 1
        got = await repository.get(ch.id, tenant_id=TENANT)
        assert got.to_snapshot() == ch.to_snapshot()
        assert got.config.webhook_secret() is not None

    async def test_saved_copy_is_isolated_from_later_changes(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, factory(name="before"))
        ch.rename("after")
        assert (await repository.get(ch.id, tenant_id=TENANT)).name == "before"

    async def test_update_bumps_the_version(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, factory())
        ch.rename("renamed")
        await repository.save(ch)
        assert ch.version == 2
        got = await repository.get(ch.id, tenant_id=TENANT)
        assert (got.name, got.version) == ("renamed", 2)

    async def test_stale_version_raises_and_keeps_the_stored_state(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, factory(name="original"))
        a = await repository.get(ch.id, tenant_id=TENANT)
        b = await repository.get(ch.id, tenant_id=TENANT)
        a.rename("first")
        await repository.save(a)
        b.rename("second")
        with pytest.raises(ConcurrencyError) as info:
            await repository.save(b)
        assert info.value.expected_version == 1
        assert info.value.actual_version == 2
        got = await repository.get(ch.id, tenant_id=TENANT)
        assert (got.name, got.version) == ("first", 2)

    async def test_inserting_an_existing_id_raises(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, factory(name="kept"))
        twin = factory(channel_id=ch.id, name="twin")
        with pytest.raises(ConcurrencyError):
            await repository.save(twin)
        assert (await repository.get(ch.id, tenant_id=TENANT)).name == "kept"

    async def test_existing_id_in_another_tenant_is_a_conflict(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, factory())
        foreign = ChannelFactory(factory.clock, tenant_id=OTHER)(channel_id=ch.id)
        with pytest.raises(ConcurrencyError):
            await repository.save(foreign)
        with pytest.raises(ChannelNotFoundError):
            await repository.get(ch.id, tenant_id=OTHER)

    async def test_update_of_a_channel_never_stored_raises(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = factory()
        ch.mark_persisted(3)
        with pytest.raises(ConcurrencyError):
            await repository.save(ch)
        with pytest.raises(ChannelNotFoundError):
            await repository.get(ch.id, tenant_id=TENANT)

    async def test_get_is_tenant_scoped_and_includes_deleted(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, factory())
        with pytest.raises(ChannelNotFoundError):
            await repository.get(ch.id, tenant_id=OTHER)
        with pytest.raises(ChannelNotFoundError):
            await repository.get(uuid4(), tenant_id=TENANT)
        ch.delete()
        await repository.save(ch)
        got = await repository.get(ch.id, tenant_id=TENANT)
        assert got.is_deleted

    async def test_lookup_is_cross_tenant_and_skips_deleted(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, ChannelFactory(factory.clock, tenant_id=OTHER)())
        found = await repository.lookup(ch.id)
        assert found is not None
        assert found.tenant_id == OTHER
        assert await repository.lookup(uuid4()) is None
        ch.delete()
        await repository.save(ch)
        assert await repository.lookup(ch.id) is None

    # ------------------------------------------------------------ metrics

    async def test_pending_increments_are_added_to_the_stored_counters(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = factory()
        ch.record_message_received(count=2)
        await repository.save(ch)
        stale = await repository.get(ch.id, tenant_id=TENANT)
        await repository.record_metrics(ch.id, MetricsDelta(received=5), tenant_id=TENANT)
        stale.record_message_received(count=3)
        stale.record_message_sent()
        await repository.save(stale)
        got = await repository.get(ch.id, tenant_id=TENANT)
        assert got.metrics.messages_received == 10
        assert got.metrics.messages_sent == 1
        assert got.version == 2

    async def test_pending_increments_are_taken_once(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, factory())
        ch.record_message_received()
        await repository.save(ch)
        await repository.save(ch)
        assert (await repository.get(ch.id, tenant_id=TENANT)).metrics.messages_received == 1

    @pytest.mark.parametrize(("field", "value"), [("received", -5), ("sent", 10**12)])
    async def test_record_metrics_refuses_negative_or_absurd_increments(
        self, repository: ChannelRepository, factory: ChannelFactory, field: str, value: int
    ) -> None:
        ch = await self.saved(repository, factory())
        bad = MetricsDelta(received=1)
        object.__setattr__(bad, field, value)  # past the constructor's own check
        with pytest.raises(InvalidMetricsError):
            await repository.record_metrics(ch.id, bad, tenant_id=TENANT)
        got = await repository.get(ch.id, tenant_id=TENANT)
        assert (got.metrics.messages_received, got.metrics.messages_sent) == (0, 0)
        assert len(await repository.find_by_project(DEFAULT_PROJECT_ID, tenant_id=TENANT)) == 1

    async def test_record_metrics_adds_without_a_version_bump(
        self, repository: ChannelRepository, factory: ChannelFactory, fixed_clock: FixedClock
    ) -> None:
        ch = await self.saved(repository, factory())
        t0 = fixed_clock.now()
        delta = MetricsDelta(
            received=1,
            sent=2,
            errors=3,
            delivered=4,
            read=5,
            failed=6,
            webhooks_accepted=7,
            webhooks_rejected=8,
            last_message_at=t0,
            last_webhook_at=t0,
            last_error_at=t0,
            last_error="first",
        )
        await repository.record_metrics(ch.id, delta, tenant_id=TENANT)
        await repository.record_metrics(ch.id, delta, tenant_id=TENANT)
        got = await repository.get(ch.id, tenant_id=TENANT)
        m = got.metrics
        counts = (m.messages_received, m.messages_sent, m.errors, m.delivered, m.read, m.failed)
        assert counts == (2, 4, 6, 8, 10, 12)
        assert (m.webhooks_accepted, m.webhooks_rejected) == (14, 16)
        assert (m.last_message_at, m.last_webhook_at, m.last_error_at) == (t0, t0, t0)
        assert m.last_error == "first"
        assert got.version == 1

    async def test_metric_timestamps_only_move_forward(
        self, repository: ChannelRepository, factory: ChannelFactory, fixed_clock: FixedClock
    ) -> None:
        ch = await self.saved(repository, factory())
        later = fixed_clock.now() + timedelta(hours=1)
        earlier = fixed_clock.now() - timedelta(hours=1)
        new = MetricsDelta(last_message_at=later, last_error_at=later, last_error="newer")
        old = MetricsDelta(last_message_at=earlier, last_error_at=earlier, last_error="older")
        await repository.record_metrics(ch.id, new, tenant_id=TENANT)
        await repository.record_metrics(ch.id, old, tenant_id=TENANT)
        m = (await repository.get(ch.id, tenant_id=TENANT)).metrics
        assert (m.last_message_at, m.last_error_at, m.last_error) == (later, later, "newer")
        newest = later + timedelta(seconds=1)
        await repository.record_metrics(
            ch.id,
            MetricsDelta(errors=1, last_error_at=newest, last_error="newest"),
            tenant_id=TENANT,
        )
        m = (await repository.get(ch.id, tenant_id=TENANT)).metrics
        assert (m.errors, m.last_error_at, m.last_error) == (1, newest, "newest")

    async def test_record_metrics_is_tenant_scoped(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, factory())
        for delta in (MetricsDelta(received=1), MetricsDelta()):
            with pytest.raises(ChannelNotFoundError):
                await repository.record_metrics(ch.id, delta, tenant_id=OTHER)
            with pytest.raises(ChannelNotFoundError):
                await repository.record_metrics(uuid4(), delta, tenant_id=TENANT)
        await repository.record_metrics(ch.id, MetricsDelta(), tenant_id=TENANT)
        assert (await repository.get(ch.id, tenant_id=TENANT)).metrics.messages_received == 0

    # ------------------------------------------------------------ lookups

    async def test_find_by_external_id(
        self, repository: ChannelRepository, factory: ChannelFactory, fixed_clock: FixedClock
    ) -> None:
        first = await self.saved(repository, factory("telegram", external_id="acct-1"))
        fixed_clock.advance(seconds=1)
        other_tenant = ChannelFactory(fixed_clock, tenant_id=OTHER)(
            "telegram", external_id="acct-1"
        )
        await repository.save(other_tenant)
        await repository.save(factory("waha", external_id="acct-1"))
        gone = factory("telegram", external_id="acct-1")
        gone.delete()
        await repository.save(gone)
        found = await repository.find_by_external_id("telegram", "acct-1")
        assert ids(found) == [first.id, other_tenant.id]
        scoped = await repository.find_by_external_id("telegram", "acct-1", tenant_id=OTHER)
        assert ids(scoped) == [other_tenant.id]
        assert await repository.find_by_external_id("telegram", "acct-2") == []

    async def test_find_by_project_and_active(
        self, repository: ChannelRepository, factory: ChannelFactory, fixed_clock: FixedClock
    ) -> None:
        made: list[Channel] = []
        for active in (True, False, True):
            made.append(await self.saved(repository, factory(active=active)))
            fixed_clock.advance(seconds=1)
        deleted = factory(active=True)
        deleted.delete()
        await repository.save(deleted)
        await repository.save(factory(project_id=uuid4(), active=True))
        await repository.save(ChannelFactory(fixed_clock, tenant_id=OTHER)(active=True))
        everything = await repository.find_by_project(PROJECT, tenant_id=TENANT)
        assert ids(everything) == ids(made)
        live = await repository.find_active_by_project(PROJECT, tenant_id=TENANT)
        assert ids(live) == [made[0].id, made[2].id]
        assert await repository.find_active_by_project(PROJECT, tenant_id="nobody") == []
        made[0].deactivate()
        await repository.save(made[0])
        live = await repository.find_active_by_project(PROJECT, tenant_id=TENANT)
        assert ids(live) == [made[2].id]

    # ------------------------------------------------------------ find / search

    async def populate(
        self, repos: list[ChannelRepository], factory: ChannelFactory, fixed_clock: FixedClock
    ) -> list[Channel]:
        rng = random.Random(7)  # noqa: S311 - reproducible test data
        kinds = ["telegram", "waha", "whatsapp", "messenger", "instagram"]
        projects = [PROJECT, UUID(int=2), UUID(int=3)]
        pipelines = [None, UUID(int=11), UUID(int=12)]
        names = ["Alpha", "beta", "Gamma", "alpha two", "Zeta", "ärger", "ÉCOLE", "Straße"]
        made = []
        for i in range(40):
            tenant = TENANT if i % 7 else OTHER
            ai = rng.random() < 0.5
            ch = ChannelFactory(fixed_clock, tenant_id=tenant)(
                rng.choice(kinds),
                active=rng.random() < 0.5,
                name=f"{rng.choice(names)} {i % 5}",
                project_id=rng.choice(projects),
                pipeline_id=rng.choice(pipelines),
                ai_enabled=ai,
                ai_agents_enabled=ai and rng.random() < 0.5,
                external_id=rng.choice([None, f"Ext-{i}", "SHARED_x%"]),
            )
            if rng.random() < 0.6:
                ch.record_message_received(
                    at=fixed_clock.now() - timedelta(minutes=rng.randint(0, 9)),
                    count=rng.randint(0, 3),
                )
            if rng.random() < 0.1:
                ch.delete()
            fixed_clock.advance(seconds=rng.choice([0, 1, 2]))
            for repo in repos:
                await repo.save(Channel.from_snapshot(ch.to_snapshot(), clock=fixed_clock))
            made.append(ch)
        return made

    async def test_find_and_search_agree_with_the_reference(
        self, repository: ChannelRepository, factory: ChannelFactory, fixed_clock: FixedClock
    ) -> None:
        reference = InMemoryChannelRepository(clock=fixed_clock)
        made = await self.populate([repository, reference], factory, fixed_clock)
        start = min(c.created_at for c in made)
        options: list[dict[str, Any]] = [
            {},
            {"project_id": PROJECT},
            {"channel_types": {"telegram", "waha"}},
            {"statuses": {"active"}},
            {"statuses": {"inactive"}, "include_deleted": True},
            {"pipeline_id": UUID(int=11)},
            {"ai_enabled": True},
            {"ai_agents_enabled": False},
            {"created_from": start + timedelta(seconds=10)},
            {"created_to": start + timedelta(seconds=20)},
            {"include_deleted": True, "project_id": UUID(int=2)},
        ]
        for opts, sort, desc, (limit, offset) in itertools.product(
            options, SORTS, (False, True), ((50, 0), (4, 3))
        ):
            for tenant in (TENANT, OTHER):
                f = ChannelFilters(
                    tenant_id=tenant,
                    sort_by=sort,
                    descending=desc,
                    limit=limit,
                    offset=offset,
                    **opts,
                )
                want, got = await reference.find(f), await repository.find(f)
                assert (ids(got.items), got.total) == (ids(want.items), want.total), f
        for text in ["alpha", "ALPHA", " Alpha ", "ext-1", "%", "_x", "ss", "STRASSE", "é", ""]:
            for limit, offset in ((50, 0), (3, 2)):
                want = await reference.search(text, tenant_id=TENANT, limit=limit, offset=offset)
                got = await repository.search(text, tenant_id=TENANT, limit=limit, offset=offset)
                assert (ids(got.items), got.total) == (ids(want.items), want.total), text

    async def test_search_is_tenant_scoped_and_skips_deleted(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        kept = await self.saved(repository, factory(name="Support Desk"))
        await repository.save(ChannelFactory(factory.clock, tenant_id=OTHER)(name="Support"))
        gone = factory(name="Support old")
        gone.delete()
        await repository.save(gone)
        page = await repository.search("sUPPORT", tenant_id=TENANT)
        assert (ids(page.items), page.total) == ([kept.id], 1)

    async def test_find_pages_and_counts(
        self, repository: ChannelRepository, factory: ChannelFactory, fixed_clock: FixedClock
    ) -> None:
        made = []
        for _ in range(5):
            made.append(await self.saved(repository, factory()))
            fixed_clock.advance(seconds=1)
        page = await repository.find(ChannelFilters(tenant_id=TENANT, limit=2, offset=2))
        assert (ids(page.items), page.total) == (ids(made[2:4]), 5)
        page = await repository.find(ChannelFilters(tenant_id=TENANT, limit=2, offset=10))
        assert (page.items, page.total) == ((), 5)

    async def test_sort_puts_missing_values_last_ascending(
        self, repository: ChannelRepository, factory: ChannelFactory, fixed_clock: FixedClock
    ) -> None:
        silent = await self.saved(repository, factory())
        busy = factory()
        busy.record_message_received()
        await repository.save(busy)
        up = await repository.find(ChannelFilters(tenant_id=TENANT, sort_by="last_message_at"))
        assert ids(up.items) == [busy.id, silent.id]
        down = await repository.find(
            ChannelFilters(tenant_id=TENANT, sort_by="last_message_at", descending=True)
        )
        assert ids(down.items) == [silent.id, busy.id]

    # ------------------------------------------------------------ delete

    async def test_delete_removes_for_good(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, factory())
        with pytest.raises(ChannelNotFoundError):
            await repository.delete(ch.id, tenant_id=OTHER)
        await repository.delete(ch.id, tenant_id=TENANT)
        with pytest.raises(ChannelNotFoundError):
            await repository.get(ch.id, tenant_id=TENANT)
        with pytest.raises(ChannelNotFoundError):
            await repository.delete(ch.id, tenant_id=TENANT)
        assert await repository.find_by_project(PROJECT, tenant_id=TENANT) == []

    async def test_soft_delete_through_save(
        self, repository: ChannelRepository, factory: ChannelFactory
    ) -> None:
        ch = await self.saved(repository, factory(active=True))
        ch.delete()
        await repository.save(ch)
        got = await repository.get(ch.id, tenant_id=TENANT)
        assert got.deleted_at is not None
        assert got.status is ChannelStatus.INACTIVE
        assert await repository.find_by_project(PROJECT, tenant_id=TENANT) == []
        page = await repository.find(ChannelFilters(tenant_id=TENANT, include_deleted=True))
        assert ids(page.items) == [ch.id]
