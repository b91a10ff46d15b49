"""The Redis inbox against the real server: the contract, one round trip per duplicate, two
processes' worth of workers keeping per-chat order, outages and the key layout."""

from __future__ import annotations

import asyncio
import random
import socket
import sys
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tests.conftest import redis_url
from ventros_channels.errors import InboxError, InboxUnavailableError, InvalidInputError
from ventros_channels.inbox import Delivery, Inbox, Leased
from ventros_channels.redis import RedisInbox
from ventros_channels.redis._common import as_text
from ventros_channels.testing import FixedClock
from ventros_channels.testing.contract import InboxContract, OnAFixedClock
from ventros_channels.testing.contract.inbox import make_delivery

LONG = timedelta(minutes=10)
ROOT = Path(__file__).resolve().parents[2]


class TestRedisInbox(OnAFixedClock, InboxContract):
    """The whole contract, on a fixed clock (lease expiry and retries are read on it)."""

    @pytest.fixture
    def inbox(
        self, redis_client: aioredis.Redis, redis_prefix: str, clock: FixedClock
    ) -> RedisInbox:
        return RedisInbox(redis_client, prefix=redis_prefix, clock=clock)


class TestRedisInboxOnTheSystemClock(InboxContract):
    """The contract again with real time passing (sleeps of a fraction of a second)."""

    @pytest.fixture
    def inbox(self, redis_client: aioredis.Redis, redis_prefix: str) -> RedisInbox:
        return RedisInbox(redis_client, prefix=redis_prefix)


@pytest.fixture
def inbox(redis_client: aioredis.Redis, redis_prefix: str) -> RedisInbox:
    return RedisInbox(redis_client, prefix=redis_prefix)


def _text(value: bytes | str) -> str:
    return as_text(value) or ""


async def _keys(client: aioredis.Redis, prefix: str) -> list[str]:
    return sorted([k.decode() async for k in client.scan_iter(match=f"{prefix}:*", count=500)])


def test_is_an_inbox(inbox: RedisInbox) -> None:
    assert isinstance(inbox, Inbox)
    assert inbox.key_prefix.endswith(":inbox:")


