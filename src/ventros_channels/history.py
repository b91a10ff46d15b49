"""History import: resumable, idempotent, bounded in memory, with progress.

:class:`HistoryImporter` lists a channel's chats through its adapter, pages through each chat's
messages, and hands them to the host's :class:`HistorySink` in batches. After each batch the
sink acknowledged, the chat's cursor is saved through a :class:`CheckpointStore`; a restarted
import resumes from there. Every message carries its idempotency key, so a batch replayed after
a crash (written, but not yet checkpointed) is harmless for an idempotent sink.

Memory stays bounded by ``page_size x concurrency``: chats are listed page by page into a
bounded queue that ``concurrency`` workers drain; a page is written and dropped before the next
is fetched. Rate limits slow the import down (the platform's wait hint is honoured) instead of
failing it; a chat that keeps failing is skipped and reported with the reason.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

import attrs
import httpx

from ventros_channels import telemetry
from ventros_channels.adapters.base import Capability, ChatSummary, HistoryPage
from ventros_channels.adapters.registry import AdapterRegistry, default_registry
from ventros_channels.clock import Clock, SystemClock
from ventros_channels.domain.channel import Channel, RoutingContext
from ventros_channels.domain.types import HistoryImportState, ImportStrategy
from ventros_channels.errors import (
    AuthenticationError,
    CapabilityNotSupportedError,
    InvariantError,
    PermissionDeniedError,
    PlatformError,
    RateLimitedError,
)
from ventros_channels.messaging.inbound import InboundEvent, MessageEcho, MessageReceived
from ventros_channels.publisher import EventPublisher, InMemoryEventPublisher
from ventros_channels.repository import ChannelRepository

__all__ = [
    "ChatProgress",
    "CheckpointStore",
    "ChunkOutcome",
    "FileCheckpointStore",
    "HistoryImporter",
    "HistorySink",
    "ImportCheckpoint",
    "ImportOptions",
    "ImportProgress",
    "ImportReport",
    "InMemoryCheckpointStore",
    "InMemoryHistorySink",
    "JsonLinesHistorySink",
]

logger = logging.getLogger(__name__)


@runtime_checkable
class HistorySink(Protocol):
    """Where imported messages go. Must be idempotent on ``event.idempotency_key``."""

    async def write(self, context: RoutingContext, events: Sequence[InboundEvent]) -> None: ...


@attrs.define
class ChatProgress:
    """Where one chat's import stands."""

    cursor: str | None = None
    done: bool = False
    messages: int = 0
    failures: int = 0
    skipped_reason: str | None = None


