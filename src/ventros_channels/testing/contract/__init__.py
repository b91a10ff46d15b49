"""Contract test kits (pytest base classes) that implementations run against themselves."""

from ventros_channels.testing.contract._clock import OnAFixedClock
from ventros_channels.testing.contract.adapter import FUZZ_PROFILE, AdapterContract, hostile_bodies
from ventros_channels.testing.contract.cache import ChannelCacheContract
from ventros_channels.testing.contract.contacts import ContactAliasStoreContract
from ventros_channels.testing.contract.conversations import ConversationStoreContract
from ventros_channels.testing.contract.inbox import InboxContract
from ventros_channels.testing.contract.outbox import OutboxContract
from ventros_channels.testing.contract.repository import RepositoryContract

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
