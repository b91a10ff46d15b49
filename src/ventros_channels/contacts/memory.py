"""An in-process :class:`ContactAliasStore`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from uuid import UUID, uuid4

from ventros_channels.contacts._port import AliasGroup, clean_aliases
from ventros_channels.errors import FieldError, InvalidInputError

__all__ = ["InMemoryContactAliasStore"]

Scope = tuple[str, UUID]


class InMemoryContactAliasStore:
    """Alias groups in dicts; one lock makes each link atomic."""

    def __init__(self) -> None:
        self._group_of: dict[Scope, dict[str, UUID]] = {}
        self._lock = asyncio.Lock()

    async def link(self, aliases: Iterable[str], *, tenant_id: str, channel_id: UUID) -> AliasGroup:
        wanted = clean_aliases(aliases)
        if not wanted:
            raise InvalidInputError("aliases", [FieldError("aliases", "give at least one id")])
        async with self._lock:
            groups = self._group_of.setdefault((tenant_id, channel_id), {})
            known = {groups[a] for a in wanted if a in groups}
            target = min(known) if known else uuid4()
            for alias, group in list(groups.items()):
                if group in known:
                    groups[alias] = target
            for alias in wanted:
                groups[alias] = target
            return self._group(groups, target)

    async def find(self, alias: str, *, tenant_id: str, channel_id: UUID) -> AliasGroup | None:
        groups = self._group_of.get((tenant_id, channel_id), {})
        group = groups.get(alias)
        return None if group is None else self._group(groups, group)

    @staticmethod
    def _group(groups: dict[str, UUID], group: UUID) -> AliasGroup:
        return AliasGroup(group, frozenset(a for a, g in groups.items() if g == group))
