"""Crash tests: processes killed with SIGKILL at random moments, and a store outage, lose
no delivery that was answered 200 and record none twice.

One uvicorn web process (web only) and four ``ventros-channels worker`` processes share a
durable inbox (PostgreSQL or Redis) through a TCP proxy the test controls. The test posts
1,000 signed Telegram deliveries over 50 chats, each chat in order, repeating 10 % of them as
the platform's retries would, and repeating every answer that is not 200. Meanwhile it kills
a random process every 0.5-1.5 s (and restarts it), and once half of the deliveries were
answered it cuts every connection to the store for 10 s. Handlers fail 5 % of the events on
their first attempt and 1 % on every attempt.

Afterwards: every event that does not always fail was handled at least once, events of one
chat were handled in order, the dead letters are exactly the always-failing events, and the
store holds one record per distinct event. The same run with the in-memory inbox shows what
a non-durable inbox loses.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa

from tests.integration.conftest import postgres_url
from ventros_channels import Channel, SystemClock
from ventros_channels.adapters import default_registry
from ventros_channels.inbox import Inbox, InMemoryInbox
from ventros_channels.outbox import Outbox, SendState
from ventros_channels.sql import SqlChannelRepository, create_engine
from ventros_channels.testing.factories import ChannelFactory
from ventros_channels.testing.fakes import FakeTelegram
from ventros_channels.webhooks import WebhookRequest

from . import crash_app
from .proxy import TcpProxy

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
CHATS, PER_CHAT = 50, 20
WORKER_PROCESSES = 4
OUTAGE_SECONDS = 10.0
DEADLINE = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _via(url: str, proxy: TcpProxy) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 0


@dataclass
class Cluster:
    """The web process and the worker processes, started, killed and restarted by the test."""

    env: dict[str, str]
    port: int
    workers: int
    log: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kills: int = 0

    def _spawn(self, name: str) -> None:
        if name == "web":
            args = ["-m", "uvicorn", "--factory", "crash_app:web", "--port", str(self.port)]
            args += ["--log-level", "warning", "--timeout-graceful-shutdown", "5"]
        else:
            args = ["-m", "ventros_channels.cli", "worker", "--app", "crash_app:make_worker"]
            args += ["--log-level", "ERROR", "--grace", "5"]
        with self.log.open("ab") as log:
            self.procs[name] = subprocess.Popen(  # noqa: S603
                [sys.executable, *args], cwd=HERE, env=self.env, stdout=log, stderr=log
            )

    def names(self) -> list[str]:
        return ["web", *(f"worker-{i}" for i in range(self.workers))]

    def start(self) -> None:
        for name in self.names():
            self._spawn(name)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.kills += 1
        self._spawn(name)

    def revive(self) -> None:
        for name in self.names():
            if self.procs[name].poll() is not None:
                self._spawn(name)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class FakeBotApi:
    """Telegram's ``sendMessage`` as a local HTTP server that counts every message it gets.

    For 2 % of the texts it records the message and then answers 502, as a platform whose
    answer was lost after it sent: the library must treat those sends as uncertain.
    """

    def __init__(self) -> None:
        self.texts: Counter[str] = Counter()
        self.url = ""
        self._server: asyncio.Server | None = None
        self._ids = 0

    @staticmethod
    def lost_answer(text: str) -> bool:
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:2], "big") % 100 < 2

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                body = json.loads(await reader.readexactly(length)) if length else {}
                status, answer = self._answer(head.split(b" ")[1].decode(), body)
                payload = json.dumps(answer).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        writer.close()

    def _answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not path.endswith("/sendMessage"):
            return 200, {"ok": True, "result": True}
        text = str(body.get("text"))
        self.texts[text] += 1
        if self.lost_answer(text):
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        self._ids += 1
        message = {"message_id": self._ids, "chat": {"id": body.get("chat_id")}, "date": 0}
        return 200, {"ok": True, "result": {**message, "text": text}}


@dataclass
class Load:
    acknowledged: int = 0
    posts: int = 0
    refused: int = 0
    failed_connections: int = 0


async def _post_until_ok(
    client: httpx.AsyncClient, url: str, req: WebhookRequest, load: Load
) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        load.posts += 1
        try:
            answer = await client.post(url, content=req.body, headers=dict(req.headers))
        except httpx.HTTPError:
            load.failed_connections += 1
        else:
            if answer.status_code == 200:
                return
            load.refused += 1
            assert answer.status_code in (503, 502, 500), answer.status_code
        await asyncio.sleep(0.05)
    raise AssertionError("a delivery was never acknowledged")


async def _deliver(
    url: str,
    by_chat: dict[int, list[WebhookRequest]],
    load: Load,
    rng: random.Random,
) -> None:
    async with httpx.AsyncClient(timeout=5) as client:

        async def chat(requests: list[WebhookRequest]) -> None:
            for req in requests:
                await _post_until_ok(client, url, req, load)
                load.acknowledged += 1
                if rng.random() < 0.10:  # the platform did not see our 200: it retries
                    await _post_until_ok(client, url, req, load)

        await asyncio.gather(*(chat(reqs) for reqs in by_chat.values()))


async def _wait_http(port: int) -> None:
    async with httpx.AsyncClient(timeout=1) as client:
        for _ in range(300):
            try:
                await client.get(f"http://127.0.0.1:{port}/")
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    raise AssertionError("the web process did not start")


async def _chaos(cluster: Cluster, done: asyncio.Event, rng: random.Random) -> None:
    while not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), rng.uniform(0.5, 1.5))
        if done.is_set():
            return
        cluster.kill(rng.choice(cluster.names()))


async def _outage(proxies: list[TcpProxy], load: Load, total: int, done: asyncio.Event) -> None:
    while load.acknowledged < total // 2 and not done.is_set():  # noqa: ASYNC110 (a counter)
        await asyncio.sleep(0.05)
    await asyncio.gather(*(p.cut(OUTAGE_SECONDS) for p in proxies))


def _ledger(path: Path) -> list[tuple[str, str, int]]:
    """(key, chat, sequence) of every handled event, in the order they were handled."""
    rows = []
    for line in path.read_text().splitlines():
        key, chat, text, _attempt, _pid = line.split(" ")
        rows.append((key, chat, int(text.split(":")[1])))
    return rows


@dataclass
class Backend:
    name: str
    env: dict[str, str]
    targets: list[str]
    """Store URLs whose traffic goes through a proxy (set the proxied URL in ``env``)."""
    inbox: Callable[[], Inbox]
    records: Callable[[], Awaitable[tuple[int, int]]]
    """(records, distinct keys) the store holds."""
    outbox: Callable[[], Outbox] | None = None


async def _run(
    backend: Backend,
    tmp_path: Path,
    database_url: str,
    schema: str,
    *,
    chaos: bool,
    kill_web_at: float | None = None,
    api: FakeBotApi | None = None,
) -> tuple[Load, Cluster, list[tuple[str, str, int]], set[str], dict[str, str]]:
    """Start the processes, deliver everything, wait until handled; ledger and dead letters."""
    rng = random.Random(20261129)
    clock = SystemClock()
    telegram = FakeTelegram(clock.now)
    channel = await _stored_channel(backend, database_url, schema, telegram, api)
    by_chat: dict[int, list[WebhookRequest]] = defaultdict(list)
    for seq in range(PER_CHAT):
        for c in range(CHATS):
            by_chat[1000 + c].append(telegram.text_update(chat_id=1000 + c, text=f"{c}:{seq}"))
    texts = _expected_texts([r for reqs in by_chat.values() for r in reqs], channel.config)
    expected = set(texts)
    total = len(expected)

    proxies = [TcpProxy(*_target(url)) for url in backend.targets]
    for p in proxies:
        await p.start()
    env = _cluster_env(backend, tmp_path, database_url, schema, proxies, reply=api is not None)
    port = _free_port()
    workers = WORKER_PROCESSES if backend.name != "memory" else 0
    cluster = Cluster(env, port, workers, tmp_path / "processes.log")
    cluster.start()
    load = Load()
    letters: set[str] = set()
    try:
        await _wait_http(port)
        done = asyncio.Event()
        url = f"http://127.0.0.1:{port}/webhooks/telegram/{channel.id}"
        side: list[asyncio.Task[Any]] = []
        if chaos:
            side.append(asyncio.create_task(_chaos(cluster, done, rng)))
            side.append(asyncio.create_task(_outage(proxies, load, total, done)))
        if kill_web_at is not None:
            side.append(asyncio.create_task(_kill_web(cluster, load, int(total * kill_web_at))))
        await asyncio.wait_for(_deliver(url, by_chat, load, rng), DEADLINE)
        done.set()
        await asyncio.gather(*side)
        cluster.revive()
        await _settle(backend.inbox(), tmp_path / "ledger.txt")
        letters = {x.delivery.key for x in await backend.inbox().dead_letters(limit=10_000)}
    finally:
        cluster.stop()
        for p in proxies:
            await p.stop()
        (tmp_path / "processes.log").exists() and print(
            (tmp_path / "processes.log").read_text()[-3000:]
        )
    ledger_path = tmp_path / "ledger.txt"
    rows = _ledger(ledger_path) if ledger_path.exists() else []
    return load, cluster, rows, letters, texts


async def _stored_channel(
    backend: Backend, database_url: str, schema: str, telegram: FakeTelegram, api: FakeBotApi | None
) -> Channel:
    """The active Telegram channel of the run, saved with the schemas the backend needs."""
    engine = create_engine(database_url)
    repo = SqlChannelRepository(engine, schema=schema)
    await repo.create_schema()
    config = telegram.config()
    if api is not None:  # replies go to the local fake Bot API
        config["api_base_url"] = api.url
    channel = ChannelFactory(SystemClock())("telegram", config=config, active=True)
    await repo.save(channel)
    if backend.name == "postgres":
        from ventros_channels.sql import SqlInbox, SqlOutbox

        await SqlInbox(engine, schema=schema).create_schema()
        await SqlOutbox(engine, schema=schema).create_schema()
    await engine.dispose()
    return channel


def _cluster_env(
    backend: Backend,
    tmp_path: Path,
    database_url: str,
    schema: str,
    proxies: list[TcpProxy],
    *,
    reply: bool,
) -> dict[str, str]:
    """The processes' environment: store URLs through their proxies, the ledger's path."""
    env = {**os.environ, **backend.env, "VCR_LEDGER": str(tmp_path / "ledger.txt")}
    if reply:
        env["VCR_REPLY"] = "1"
    env["VCR_DATABASE_URL"] = database_url
    env["VCR_SCHEMA"] = schema
    for url, proxy in zip(backend.targets, proxies, strict=True):
        for name, value in list(env.items()):
            if value == url and name.startswith("VCR_"):
                env[name] = _via(url, proxy)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return env


async def _kill_web(cluster: Cluster, load: Load, after: int) -> None:
    while load.acknowledged < after:  # noqa: ASYNC110 (a counter)
        await asyncio.sleep(0.01)
    cluster.kill("web")


async def _settle(inbox: Inbox, ledger: Path) -> None:
    """Wait until the inbox is empty and the ledger stopped growing for a second."""
    async with asyncio.timeout(180):
        size, quiet, polls = -1, 0, 0
        while quiet < 10:
            stats = await inbox.stats()
            busy = stats.backlog
            polls += 1
            if polls % 100 == 0:
                print(f"still waiting on the inbox: {stats}")
            now = os.path.getsize(ledger) if os.path.exists(ledger) else 0  # noqa: ASYNC240
            quiet = quiet + 1 if (busy == 0 and now == size) else 0
            size = now
            await asyncio.sleep(0.1)


def _check(
    rows: list[tuple[str, str, int]], letters: set[str], expected: set[str], unsure: set[str]
) -> None:
    """Every event handled, in chat order; dead letters: the always-failing events and those
    whose reply may have gone out (``unsure``), which no handler may send again.
    """
    handled = {key for key, _, _ in rows}
    always = {k for k in expected if crash_app.fate(k) == "always"}
    # An unsure event may also have been handled: its reply went out and the handler finished,
    # but the worker lost the lease before recording either (killed, or the store cut), so the
    # retry finds the send uncertain and gives the event up instead of sending again.
    assert handled - unsure == expected - always - unsure, "an acknowledged event was never handled"
    assert not (handled & always), "an event whose handler always fails was recorded as handled"
    assert letters == always | unsure, "dead letters must be exactly the events given up on"
    by_chat: dict[str, list[int]] = defaultdict(list)
    for _, chat, seq in rows:
        by_chat[chat].append(seq)
    for chat, seqs in by_chat.items():
        assert seqs == sorted(seqs), f"chat {chat} handled out of order: {seqs}"


def _expected_texts(requests: list[WebhookRequest], config: Any) -> dict[str, str]:
    """Each delivery's event key and text."""
    adapter = default_registry().get("telegram")
    return {
        e.idempotency_key: str(getattr(e, "text", ""))
        for req in requests
        for e in adapter.parse(req.body, config)
    }