@attrs.define
class ImportCheckpoint:
    """Resumable state of one import: the chat-listing cursor and every chat's progress."""

    listing_cursor: str | None = None
    listing_done: bool = False
    chats: dict[str, ChatProgress] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "listing_cursor": self.listing_cursor,
            "listing_done": self.listing_done,
            "chats": {k: attrs.asdict(v) for k, v in self.chats.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportCheckpoint:
        return cls(
            listing_cursor=data.get("listing_cursor"),
            listing_done=bool(data.get("listing_done")),
            chats={k: ChatProgress(**v) for k, v in data.get("chats", {}).items()},
        )


@runtime_checkable
class CheckpointStore(Protocol):
    """Durable home of :class:`ImportCheckpoint` objects, by import id."""

    async def load(self, import_id: str) -> ImportCheckpoint | None: ...

    async def save(self, import_id: str, checkpoint: ImportCheckpoint) -> None: ...


class InMemoryCheckpointStore:
    """Checkpoints in a dict (copies, so later changes are not saved by accident)."""

    def __init__(self) -> None:
        self.saved: dict[str, dict[str, Any]] = {}

    async def load(self, import_id: str) -> ImportCheckpoint | None:
        data = self.saved.get(import_id)
        return None if data is None else ImportCheckpoint.from_dict(json.loads(json.dumps(data)))

    async def save(self, import_id: str, checkpoint: ImportCheckpoint) -> None:
        self.saved[import_id] = json.loads(json.dumps(checkpoint.to_dict()))


class FileCheckpointStore:
    """Checkpoints as JSON files in a directory, replaced atomically on every save."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, import_id: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in import_id)
        return self.directory / f"{safe}.json"

    async def load(self, import_id: str) -> ImportCheckpoint | None:
        path = self._path(import_id)
        if not path.exists():
            return None
        return ImportCheckpoint.from_dict(json.loads(path.read_text()))

    async def save(self, import_id: str, checkpoint: ImportCheckpoint) -> None:
        path = self._path(import_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(checkpoint.to_dict()))
        tmp.replace(path)


class InMemoryHistorySink:
    """Keeps imported events, ignoring ones whose idempotency key it already has."""

    def __init__(self) -> None:
        self.events: dict[str, InboundEvent] = {}
        self.batches = 0
        self.replayed = 0

    async def write(self, context: RoutingContext, events: Sequence[InboundEvent]) -> None:
        self.batches += 1
        for event in events:
            if event.idempotency_key in self.events:
                self.replayed += 1
            else:
                self.events[event.idempotency_key] = event


class JsonLinesHistorySink:
    """Appends events as JSON lines to a file; idempotent across restarts (it reads the keys
    already in the file when opened).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.keys: set[str] = set()
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):  # the process died mid-line: drop the partial record
            self.path.write_bytes(complete)
        for line in complete.decode().splitlines():
            if line.strip():
                self.keys.add(json.loads(line)["idempotency_key"])

    async def write(self, context: RoutingContext, events: Sequence[InboundEvent]) -> None:
        fresh = [e for e in events if e.idempotency_key not in self.keys]
        if not fresh:
            return
        with self.path.open("a") as out:
            for event in fresh:
                record = event.to_json_dict()
                record.pop("raw", None)
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.keys.update(e.idempotency_key for e in fresh)


@attrs.frozen
class ImportOptions:
    """How to import. ``since``/``until`` bound message times; ``per_chat_limit`` caps each chat.

    ``strategy`` ``None`` uses the channel's configured strategy (``all`` for types without
    one); ``window`` is the reach of ``recent`` (default: the channel's configured window).
    """

    strategy: ImportStrategy | None = None
    window: timedelta | None = None
    since: datetime | None = None
    until: datetime | None = None
    per_chat_limit: int | None = None
    page_size: int = 100
    concurrency: int = 8
    max_chat_failures: int = 3
    max_rate_limit_waits: int = 20
    max_wait: float = 300.0


@attrs.frozen
class ImportProgress:
    """Reported after every acknowledged batch."""

    chats_seen: int
    chats_done: int
    chats_skipped: int
    messages: int
    elapsed: float
    listing_done: bool

    @property
    def rate(self) -> float:
        """Messages per second so far."""
        return self.messages / self.elapsed if self.elapsed > 0 else 0.0


@attrs.frozen
class ImportReport:
    """The outcome of an import run."""

    import_id: str
    state: HistoryImportState
    chats: int
    messages: int
    skipped_chats: dict[str, str]
    duration: float
    resumed: bool

    @property
    def skipped(self) -> int:
        return len(self.skipped_chats)


Sleep = Callable[[float], Awaitable[None]]


