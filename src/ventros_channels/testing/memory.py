"""In-memory channel repository: indexed, isolated copies, atomic counters."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any
from uuid import UUID

import attrs

from ventros_channels.clock import Clock, SystemClock
from ventros_channels.domain.channel import Channel
from ventros_channels.domain.snapshot import metrics_to_dict
from ventros_channels.domain.types import ChannelStatus, ChannelType
from ventros_channels.domain.values import ChannelMetrics, MetricsDelta
from ventros_channels.errors import (
    ChannelNotFoundError,
    ConcurrencyError,
    CorruptChannelError,
    DomainError,
    FieldError,
    InvalidInputError,
)
from ventros_channels.repository import ChannelFilters, ChannelPage, _check_page

__all__ = ["InMemoryChannelRepository"]

logger = logging.getLogger(__name__)


@attrs.define
class _Row:
    snapshot: dict[str, Any]
    metrics: ChannelMetrics


class InMemoryChannelRepository:
    """A :class:`~ventros_channels.ChannelRepository` kept in a dict.

    Stores snapshots, so a saved channel object changed later does not change the store.
    Lookups by id, project, active-per-project and external id use indexes; ``find`` and
    ``search`` scan one tenant's channels. Safe for concurrent tasks on one event loop.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._rows: dict[UUID, _Row] = {}
        self._by_tenant: dict[str, set[UUID]] = defaultdict(set)
        self._by_project: dict[tuple[str, UUID], set[UUID]] = defaultdict(set)
        self._active: dict[tuple[str, UUID], set[UUID]] = defaultdict(set)
        self._by_external: dict[tuple[str, str], set[UUID]] = defaultdict(set)
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    # ---------------------------------------------------------------- helpers

    def _load(self, row: _Row) -> Channel:
        """The stored channel; :class:`CorruptChannelError` naming it if the row is bad."""
        snap = dict(row.snapshot)
        snap["metrics"] = metrics_to_dict(row.metrics)
        try:
            return Channel.from_snapshot(snap, clock=self._clock)
        except (InvalidInputError, DomainError) as exc:
            errors = getattr(exc, "errors", None) or [FieldError("<row>", type(exc).__name__)]
            raise CorruptChannelError(str(snap.get("id")), errors) from None

    def _load_all(self, rows: list[_Row]) -> tuple[list[Channel], list[CorruptChannelError]]:
        good: list[Channel] = []
        bad: list[CorruptChannelError] = []
        for row in rows:
            try:
                good.append(self._load(row))
            except CorruptChannelError as exc:
                logger.error("skipping unreadable channel: %s", exc)
                bad.append(exc)
        return good, bad

    def _unindex(self, cid: UUID, snap: dict[str, Any]) -> None:
        tenant, project = snap["tenant_id"], UUID(snap["project_id"])
        self._by_tenant[tenant].discard(cid)
        self._by_project[(tenant, project)].discard(cid)
        self._active[(tenant, project)].discard(cid)
        if snap["external_id"] is not None:
            self._by_external[(snap["channel_type"], snap["external_id"])].discard(cid)

    def _index(self, cid: UUID, snap: dict[str, Any]) -> None:
        if snap["deleted_at"] is not None:
            return
        tenant, project = snap["tenant_id"], UUID(snap["project_id"])
        self._by_tenant[tenant].add(cid)
        self._by_project[(tenant, project)].add(cid)
        if snap["status"] == ChannelStatus.ACTIVE.value:
            self._active[(tenant, project)].add(cid)
        if snap["external_id"] is not None:
            self._by_external[(snap["channel_type"], snap["external_id"])].add(cid)

    def _scoped(self, cid: UUID, tenant_id: str) -> _Row:
        row = self._rows.get(cid)
        if row is None or row.snapshot["tenant_id"] != tenant_id:
            raise ChannelNotFoundError(str(cid))
        return row

    def _sorted(self, ids: set[UUID]) -> list[Channel]:
        rows = sorted((self._rows[i] for i in ids), key=lambda r: r.snapshot["created_at"])
        return self._load_all(rows)[0]

    # ---------------------------------------------------------------- protocol

    async def save(self, channel: Channel) -> None:
        async with self._lock:
            cid = channel.id
            row = self._rows.get(cid)
            stored_version = row.snapshot["version"] if row is not None else 0
            if row is None and channel.version != 0:
                raise ConcurrencyError(str(cid), channel.version, None)
            if row is not None and (
                stored_version != channel.version or row.snapshot["tenant_id"] != channel.tenant_id
            ):
                raise ConcurrencyError(str(cid), channel.version, stored_version)
            delta = channel.take_pending_metrics()
            snap = channel.to_snapshot()
            snap["version"] = stored_version + 1
            metrics = channel.metrics if row is None else row.metrics.apply(delta)
            if row is not None:
                self._unindex(cid, row.snapshot)
            self._rows[cid] = _Row(snap, metrics)
            self._index(cid, snap)
            channel.mark_persisted(stored_version + 1)

    async def get(self, channel_id: UUID, *, tenant_id: str) -> Channel:
        return self._load(self._scoped(channel_id, tenant_id))

    async def lookup(self, channel_id: UUID) -> Channel | None:
        row = self._rows.get(channel_id)
        if row is None or row.snapshot["deleted_at"] is not None:
            return None
        return self._load(row)

    async def find_by_external_id(
        self, channel_type: ChannelType | str, external_id: str, *, tenant_id: str | None = None
    ) -> list[Channel]:
        ids = self._by_external.get((str(channel_type), external_id), set())
        if tenant_id is not None:
            ids = {i for i in ids if self._rows[i].snapshot["tenant_id"] == tenant_id}
        return self._sorted(set(ids))

    async def find_by_project(self, project_id: UUID, *, tenant_id: str) -> list[Channel]:
        return self._sorted(set(self._by_project.get((tenant_id, project_id), set())))

    async def find_active_by_project(self, project_id: UUID, *, tenant_id: str) -> list[Channel]:
        return self._sorted(set(self._active.get((tenant_id, project_id), set())))

    async def find(self, filters: ChannelFilters) -> ChannelPage:
        f = filters
        if f.project_id is not None:
            candidates = set(self._by_project.get((f.tenant_id, f.project_id), set()))
        else:
            candidates = set(self._by_tenant.get(f.tenant_id, set()))
        if f.include_deleted:
            candidates |= {
                cid
                for cid, r in self._rows.items()
                if r.snapshot["tenant_id"] == f.tenant_id
                and r.snapshot["deleted_at"] is not None
                and (f.project_id is None or r.snapshot["project_id"] == str(f.project_id))
            }
        matched, bad = self._load_all([self._rows[c] for c in candidates])
        matched = [c for c in matched if _matches(c, f)]
        matched.sort(key=lambda c: (_sort_key(c, f.sort_by), str(c.id)), reverse=f.descending)
        return ChannelPage(
            tuple(matched[f.offset : f.offset + f.limit]), len(matched), unreadable=tuple(bad)
        )

    async def search(
        self, text: str, *, tenant_id: str, limit: int = 50, offset: int = 0
    ) -> ChannelPage:
        _check_page(limit, offset)
        needle = text.strip().casefold()
        hits = []
        for cid in self._by_tenant.get(tenant_id, set()):
            snap = self._rows[cid].snapshot
            if (
                needle in snap["name"].casefold()
                or needle in (snap["external_id"] or "").casefold()
            ):
                hits.append(self._rows[cid])
        hits.sort(key=lambda r: (r.snapshot["name"].casefold(), r.snapshot["id"]))
        page, bad = self._load_all(hits[offset : offset + limit])
        return ChannelPage(tuple(page), len(hits), unreadable=tuple(bad))

    async def delete(self, channel_id: UUID, *, tenant_id: str) -> None:
        async with self._lock:
            row = self._scoped(channel_id, tenant_id)
            self._unindex(channel_id, row.snapshot)
            del self._rows[channel_id]

    async def record_metrics(
        self, channel_id: UUID, delta: MetricsDelta, *, tenant_id: str
    ) -> None:
        delta.check()  # refuses negative or absurd increments before anything is written
        row = self._scoped(channel_id, tenant_id)
        row.metrics = row.metrics.apply(delta)  # no await in between: atomic on the loop


def _matches(c: Channel, f: ChannelFilters) -> bool:
    return (
        (f.channel_types is None or str(c.channel_type) in f.channel_types)
        and (f.statuses is None or c.status.value in f.statuses)
        and (f.pipeline_id is None or c.pipeline_id == f.pipeline_id)
        and (f.ai_enabled is None or c.ai_enabled == f.ai_enabled)
        and (f.ai_agents_enabled is None or c.ai_agents_enabled == f.ai_agents_enabled)
        and (f.created_from is None or c.created_at >= f.created_from)
        and (f.created_to is None or c.created_at < f.created_to)
    )


def _sort_key(c: Channel, field: str) -> tuple[int, Any]:
    value: Any
    if field == "name":
        value = c.name.casefold()
    elif field == "messages_received":
        value = c.metrics.messages_received
    elif field == "last_message_at":
        value = c.metrics.last_message_at
    else:
        value = getattr(c, field)
    # None sorts after every value, as PostgreSQL does by default (NULLS LAST ascending)
    return (1, 0) if value is None else (0, value)
