"""The persistence port: what a host's channel store must offer.

Every query is scoped to one tenant, except the two lookups the inbound webhook path needs
(:meth:`ChannelRepository.lookup` and :meth:`ChannelRepository.find_by_external_id`), where
the platform does not know the tenant; they return the channel, which carries its tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol, runtime_checkable
from uuid import UUID

import attrs

from ventros_channels.domain.channel import Channel
from ventros_channels.domain.types import ChannelType
from ventros_channels.domain.values import MetricsDelta
from ventros_channels.errors import CorruptChannelError, FieldError, InvalidInputError

__all__ = ["ChannelFilters", "ChannelPage", "ChannelRepository", "SortField"]

SortField = Literal["created_at", "updated_at", "name", "messages_received", "last_message_at"]
MAX_PAGE_SIZE = 1000


def _check_page(limit: int, offset: int) -> None:
    errors = []
    if not 1 <= limit <= MAX_PAGE_SIZE:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_PAGE_SIZE}"))
    if offset < 0:
        errors.append(FieldError("offset", "must not be negative"))
    if errors:
        raise InvalidInputError("page", errors)


def _frozen_or_none(
    values: frozenset[str] | set[str] | list[str] | tuple[str, ...] | None,
) -> frozenset[str] | None:
    return None if values is None else frozenset(str(v) for v in values)


@attrs.frozen(kw_only=True)
class ChannelFilters:
    """Filters, sort and page for :meth:`ChannelRepository.find`. ``None`` means any."""

    tenant_id: str
    project_id: UUID | None = None
    channel_types: frozenset[str] | None = attrs.field(default=None, converter=_frozen_or_none)
    statuses: frozenset[str] | None = attrs.field(default=None, converter=_frozen_or_none)
    pipeline_id: UUID | None = None
    ai_enabled: bool | None = None
    ai_agents_enabled: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    """Exclusive upper bound."""
    include_deleted: bool = False
    sort_by: SortField = "created_at"
    descending: bool = False
    limit: int = 50
    offset: int = 0

    def __attrs_post_init__(self) -> None:
        _check_page(self.limit, self.offset)
        if not self.tenant_id:
            raise InvalidInputError("filters", [FieldError("tenant_id", "is required")])
        if self.sort_by not in SortField.__args__:  # type: ignore[attr-defined]
            raise InvalidInputError("filters", [FieldError("sort_by", "unknown sort field")])


@attrs.frozen
class ChannelPage:
    """One page of channels and the total number matching the query.

    ``unreadable`` holds a :class:`CorruptChannelError` for each stored channel of the page
    that does not load (left out of ``items``, still counted in ``total``).
    """

    items: tuple[Channel, ...]
    total: int
    unreadable: tuple[CorruptChannelError, ...] = ()


@runtime_checkable
class ChannelRepository(Protocol):
    """Async channel store. Implementations must pass
    :class:`ventros_channels.testing.RepositoryContract`.
    """

    async def save(self, channel: Channel) -> None:
        """Insert or update. Raises :class:`ConcurrencyError` if the stored version is not
        ``channel.version``; on success stores ``version + 1`` and calls
        ``channel.mark_persisted``. Pending metric increments are *added* to the stored
        counters, never written over them.
        """
        ...

    async def get(self, channel_id: UUID, *, tenant_id: str) -> Channel:
        """The channel (deleted ones included) or :class:`ChannelNotFoundError`;
        :class:`CorruptChannelError` naming it when the stored row does not load.
        """
        ...

    async def lookup(self, channel_id: UUID) -> Channel | None:
        """Cross-tenant lookup for the inbound webhook path; deleted channels excluded."""
        ...

    async def find_by_external_id(
        self, channel_type: ChannelType | str, external_id: str, *, tenant_id: str | None = None
    ) -> list[Channel]:
        """Channels of a type bound to a platform account id (deleted excluded).

        Without ``tenant_id`` this is cross-tenant, for app-level webhook routing.
        """
        ...

    async def find_by_project(self, project_id: UUID, *, tenant_id: str) -> list[Channel]:
        """All non-deleted channels of a project, oldest first (rows that do not load are
        logged and left out, here and in every listing).
        """
        ...

    async def find_active_by_project(self, project_id: UUID, *, tenant_id: str) -> list[Channel]:
        """Active, non-deleted channels of a project, oldest first."""
        ...

    async def find(self, filters: ChannelFilters) -> ChannelPage:
        """Filtered, sorted, paginated listing within one tenant."""
        ...

    async def search(
        self, text: str, *, tenant_id: str, limit: int = 50, offset: int = 0
    ) -> ChannelPage:
        """Case-insensitive substring search over name and external id within one tenant."""
        ...

    async def delete(self, channel_id: UUID, *, tenant_id: str) -> None:
        """Remove the record for good (``channel.delete()`` + ``save`` is the soft delete).

        Raises :class:`ChannelNotFoundError` if absent.
        """
        ...

    async def record_metrics(
        self, channel_id: UUID, delta: MetricsDelta, *, tenant_id: str
    ) -> None:
        """Add counter increments atomically without a version check or bump.

        Raises :class:`InvalidMetricsError` for a negative or absurd increment, writing nothing.
        """
        ...
