"""The deterministic half: workflow code and its data (no IO, no library imports)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

__all__ = [
    "NON_RETRYABLE",
    "ChunkInput",
    "ChunkResult",
    "FinishInput",
    "HistoryImportInput",
    "HistoryImportSummary",
    "HistoryImportWorkflow",
    "ListInput",
    "ListResult",
]

NON_RETRYABLE = [
    "AuthenticationError",
    "PermissionDeniedError",
    "ChannelConfigError",
    "CapabilityNotSupportedError",
    "ChannelNotFoundError",
    "InvariantError",
]
"""Error types that a retry cannot fix."""


@dataclass
class HistoryImportInput:
    """What to import. ``listing_cursor`` and the totals carry over continue-as-new."""

    channel_id: str
    tenant_id: str
    import_id: str
    strategy: str = "all"
    since: str | None = None
    per_chat_limit: int | None = None
    page_size: int = 100
    chats_per_activity: int = 20
    parallel_activities: int = 4
    pages_per_run: int = 20
    heartbeat_seconds: int = 120
    listing_cursor: str | None = None
    started: bool = False
    chats: int = 0
    messages: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class ListInput:
    channel_id: str
    tenant_id: str
    cursor: str | None


@dataclass
class ListResult:
    chat_ids: list[str]
    next_cursor: str | None


@dataclass
class ChunkInput:
    channel_id: str
    tenant_id: str
    import_id: str
    chat_ids: list[str]
    strategy: str
    since: str | None
    per_chat_limit: int | None
    page_size: int


@dataclass
class ChunkResult:
    chats: int
    messages: int
    skipped: dict[str, str]


@dataclass
class FinishInput:
    channel_id: str
    tenant_id: str
    chats: int
    messages: int
    skipped: int


@dataclass
class HistoryImportSummary:
    chats: int
    messages: int
    skipped: dict[str, str]


_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
    non_retryable_error_types=NON_RETRYABLE,
)


@workflow.defn(name="VentrosHistoryImport")
class HistoryImportWorkflow:
    """Imports one channel's history through the activities of
    :class:`~ventros_channels.contrib.temporal.HistoryImportActivities`.
    """

    @workflow.run
    async def run(self, params: HistoryImportInput) -> HistoryImportSummary:
        if not params.started:
            await workflow.execute_activity(
                "ventros.history.begin",
                params,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=_RETRY,
            )
            params = replace(params, started=True)
        cursor = params.listing_cursor
        totals = ChunkResult(params.chats, params.messages, dict(params.skipped))
        for _ in range(params.pages_per_run):
            page: ListResult = await workflow.execute_activity(
                "ventros.history.list_chats",
                ListInput(params.channel_id, params.tenant_id, cursor),
                result_type=ListResult,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=_RETRY,
            )
            size = params.chats_per_activity
            chunks = [page.chat_ids[i : i + size] for i in range(0, len(page.chat_ids), size)]
            for start in range(0, len(chunks), params.parallel_activities):
                group = chunks[start : start + params.parallel_activities]
                results = await asyncio.gather(
                    *(
                        workflow.execute_activity(
                            "ventros.history.import_chats",
                            ChunkInput(
                                params.channel_id,
                                params.tenant_id,
                                f"{params.import_id}:{chunk[0]}:{len(chunk)}",
                                chunk,
                                params.strategy,
                                params.since,
                                params.per_chat_limit,
                                params.page_size,
                            ),
                            result_type=ChunkResult,
                            start_to_close_timeout=timedelta(hours=1),
                            heartbeat_timeout=timedelta(seconds=params.heartbeat_seconds),
                            retry_policy=_RETRY,
                        )
                        for chunk in group
                    )
                )
                for result in results:
                    totals.chats += result.chats
                    totals.messages += result.messages
                    totals.skipped.update(result.skipped)
            cursor = page.next_cursor
            if cursor is None:
                await workflow.execute_activity(
                    "ventros.history.finish",
                    FinishInput(
                        params.channel_id,
                        params.tenant_id,
                        totals.chats,
                        totals.messages,
                        len(totals.skipped),
                    ),
                    start_to_close_timeout=timedelta(minutes=1),
                    retry_policy=_RETRY,
                )
                return HistoryImportSummary(totals.chats, totals.messages, totals.skipped)
        workflow.continue_as_new(
            replace(
                params,
                listing_cursor=cursor,
                chats=totals.chats,
                messages=totals.messages,
                skipped=totals.skipped,
            )
        )
