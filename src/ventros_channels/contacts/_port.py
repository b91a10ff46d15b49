"""The contact alias store: which platform ids of a channel are one person."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable
from uuid import UUID

import attrs

from ventros_channels.errors import FieldError, InvalidInputError

__all__ = ["AliasGroup", "ContactAliasStore", "clean_aliases"]

MAX_ALIAS_LENGTH = 512


@attrs.frozen
class AliasGroup:
    """The ids one person has on a channel (a WhatsApp phone JID and its ``@lid``; a Telegram
    user id; a page-scoped id). ``group_id`` is stable while the group exists; when two
    groups are merged, the merged group keeps the smaller of the two ids."""

    group_id: UUID
    aliases: frozenset[str]

    def __contains__(self, alias: object) -> bool:
        return alias in self.aliases


def clean_aliases(aliases: Iterable[str]) -> frozenset[str]:
    """The distinct non-blank aliases, or :class:`InvalidInputError` for a bad one."""
    out: set[str] = set()
    for alias in aliases:
        if not isinstance(alias, str) or not alias.strip() or len(alias) > MAX_ALIAS_LENGTH:
            raise InvalidInputError(
                "aliases", [FieldError("aliases", f"not a usable id (1-{MAX_ALIAS_LENGTH} chars)")]
            )
        out.add(alias)
    return frozenset(out)


@runtime_checkable
class ContactAliasStore(Protocol):
    """Alias groups per ``(tenant_id, channel_id)``.

    Guarantees every implementation gives (the shipped ``ContactAliasStoreContract`` checks
    them):

    * ``link`` puts every given alias in one group, merging the groups some of them were in;
      linking what is already linked changes nothing;
    * ``find`` by any alias of a group returns the whole group (lookup works both ways);
    * groups never cross tenants or channels;
    * concurrent links that share an alias end in one group.
    """

    async def link(self, aliases: Iterable[str], *, tenant_id: str, channel_id: UUID) -> AliasGroup:
        """Link ``aliases`` (at least one) as one person; returns the resulting group."""
        ...

    async def find(self, alias: str, *, tenant_id: str, channel_id: UUID) -> AliasGroup | None:
        """The group ``alias`` belongs to, or ``None`` when it was never linked."""
        ...
