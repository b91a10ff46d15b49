"""pytest plugin (entry point ``pytest11``): fixtures for host test suites.

Fixtures: ``fixed_clock``, ``channel_repository``, ``channel_factory``.
"""

from __future__ import annotations

import pytest

from ventros_channels.testing.clock import FixedClock
from ventros_channels.testing.factories import ChannelFactory
from ventros_channels.testing.memory import InMemoryChannelRepository


@pytest.fixture
def fixed_clock() -> FixedClock:
    """A clock frozen at 2026-01-01T12:00:00Z; move it with ``advance``."""
    return FixedClock()


@pytest.fixture
def channel_repository(fixed_clock: FixedClock) -> InMemoryChannelRepository:
    """An empty in-memory channel repository sharing ``fixed_clock``."""
    return InMemoryChannelRepository(clock=fixed_clock)


@pytest.fixture
def channel_factory(fixed_clock: FixedClock) -> ChannelFactory:
    """Builds valid channels of any built-in type with field overrides:
    ``channel_factory("waha", active=True)``, ``channel_factory(name="Shop", status="error")``,
    ``channel_factory("telegram", bot_username="shop_bot")`` (a config field).
    """
    return ChannelFactory(fixed_clock)
