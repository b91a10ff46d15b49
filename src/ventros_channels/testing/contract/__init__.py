"""Contract test kits (pytest base classes) that implementations run against themselves."""

from ventros_channels.testing.contract.adapter import AdapterContract
from ventros_channels.testing.contract.cache import ChannelCacheContract
from ventros_channels.testing.contract.dedupe import DedupeStoreContract

__all__ = ["AdapterContract", "ChannelCacheContract", "DedupeStoreContract"]
