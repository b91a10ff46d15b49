"""Health checks for orchestrators: stores reachable, workers healthy, platforms answering.

    report = await check_health(repository=repo, inbox=inbox, cache=cache, workers=[worker])
    report.ok            # every component answered in time
    report.to_dict()     # JSON-ready, for /readyz or ``ventros-channels health``

Every check runs concurrently and is bounded by ``within`` seconds. Errors are reported by
their type only: a driver's message may hold a connection URL with its password.
Per-channel platform checks (``service`` and ``channels``) are reported but do not make the
report fail, so a platform's outage never takes the host's own pods out of rotation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

import attrs

from ventros_channels.errors import FieldError, InvalidInputError

if TYPE_CHECKING:
    from ventros_channels.cache import ChannelCache
    from ventros_channels.inbox import Inbox
    from ventros_channels.repository import ChannelRepository
    from ventros_channels.services.channels import ChannelService
    from ventros_channels.services.worker import Worker

__all__ = ["CheckResult", "HealthReport", "check_app_health", "check_health"]

_PROBE = UUID(int=0)
"""A channel id no store holds: looking it up proves the store answers, and reads nothing."""


@attrs.frozen
class CheckResult:
    """One component's answer."""

    name: str
    ok: bool
    elapsed_ms: float
    error: str | None = None
    """The error's type (``TimeoutError`` when it did not answer in time)."""
    details: Mapping[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "error": self.error,
            **({"details": dict(self.details)} if self.details else {}),
        }


@attrs.frozen
class HealthReport:
    """Every check; ``ok`` when all components passed (channel checks are informative)."""

    checks: tuple[CheckResult, ...]
    channels: tuple[CheckResult, ...] = ()

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "failing",
            "checks": [check.to_dict() for check in self.checks],
            "channels": [check.to_dict() for check in self.channels],
        }


Probe = Callable[[], Awaitable[Mapping[str, Any] | None]]


async def _run(name: str, probe: Probe, within: float) -> CheckResult:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(within):
            details = await probe()
    except Exception as exc:  # any failure is the answer, never an exception of the check
        took = (time.perf_counter() - started) * 1000
        return CheckResult(name, False, took, type(exc).__name__)
    took = (time.perf_counter() - started) * 1000
    return CheckResult(name, True, took, None, dict(details or {}))


def _repository_probe(repository: ChannelRepository) -> Probe:
    async def probe() -> None:
        await repository.lookup(_PROBE)

    return probe


def _inbox_probe(inbox: Inbox) -> Probe:
    async def probe() -> Mapping[str, Any]:
        stats = await inbox.stats()
        age = stats.oldest_waiting_age
        return {
            "ready": stats.ready,
            "scheduled": stats.scheduled,
            "in_flight": stats.in_flight,
            "dead": stats.dead,
            "oldest_waiting_seconds": None if age is None else age.total_seconds(),
        }

    return probe


def _cache_probe(cache: ChannelCache) -> Probe:
    async def probe() -> None:
        await cache.get(_PROBE)

    return probe


def _worker_check(worker: Worker) -> CheckResult:
    health = worker.health
    error = None if health.last_error is None else health.last_error.split(":", 1)[0]
    ok = worker.running and health.ok
    details = {
        "running": worker.running,
        "since": health.since.isoformat(),
        "handled": worker.stats.handled,
        "failures": worker.stats.failures,
        "dead_lettered": worker.stats.dead_lettered,
    }
    if not worker.running:
        error = "NotRunning"
    return CheckResult(f"worker:{worker.name}", ok, 0.0, None if ok else error, details)


def _channel_probe(service: ChannelService, channel_id: UUID, tenant_id: str) -> Probe:
    async def probe() -> Mapping[str, Any]:
        channel = await service.get_channel(channel_id, tenant_id=tenant_id)
        adapter = service.adapter_for(channel)
        await adapter.test_connection(service.http, channel.config)
        return {"platform": str(channel.channel_type), "status": channel.status.value}

    return probe


async def check_health(
    *,
    repository: ChannelRepository | None = None,
    inbox: Inbox | None = None,
    cache: ChannelCache | None = None,
    workers: Sequence[Worker] = (),
    service: ChannelService | None = None,
    channels: Sequence[tuple[UUID, str]] = (),
    within: float = 5.0,
) -> HealthReport:
    """Check what is given, concurrently, each bounded by ``within`` seconds.

    ``channels``: ``(channel_id, tenant_id)`` pairs whose platform is asked through the
    adapter's ``test_connection`` (needs ``service``); the channel itself is not changed.
    """
    probes: list[tuple[str, Probe]] = []
    if repository is not None:
        probes.append(("repository", _repository_probe(repository)))
    if inbox is not None:
        probes.append(("inbox", _inbox_probe(inbox)))
    if cache is not None:
        probes.append(("cache", _cache_probe(cache)))
    channel_probes: list[tuple[str, Probe]] = []
    if channels and service is None:
        raise InvalidInputError(
            "health check", [FieldError("service", "channel checks need the ChannelService")]
        )
    if service is not None:
        channel_probes = [
            (f"channel:{channel_id}", _channel_probe(service, channel_id, tenant))
            for channel_id, tenant in channels
        ]
    results = await asyncio.gather(
        *(_run(name, probe, within) for name, probe in [*probes, *channel_probes])
    )
    checks = (*results[: len(probes)], *(_worker_check(w) for w in workers))
    return HealthReport(tuple(checks), tuple(results[len(probes) :]))


async def check_app_health(reference: str, *, within: float = 5.0) -> HealthReport:
    """What ``ventros-channels health --app module:factory`` reports: the stores of the
    dispatcher or worker the factory builds (its workers run elsewhere, so they are not
    checked here).
    """
    from ventros_channels.worker_cli import load_target  # noqa: PLC0415 (avoids a cycle)

    target = await load_target(reference)
    repository = getattr(target, "repository", None)
    cache = getattr(target, "shared_cache", None)
    return await check_health(repository=repository, inbox=target.inbox, cache=cache, within=within)
