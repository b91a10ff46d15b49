"""Contract test kits (pytest base classes) that implementations run against themselves."""

from ventros_channels.testing.contract.adapter import AdapterContract

__all__ = ["AdapterContract"]
