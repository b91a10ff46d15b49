"""OpenTelemetry traces and metrics for the webhook, handling, sending and history paths.

Install the ``otel`` extra (``opentelemetry-api``) and set up an SDK in the host as usual: the
library reports through the global providers, or through the ones given to :func:`configure`.
Without the API every function here does nothing, and ``opentelemetry`` is imported on first
use only, never when the library itself is imported.

Spans (all ``INTERNAL`` except handling, a ``CONSUMER``):

* ``ventros_channels.webhook`` with the events ``.verified`` and ``.parsed`` (timestamped
  points: each step takes microseconds, less than a span of its own would cost) and the
  child span ``.accept``;
* ``ventros_channels.handle``: one per handler run, its parent the webhook that brought the
  event (the trace context is stored with the delivery in the inbox), with the attempt number;
* ``ventros_channels.send``: platform, channel id, message type and outcome;
* ``ventros_channels.history.fetch`` and ``ventros_channels.history.batch``.

Attributes name the platform, channel, message type, outcome and attempt; never a secret, a
message text, a chat or user identifier. Metric attributes stay low in cardinality (platform,
outcome, message type, inbox name): channel ids go on spans only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from ventros_channels._version import __version__

if TYPE_CHECKING:
    from ventros_channels.inbox import Inbox, InboxStats

__all__ = [
    "InboxGauge",
    "SpanLike",
    "configure",
    "current_ids",
    "current_trace",
    "enabled",
    "event",
    "record_delivery",
    "record_events",
    "record_handling",
    "record_history_batch",
    "record_rate_limit_wait",
    "record_send",
    "reset",
    "send_span",
    "span",
]

logger = logging.getLogger(__name__)

SCOPE = "ventros_channels"
"""The instrumentation scope (tracer and meter name)."""

AttributeValue = str | bool | int | float
Attributes = Mapping[str, AttributeValue]

WEBHOOK = "ventros_channels.webhook"
VERIFIED = "ventros_channels.webhook.verified"
PARSED = "ventros_channels.webhook.parsed"
ACCEPT = "ventros_channels.webhook.accept"
HANDLE = "ventros_channels.handle"
SEND = "ventros_channels.send"
HISTORY_FETCH = "ventros_channels.history.fetch"
HISTORY_BATCH = "ventros_channels.history.batch"


class SpanLike(Protocol):
    """What the library does with a span (an OpenTelemetry span, or nothing)."""

    def set_attribute(self, key: str, value: AttributeValue) -> None: ...


class _NullSpan:
    """Stands for a span when nothing is reported: a context manager doing nothing."""

    __slots__ = ()

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        return None

    def __enter__(self) -> _NullSpan:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_NULL = _NullSpan()


class _Otel:
    """The imported API, the tracer and the instruments of one configuration."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from opentelemetry import metrics, trace  # noqa: PLC0415 (optional dependency)
        from opentelemetry.trace.propagation.tracecontext import (  # noqa: PLC0415
            TraceContextTextMapPropagator,
        )

        self.trace = trace
        self.propagator = TraceContextTextMapPropagator()
        self.on = tracer_provider is not None
        self.next_check = 0.0
        self.unset = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        provider = tracer_provider or trace.get_tracer_provider()
        self.tracer = provider.get_tracer(SCOPE, __version__)
        self.kinds = {
            "internal": trace.SpanKind.INTERNAL,
            "consumer": trace.SpanKind.CONSUMER,
            "client": trace.SpanKind.CLIENT,
        }
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(SCOPE, __version__)
        self.observation = metrics.Observation
        self.deliveries = meter.create_counter(
            "ventros_channels.webhook.deliveries",
            unit="{delivery}",
            description="Webhook deliveries by outcome",
        )
        self.events = meter.create_counter(
            "ventros_channels.inbox.events",
            unit="{event}",
            description="Events offered to the inbox: accepted or duplicate",
        )
        self.handling = meter.create_histogram(
            "ventros_channels.handling.duration",
            unit="s",
            description="Time the host's handler took per delivery, by outcome",
        )
        self.dead_letters = meter.create_counter(
            "ventros_channels.dead_letters", unit="{delivery}", description="Deliveries given up on"
        )
        self.sends = meter.create_counter(
            "ventros_channels.sends", unit="{send}", description="Outbound sends by outcome"
        )
        self.rate_limit_waits = meter.create_counter(
            "ventros_channels.rate_limit.waits",
            unit="{wait}",
            description="Sends held back by a rate limiter",
        )
        self.rate_limit_wait_time = meter.create_histogram(
            "ventros_channels.rate_limit.wait_duration",
            unit="s",
            description="How long sends waited for a rate limiter",
        )
        self.history_messages = meter.create_counter(
            "ventros_channels.history.messages",
            unit="{message}",
            description="Messages written by history imports",
        )
        meter.create_observable_gauge(
            "ventros_channels.inbox.depth",
            callbacks=[_observe_depth],
            unit="{delivery}",
            description="Deliveries in the inbox by state (ready, scheduled, in_flight, dead)",
        )
        meter.create_observable_gauge(
            "ventros_channels.inbox.oldest_age",
            callbacks=[_observe_age],
            unit="s",
            description="Age of the oldest delivery not yet handled",
        )

    def tracing(self) -> bool:
        """Whether spans go anywhere (a provider was given or set globally).

        A global provider can be set once only, so a yes is kept; a no is asked again at most
        once a second (the question costs microseconds, the webhook path asks it five times).
        """
        if self.on:
            return True
        now = time.monotonic()
        if now < self.next_check:
            return False
        self.next_check = now + 1.0
        self.on = not isinstance(self.trace.get_tracer_provider(), self.unset)
        return self.on


