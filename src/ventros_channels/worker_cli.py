"""What ``ventros-channels worker`` and ``ventros-channels dead-letters`` run.

Both take ``--app module:attribute``: the attribute is a :class:`WebhookDispatcher` or a
:class:`Worker`, or a callable (sync or async, no arguments) returning one, so the web
process and the worker processes can share one factory.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from ventros_channels.inbox import DeadLetter, Inbox
from ventros_channels.services.dispatcher import WebhookDispatcher
from ventros_channels.services.worker import Worker

__all__ = [
    "AppReferenceError",
    "dead_letter_record",
    "find_letters",
    "load_object",
    "load_target",
    "run_worker",
]

logger = logging.getLogger("ventros_channels.worker")


class AppReferenceError(Exception):
    """``--app`` does not name a dispatcher, a worker or a factory of one."""


async def load_object(reference: str) -> Any:
    """Import ``module:attribute``; a class is returned as is, another callable is called
    (and awaited when it returns an awaitable).
    """
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise AppReferenceError(f"--app must look like 'module:attribute', got {reference!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")  # like uvicorn: modules of the current directory
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise AppReferenceError(f"cannot load {reference!r}: {exc}") from exc
    if callable(target) and not isinstance(target, type) and not hasattr(target, "handle"):
        target = target()
        if inspect.isawaitable(target):
            target = await target
    return target


async def load_target(reference: str) -> WebhookDispatcher | Worker:
    """Import ``module:attribute`` and, if it is a factory, call it."""
    target = await load_object(reference)
    if not isinstance(target, WebhookDispatcher | Worker):
        raise AppReferenceError(
            f"{reference!r} gave {type(target).__name__}, not a WebhookDispatcher or a Worker"
        )
    return target


def inbox_of(target: WebhookDispatcher | Worker) -> Inbox:
    return target.inbox


def _worker(target: WebhookDispatcher | Worker, concurrency: int | None) -> Worker:
    if isinstance(target, Worker):
        if concurrency is not None:
            target.concurrency = concurrency
        return target
    if target.handler is None:
        raise AppReferenceError("the dispatcher has no handler: give it the host's handler")
    return target.make_worker(target.handler, concurrency=concurrency or 4)


async def run_worker(
    reference: str, *, concurrency: int | None = None, grace: float = 30.0
) -> None:
    """Run a worker until SIGTERM or SIGINT, then let it finish what it holds."""
    worker = _worker(await load_target(reference), concurrency)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(sig, stop.set)
    await worker.start()
    logger.warning("worker %s started with %d loops", worker.name, worker.concurrency)
    try:
        await stop.wait()
    finally:
        logger.warning("worker %s stopping (up to %.0f s to finish)", worker.name, grace)
        await worker.stop(grace=grace)
        logger.warning("worker %s stopped: %s", worker.name, worker.stats)


def dead_letter_record(letter: DeadLetter, *, full: bool = False) -> dict[str, Any]:
    """A dead letter as JSON-ready data (the event's raw payload only with ``full``)."""
    event = letter.delivery.event
    record: dict[str, Any] = {
        "id": letter.id,
        "channel_id": str(letter.delivery.channel_id),
        "tenant_id": letter.delivery.context.tenant_id,
        "kind": event.kind,
        "chat_id": event.chat_id,
        "idempotency_key": letter.delivery.key,
        "attempts": letter.attempts,
        "error": letter.error,
        "accepted_at": letter.accepted_at.isoformat(),
        "failed_at": letter.failed_at.isoformat(),
    }
    if full:
        record["event"] = event.to_json_dict()
    return record


async def find_letters(inbox: Inbox, ids: Sequence[str]) -> list[DeadLetter]:
    """The dead letters with these ids (all when ``ids`` is empty), oldest first."""
    letters = await inbox.dead_letters(limit=1_000_000)
    if not ids:
        return letters
    wanted = set(ids)
    return [letter for letter in letters if letter.id in wanted]
