"""Publishing domain events to the host (a queue, an outbox, a message bus)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ventros_channels.domain.events import ChannelEvent

__all__ = ["EventPublisher", "InMemoryEventPublisher"]


@runtime_checkable
class EventPublisher(Protocol):
    """Receives domain events after the change that raised them was saved."""

    async def publish(self, events: Sequence[ChannelEvent]) -> None: ...


class InMemoryEventPublisher:
    """Collects published events in order (for tests and the demo)."""

    def __init__(self) -> None:
        self.events: list[ChannelEvent] = []

    async def publish(self, events: Sequence[ChannelEvent]) -> None:
        self.events.extend(events)

    def types(self) -> list[str]:
        """The ``event_type`` of every published event, in order."""
        return [e.event_type for e in self.events]

    def clear(self) -> None:
        self.events.clear()