async def test_a_duplicate_is_rejected_in_one_round_trip(
    redis_client: aioredis.Redis, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted twice: the commands the client issues, and the writes to its sockets."""
    inbox = RedisInbox(redis_client, prefix=redis_prefix)
    channel = uuid4()
    await inbox.accept([make_delivery(channel, "k1")])  # also loads the script
    commands: list[Any] = []
    writes: list[int] = []
    issue: Callable[..., Awaitable[Any]] = redis_client.execute_command
    send = AbstractConnection.send_packed_command

    async def counting_issue(*args: Any, **options: Any) -> Any:
        commands.append(args[0])
        return await issue(*args, **options)

    async def counting_send(self: AbstractConnection, *args: Any, **options: Any) -> None:
        writes.append(1)
        await send(self, *args, **options)

    monkeypatch.setattr(redis_client, "execute_command", counting_issue)
    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting_send)
    result = await inbox.accept([make_delivery(channel, "k1")])
    assert (result.accepted, result.duplicates) == ((), 1)
    assert (commands, len(writes)) == (["EVALSHA"], 1)
    commands.clear()
    writes.clear()
    fresh = await inbox.accept([make_delivery(channel, "k2"), make_delivery(channel, "k1")])
    assert ([d.key for d in fresh.accepted], fresh.duplicates) == (["k2"], 1)
    assert (commands, len(writes)) == (["EVALSHA"], 1), "new deliveries take one round trip too"


def _shuffled_chats(
    rng: random.Random, chats: int, total: int
) -> tuple[list[Delivery], dict[str, list[str]]]:
    """``total`` deliveries to one channel spread over ``chats`` chats in a random order, and
    the keys each chat must be handled in."""
    channel = uuid4()
    order = [f"chat-{i % chats}" for i in range(total)]
    rng.shuffle(order)
    expected: dict[str, list[str]] = defaultdict(list)
    deliveries = []
    for n, chat in enumerate(order):
        key = f"{chat}/{n}"
        expected[chat].append(key)
        deliveries.append(make_delivery(channel, key, chat=chat))
    return deliveries, expected


async def test_two_processes_with_eight_workers_keep_each_chat_in_order(
    redis_prefix: str,
) -> None:
    """500 deliveries over 50 chats; 2 clients (separate connection pools, as two processes
    have) run 4 lease loops each. About 10 % of first attempts fail and are retried at once,
    about 2 % are abandoned (the worker "dies") and come back when their lease runs out."""
    clients = [aioredis.Redis.from_url(redis_url()) for _ in range(2)]
    inboxes = [RedisInbox(c, prefix=redis_prefix) for c in clients]
    rng = random.Random(7)
    deliveries, expected = _shuffled_chats(rng, chats=50, total=500)
    for start in range(0, 500, 25):  # accepted in batches, half through each client
        await inboxes[(start // 25) % 2].accept(deliveries[start : start + 25])

    holding: dict[str, str] = {}
    handled: dict[str, list[str]] = defaultdict(list)
    overlaps: list[tuple[str, str, str]] = []
    outcomes: dict[str, int] = defaultdict(int)
    deadline = asyncio.get_running_loop().time() + 60

    async def work(inbox: RedisInbox, name: str) -> None:
        while outcomes["done"] < 500 and asyncio.get_running_loop().time() < deadline:
            leases = await inbox.lease(name, limit=3, visibility=timedelta(seconds=1.5))
            if not leases:
                await asyncio.sleep(0.005)
                continue
            await asyncio.gather(*(handle(inbox, lease) for lease in leases))

    async def handle(inbox: RedisInbox, lease: Leased) -> None:
        chat = lease.delivery.ordering_key
        if chat in holding:
            overlaps.append((chat, holding[chat], lease.delivery.key))
        holding[chat] = lease.delivery.key
        await asyncio.sleep(rng.random() / 1000)
        del holding[chat]
        luck = rng.random()
        if lease.attempt == 1 and luck < 0.02:
            outcomes["abandoned"] += 1
            return
        if lease.attempt == 1 and luck < 0.12:
            outcomes["failed"] += 1
            assert await inbox.fail(lease, error="flaky", retry_at=datetime.now(UTC))
            return
        handled[chat].append(lease.delivery.key)
        assert await inbox.complete(lease)
        outcomes["done"] += 1

    try:
        async with asyncio.TaskGroup() as group:  # a failure cancels the other loops
            for i in range(8):
                group.create_task(work(inboxes[i % 2], f"worker-{i}"))
        assert overlaps == []
        assert dict(handled) == dict(expected)
        assert outcomes["failed"] > 10
        assert outcomes["abandoned"] > 3
        stats = await inboxes[0].stats()
        assert (stats.backlog, stats.dead, stats.oldest_waiting_age) == (0, 0, None)
    finally:
        for client in clients:
            await client.aclose()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_unreachable_redis_raises_inbox_unavailable() -> None:
    client = aioredis.Redis(
        host="127.0.0.1",
        port=_closed_port(),
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),
    )
    inbox = RedisInbox(client)
    try:
        with pytest.raises(InboxUnavailableError):
            await inbox.accept([make_delivery(uuid4(), "k1")])
        with pytest.raises(InboxUnavailableError):
            await inbox.lease("w", limit=1, visibility=LONG)
        with pytest.raises(InboxUnavailableError):
            await inbox.stats()
    finally:
        await client.aclose()


async def test_other_redis_errors_raise_inbox_error(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    inbox = RedisInbox(redis_client, prefix=redis_prefix)
    await redis_client.set(f"{redis_prefix}:inbox:pending", "not a sorted set")
    with pytest.raises(InboxError) as caught:
        await inbox.accept([make_delivery(uuid4(), "k1")])
    assert not isinstance(caught.value, InboxUnavailableError)


async def test_bad_arguments_raise_typed_errors() -> None:
    """Checked before anything is sent: the client here points at nothing."""
    client = aioredis.Redis(host="127.0.0.1", port=_closed_port())
    with pytest.raises(InvalidInputError, match="retain"):
        RedisInbox(client, retain=timedelta(0))
    with pytest.raises(InvalidInputError, match="orphan_after"):
        RedisInbox(client, orphan_after=timedelta(0))
    inbox = RedisInbox(client)
    with pytest.raises(InvalidInputError, match="visibility"):
        await inbox.lease("w", limit=1, visibility=timedelta(0))
    with pytest.raises(InvalidInputError, match="worker"):
        await inbox.lease("", limit=1, visibility=LONG)
    assert await inbox.lease("w", limit=0, visibility=LONG) == []
    await client.aclose()


async def test_completed_deliveries_leave_only_their_dedupe_keys(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    inbox = RedisInbox(redis_client, prefix=redis_prefix, retain=timedelta(hours=1))
    channel = uuid4()
    await inbox.accept([make_delivery(channel, f"k{i}", chat="A") for i in range(3)])
    while leases := await inbox.lease("w", limit=5, visibility=LONG):
        for lease in leases:
            assert await inbox.complete(lease)
    p = f"{redis_prefix}:inbox:"
    assert await redis_client.xlen(f"{p}stream") == 0
    assert await redis_client.xpending(f"{p}stream", "workers") == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }
    left = await _keys(redis_client, redis_prefix)
    assert [k for k in left if ":e:" in k or ":q:" in k] == []
    dedupe = [k for k in left if ":k:" in k]
    assert dedupe == [f"{p}k:{channel}:k{i}" for i in range(3)]
    for key in dedupe:
        assert 0 < await redis_client.pttl(key) <= 3_600_000


async def test_pending_and_dead_keys_have_no_ttl_and_purge_sets_it(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    inbox = RedisInbox(redis_client, prefix=redis_prefix, retain=timedelta(hours=1))
    channel = uuid4()
    await inbox.accept([make_delivery(channel, "k1"), make_delivery(channel, "k2", chat="B")])
    key = f"{redis_prefix}:inbox:k:{channel}:k1"
    assert await redis_client.pttl(key) == -1
    leases = await inbox.lease("w", limit=5, visibility=LONG)
    for lease in leases:
        assert await inbox.dead_letter(lease, error="no")
    assert await redis_client.pttl(key) == -1
    (letter,) = [x for x in await inbox.dead_letters() if x.delivery.key == "k1"]
    assert await inbox.purge([letter.id]) == 1
    assert 0 < await redis_client.pttl(key) <= 3_600_000
    assert [x.delivery.key for x in await inbox.dead_letters(channel_id=channel)] == ["k2"]
    assert await inbox.dead_letters(channel_id=uuid4()) == []


async def test_an_expired_lease_moves_its_stream_entry_to_the_new_worker(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    clock = FixedClock()
    inbox = RedisInbox(redis_client, prefix=redis_prefix, clock=clock)
    await inbox.accept([make_delivery(uuid4(), "k1")])
    (first,) = await inbox.lease("w1", limit=1, visibility=timedelta(seconds=30))
    stream = f"{redis_prefix}:inbox:stream"
    pending = await redis_client.xpending_range(stream, "workers", "-", "+", 10)
    assert [p["consumer"] for p in pending] == [b"w1"]
    clock.advance(seconds=31)
    (second,) = await inbox.lease("w2", limit=1, visibility=timedelta(seconds=30))
    assert (second.id, second.attempt) == (first.id, 2)
    pending = await redis_client.xpending_range(stream, "workers", "-", "+", 10)
    assert [p["consumer"] for p in pending] == [b"w2"]
    assert not await inbox.extend(first, visibility=LONG)
    assert not await inbox.fail(first, error="late", retry_at=clock.now())
    assert not await inbox.dead_letter(first, error="late")
    assert await inbox.complete(second)


async def test_an_entry_read_but_never_leased_is_reclaimed(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """A reader that took the notification out of the stream and died before leasing (here:
    a bare XREADGROUP) leaves it pending; XAUTOCLAIM hands it out after ``orphan_after``."""
    inbox = RedisInbox(redis_client, prefix=redis_prefix, orphan_after=timedelta(milliseconds=50))
    await inbox.accept([make_delivery(uuid4(), "k1")])
    stream = f"{redis_prefix}:inbox:stream"
    read: Any = await redis_client.xreadgroup("workers", "ghost", {stream: ">"}, count=10)
    assert len(read[0][1]) == 1
    assert await inbox.lease("w", limit=5, visibility=LONG) == []
    await asyncio.sleep(0.12)
    (lease,) = await inbox.lease("w", limit=5, visibility=LONG)
    assert (lease.delivery.key, lease.attempt) == ("k1", 1)
    await asyncio.sleep(0.12)
    assert await inbox.lease("w2", limit=5, visibility=LONG) == [], "a held lease stays held"
    pending = await redis_client.xpending_range(stream, "workers", "-", "+", 10)
    assert [p["consumer"] for p in pending] == [b"w"], "and stays with its holder"
    assert await inbox.complete(lease)


async def test_a_replayed_dead_letter_comes_after_the_chats_pending_deliveries(
    inbox: RedisInbox,
) -> None:
    channel = uuid4()
    await inbox.accept([make_delivery(channel, k, chat="A") for k in ("a1", "a2", "a3")])
    (a1,) = await inbox.lease("w", limit=5, visibility=LONG)
    assert await inbox.dead_letter(a1, error="poison")
    (a2,) = await inbox.lease("w", limit=5, visibility=LONG)
    assert await inbox.replay([a1.id, a1.id]) == 1
    assert await inbox.complete(a2)
    seen = []
    while leases := await inbox.lease("w", limit=5, visibility=LONG):
        for lease in leases:
            seen.append((lease.delivery.key, lease.attempt))
            assert await inbox.complete(lease)
    assert seen == [("a3", 1), ("a1", 1)]


async def test_works_with_decoded_responses(redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(redis_url(), decode_responses=True)
    try:
        inbox = RedisInbox(client, prefix=redis_prefix)
        channel = uuid4()
        delivery = make_delivery(channel, "k1", text="olá")
        assert (await inbox.accept([delivery])).accepted == (delivery,)
        (lease,) = await inbox.lease("w", limit=1, visibility=LONG)
        assert lease.delivery == delivery
        assert await inbox.dead_letter(lease, error="é")
        (letter,) = await inbox.dead_letters(channel_id=channel)
        assert (letter.error, letter.attempts) == ("é", 1)
    finally:
        await client.aclose()


async def test_a_flushed_redis_starts_over(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    """Losing every key (a Redis without persistence restarted) must not wedge the inbox."""
    inbox = RedisInbox(redis_client, prefix=redis_prefix)
    await inbox.accept([make_delivery(uuid4(), "k1")])
    keys = await _keys(redis_client, redis_prefix)
    await redis_client.delete(*keys)
    assert await inbox.lease("w", limit=1, visibility=LONG) == []
    await inbox.accept([make_delivery(uuid4(), "k2")])
    (lease,) = await inbox.lease("w", limit=1, visibility=LONG)
    assert lease.delivery.key == "k2"


async def test_an_unreadable_record_is_given_back_and_the_rest_is_leased(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    clock = FixedClock()
    inbox = RedisInbox(redis_client, prefix=redis_prefix, clock=clock)
    channel = uuid4()
    await inbox.accept([make_delivery(channel, "k1", chat="A"), make_delivery(channel, "k2")])
    entries = [k for k in await _keys(redis_client, redis_prefix) if ":e:" in k]
    damaged = entries[0]
    await redis_client.hset(damaged, "d", b'{"v": 1, "event": {"type": "from the future"}}')
    leases = await inbox.lease("w", limit=5, visibility=timedelta(seconds=30))
    assert [x.delivery.key for x in leases] == ["k2"]
    assert await inbox.complete(leases[0])
    assert (await inbox.stats()).scheduled == 1
    error = await redis_client.hget(damaged, "err")
    assert error is not None
    assert b"cannot be read" in error
    clock.advance(seconds=31)
    assert await inbox.lease("w", limit=5, visibility=timedelta(seconds=30)) == []
    assert await redis_client.hget(damaged, "n") == b"2", "each attempt is counted"


async def test_a_repeated_complete_still_reports_success(inbox: RedisInbox) -> None:
    """redis-py resends a command when the connection drops; the resent complete must not
    report a lost lease for a delivery it did complete."""
    channel = uuid4()
    await inbox.accept([make_delivery(channel, "k1")])
    (lease,) = await inbox.lease("w", limit=1, visibility=LONG)
    assert await inbox.complete(lease)
    assert await inbox.complete(lease)
    other = Leased(
        lease.id, lease.delivery, 1, "w:someone-else", lease.leased_until, lease.accepted_at
    )
    assert not await inbox.complete(other)


async def test_completed_keys_are_forgotten_after_retention(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    inbox = RedisInbox(redis_client, prefix=redis_prefix, retain=timedelta(milliseconds=150))
    channel = uuid4()
    await inbox.accept([make_delivery(channel, "k1")])
    (lease,) = await inbox.lease("w", limit=1, visibility=LONG)
    assert await inbox.complete(lease)
    assert (await inbox.accept([make_delivery(channel, "k1")])).duplicates == 1
    await asyncio.sleep(0.3)
    assert len((await inbox.accept([make_delivery(channel, "k1")])).accepted) == 1


def test_prefix_and_namespace_are_checked() -> None:
    client = aioredis.Redis(host="127.0.0.1", port=_closed_port())
    with pytest.raises(InvalidInputError, match="namespace"):
        RedisInbox(client, namespace="")
    with pytest.raises(InvalidInputError, match="prefix"):
        RedisInbox(client, prefix="a b")


async def test_idle_worker_names_leave_the_group(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """Workers restarted under new names must not pile up as consumers of the group."""
    inbox = RedisInbox(redis_client, prefix=redis_prefix, orphan_after=timedelta(milliseconds=50))
    channel = uuid4()
    await inbox.accept([make_delivery(channel, f"k{i}", chat=f"c{i}") for i in range(4)])
    for name in ("old-1", "old-2"):
        (lease,) = await inbox.lease(name, limit=1, visibility=LONG)
        assert await inbox.complete(lease)
    (held,) = await inbox.lease("old-3", limit=1, visibility=LONG)
    await asyncio.sleep(0.12)
    (lease,) = await inbox.lease("new", limit=1, visibility=LONG)
    stream = f"{redis_prefix}:inbox:stream"
    consumers = await redis_client.xinfo_consumers(stream, "workers")
    assert sorted(c["name"] for c in consumers) == [b"new", b"old-3"], "holders stay"
    assert await inbox.complete(held)
    assert await inbox.complete(lease)


async def test_a_worker_process_killed_mid_way_loses_nothing_and_keeps_chat_order(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """Two worker processes (tests/inbox/redis_worker.py) share 300 deliveries over 30 chats;
    one is SIGKILLed mid-way and a third starts. Every delivery is handled, each chat in
    accept order; only a delivery the killed process was holding may be handled twice, and
    then right after itself."""
    inbox = RedisInbox(redis_client, prefix=redis_prefix)
    channel = uuid4()
    expected: dict[str, list[str]] = defaultdict(list)
    deliveries = []
    for n in range(300):
        chat, key = f"chat-{n % 30}", f"k{n}"
        expected[chat].append(key)
        deliveries.append(make_delivery(channel, key, chat=chat))
    await inbox.accept(deliveries)
    log = f"{redis_prefix}:log"

    async def spawn(name: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.inbox.redis_worker",
            redis_url(),
            redis_prefix,
            name,
            cwd=ROOT,
        )

    async def wait_for(check: Callable[[], Awaitable[bool]], what: str) -> None:
        deadline = asyncio.get_running_loop().time() + 60
        while not await check():
            assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.02)

    async def some_handled() -> bool:
        return int(await redis_client.llen(log)) >= 60

    async def all_done() -> bool:
        return (await inbox.stats()).backlog == 0

    processes = [await spawn("proc-a"), await spawn("proc-b")]
    try:
        await wait_for(some_handled, "the first deliveries")
        processes[0].kill()
        await processes[0].wait()
        assert (await inbox.stats()).backlog > 0, "killed before the work was done"
        processes.append(await spawn("proc-c"))
        await wait_for(all_done, "every delivery")
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    handled: dict[str, list[str]] = defaultdict(list)
    for entry in await redis_client.lrange(log, 0, -1):
        chat, key = _text(entry).split(" ")
        if handled[chat][-1:] != [key]:  # a repeat of the killed process's last delivery
            handled[chat].append(key)
    assert dict(handled) == dict(expected)