class _Holder:
    """The configuration in force: loaded on first use, replaced by :func:`configure`."""

    state: _Otel | None = None
    loaded = False


_HOLDER = _Holder()


def _otel() -> _Otel | None:
    holder = _HOLDER
    if not holder.loaded:
        holder.loaded = True
        try:
            holder.state = _Otel()
        except ImportError:
            holder.state = None
    return holder.state


def configure(
    *, tracer_provider: Any = None, meter_provider: Any = None, enabled: bool = True
) -> None:
    """Report to these providers instead of the global ones (``None``: the global one), or
    nothing at all with ``enabled=False``. Instruments are made again for the new providers.
    """
    _HOLDER.loaded = True
    _HOLDER.state = None
    if enabled:
        try:
            _HOLDER.state = _Otel(tracer_provider, meter_provider)
        except ImportError:
            logger.warning("opentelemetry-api is not installed: telemetry stays off")


def reset() -> None:
    """Forget :func:`configure`: the global providers are used again from the next call."""
    _HOLDER.loaded = False
    _HOLDER.state = None


def enabled() -> bool:
    """Whether the OpenTelemetry API is installed and reporting is on."""
    return _otel() is not None


# ---------------------------------------------------------------------- traces


def span(
    name: str,
    attributes: Attributes | None = None,
    *,
    parent: Mapping[str, str] | None = None,
    kind: str = "internal",
) -> contextlib.AbstractContextManager[SpanLike]:
    """A span made current for the ``with`` block (nothing when tracing is off).

    ``parent``: a stored trace context (see :func:`current_trace`) to continue; an empty one
    starts a new trace. Without it the span is a child of the current one.
    """
    otel = _otel()
    if otel is None or not otel.tracing():
        return _NULL
    context = otel.propagator.extract(parent) if parent is not None else None
    cm: contextlib.AbstractContextManager[SpanLike] = otel.tracer.start_as_current_span(
        name,
        context=context,
        kind=otel.kinds.get(kind, otel.kinds["internal"]),
        attributes=attributes,
    )
    return cm


def event(name: str, attributes: Attributes | None = None) -> None:
    """Add a timestamped event to the current span (nothing when tracing is off)."""
    otel = _otel()
    if otel is None or not otel.tracing():
        return
    otel.trace.get_current_span().add_event(name, attributes)


def current_trace() -> dict[str, str] | None:
    """The current span's W3C trace context (``traceparent``, ``tracestate``) to store with a
    delivery, or ``None`` when no span is recording.
    """
    otel = _otel()
    if otel is None or not otel.tracing():
        return None
    carrier: dict[str, str] = {}
    otel.propagator.inject(carrier)
    return carrier or None


def current_ids() -> tuple[str, str] | None:
    """The current trace and span ids in hex, for log records; ``None`` outside a span."""
    otel = _otel()
    if otel is None:
        return None
    context = otel.trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


# ---------------------------------------------------------------------- metrics


def record_delivery(platform: str, outcome: str) -> None:
    """Count one webhook delivery: ``accepted``, ``duplicate``, ``rejected_signature``,
    ``malformed``, ``unavailable``, ``unknown_channel``, ``refused``, ``too_large``...
    """
    otel = _otel()
    if otel is not None:
        otel.deliveries.add(1, {"ventros.platform": platform, "ventros.outcome": outcome})


def record_events(platform: str, *, accepted: int, duplicates: int) -> None:
    """Count the events of a delivery the inbox recorded, and those it already had."""
    otel = _otel()
    if otel is None:
        return
    if accepted:
        otel.events.add(accepted, {"ventros.platform": platform, "ventros.outcome": "accepted"})
    if duplicates:
        otel.events.add(duplicates, {"ventros.platform": platform, "ventros.outcome": "duplicate"})


def record_handling(platform: str, outcome: str, seconds: float) -> None:
    """Time one handler run: outcome ``handled``, ``retry`` or ``dead_letter``."""
    otel = _otel()
    if otel is None:
        return
    labels = {"ventros.platform": platform, "ventros.outcome": outcome}
    otel.handling.record(seconds, labels)
    if outcome == "dead_letter":
        otel.dead_letters.add(1, {"ventros.platform": platform})


