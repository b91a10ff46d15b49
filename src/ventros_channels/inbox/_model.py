"""What an inbox stores and hands out: deliveries, leases, dead letters, stats.

A :class:`Delivery` is one verified, parsed inbound event plus the routing context of its
channel. Durable stores keep it as JSON (:func:`encode_delivery` / :func:`decode_delivery`),
so the event model's JSON form is the storage format: no pickles, readable in the database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
from pydantic import ValidationError

from ventros_channels.domain.channel import RoutingContext
from ventros_channels.domain.types import ChannelType
from ventros_channels.errors import InboxError, WebhookPayloadError
from ventros_channels.messaging.inbound import InboundEvent, inbound_event_adapter

__all__ = [
    "AcceptResult",
    "DeadLetter",
    "Delivery",
    "InboxStats",
    "Leased",
    "decode_delivery",
    "encode_delivery",
]


@attrs.frozen
class Delivery:
    """One inbound event to handle, with its channel's routing context.

    ``key`` (the event's idempotency key) is unique per channel: an inbox records a key once.
    Events with the same ``ordering_key`` (the chat) are handed out one at a time, in the order
    they were accepted.

    ``trace``: the W3C trace context (``traceparent``, ``tracestate``) of the webhook that
    brought the event, so the handling span joins its trace; not part of equality.
    """

    event: InboundEvent
    context: RoutingContext
    trace: Mapping[str, str] | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def channel_id(self) -> UUID:
        return self.context.channel_id

    @property
    def key(self) -> str:
        return self.event.idempotency_key

    @property
    def ordering_key(self) -> str:
        return self.event.chat_id


@attrs.frozen
class AcceptResult:
    """What :meth:`Inbox.accept` recorded: the new deliveries, and how many were duplicates."""

    accepted: tuple[Delivery, ...]
    duplicates: int = 0


@attrs.frozen
class Leased:
    """A delivery handed to one worker until ``leased_until`` (renewable with ``extend``).

    ``attempt`` counts the times it was handed out, this one included (1 the first time), so a
    worker that died mid-way makes the next attempt's number higher. ``token`` proves the lease:
    ``complete``/``fail`` by a worker whose lease expired and was taken over are ignored.
    """

    id: str
    delivery: Delivery
    attempt: int
    token: str
    leased_until: datetime
    accepted_at: datetime


@attrs.frozen
class DeadLetter:
    """A delivery whose handling kept failing: stored, listed and replayable."""

    id: str
    delivery: Delivery
    attempts: int
    error: str
    failed_at: datetime
    accepted_at: datetime


@attrs.frozen
class InboxStats:
    """A point-in-time view of an inbox (for health checks and metrics)."""

    ready: int
    """Waiting for a worker now."""
    scheduled: int
    """Waiting for a retry time after a failure."""
    in_flight: int
    """Leased to a worker."""
    dead: int
    oldest_waiting_age: timedelta | None = None
    """Age of the oldest event not yet handled (ready, scheduled or in flight)."""

    @property
    def backlog(self) -> int:
        return self.ready + self.scheduled + self.in_flight


def _context_dict(context: RoutingContext) -> dict[str, Any]:
    return {
        "channel_id": str(context.channel_id),
        "tenant_id": context.tenant_id,
        "project_id": str(context.project_id),
        "channel_type": str(context.channel_type),
        "pipeline_id": None if context.pipeline_id is None else str(context.pipeline_id),
        "default_session_timeout_minutes": context.default_session_timeout_minutes,
        "ai_enabled": context.ai_enabled,
        "ai_agents_enabled": context.ai_agents_enabled,
    }


def _context(data: dict[str, Any]) -> RoutingContext:
    pipeline = data.get("pipeline_id")
    return RoutingContext(
        channel_id=UUID(data["channel_id"]),
        tenant_id=str(data["tenant_id"]),
        project_id=UUID(data["project_id"]),
        channel_type=ChannelType(data["channel_type"]),
        pipeline_id=None if pipeline is None else UUID(pipeline),
        default_session_timeout_minutes=data.get("default_session_timeout_minutes"),
        ai_enabled=bool(data["ai_enabled"]),
        ai_agents_enabled=bool(data["ai_agents_enabled"]),
    )


def _trace(doc: dict[str, Any]) -> dict[str, str] | None:
    """The stored trace context; absent (older records) or damaged ones are ignored, since a
    lost trace link must never make a delivery unreadable.
    """
    trace = doc.get("trace")
    if not isinstance(trace, dict):
        return None
    kept = {k: v for k, v in trace.items() if isinstance(k, str) and isinstance(v, str)}
    return kept or None


def encode_delivery(delivery: Delivery) -> bytes:
    """The JSON form a durable inbox stores.

    Raises :class:`WebhookPayloadError` when the event cannot be serialized (it then cannot be
    stored either, and the platform must be told the body is bad, not that it was recorded).
    """
    try:
        event = delivery.event.model_dump(mode="json")
        doc: dict[str, Any] = {"v": 1, "event": event, "context": _context_dict(delivery.context)}
        if delivery.trace:
            doc["trace"] = dict(delivery.trace)
        return json.dumps(
            doc,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
    except (ValueError, TypeError, RecursionError) as exc:
        raise WebhookPayloadError(
            str(delivery.context.channel_type),
            f"event {delivery.key!r} cannot be serialized: {type(exc).__name__}",
        ) from None


def decode_delivery(data: bytes | str) -> Delivery:
    """Read back what :func:`encode_delivery` wrote; a damaged record raises :class:`InboxError`."""
    try:
        doc = json.loads(data)
        event = inbound_event_adapter.validate_python(doc["event"])
        return Delivery(event=event, context=_context(doc["context"]), trace=_trace(doc))
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise InboxError(f"stored delivery cannot be read: {type(exc).__name__}") from None
