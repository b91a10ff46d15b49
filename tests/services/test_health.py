"""Health report, /healthz and /readyz, ``ventros-channels health``, and draining on shutdown."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from click.testing import CliRunner

from ventros_channels import Channel, InMemoryChannelCache, RoutingContext
from ventros_channels.adapters import AdapterRegistry
from ventros_channels.cli import cli
from ventros_channels.errors import FieldError, InvalidInputError
from ventros_channels.health import check_health
from ventros_channels.inbox import InboxStats, InMemoryInbox
from ventros_channels.integrations.asgi import create_app
from ventros_channels.messaging import InboundEvent
from ventros_channels.publisher import InMemoryEventPublisher
from ventros_channels.services import ChannelService, IntakeSettings, WebhookDispatcher, Worker
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.contract.inbox import make_delivery
from ventros_channels.webhooks import WebhookRequest

from .conftest import TENANT, delivery

Signer = Callable[..., WebhookRequest]
PASSWORD = "hunter2-db-password"


class BrokenInbox(InMemoryInbox):
    """An inbox whose store is down (its error names a URL with a password) or hangs."""

    def __init__(self, *, hang: bool = False) -> None:
        super().__init__()
        self.hang = hang

    async def stats(self) -> InboxStats:
        if self.hang:
            await asyncio.sleep(3600)
        raise ConnectionError(f"cannot reach postgresql://app:{PASSWORD}@db/app")


async def _noop(event: InboundEvent, context: RoutingContext) -> None:
    return None


async def test_a_healthy_setup_reports_every_component_and_the_inbox_stats(
    repo: InMemoryChannelRepository,
) -> None:
    inbox = InMemoryInbox()
    await inbox.accept([make_delivery(uuid4(), f"k{n}", chat=f"c{n}") for n in range(2)])
    gate = Gate()
    worker = Worker(inbox, gate, concurrency=1, poll_interval=3600)
    await worker.start()
    await asyncio.wait_for(gate.entered.wait(), 5)  # one held by the worker, one waiting
    report = await check_health(
        repository=repo, inbox=inbox, cache=InMemoryChannelCache(), workers=[worker]
    )
    await worker.stop(grace=0)
    assert report.ok
    names = [check.name for check in report.checks]
    assert names == ["repository", "inbox", "cache", f"worker:{worker.name}"]
    inbox_check = report.checks[1]
    assert (inbox_check.details["ready"], inbox_check.details["in_flight"]) == (1, 1)
    assert inbox_check.details["dead"] == 0
    assert report.to_dict()["status"] == "ok"
    json.dumps(report.to_dict())  # JSON-ready


async def test_a_failing_or_hanging_store_fails_within_the_bound_without_its_message(
    repo: InMemoryChannelRepository,
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    report = await check_health(
        repository=repo, inbox=BrokenInbox(hang=True), cache=InMemoryChannelCache(), within=0.2
    )
    assert loop.time() - started < 2
    assert not report.ok
    failed = {c.name: c.error for c in report.checks if not c.ok}
    assert failed == {"inbox": "TimeoutError"}

    report = await check_health(inbox=BrokenInbox())
    assert [(c.ok, c.error) for c in report.checks] == [(False, "ConnectionError")]
    assert PASSWORD not in json.dumps(report.to_dict())


async def test_a_stopped_or_unhealthy_worker_fails_the_report() -> None:
    worker = Worker(InMemoryInbox(), _noop)
    report = await check_health(workers=[worker])
    assert not report.ok
    assert report.checks[0].error == "NotRunning"


async def test_platform_checks_are_reported_but_do_not_fail_the_report(
    repo: InMemoryChannelRepository,
    service: ChannelService,
    active_channel: Channel,
    registry: AdapterRegistry,
    clock: FixedClock,
) -> None:
    report = await check_health(
        repository=repo, service=service, channels=[(active_channel.id, TENANT)]
    )
    (channel_check,) = report.channels
    assert channel_check.ok
    assert channel_check.details == {"platform": "webchat", "status": "active"}

    down = ChannelService(
        repo,
        http=httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(401))),
        registry=registry,
        publisher=InMemoryEventPublisher(),
        clock=clock,
    )
    report = await check_health(
        repository=repo, service=down, channels=[(active_channel.id, TENANT)]
    )
    assert report.ok, "a platform's outage is not the host's"
    assert not report.channels[0].ok
    assert report.channels[0].error
    stored = await repo.get(active_channel.id, tenant_id=TENANT)
    assert stored.status.value == "active", "the check changes nothing on the channel"

    with pytest.raises(InvalidInputError) as raised:
        await check_health(channels=[(active_channel.id, TENANT)])
    assert raised.value.errors == (FieldError("service", "channel checks need the ChannelService"),)


class Gate:
    """A handler that waits until released, to catch a shutdown mid-delivery."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.finished: list[str] = []

    async def __call__(self, event: InboundEvent, context: RoutingContext) -> None:
        self.entered.set()
        await self.release.wait()
        self.finished.append(event.idempotency_key)


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_readyz_and_healthz_follow_the_dispatcher_and_its_stores(
    repo: InMemoryChannelRepository, registry: AdapterRegistry, clock: FixedClock
) -> None:
    dispatcher = WebhookDispatcher(repo, _noop, registry=registry, clock=clock, workers=1)
    app = create_app(dispatcher, health=True)
    async with _client(app) as client:
        before = await client.get("/readyz")
        assert before.status_code == 503
        assert before.json()["status"] == "stopped"
        async with app.router.lifespan_context(app):
            live = await client.get("/healthz")
            ready = await client.get("/readyz")
        assert (live.status_code, live.json()) == (200, {"status": "ok"})
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "ok"
        assert body["accepting"] is True
        assert {c["name"] for c in body["checks"]} >= {"repository", "inbox"}

    broken = WebhookDispatcher(repo, _noop, registry=registry, inbox=BrokenInbox(), workers=1)
    app = create_app(broken, health=True)
    async with _client(app) as client, app.router.lifespan_context(app):
        failing = await client.get("/readyz")
    assert failing.status_code == 503
    assert failing.json()["status"] == "failing"
    assert PASSWORD not in failing.text


