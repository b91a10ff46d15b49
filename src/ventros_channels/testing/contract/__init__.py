"""Contract test kits (pytest base classes) that implementations run against themselves.

Each kit is imported on first use: the store kits do not need hypothesis, which only the
adapter kit's fuzzing uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ventros_channels._lazy import lazy_exports

if TYPE_CHECKING:
    from ventros_channels.testing.contract._clock import (
        OnAFixedClock,
    )
    from ventros_channels.testing.contract.adapter import (
        FUZZ_PROFILE,
        AdapterContract,
        hostile_bodies,
    )
    from ventros_channels.testing.contract.cache import (
        ChannelCacheContract,
    )
    from ventros_channels.testing.contract.contacts import (
        ContactAliasStoreContract,
    )
    from ventros_channels.testing.contract.conversations import (
        ConversationStoreContract,
    )
    from ventros_channels.testing.contract.inbox import (
        InboxContract,
    )
    from ventros_channels.testing.contract.outbox import (
        OutboxContract,
    )
    from ventros_channels.testing.contract.repository import (
        RepositoryContract,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "ventros_channels.testing.contract._clock": ("OnAFixedClock",),
    "ventros_channels.testing.contract.adapter": (
        "FUZZ_PROFILE",
        "AdapterContract",
        "hostile_bodies",
    ),
    "ventros_channels.testing.contract.cache": ("ChannelCacheContract",),
    "ventros_channels.testing.contract.inbox": ("InboxContract",),
    "ventros_channels.testing.contract.outbox": ("OutboxContract",),
    "ventros_channels.testing.contract.repository": ("RepositoryContract",),
    "ventros_channels.testing.contract.contacts": ("ContactAliasStoreContract",),
    "ventros_channels.testing.contract.conversations": ("ConversationStoreContract",),
}

__all__ = [
    "FUZZ_PROFILE",
    "AdapterContract",
    "ChannelCacheContract",
    "ContactAliasStoreContract",
    "ConversationStoreContract",
    "InboxContract",
    "OnAFixedClock",
    "OutboxContract",
    "RepositoryContract",
    "hostile_bodies",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