async def test_postgres_inbox_loses_nothing_when_processes_are_killed_and_the_store_drops(
    tmp_path: Path, postgres_schema: str
) -> None:
    url = postgres_url()
    engine = create_engine(url)

    async def records() -> tuple[int, int]:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.text(
                        "SELECT count(*), count(DISTINCT (channel_id, idem_key)) "  # noqa: S608
                        f'FROM "{postgres_schema}".channel_inbox'
                    )
                )
            ).one()
        return int(row[0]), int(row[1])

    def inbox() -> Inbox:
        from ventros_channels.sql import SqlInbox

        return SqlInbox(engine, schema=postgres_schema)

    def outbox() -> Outbox:
        from ventros_channels.sql import SqlOutbox

        return SqlOutbox(engine, schema=postgres_schema)

    backend = Backend("postgres", {"VCR_INBOX": "postgres"}, [url], inbox, records, outbox)
    try:
        await _scenario(backend, tmp_path, url, postgres_schema)
    finally:
        await engine.dispose()


async def test_redis_inbox_loses_nothing_when_processes_are_killed_and_the_store_drops(
    tmp_path: Path, postgres_schema: str, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    url = postgres_url()
    redis_url = os.environ["VENTROS_TEST_REDIS_URL"]

    async def records() -> tuple[int, int]:
        """Deliveries ever recorded (the id counter) and distinct keys (dedupe keys)."""
        prefix = f"{redis_prefix}:inbox:"
        recorded = int(await redis_client.get(prefix + "seq") or 0)
        keys = [k async for k in redis_client.scan_iter(match=prefix + "k:*", count=1000)]
        return recorded, len(keys)

    def inbox() -> Inbox:
        from ventros_channels.redis import RedisInbox

        return RedisInbox(redis_client, prefix=redis_prefix)

    env = {"VCR_INBOX": "redis", "VCR_REDIS_URL": redis_url, "VCR_REDIS_PREFIX": redis_prefix}

    def outbox() -> Outbox:
        from ventros_channels.redis import RedisOutbox

        return RedisOutbox(redis_client, prefix=redis_prefix)

    backend = Backend("redis", env, [url, redis_url], inbox, records, outbox)
    await _scenario(backend, tmp_path, url, postgres_schema)


async def _scenario(backend: Backend, tmp_path: Path, url: str, schema: str) -> None:
    api = FakeBotApi()
    await api.start()
    try:
        load, cluster, rows, letters, texts = await _run(
            backend, tmp_path, url, schema, chaos=True, api=api
        )
    finally:
        await api.stop()
    assert backend.outbox is not None
    outbox = backend.outbox()
    unsure_sends = [
        record
        for state in (SendState.UNCERTAIN, SendState.PENDING)
        for record in await outbox.find(state=state, limit=10_000)
    ]
    unsure = {record.key.removeprefix("reply:").rsplit(":", 1)[0] for record in unsure_sends}
    print(
        f"\n{backend.name}: {len(texts)} events, {load.posts} posts "
        f"({load.refused} refused, {load.failed_connections} connection failures), "
        f"{cluster.kills} processes killed, {len(rows)} handled, {len(letters)} dead letters, "
        f"{sum(api.texts.values())} replies at the platform, {len(unsure)} reported uncertain"
    )
    assert cluster.kills >= 3, "the run ended before the chaos had a chance"
    _check(rows, letters, set(texts), unsure)
    recorded, distinct = await backend.records()
    assert recorded == distinct == len(texts), "a delivery was recorded twice or not at all"
    assert max(api.texts.values()) == 1, "a reply reached the platform twice"
    replied = {key for key, text in texts.items() if api.texts[f"re:{text}"]}
    assert replied | unsure == set(texts), "a reply neither arrived nor was reported uncertain"
    lost_answers = {key for key, text in texts.items() if FakeBotApi.lost_answer(f"re:{text}")}
    assert lost_answers <= unsure, "a send answered 502 was not reported uncertain"


async def test_without_a_durable_inbox_a_killed_web_process_loses_events(
    tmp_path: Path, postgres_schema: str
) -> None:
    """What the durable inboxes prevent: the in-memory inbox loses what was answered 200 and
    not yet handled when its process is killed."""
    url = postgres_url()
    backend = Backend(
        "memory",
        {"VCR_INBOX": "memory", "VCR_HANDLER_SECONDS": "0.05"},
        [url],
        InMemoryInbox,
        _no_records,
    )
    load, _, rows, _, texts = await _run(
        backend, tmp_path, url, postgres_schema, chaos=False, kill_web_at=0.5
    )
    expected = set(texts)
    handled = {key for key, _, _ in rows}
    lost = {k for k in expected if crash_app.fate(k) != "always"} - handled
    print(f"\nin-memory inbox: {len(lost)} of {len(expected)} acknowledged events lost")
    assert load.acknowledged == len(expected)
    assert lost, "killing the only process should have lost queued events"


async def _no_records() -> tuple[int, int]:
    return 0, 0