class HistoryImporter:
    """Runs history imports for channels whose adapter has ``history_import``."""

    def __init__(
        self,
        repository: ChannelRepository,
        *,
        http: httpx.AsyncClient,
        checkpoints: CheckpointStore | None = None,
        registry: AdapterRegistry | None = None,
        publisher: EventPublisher | None = None,
        clock: Clock | None = None,
        progress: Callable[[ImportProgress], None] | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.repository = repository
        self.http = http
        self.checkpoints = checkpoints or InMemoryCheckpointStore()
        self.registry = registry or default_registry()
        self.publisher = publisher or InMemoryEventPublisher()
        self.clock = clock or SystemClock()
        self.progress = progress
        self.sleep = sleep

    async def _commit(self, channel: Channel) -> None:
        events = channel.pending_events
        await self.repository.save(channel)
        channel.pull_events()
        if events:
            await self.publisher.publish(events)

    # ------------------------------------------------------------------ steps
    # The same import cut into steps, for durable orchestrators (the Temporal workflow).

    async def begin(
        self, channel_id: UUID, *, tenant_id: str, options: ImportOptions | None = None
    ) -> None:
        """Record the import as requested and running on the channel (idempotent)."""
        opts = options or ImportOptions()
        channel = await self.repository.get(channel_id, tenant_id=tenant_id)
        current = channel.history_import
        if current is None or not current.in_progress:
            channel.request_history_import(
                opts.strategy,
                since=opts.since,
                until=opts.until,
                per_chat_limit=opts.per_chat_limit,
                window=opts.window,
            )
        current = channel.history_import
        assert current is not None
        if current.state is HistoryImportState.REQUESTED:
            channel.start_history_import()
        await self._commit(channel)

    async def list_chats_page(
        self, channel_id: UUID, *, tenant_id: str, cursor: str | None = None
    ) -> HistoryPage[ChatSummary]:
        """One page of the channel's chats (rate limits waited out)."""
        channel = await self.repository.get(channel_id, tenant_id=tenant_id)
        adapter = self.registry.get(str(channel.channel_type))
        page: HistoryPage[ChatSummary] = await _waiting_out_rate_limits(
            self.sleep,
            ImportOptions(),
            lambda: adapter.list_chats(self.http, channel.config, cursor=cursor),
        )
        return page

    async def import_chats(
        self,
        channel_id: UUID,
        *,
        tenant_id: str,
        chat_ids: Sequence[str],
        sink: HistorySink,
        options: ImportOptions | None = None,
        import_id: str,
    ) -> ChunkOutcome:
        """Import these chats completely; resumable through ``import_id``'s checkpoint."""
        opts = options or ImportOptions()
        channel = await self.repository.get(channel_id, tenant_id=tenant_id)
        adapter = self.registry.get(str(channel.channel_type))
        checkpoint = await self.checkpoints.load(import_id) or ImportCheckpoint(listing_done=True)
        for chat_id in chat_ids:
            checkpoint.chats.setdefault(chat_id, ChatProgress())
        checkpoint.listing_done = True
        since = opts.since or (channel.history_import.since if channel.history_import else None)
        run = _Run(
            importer=self,
            adapter=adapter,
            channel=channel,
            sink=sink,
            opts=opts,
            since=since,
            checkpoint=checkpoint,
            import_id=import_id,
        )
        await run.execute()
        return ChunkOutcome(run.chats_done, run.messages, dict(run.skipped))

    async def finish(
        self,
        channel_id: UUID,
        *,
        tenant_id: str,
        chats: int,
        messages: int,
        skipped: int,
        failure: str | None = None,
    ) -> None:
        """Record the import's outcome on the channel."""
        channel = await self.repository.get(channel_id, tenant_id=tenant_id)
        imp = channel.history_import
        if imp is None or not imp.in_progress:
            return  # already finished (a retried activity)
        if failure is None:
            channel.complete_history_import(chats=chats, messages=messages, skipped=skipped)
        else:
            channel.fail_history_import(failure, chats=chats, messages=messages, skipped=skipped)
        await self._commit(channel)

    async def run(
        self,
        channel_id: UUID,
        *,
        tenant_id: str,
        sink: HistorySink,
        options: ImportOptions | None = None,
        import_id: str | None = None,
    ) -> ImportReport:
        """Import (or resume) the channel's history into ``sink``.

        Refused with :class:`InvariantError` when the strategy (given, or the channel's) is
        ``none`` (rule ``nothing_to_import``) or the channel was never active
        (``never_activated``); nothing is asked of the platform then.
        """
        opts = options or ImportOptions()
        channel = await self.repository.get(channel_id, tenant_id=tenant_id)
        adapter = self.registry.get(str(channel.channel_type))
        if not adapter.supports(Capability.HISTORY_IMPORT):
            raise CapabilityNotSupportedError(str(channel.channel_type), "history_import")
        import_id = import_id or f"{channel.id}"
        checkpoint = await self.checkpoints.load(import_id)
        last = channel.history_import
        if last is not None and last.state is HistoryImportState.COMPLETED:
            checkpoint = None  # that import finished: this is a new one, not a resume
        resumed = checkpoint is not None
        strategy = opts.strategy or channel.config.import_defaults()[0]
        if strategy is ImportStrategy.NONE:
            raise InvariantError(
                "nothing_to_import", f"channel {channel.id}: strategy 'none' imports nothing"
            )
        await self.begin(channel_id, tenant_id=tenant_id, options=opts)
        channel = await self.repository.get(channel_id, tenant_id=tenant_id)
        assert channel.history_import is not None
        run = _Run(
            importer=self,
            adapter=adapter,
            channel=channel,
            sink=sink,
            opts=opts,
            since=opts.since or channel.history_import.since,
            checkpoint=checkpoint or ImportCheckpoint(),
            import_id=import_id,
        )
        started = time.monotonic()
        try:
            await run.execute()
        except (AuthenticationError, PermissionDeniedError) as exc:
            await self.finish(
                channel_id,
                tenant_id=tenant_id,
                chats=run.chats_done,
                messages=run.messages,
                skipped=len(run.skipped),
                failure=str(exc),
            )
            raise
        await self.finish(
            channel_id,
            tenant_id=tenant_id,
            chats=run.chats_done,
            messages=run.messages,
            skipped=len(run.skipped),
        )
        return ImportReport(
            import_id=import_id,
            state=HistoryImportState.COMPLETED,
            chats=run.chats_done,
            messages=run.messages,
            skipped_chats=dict(run.skipped),
            duration=time.monotonic() - started,
            resumed=resumed,
        )


@attrs.frozen
class ChunkOutcome:
    """What :meth:`HistoryImporter.import_chats` did for a group of chats."""

    chats: int
    messages: int
    skipped_chats: dict[str, str]


async def _waiting_out_rate_limits(
    sleep: Sleep, opts: ImportOptions, call: Callable[[], Awaitable[Any]], what: str = "a call"
) -> Any:
    waits = 0
    while True:
        try:
            return await call()
        except RateLimitedError as exc:
            waits += 1
            if waits > opts.max_rate_limit_waits:
                raise
            delay = min(opts.max_wait, exc.retry_after or 2.0 * waits)
            logger.info("rate limited during %s; waiting %.1f s", what, delay)
            await sleep(delay)


class _Run:
    """One execution of an import; holds the counters and the bounded chat queue."""

    def __init__(
        self,
        *,
        importer: HistoryImporter,
        adapter: Any,
        channel: Channel,
        sink: HistorySink,
        opts: ImportOptions,
        since: datetime | None,
        checkpoint: ImportCheckpoint,
        import_id: str,
    ) -> None:
        self.importer = importer
        self.adapter = adapter
        self.config = channel.config
        self.context = channel.routing_context()
        self.sink = sink
        self.opts = opts
        self.since = since
        self.checkpoint = checkpoint
        self.import_id = import_id
        self.started = time.monotonic()
        self.messages = sum(c.messages for c in checkpoint.chats.values())
        self.chats_done = sum(
            1 for c in checkpoint.chats.values() if c.done and not c.skipped_reason
        )
        self.skipped: dict[str, str] = {
            k: c.skipped_reason for k, c in checkpoint.chats.items() if c.skipped_reason
        }
        self._lock = asyncio.Lock()

    async def execute(self) -> None:
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=self.opts.concurrency * 2)
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.opts.concurrency)]
        try:
            for chat_id, progress in list(self.checkpoint.chats.items()):
                if not progress.done:  # resume chats that were in flight
                    await queue.put(chat_id)
            await self._list_chats(queue)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise

    async def _call(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """A platform call that waits out rate limits instead of failing."""
        return await _waiting_out_rate_limits(self.importer.sleep, self.opts, call, what)

    async def _list_chats(self, queue: asyncio.Queue[str | None]) -> None:
        while not self.checkpoint.listing_done:
            page = await self._call(
                "chat listing",
                lambda: self.adapter.list_chats(
                    self.importer.http, self.config, cursor=self.checkpoint.listing_cursor
                ),
            )
            fresh: list[ChatSummary] = []
            async with self._lock:
                for chat in page.items:
                    if chat.chat_id not in self.checkpoint.chats:
                        self.checkpoint.chats[chat.chat_id] = ChatProgress()
                        fresh.append(chat)
                self.checkpoint.listing_cursor = page.next_cursor
                self.checkpoint.listing_done = page.next_cursor is None
                await self._save()
            for chat in fresh:
                await queue.put(chat.chat_id)

    async def _worker(self, queue: asyncio.Queue[str | None]) -> None:
        while True:
            chat_id = await queue.get()
            if chat_id is None:
                return
            await self._import_chat(chat_id)

    async def _import_chat(self, chat_id: str) -> None:
        progress = self.checkpoint.chats[chat_id]
        limit = self.opts.per_chat_limit
        while not progress.done:
            if limit is not None and progress.messages >= limit:
                async with self._lock:
                    progress.done = True
                    self.chats_done += 1
                    await self._save()
                break
            size = (
                self.opts.page_size
                if limit is None
                else min(self.opts.page_size, limit - progress.messages)
            )
            try:
                page = await self._call(
                    f"chat {chat_id}", functools.partial(self._fetch, chat_id, progress, size)
                )
            except (AuthenticationError, PermissionDeniedError):
                raise
            except PlatformError as exc:
                progress.failures += 1
                if progress.failures >= self.opts.max_chat_failures:
                    progress.done = True
                    progress.skipped_reason = f"{type(exc).__name__}: {exc}"[:300]
                    self.skipped[chat_id] = progress.skipped_reason
                    async with self._lock:
                        await self._save()
                    return
                await self.importer.sleep(min(self.opts.max_wait, 0.5 * 2**progress.failures))
                continue
            batch, reached_start = self._select(page.items)
            if limit is not None:
                batch = batch[: max(0, limit - progress.messages)]
            if batch:
                with telemetry.span(telemetry.HISTORY_BATCH, self._labels(len(batch))):
                    await self.sink.write(self.context, batch)
                telemetry.record_history_batch(str(self.context.channel_type), len(batch))
            async with self._lock:
                progress.messages += len(batch)
                self.messages += len(batch)
                progress.cursor = page.next_cursor
                progress.failures = 0
                if page.next_cursor is None or reached_start or not page.items:
                    progress.done = True
                    self.chats_done += 1
                await self._save()
            self._report()

    async def _fetch(self, chat_id: str, progress: ChatProgress, size: int) -> Any:
        with telemetry.span(telemetry.HISTORY_FETCH, self._labels(size)):
            return await self.adapter.fetch_history(
                self.importer.http,
                self.config,
                chat_id,
                cursor=progress.cursor,
                since=self.since,
                limit=size,
            )

    def _labels(self, messages: int) -> dict[str, str | int]:
        """Span attributes of a history page: no chat id (it may be a phone number)."""
        return {
            "ventros.platform": str(self.context.channel_type),
            "ventros.channel_id": str(self.context.channel_id),
            "ventros.import_id": self.import_id,
            "ventros.messages": messages,
        }

    def _select(self, items: Sequence[InboundEvent]) -> tuple[list[InboundEvent], bool]:
        """Messages inside the time range; True once the page went past ``since``."""
        out: list[InboundEvent] = []
        reached_start = False
        since, until = self.since, self.opts.until
        for event in items:
            if not isinstance(event, MessageReceived | MessageEcho):
                continue
            if since is not None and event.timestamp < since:
                reached_start = True  # pages are newest first: the rest is older still
                continue
            if until is not None and event.timestamp >= until:
                continue
            out.append(event)
        return out, reached_start

    async def _save(self) -> None:
        await self.importer.checkpoints.save(self.import_id, self.checkpoint)

    def _report(self) -> None:
        if self.importer.progress is None:
            return
        chats = self.checkpoint.chats
        self.importer.progress(
            ImportProgress(
                chats_seen=len(chats),
                chats_done=self.chats_done,
                chats_skipped=len(self.skipped),
                messages=self.messages,
                elapsed=time.monotonic() - self.started,
                listing_done=self.checkpoint.listing_done,
            )
        )