async def test_the_web_apps_lifespan_drains_deliveries_held_at_shutdown(
    repo: InMemoryChannelRepository,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
) -> None:
    gate = Gate()
    inbox = InMemoryInbox(clock=clock)
    dispatcher = WebhookDispatcher(
        repo,
        gate,
        inbox=inbox,
        registry=registry,
        clock=clock,
        workers=1,
        settings=IntakeSettings(cache_ttl=timedelta(0)),
    )
    app = create_app(dispatcher, health=True)
    path = f"/webhooks/webchat/{active_channel.id}"
    async with _client(app) as client:
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        request = signed(delivery("m1"))
        answer = await client.post(path, content=request.body, headers=dict(request.headers))
        assert answer.status_code == 200
        await asyncio.wait_for(gate.entered.wait(), 5)

        shutdown = asyncio.create_task(lifespan.__aexit__(None, None, None))
        await asyncio.sleep(0.05)
        assert not shutdown.done(), "shutdown waits for the delivery being handled"
        late = signed(delivery("m2"))
        refused = await client.post(path, content=late.body, headers=dict(late.headers))
        assert refused.status_code == 503, "new deliveries are refused: the platform retries"
        assert (await client.get("/readyz")).status_code == 503

        gate.release.set()
        await asyncio.wait_for(shutdown, 5)
    assert gate.finished == ["webchat:site-42:msg:m1"]
    stats = await inbox.stats()
    assert (stats.backlog, stats.dead) == (0, 0)


APP = """
from ventros_channels import InMemoryInbox, WebhookDispatcher
from ventros_channels.testing import InMemoryChannelRepository


class DownInbox(InMemoryInbox):
    async def stats(self):
        raise ConnectionError("postgresql://app:secret@db/app unreachable")


async def handler(event, context):
    pass


def healthy():
    return WebhookDispatcher(InMemoryChannelRepository(), handler, inbox=InMemoryInbox(), workers=0)


def failing():
    return WebhookDispatcher(InMemoryChannelRepository(), handler, inbox=DownInbox(), workers=0)
"""


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"health_app_{uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(APP))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_the_health_command_exits_by_the_report(app_module: str) -> None:
    runner = CliRunner()
    good = runner.invoke(cli, ["health", "--app", f"{app_module}:healthy"])
    assert good.exit_code == 0, good.output
    report = json.loads(good.output)
    assert report["status"] == "ok"
    assert [c["name"] for c in report["checks"]] == ["repository", "inbox"]

    bad = runner.invoke(cli, ["health", "--app", f"{app_module}:failing", "--within", "1"])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["checks"][1]["error"] == "ConnectionError"
    assert "secret" not in bad.output

    wrong = runner.invoke(cli, ["health", "--app", f"{app_module}:nothing"])
    assert wrong.exit_code == 2
