"""The SQL inbox on SQLite and PostgreSQL: the inbox contract, pruning, concurrency, outages.

PostgreSQL tests need ``VENTROS_TEST_POSTGRES_URL`` (see ``tests/integration/conftest.py``) and
run each in a schema of their own, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import RUN_ID, postgres_url
from ventros_channels.errors import InboxError, InboxUnavailableError
from ventros_channels.inbox import Inbox, Leased
from ventros_channels.sql import SqlInbox, create_engine
from ventros_channels.sql import inbox as sql_inbox
from ventros_channels.testing import FixedClock
from ventros_channels.testing.contract import InboxContract, OnAFixedClock
from ventros_channels.testing.contract.inbox import make_delivery

LONG = timedelta(minutes=10)
_schemas = iter(range(1, 1_000_000))


# ---------------------------------------------------------------- backends


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}")
    yield engine
    await engine.dispose()


@pytest.fixture
async def pg_engine() -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url())
    yield engine
    await engine.dispose()


@pytest.fixture
async def pg_schema(pg_engine: AsyncEngine) -> AsyncIterator[str]:
    """A schema of this test only, dropped with everything in it afterwards."""
    name = f"vct_{RUN_ID}_inbox_{next(_schemas)}"
    yield name
    async with pg_engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


async def _made(engine: AsyncEngine, schema: str | None, **options: Any) -> SqlInbox:
    inbox = SqlInbox(engine, schema=schema, **options)
    await inbox.create_schema()
    return inbox


@pytest.fixture(params=["sqlite", "postgres"])
def make_inbox(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Builds inboxes on one backend (PostgreSQL skips when not configured)."""
    if request.param == "sqlite":
        engine: AsyncEngine = request.getfixturevalue("sqlite_engine")
        schema = None
    else:
        engine = request.getfixturevalue("pg_engine")
        schema = request.getfixturevalue("pg_schema")

    async def make(**options: Any) -> SqlInbox:
        return await _made(engine, schema, **options)

    return make


# ---------------------------------------------------------------- the contract


class _OnFixedClock(OnAFixedClock, InboxContract):
    """The contract on a fixed clock: leases and retries run out without sleeping."""


class TestSqliteInbox(_OnFixedClock):
    @pytest.fixture
    async def inbox(self, sqlite_engine: AsyncEngine, clock: FixedClock) -> SqlInbox:
        return await _made(sqlite_engine, None, clock=clock)


class TestPostgresInbox(_OnFixedClock):
    @pytest.fixture
    async def inbox(self, pg_engine: AsyncEngine, pg_schema: str, clock: FixedClock) -> SqlInbox:
        return await _made(pg_engine, pg_schema, clock=clock)


class TestPostgresInboxOnTheSystemClock(InboxContract):
    """The same contract in real time (the kit's default ``advance`` sleeps)."""

    @pytest.fixture
    async def inbox(self, pg_engine: AsyncEngine, pg_schema: str) -> SqlInbox:
        return await _made(pg_engine, pg_schema)