def record_send(platform: str, message_type: str, outcome: str) -> None:
    """Count one send: ``sent``, ``replayed``, ``queued``, ``failed``, ``rate_limited``,
    ``uncertain``, ``refused`` or ``error``.
    """
    otel = _otel()
    if otel is not None:
        otel.sends.add(
            1,
            {
                "ventros.platform": platform,
                "ventros.message_type": message_type,
                "ventros.outcome": outcome,
            },
        )


def record_rate_limit_wait(platform: str, seconds: float) -> None:
    """Called by a rate limiter each time it holds a send back for ``seconds``."""
    otel = _otel()
    if otel is None:
        return
    labels = {"ventros.platform": platform}
    otel.rate_limit_waits.add(1, labels)
    otel.rate_limit_wait_time.record(max(0.0, seconds), labels)


def record_history_batch(platform: str, messages: int) -> None:
    """Count the messages of one history batch written to the host's sink."""
    otel = _otel()
    if otel is not None:
        otel.history_messages.add(messages, {"ventros.platform": platform})


def send_outcome(error: BaseException) -> str:
    """The outcome a failed send is counted under."""
    from ventros_channels import errors  # noqa: PLC0415 (keeps this module's imports light)

    for cls, outcome in (
        (errors.DeliveryUncertainError, "uncertain"),
        (errors.RateLimitedError, "rate_limited"),
        (errors.ChannelInactiveError, "refused"),
        (errors.PlatformError, "failed"),
    ):
        if isinstance(error, cls):
            return outcome
    return "error"


class _SendScope:
    """The span and the outcome counter of one send (see :func:`send_span`)."""

    __slots__ = ("_cm", "_span", "attributes", "outcome")

    def __init__(self, attributes: dict[str, AttributeValue]) -> None:
        self.attributes = attributes
        self.outcome = "sent"
        self._cm: contextlib.AbstractContextManager[SpanLike] = _NULL
        self._span: SpanLike = _NULL

    def __enter__(self) -> _SendScope:
        self._cm = span(SEND, self.attributes, kind="client")
        self._span = self._cm.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.outcome = send_outcome(exc)
        record_send(
            str(self.attributes["ventros.platform"]),
            str(self.attributes["ventros.message_type"]),
            self.outcome,
        )
        self._span.set_attribute("ventros.outcome", self.outcome)
        self._cm.__exit__(exc_type, exc, tb)


def send_span(platform: str, channel_id: object, message_type: str) -> _SendScope:
    """A span around one send that also counts it; set ``scope.outcome`` when it is not
    ``sent`` (an exception decides it by itself).
    """
    return _SendScope(
        {
            "ventros.platform": platform,
            "ventros.channel_id": str(channel_id),
            "ventros.message_type": message_type,
        }
    )


# ---------------------------------------------------------------------- inbox gauges

_GAUGES: weakref.WeakSet[InboxGauge] = weakref.WeakSet()


class InboxGauge:
    """Keeps an inbox's latest :class:`~ventros_channels.inbox.InboxStats` for the
    ``inbox.depth`` and ``inbox.oldest_age`` gauges.

    Metric readers call gauges synchronously (often from their own thread) while
    ``Inbox.stats()`` is a coroutine, so a task refreshes a snapshot every ``interval``
    seconds and the gauges report that snapshot. The dispatcher runs one for its inbox.
    """

    def __init__(self, inbox: Inbox, *, name: str = "inbox", interval: float = 15.0) -> None:
        self.inbox = inbox
        self.name = name
        self.interval = interval
        self.snapshot: InboxStats | None = None
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> InboxStats | None:
        """Read the inbox's stats now (``None``, and no gauge values, when it fails)."""
        try:
            self.snapshot = await self.inbox.stats()
        except Exception as exc:  # a gauge must never take the process down
            logger.warning("inbox stats for the gauges failed: %s", type(exc).__name__)
            self.snapshot = None
        return self.snapshot

    def start(self) -> None:
        """Report this inbox and refresh it in the background (nothing without the API)."""
        if _otel() is None or self._task is not None:
            return
        _GAUGES.add(self)
        self._task = asyncio.create_task(self._loop(), name="ventros-inbox-gauge")

    async def stop(self) -> None:
        _GAUGES.discard(self)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval)


def _observe_depth(options: Any) -> Iterable[Any]:
    otel = _otel()
    if otel is None:
        return []
    out = []
    for gauge in list(_GAUGES):
        stats = gauge.snapshot
        if stats is None:
            continue
        for state in ("ready", "scheduled", "in_flight", "dead"):
            labels = {"ventros.inbox": gauge.name, "ventros.state": state}
            out.append(otel.observation(getattr(stats, state), labels))
    return out


def _observe_age(options: Any) -> Iterable[Any]:
    otel = _otel()
    if otel is None:
        return []
    out = []
    for gauge in list(_GAUGES):
        stats = gauge.snapshot
        if stats is None:
            continue
        age = stats.oldest_waiting_age
        seconds = 0.0 if age is None else age.total_seconds()
        out.append(otel.observation(seconds, {"ventros.inbox": gauge.name}))
    return out
