"""History imports started from the management API, run as tasks of the web process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from uuid import UUID

from ventros_channels.domain.channel import Channel
from ventros_channels.errors import CapabilityNotSupportedError, InvariantError
from ventros_channels.history import HistoryImporter, HistorySink, ImportOptions

__all__ = ["ImportRunner"]

logger = logging.getLogger(__name__)


class ImportRunner:
    """Starts, tracks and cancels history imports in this process.

    ``sink`` gives the destination of a channel's imported messages (the host's message
    store). A durable orchestrator (the Temporal contrib) is the better home for imports that
    must survive restarts; an import interrupted here resumes from its checkpoint when
    started again.
    """

    def __init__(self, importer: HistoryImporter, sink: Callable[[Channel], HistorySink]) -> None:
        self.importer = importer
        self.sink = sink
        self._tasks: dict[UUID, asyncio.Task[object]] = {}

    def running(self, channel_id: UUID) -> bool:
        task = self._tasks.get(channel_id)
        return task is not None and not task.done()

    async def start(self, channel: Channel, *, adapter_can: bool, options: ImportOptions) -> str:
        """Record the import on the channel, then run it in the background; returns its id."""
        if not adapter_can:
            raise CapabilityNotSupportedError(str(channel.channel_type), "history_import")
        if self.running(channel.id):
            raise InvariantError("import_in_progress", "a history import is already in progress")
        tenant = channel.tenant_id
        await self.importer.begin(channel.id, tenant_id=tenant, options=options)
        import_id = str(channel.id)
        run = self.importer.run(
            channel.id,
            tenant_id=tenant,
            sink=self.sink(channel),
            options=options,
            import_id=import_id,
        )
        task: asyncio.Task[object] = asyncio.create_task(run, name=f"history-import-{channel.id}")
        task.add_done_callback(lambda t: self._finished(channel.id, t))
        self._tasks[channel.id] = task
        return f"history-import-{import_id}"

    def _finished(self, channel_id: UUID, task: asyncio.Task[object]) -> None:
        if self._tasks.get(channel_id) is task:
            del self._tasks[channel_id]
        if not task.cancelled() and task.exception() is not None:
            logger.warning("history import of %s failed: %s", channel_id, task.exception())

    async def cancel(self, channel: Channel) -> None:
        """Stop the channel's import (here, if it runs here) and record it as failed."""
        imp = channel.history_import
        task = self._tasks.get(channel.id)
        if (imp is None or not imp.in_progress) and task is None:
            raise InvariantError("no_import_in_progress", "no history import is in progress")
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.importer.finish(
            channel.id,
            tenant_id=channel.tenant_id,
            chats=imp.chats if imp else 0,
            messages=imp.messages if imp else 0,
            skipped=imp.skipped if imp else 0,
            failure="cancelled",
        )

    async def aclose(self) -> None:
        """Cancel every import still running (at shutdown; each resumes when started again)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
