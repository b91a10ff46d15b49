"""The IO half: activities over a :class:`~ventros_channels.history.HistoryImporter`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from ventros_channels.contrib.temporal.workflow import (
    ChunkInput,
    ChunkResult,
    FinishInput,
    HistoryImportInput,
    HistoryImportWorkflow,
    ListInput,
    ListResult,
)
from ventros_channels.domain.channel import RoutingContext
from ventros_channels.domain.types import ImportStrategy
from ventros_channels.history import HistoryImporter, HistorySink, ImportOptions
from ventros_channels.messaging.inbound import InboundEvent

__all__ = ["HistoryImportActivities", "create_worker"]


def _options(
    strategy: str, since: str | None, per_chat: int | None, page: int = 100
) -> ImportOptions:
    return ImportOptions(
        strategy=ImportStrategy(strategy),
        since=datetime.fromisoformat(since) if since else None,
        per_chat_limit=per_chat,
        page_size=page,
    )


class _HeartbeatingSink:
    """Heartbeats after every acknowledged batch, so a dead worker is noticed quickly."""

    def __init__(self, sink: HistorySink) -> None:
        self.sink = sink

    async def write(self, context: RoutingContext, events: Sequence[InboundEvent]) -> None:
        await self.sink.write(context, events)
        activity.heartbeat(len(events))


class HistoryImportActivities:
    """The activities the workflow calls, bound to the host's importer and sink."""

    def __init__(self, importer: HistoryImporter, sink: HistorySink) -> None:
        self.importer = importer
        self.sink = sink

    @activity.defn(name="ventros.history.begin")
    async def begin(self, params: HistoryImportInput) -> None:
        await self.importer.begin(
            UUID(params.channel_id),
            tenant_id=params.tenant_id,
            options=_options(params.strategy, params.since, params.per_chat_limit),
        )

    @activity.defn(name="ventros.history.list_chats")
    async def list_chats(self, params: ListInput) -> ListResult:
        page = await self.importer.list_chats_page(
            UUID(params.channel_id), tenant_id=params.tenant_id, cursor=params.cursor
        )
        return ListResult([c.chat_id for c in page.items], page.next_cursor)

    @activity.defn(name="ventros.history.import_chats")
    async def import_chats(self, params: ChunkInput) -> ChunkResult:
        outcome = await self.importer.import_chats(
            UUID(params.channel_id),
            tenant_id=params.tenant_id,
            chat_ids=params.chat_ids,
            sink=_HeartbeatingSink(self.sink),
            options=_options(
                params.strategy, params.since, params.per_chat_limit, params.page_size
            ),
            import_id=params.import_id,
        )
        return ChunkResult(outcome.chats, outcome.messages, outcome.skipped_chats)

    @activity.defn(name="ventros.history.finish")
    async def finish(self, params: FinishInput) -> None:
        await self.importer.finish(
            UUID(params.channel_id),
            tenant_id=params.tenant_id,
            chats=params.chats,
            messages=params.messages,
            skipped=params.skipped,
        )

    def all(self) -> list[Any]:
        """Every activity, for ``Worker(activities=...)``."""
        return [self.begin, self.list_chats, self.import_chats, self.finish]


def create_worker(
    client: Client, task_queue: str, activities: HistoryImportActivities, **options: Any
) -> Worker:
    """A worker running the history workflow and its activities."""
    runner = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("ventros_channels")
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[HistoryImportWorkflow],
        activities=activities.all(),
        workflow_runner=runner,
        **options,
    )