def test_sql_inbox_satisfies_the_protocol(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    inbox = SqlInbox(engine)
    assert isinstance(inbox, Inbox)
    assert "channel_inbox" in repr(inbox)


def test_other_databases_are_refused_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine("sqlite+aiosqlite://")
    monkeypatch.setattr(engine.dialect, "name", "mysql")
    with pytest.raises(InboxError, match="not mysql"):
        SqlInbox(engine)


# ---------------------------------------------------------------- retention


async def test_prune_removes_only_done_rows_past_retention(
    make_inbox: Callable[..., Any], fixed_clock: FixedClock
) -> None:
    inbox: SqlInbox = await make_inbox(clock=fixed_clock, retain=timedelta(days=3))
    channel = uuid4()
    keys = ["old", "recent", "dead", "waiting"]
    await inbox.accept([make_delivery(channel, k, chat=k) for k in keys])
    leases = {x.delivery.key: x for x in await inbox.lease("w", limit=10, visibility=LONG)}
    assert await inbox.complete(leases["old"])
    fixed_clock.advance(timedelta(days=2))
    assert await inbox.complete(leases["recent"])
    assert await inbox.dead_letter(leases["dead"], error="boom")
    assert await inbox.fail(leases["waiting"], error="later", retry_at=fixed_clock.now())
    fixed_clock.advance(timedelta(days=2))  # "old" was done 4 days ago, "recent" 2 days ago

    assert await inbox.prune() == 1
    assert await inbox.prune() == 0
    result = await inbox.accept([make_delivery(channel, k, chat=f"again-{k}") for k in keys])
    assert [d.key for d in result.accepted] == ["old"]
    assert result.duplicates == 3
    assert [x.delivery.key for x in await inbox.dead_letters(channel_id=channel)] == ["dead"]
    stats = await inbox.stats()
    assert (stats.ready, stats.dead) == (2, 1)  # "waiting" and the new "old"
    fixed_clock.advance(timedelta(days=2))  # now "recent" is past retention too
    assert await inbox.prune(limit=1) == 1
    assert await inbox.prune() == 0
    assert (await inbox.stats()).dead == 1


async def test_purged_dead_letter_is_pruned_after_retention(
    make_inbox: Callable[..., Any], fixed_clock: FixedClock
) -> None:
    inbox: SqlInbox = await make_inbox(clock=fixed_clock, retain=timedelta(hours=1))
    channel = uuid4()
    await inbox.accept([make_delivery(channel, "k")])
    (lease,) = await inbox.lease("w", limit=1, visibility=LONG)
    assert await inbox.dead_letter(lease, error="boom")
    (letter,) = await inbox.dead_letters()
    fixed_clock.advance(timedelta(hours=2))
    assert await inbox.prune() == 0, "dead letters are kept until replayed or purged"
    assert await inbox.purge([letter.id, "not-an-id", "999999"]) == 1
    assert (await inbox.accept([make_delivery(channel, "k")])).duplicates == 1
    fixed_clock.advance(timedelta(hours=2))
    assert await inbox.prune() == 1
    assert len((await inbox.accept([make_delivery(channel, "k")])).accepted) == 1


# ---------------------------------------------------------------- ordering details


async def test_replayed_dead_letter_waits_behind_its_chat(
    make_inbox: Callable[..., Any], fixed_clock: FixedClock
) -> None:
    inbox: SqlInbox = await make_inbox(clock=fixed_clock)
    channel = uuid4()
    await inbox.accept([make_delivery(channel, f"a{i}", chat="A") for i in range(3)])
    (first,) = await inbox.lease("w", limit=5, visibility=LONG)
    assert await inbox.dead_letter(first, error="boom")
    (second,) = await inbox.lease("w", limit=5, visibility=LONG)
    assert second.delivery.key == "a1"
    (letter,) = await inbox.dead_letters()
    assert await inbox.replay([letter.id]) == 1
    assert await inbox.lease("w", limit=5, visibility=LONG) == [], "a1 is still in flight"
    assert await inbox.complete(second)
    order = []
    while got := await inbox.lease("w", limit=5, visibility=LONG):
        (lease,) = got
        order.append((lease.delivery.key, lease.attempt))
        assert await inbox.complete(lease)
    assert order == [("a2", 1), ("a0", 1)]


async def test_a_later_row_in_flight_holds_an_earlier_one_of_its_chat(
    sqlite_engine: AsyncEngine, fixed_clock: FixedClock
) -> None:
    """Concurrent accepts may commit out of id order: the chat still runs one at a time."""
    inbox = await _made(sqlite_engine, None, clock=fixed_clock)
    channel = uuid4()
    await inbox.accept(
        [make_delivery(channel, "a1", chat="A"), make_delivery(channel, "a2", chat="A")]
    )
    t = inbox.table
    async with sqlite_engine.begin() as conn:  # make a1 look like it committed late
        await conn.execute(sa.update(t).where(t.c.idem_key == "a1").values(state="done"))
    (held,) = await inbox.lease("w", limit=5, visibility=LONG)
    assert held.delivery.key == "a2"
    async with sqlite_engine.begin() as conn:
        await conn.execute(sa.update(t).where(t.c.idem_key == "a1").values(state="ready"))
    assert await inbox.lease("w", limit=5, visibility=LONG) == []
    assert await inbox.complete(held)
    (then,) = await inbox.lease("w", limit=5, visibility=LONG)
    assert then.delivery.key == "a1"


async def test_heads_behind_a_long_busy_chat_are_found(
    make_inbox: Callable[..., Any], fixed_clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The oldest ready rows all belong to a busy chat: the walk over chats finds the rest."""
    monkeypatch.setattr(sql_inbox, "_WINDOW", 4)
    inbox: SqlInbox = await make_inbox(clock=fixed_clock)
    channel = uuid4()
    await inbox.accept([make_delivery(channel, f"a{i}", chat="A") for i in range(10)])
    await inbox.accept([make_delivery(channel, "b0", chat="B"), make_delivery(channel, "c0")])
    (head,) = await inbox.lease("w", limit=1, visibility=LONG)
    assert head.delivery.key == "a0"
    now = fixed_clock.now()
    async with inbox.engine.begin() as conn:  # the first statement alone sees only chat A
        stmt = inbox.lease_statement(5, now, now + LONG, "probe")
        assert (await conn.execute(stmt)).all() == []
        await conn.rollback()
    got = await inbox.lease("w", limit=5, visibility=LONG)
    assert sorted(x.delivery.key for x in got) == ["b0", "c0"]
    assert await inbox.lease("w", limit=5, visibility=LONG) == []
    for lease in [head, *got]:
        assert await inbox.complete(lease)
    (then,) = await inbox.lease("w", limit=5, visibility=LONG)
    assert then.delivery.key == "a1"


async def test_a_damaged_row_is_dead_lettered_not_handed_out(
    make_inbox: Callable[..., Any], fixed_clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    inbox: SqlInbox = await make_inbox(clock=fixed_clock)
    channel = uuid4()
    await inbox.accept([make_delivery(channel, "bad", chat="A"), make_delivery(channel, "ok")])
    t = inbox.table
    async with inbox.engine.begin() as conn:
        await conn.execute(sa.update(t).where(t.c.idem_key == "bad").values(payload="{oops"))
    with caplog.at_level("ERROR", logger="ventros_channels.sql.inbox"):
        got = await inbox.lease("w", limit=5, visibility=LONG)
        assert [x.delivery.key for x in got] == ["ok"]
        assert await inbox.dead_letters() == []  # listed rows must be readable
    assert "cannot be read" in caplog.text
    stats = await inbox.stats()
    assert (stats.dead, stats.in_flight) == (1, 1)


async def test_leases_ids_and_tokens_from_elsewhere_change_nothing(
    make_inbox: Callable[..., Any], fixed_clock: FixedClock
) -> None:
    inbox: SqlInbox = await make_inbox(clock=fixed_clock)
    channel = uuid4()
    await inbox.accept([make_delivery(channel, "k")])
    (lease,) = await inbox.lease("w", limit=1, visibility=LONG)
    forged = [
        Leased("abc", lease.delivery, 1, lease.token, lease.leased_until, lease.accepted_at),
        Leased(lease.id, lease.delivery, 1, "w:other", lease.leased_until, lease.accepted_at),
    ]
    for other in forged:
        assert not await inbox.complete(other)
        assert await inbox.extend(other, visibility=LONG) is None
    assert await inbox.replay(["x", "-1", "1" * 30]) == 0
    assert await inbox.lease("w", limit=0, visibility=LONG) == []
    assert await inbox.accept([]) == type(await inbox.accept([]))((), 0)
    assert await inbox.complete(lease)


# ---------------------------------------------------------------- query plans


async def test_postgres_lease_reads_the_partial_indexes(
    pg_engine: AsyncEngine, pg_schema: str, fixed_clock: FixedClock
) -> None:
    inbox = await _made(pg_engine, pg_schema, clock=fixed_clock)
    channels = [uuid4() for _ in range(5)]
    for start in range(0, 2000, 500):
        await inbox.accept(
            [
                make_delivery(channels[i % 5], f"k{i}", chat=f"c{i % 40}")
                for i in range(start, start + 500)
            ]
        )
    now = fixed_clock.now()
    assert len(await inbox.lease("w", limit=1, visibility=LONG)) == 1  # a row to probe
    plans = {}
    async with pg_engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE " + f'"{pg_schema}".channel_inbox')
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for by_chat in (False, True):
            stmt = inbox.lease_statement(10, now, now + LONG, "plan", by_chat=by_chat)
            compiled = stmt.compile(pg_engine.sync_engine, compile_kwargs={"literal_binds": True})
            rows = await conn.exec_driver_sql("EXPLAIN " + str(compiled))
            plans[by_chat] = "\n".join(r[0] for r in rows)
        await conn.rollback()
    window, walk = plans[False], plans[True]
    assert "ix_channel_inbox_ready" in window, window
    for plan in (window, walk):
        assert "ix_channel_inbox_chat" in plan, plan
        assert "ix_channel_inbox_held" in plan, plan
        assert "Seq Scan" not in plan, plan
    assert "Recursive Union" in walk, walk
    assert "ix_channel_inbox_ready" not in walk.split("CTE picked")[0], walk


# ---------------------------------------------------------------- concurrency


@pytest.fixture(params=["sqlite", "postgres"])
def two_processes(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """A database URL and schema for two engines, standing for two processes."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}", None
    url = postgres_url()
    return url, request.getfixturevalue("pg_schema")


@pytest.mark.slow
async def test_two_processes_never_share_a_row_or_a_chat(
    two_processes: tuple[str, str | None],
) -> None:
    """500 deliveries in 50 chats, 8 lease loops on 2 engines, accepts still arriving."""
    url, schema = two_processes
    engines = [create_engine(url), create_engine(url)]
    try:
        inboxes = [await _made(engines[0], schema), SqlInbox(engines[1], schema=schema)]
        channel = uuid4()
        total, chats = 500, 50
        rng = random.Random(7)
        # chats drawn at random: runs of one chat next to each other, as in real traffic
        deliveries = [
            make_delivery(channel, f"k{i:03d}", chat=f"chat{rng.randrange(chats)}")
            for i in range(total)
        ]
        accepted_order: list[str] = []
        log: list[tuple[str, str, float, float]] = []
        handled: set[str] = set()
        attempts: list[int] = []

        async def producer() -> None:
            for start in range(0, total, 10):
                batch = deliveries[start : start + 10]
                result = await inboxes[start // 10 % 2].accept(batch)
                accepted_order.extend(d.key for d in result.accepted)
                await asyncio.sleep(0)

        async def worker(n: int) -> None:
            inbox = inboxes[n % 2]
            while len(handled) < total:
                got = await inbox.lease(f"w{n}", limit=3, visibility=LONG)
                if not got:
                    await asyncio.sleep(0.002)
                    continue
                for lease in got:
                    start = time.monotonic()
                    attempts.append(lease.attempt)
                    await asyncio.sleep(rng.random() * 0.003)
                    end = time.monotonic()
                    log.append((lease.delivery.ordering_key, lease.delivery.key, start, end))
                    assert await inbox.complete(lease)
                    handled.add(lease.delivery.key)

        await asyncio.wait_for(
            asyncio.gather(producer(), *(worker(n) for n in range(8))), timeout=120
        )
        stats = await inboxes[0].stats()
    finally:
        for engine in engines:
            await engine.dispose()

    assert len(log) == total, "every delivery handed out exactly once"
    assert set(attempts) == {1}
    position = {key: i for i, key in enumerate(accepted_order)}
    by_chat: dict[str, list[tuple[str, float, float]]] = {}
    for chat, key, start, end in log:
        by_chat.setdefault(chat, []).append((key, start, end))
    assert len(by_chat) == chats
    for chat, runs in by_chat.items():
        runs.sort(key=lambda r: r[1])
        keys = [key for key, _, _ in runs]
        assert keys == sorted(keys, key=position.__getitem__), f"{chat} out of order"
        for (_, _, end), (_, start, _) in itertools.pairwise(runs):
            assert start >= end, f"{chat}: two deliveries in flight at once"
    assert stats.backlog == 0


async def test_concurrent_accepts_from_two_engines_record_each_key_once(
    pg_engine: AsyncEngine, pg_schema: str
) -> None:
    other_engine = create_engine(postgres_url())
    try:
        inboxes = [await _made(pg_engine, pg_schema), SqlInbox(other_engine, schema=pg_schema)]
        channel = uuid4()
        batches = [
            [make_delivery(channel, f"k{(i * 3 + j) % 40}", chat=f"c{j % 4}") for j in range(10)]
            for i in range(30)
        ]
        results = await asyncio.gather(
            *(inboxes[i % 2].accept(batch) for i, batch in enumerate(batches))
        )
    finally:
        await other_engine.dispose()
    keys = [d.key for r in results for d in r.accepted]
    assert sorted(keys) == sorted({f"k{i}" for i in range(40)})
    assert sum(r.duplicates for r in results) == 300 - 40


async def test_a_batch_larger_than_one_statement_is_recorded_whole(
    sqlite_engine: AsyncEngine, fixed_clock: FixedClock
) -> None:
    inbox = await _made(sqlite_engine, None, clock=fixed_clock)
    page = sqlite_engine.dialect.insertmanyvalues_page_size
    channel = uuid4()
    await inbox.accept([make_delivery(channel, "k0", chat="c0")])
    batch = [
        make_delivery(channel, f"k{i % (page + 100)}", chat=f"c{i % 7}") for i in range(page * 2)
    ]
    result = await inbox.accept(batch)
    assert len(result.accepted) == page + 99
    assert result.duplicates == page * 2 - (page + 99)
    assert [d.key for d in result.accepted] == [f"k{i}" for i in range(1, page + 100)]
    assert (await inbox.stats()).ready == page + 100


async def test_a_failure_inside_a_large_batch_records_none_of_it(
    make_inbox: Callable[..., Any], fixed_clock: FixedClock
) -> None:
    inbox: SqlInbox = await make_inbox(clock=fixed_clock)
    engine = inbox.engine
    page = engine.dialect.insertmanyvalues_page_size
    inserts: list[str] = []

    def fail_second_insert(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement)
            if len(inserts) == 2:
                raise OSError("connection reset (injected)")

    batch = [make_delivery(uuid4(), f"k{i}", chat=f"c{i % 5}") for i in range(page + 10)]
    sa.event.listen(engine.sync_engine, "after_cursor_execute", fail_second_insert)
    try:
        with pytest.raises(InboxUnavailableError):
            await inbox.accept(batch)
    finally:
        sa.event.remove(engine.sync_engine, "after_cursor_execute", fail_second_insert)
    assert len(inserts) == 2, "the first page ran, then the fault"
    assert (await inbox.stats()).backlog == 0
    assert len((await inbox.accept(batch)).accepted) == page + 10


# ---------------------------------------------------------------- outages


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:1/test",
        "sqlite+aiosqlite:////nonexistent-dir/ventros/inbox.db",
    ],
    ids=["postgres", "sqlite"],
)
async def test_unreachable_store_raises_unavailable(url: str) -> None:
    engine = create_engine(url)
    inbox = SqlInbox(engine)
    channel = uuid4()
    moment = datetime.now(UTC)
    lease = Leased("1", make_delivery(channel, "k"), 1, "w:t", moment, moment)
    calls: list[Any] = [
        inbox.create_schema(),
        inbox.accept([make_delivery(channel, "k")]),
        inbox.lease("w", limit=5, visibility=LONG),
        inbox.complete(lease),
        inbox.fail(lease, error="x", retry_at=lease.leased_until),
        inbox.dead_letter(lease, error="x"),
        inbox.extend(lease, visibility=LONG),
        inbox.dead_letters(),
        inbox.replay(["1"]),
        inbox.purge(["1"]),
        inbox.prune(),
        inbox.stats(),
    ]
    try:
        for call in calls:
            with pytest.raises(InboxUnavailableError):
                await call
    finally:
        await engine.dispose()
        # aiosqlite stops the thread of a failed connection asynchronously: let it finish
        # while this test's event loop is still open
        for thread in threading.enumerate():
            if "_connection_worker_thread" in thread.name:
                await asyncio.to_thread(thread.join, 2)


async def test_other_database_errors_are_inbox_errors(
    pg_engine: AsyncEngine, pg_schema: str, fixed_clock: FixedClock
) -> None:
    inbox = SqlInbox(pg_engine, schema=pg_schema, clock=fixed_clock)  # no table
    with pytest.raises(InboxError) as info:
        await inbox.accept([make_delivery(uuid4(), "secret-key-in-params")])
    assert not isinstance(info.value, InboxUnavailableError)
    assert "secret-key-in-params" not in str(info.value)
