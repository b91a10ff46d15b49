"""Test helpers shipped with the library: fakes, a fixed clock, contract kits.

Importing this module never touches the network and does not import pytest.
"""

from ventros_channels.testing.clock import FixedClock
from ventros_channels.testing.memory import InMemoryChannelRepository

__all__ = ["FixedClock", "InMemoryChannelRepository"]
