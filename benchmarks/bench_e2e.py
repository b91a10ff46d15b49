"""End-to-end benchmark: signed Telegram deliveries through uvicorn, requests/s and latency.

Each server runs in its own ``uvicorn --factory e2e_app:app`` process on 127.0.0.1 (a free
port), all with the same settings (1 worker, ``--http h11 --loop asyncio``, no access log,
log level warning):

* ``bare``: a Starlette endpoint doing HMAC-SHA256 + ``json.loads`` of the body, answering 200
  (the floor: what any verifying webhook receiver must do);
* ``in-memory``: our ``create_app(WebhookDispatcher(...))`` with the in-memory inbox and a
  no-op handler run by its 4 in-process worker loops;
* ``PostgreSQL`` / ``Redis``: the same app, web only (``workers=0``), recording each delivery
  in a ``SqlInbox`` / ``RedisInbox`` before answering (when ``VENTROS_TEST_POSTGRES_URL`` /
  ``VENTROS_TEST_REDIS_URL`` is set; skipped with a message otherwise).

The load generator is a raw asyncio HTTP/1.1 client in this process: ``--connections``
keep-alive connections, pre-built signed requests (each a new Telegram update, so nothing is a
duplicate), the status line and ``Content-Length`` parsed. An ``httpx`` client would saturate
before the server does. Every server gets a warm-up, then the same ``--rounds`` rounds of
``--requests`` requests, the servers taking turns round by round, so a burst of load from
elsewhere on a shared machine does not land on one server only. Each round has a time limit.

    VENTROS_TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
    VENTROS_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/bench_e2e.py [--connections 16] [--requests 2500] [--rounds 3]

Reported per server: requests/s of its best round (and the range), p50 and p99 latency over all
its rounds, and its throughput as a ratio of the bare app's. Target: in-memory >= 0.9x.
Afterwards the durable inboxes are checked to hold exactly the deliveries sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import redis.asyncio as aioredis

from ventros_channels.inbox import Inbox
from ventros_channels.redis import RedisInbox
from ventros_channels.sql import SqlInbox, create_engine

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
TARGET = 0.9
WARM_UP = 300
ROUND_LIMIT = 120.0  # seconds


@dataclass
class Server:
    name: str
    env: dict[str, str]
    inbox: Inbox | None = None
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def start(server: Server) -> None:
    server.port = free_port()
    args = ["-m", "uvicorn", "--factory", "e2e_app:app", "--host", HOST]
    args += ["--port", str(server.port), "--workers", "1", "--http", "h11", "--loop", "asyncio"]
    args += ["--no-access-log", "--log-level", "warning"]
    env = {**os.environ, **server.env}
    server.proc = subprocess.Popen([sys.executable, *args], cwd=HERE, env=env)  # noqa: S603


async def wait_listening(server: Server, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        assert server.proc is not None
        if server.proc.poll() is not None:
            raise SystemExit(f"the {server.name} server exited with {server.proc.returncode}")
        try:
            _, writer = await asyncio.open_connection(HOST, server.port)
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the {server.name} server did not listen in time") from None
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return


def stop(server: Server) -> None:
    if server.proc is not None and server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


# ---------------------------------------------------------------- requests


def build_requests(path: str, secret: str, start: int, count: int) -> list[bytes]:
    """Signed Telegram updates ``start`` .. ``start + count - 1`` as raw HTTP/1.1 requests."""
    key = secret.encode()
    out = []
    for i in range(start, start + count):
        body = json.dumps(
            {
                "update_id": 100000 + i,
                "message": {
                    "message_id": 5000 + i,
                    "from": {"id": 123456789, "is_bot": False, "first_name": "Ana"},
                    "chat": {"id": 123456789 + i % 200, "type": "private", "first_name": "Ana"},
                    "date": 1767268800,
                    "text": "Hello, is anyone there? I have a question about my order.",
                },
            }
        ).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\n"
            f"X-Bench-Signature: {hmac.new(key, body, hashlib.sha256).hexdigest()}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


async def connection(port: int, requests: list[bytes], latencies: list[float]) -> int:
    """Send ``requests`` one after the other on one keep-alive connection; returns non-200s."""
    reader, writer = await asyncio.open_connection(HOST, port)
    errors = 0
    try:
        for request in requests:
            began = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) != b"\r\n":
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            errors += status != 200
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return errors


async def load(server: Server, requests: list[bytes], connections: int) -> float:
    """Requests/s of ``requests`` spread over ``connections`` connections; latencies kept."""
    latencies: list[float] = []
    slices = [requests[n::connections] for n in range(connections)]
    began = time.perf_counter()
    async with asyncio.timeout(ROUND_LIMIT):
        errors = await asyncio.gather(*(connection(server.port, s, latencies) for s in slices))
    elapsed = time.perf_counter() - began
    server.errors += sum(errors)
    server.latencies += latencies
    return len(requests) / elapsed


# ---------------------------------------------------------------- servers


@contextlib.asynccontextmanager
async def durable_servers() -> AsyncIterator[list[Server]]:
    """The PostgreSQL and Redis servers whose URL variables are set, their stores prepared
    beforehand and cleaned afterwards.
    """
    servers: list[Server] = []
    cleanups = []
    pg_url = os.environ.get("VENTROS_TEST_POSTGRES_URL")
    redis_url = os.environ.get("VENTROS_TEST_REDIS_URL")
    try:
        if pg_url:
            engine = create_engine(pg_url)
            schema = f"vcbench_e2e_{os.getpid()}_{secrets.token_hex(3)}"
            inbox = SqlInbox(engine, schema=schema)
            await inbox.create_schema()

            async def drop_schema() -> None:
                async with engine.begin() as conn:
                    await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                await engine.dispose()

            cleanups.append(drop_schema)
            env = {"VCB_APP": "sql", "VCB_DATABASE_URL": pg_url, "VCB_SCHEMA": schema}
            servers.append(Server("PostgreSQL", env, inbox))
        else:
            print("PostgreSQL: skipped, set VENTROS_TEST_POSTGRES_URL to measure it")
        if redis_url:
            client = aioredis.Redis.from_url(redis_url)
            prefix = f"vcbench-e2e-{os.getpid()}-{secrets.token_hex(3)}"

            async def delete_keys() -> None:
                keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
                for start in range(0, len(keys), 1000):
                    await client.delete(*keys[start : start + 1000])
                await client.aclose()

            cleanups.append(delete_keys)
            env = {"VCB_APP": "redis", "VCB_REDIS_URL": redis_url, "VCB_REDIS_PREFIX": prefix}
            servers.append(Server("Redis", env, RedisInbox(client, prefix=prefix)))
        else:
            print("Redis: skipped, set VENTROS_TEST_REDIS_URL to measure it")
        yield servers
    finally:
        for cleanup in cleanups:
            await cleanup()


@contextlib.contextmanager
def running(servers: list[Server], common: dict[str, str]) -> Iterator[None]:
    try:
        for server in servers:
            server.env.update(common)
            start(server)
        yield
    finally:
        for server in servers:
            stop(server)


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2500, help="per round and server")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    channel_id, secret = uuid4(), secrets.token_urlsafe(24)
    path = f"/webhooks/telegram/{channel_id}"
    common = {"VCB_CHANNEL_ID": str(channel_id), "VCB_SECRET": secret}
    warm_up = build_requests(path, secret, 0, WARM_UP)
    rounds = [
        build_requests(path, secret, WARM_UP + r * options.requests, options.requests)
        for r in range(options.rounds)
    ]
    began = time.perf_counter()
    async with durable_servers() as durable:
        servers = [Server("bare", {"VCB_APP": "bare"}), Server("in-memory", {"VCB_APP": "memory"})]
        servers += durable
        with running(servers, common):
            for server in servers:
                await wait_listening(server)
            for server in servers:
                await load(server, warm_up, options.connections)
                server.latencies.clear()
            for requests in rounds:
                for server in servers:
                    server.rates.append(await load(server, requests, options.connections))
        sent = WARM_UP + options.rounds * options.requests
        recorded = {s.name: (await s.inbox.stats()).ready for s in durable if s.inbox}
    print(
        f"python {sys.version.split()[0]}; uvicorn, 1 worker, h11, asyncio loop; "
        f"{options.connections} keep-alive connections; {options.rounds} rounds of "
        f"{options.requests:,} requests per server, servers taking turns\n"
    )
    head = f"{'server':12}{'req/s best':>11}{'(range)':>17}{'p50 ms':>9}{'p99 ms':>9}{'vs bare':>9}"
    print(head)
    print("-" * len(head))
    bare = max(servers[0].rates)
    for s in servers:
        best, ratio = max(s.rates), max(s.rates) / bare
        span = f"{min(s.rates):,.0f}-{best:,.0f}"
        flag = ""
        if s.name == "in-memory":
            flag = "  ok" if ratio >= TARGET else f"  (target >= {TARGET}x)"
        print(
            f"{s.name:12}{best:>11,.0f}{span:>17}{percentile(s.latencies, 50) * 1e3:>9.2f}"
            f"{percentile(s.latencies, 99) * 1e3:>9.2f}{ratio:>8.2f}x{flag}"
        )
        if s.errors:
            print(f"{'':12}{s.errors} answers were not 200")
    for name, count in recorded.items():
        verdict = "ok" if count == sent else "MISMATCH"
        print(f"{name} inbox holds {count:,} deliveries for {sent:,} sent ({verdict})")
    print(f"\ntotal run time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
