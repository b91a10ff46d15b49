"""The engine behind ``ventros-channels import-history`` (kept apart from the click layer)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import httpx

from ventros_channels.domain.channel import Channel
from ventros_channels.domain.types import ImportStrategy
from ventros_channels.history import (
    FileCheckpointStore,
    HistoryImporter,
    ImportOptions,
    ImportProgress,
    ImportReport,
    JsonLinesHistorySink,
)
from ventros_channels.testing.fakes import FakePlatforms, SyntheticHistory
from ventros_channels.testing.memory import InMemoryChannelRepository

__all__ = ["previously_imported", "run_import"]

_CLI_PROJECT = UUID("00000000-0000-4000-8000-00000000c011")


def _import_id(spec: dict[str, Any], fake: str | None) -> str:
    canonical = json.dumps({"spec": spec, "fake": fake}, sort_keys=True)
    return "cli-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


async def previously_imported(spec: dict[str, Any], fake: str | None, checkpoints: Path) -> int:
    """Messages the checkpoint of this import already counts (0 for a fresh import): a
    re-run's rate and totals are about what it adds, not what earlier runs did."""
    found = await FileCheckpointStore(checkpoints).load(_import_id(spec, fake))
    return sum(chat.messages for chat in found.chats.values()) if found else 0


def _net(progress: Callable[[ImportProgress], None], earlier: int) -> Any:
    def report(p: ImportProgress) -> None:
        progress(attrs.evolve(p, messages=max(0, p.messages - earlier)))

    return report


async def run_import(
    spec: dict[str, Any],
    *,
    output: Path,
    checkpoints: Path,
    strategy: str,
    since_days: int | None,
    per_chat: int | None,
    concurrency: int,
    fake: str | None,
    fake_latency: float,
    progress: bool,
) -> ImportReport:
    """Import the history of the channel described by ``spec`` into ``output``."""
    config = dict(spec["config"])
    fakes: FakePlatforms | None = None
    if fake is not None:
        chats, _, per = fake.lower().partition("x")
        fakes = FakePlatforms(waha_latency=fake_latency)
        fakes.waha.history = SyntheticHistory(int(chats), int(per))
        config = fakes.config(str(spec["channel_type"]))
    repo = InMemoryChannelRepository()
    channel = Channel.create(
        tenant_id="cli",
        project_id=_CLI_PROJECT,
        name=str(spec.get("name") or "imported channel"),
        channel_type=str(spec["channel_type"]),
        config=config,
    )
    channel.configure_webhook(url="https://localhost.invalid/unused")
    channel.activate()
    await repo.save(channel)
    since = datetime.now(UTC) - timedelta(days=since_days) if since_days else None
    options = ImportOptions(
        strategy=ImportStrategy(strategy),
        since=since,
        per_chat_limit=per_chat,
        concurrency=concurrency,
    )
    earlier = await previously_imported(spec, fake, checkpoints)
    http = fakes.client() if fakes is not None else httpx.AsyncClient(timeout=30)
    sink = JsonLinesHistorySink(output)
    bar = _Progress() if progress else None
    async with http:
        importer = HistoryImporter(
            repo,
            http=http,
            checkpoints=FileCheckpointStore(checkpoints),
            progress=_net(bar.update if bar is not None else _print_progress, earlier),
        )
        try:
            return await importer.run(
                channel.id,
                tenant_id="cli",
                sink=sink,
                options=options,
                import_id=_import_id(spec, fake),
            )
        finally:
            if bar is not None:
                bar.close()


def _print_progress(p: ImportProgress) -> None:
    if p.chats_done % 10 == 0:
        print(f"chats {p.chats_done}/{p.chats_seen} messages {p.messages} ({p.rate:.0f}/s)")


class _Progress:
    """A rich progress bar over chats, with messages and rate in the description."""

    def __init__(self) -> None:
        from rich.progress import (  # noqa: PLC0415 - the cli extra installs rich
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("chats  {task.fields[messages]:,} messages  {task.fields[rate]:,.0f}/s"),
            TimeElapsedColumn(),
        )
        self.task = self.progress.add_task("import", total=None, messages=0, rate=0.0)
        self.progress.start()

    def update(self, p: ImportProgress) -> None:
        self.progress.update(
            self.task,
            completed=p.chats_done + p.chats_skipped,
            total=p.chats_seen if p.listing_done else None,
            messages=p.messages,
            rate=p.rate,
        )

    def close(self) -> None:
        self.progress.stop()
