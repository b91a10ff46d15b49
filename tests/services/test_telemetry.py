"""OpenTelemetry: one webhook is one trace from intake to handler to reply; the metrics."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ventros_channels import Channel, RoutingContext, telemetry
from ventros_channels.adapters import AdapterRegistry
from ventros_channels.inbox import InMemoryInbox
from ventros_channels.logging import JsonFormatter
from ventros_channels.messaging import InboundEvent, TextMessage
from ventros_channels.services import ChannelService, IntakeSettings, WebhookDispatcher
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.webhooks import WebhookRequest

from .conftest import FAST_RETRY, SECRET, delivery

Signer = Callable[..., WebhookRequest]
Points = dict[str, list[tuple[dict[str, Any], Any]]]


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        telemetry.configure(tracer_provider=tracer_provider, meter_provider=self.meter_provider)

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self) -> Points:
        """Metric name -> [(attributes, value or histogram (count, sum))]."""
        out: Points = {}
        data = self.reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = (point.count, point.sum)  # type: ignore[union-attr]
                        out.setdefault(metric.name, []).append(
                            (dict(point.attributes or {}), value)
                        )
        return out


def value(points: Points, name: str, **attributes: Any) -> Any:
    wanted = {f"ventros.{k}": v for k, v in attributes.items()}
    found = [v for attrs, v in points.get(name, []) if wanted.items() <= attrs.items()]
    assert len(found) == 1, (name, attributes, points.get(name))
    return found[0]


@pytest.fixture
def otel() -> Iterator[Otel]:
    yield Otel()
    telemetry.reset()


def replying_dispatcher(
    repo: InMemoryChannelRepository,
    service: ChannelService,
    registry: AdapterRegistry,
    clock: FixedClock,
    *,
    fail: bool = False,
) -> WebhookDispatcher:
    async def reply(event: InboundEvent, context: RoutingContext) -> None:
        if fail:
            raise RuntimeError("host handler failed")
        await service.send(
            context.channel_id, TextMessage(to=event.chat_id, text="thanks"), tenant_id="tenant-a"
        )

    return WebhookDispatcher(
        repo,
        reply,
        registry=registry,
        clock=clock,
        settings=IntakeSettings(cache_ttl=timedelta(0)),
        retry=FAST_RETRY,
    )


async def test_one_webhook_is_one_trace_from_intake_to_handler_to_reply(
    otel: Otel,
    repo: InMemoryChannelRepository,
    service: ChannelService,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
    platform_calls: list[httpx.Request],
) -> None:
    dispatcher = replying_dispatcher(repo, service, registry, clock)
    async with dispatcher:
        answer = await dispatcher.handle("webchat", active_channel.id, signed(delivery("m1")))
        await dispatcher.drain()
    assert answer.status == 200
    assert platform_calls[-1].url.path.endswith("/messages")

    spans = {s.name: s for s in otel.finished()}
    assert set(spans) == {
        "ventros_channels.webhook",
        "ventros_channels.webhook.accept",
        "ventros_channels.handle",
        "ventros_channels.send",
    }
    assert len({s.context.trace_id for s in spans.values()}) == 1, "one trace"

    def parent(name: str) -> str | None:
        link = spans[name].parent
        if link is None:
            return None
        (match,) = [n for n, s in spans.items() if s.context.span_id == link.span_id]
        return match

    assert parent("ventros_channels.webhook") is None
    webhook = spans["ventros_channels.webhook"]
    assert [e.name for e in webhook.events] == [
        "ventros_channels.webhook.verified",
        "ventros_channels.webhook.parsed",
    ]
    assert (webhook.attributes or {})["http.response.status_code"] == 200
    assert parent("ventros_channels.webhook.accept") == "ventros_channels.webhook"
    assert parent("ventros_channels.handle") == "ventros_channels.webhook.accept"
    assert parent("ventros_channels.send") == "ventros_channels.handle"

    handle = spans["ventros_channels.handle"].attributes or {}
    assert handle["ventros.delivery.attempt"] == 1
    assert handle["ventros.platform"] == "webchat"
    assert handle["ventros.channel_id"] == str(active_channel.id)
    send = spans["ventros_channels.send"].attributes or {}
    assert send["ventros.platform"] == "webchat"
    assert send["ventros.message_type"] == "text"
    assert send["ventros.outcome"] == "sent"
    every_value = " ".join(str(v) for s in spans.values() for v in (s.attributes or {}).values())
    for secret in (SECRET, "test-api-key", "thanks", "hi", "conv-1", "visitor-1"):
        assert secret not in every_value.split(), secret

    points = otel.points()
    assert value(points, "ventros_channels.webhook.deliveries", outcome="accepted") == 1
    assert value(points, "ventros_channels.inbox.events", outcome="accepted") == 1
    count, took = value(points, "ventros_channels.handling.duration", outcome="handled")
    assert count == 1
    assert took > 0
    assert value(points, "ventros_channels.sends", outcome="sent", message_type="text") == 1


async def test_delivery_outcomes_dead_letters_and_rate_limit_waits_are_counted(
    otel: Otel,
    repo: InMemoryChannelRepository,
    service: ChannelService,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
) -> None:
    dispatcher = replying_dispatcher(repo, service, registry, clock, fail=True)
    async with dispatcher:
        for request in (
            signed(delivery("m1")),
            signed(delivery("m1")),  # the same bytes again: known to intake
            signed(delivery("m1", text="edited")),  # same key, other bytes: the inbox knows it
            signed(delivery("m2"), secret="wrong-secret"),
            signed(b"{not json"),
        ):
            await dispatcher.handle("webchat", active_channel.id, request)
        await dispatcher.drain()
    telemetry.record_rate_limit_wait("telegram", 0.25)
    telemetry.record_rate_limit_wait("telegram", 0.5)

    points = otel.points()
    deliveries = "ventros_channels.webhook.deliveries"
    for outcome in ("accepted", "rejected_signature", "malformed"):
        assert value(points, deliveries, outcome=outcome) == 1, outcome
    assert value(points, deliveries, outcome="duplicate") == 2
    assert value(points, "ventros_channels.inbox.events", outcome="duplicate") == 1
    handling = "ventros_channels.handling.duration"
    assert value(points, handling, outcome="retry")[0] == FAST_RETRY.max_attempts - 1
    assert value(points, handling, outcome="dead_letter")[0] == 1
    assert value(points, "ventros_channels.dead_letters", platform="webchat") == 1
    assert value(points, "ventros_channels.rate_limit.waits", platform="telegram") == 2
    assert value(points, "ventros_channels.rate_limit.wait_duration") == (2, 0.75)
    attempts = sorted(
        int(str((s.attributes or {})["ventros.delivery.attempt"]))
        for s in otel.finished()
        if s.name == "ventros_channels.handle"
    )
    assert attempts == [1, 2, 3]


async def test_inbox_depth_and_oldest_age_are_gauges(
    otel: Otel,
    repo: InMemoryChannelRepository,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
) -> None:
    inbox = InMemoryInbox(clock=clock)
    dispatcher = WebhookDispatcher(
        repo, inbox=inbox, registry=registry, clock=clock, settings=IntakeSettings()
    )
    async with dispatcher:  # web only: nothing handles them here
        for n in range(3):
            await dispatcher.handle("webchat", active_channel.id, signed(delivery(f"m{n}")))
        clock.advance(timedelta(seconds=42))
        await dispatcher.inbox_gauge.refresh()
        points = otel.points()
    depth = "ventros_channels.inbox.depth"
    assert value(points, depth, state="ready") == 3
    assert value(points, depth, state="in_flight") == 0
    assert value(points, depth, state="dead") == 0
    assert value(points, "ventros_channels.inbox.oldest_age") == 42.0
    assert "ventros_channels.inbox.depth" not in otel.points(), "a stopped dispatcher reports none"


async def test_log_records_about_a_delivery_carry_its_fields_and_trace(
    otel: Otel,
    repo: InMemoryChannelRepository,
    service: ChannelService,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="ventros_channels")
    dispatcher = replying_dispatcher(repo, service, registry, clock, fail=True)
    async with dispatcher:
        await dispatcher.handle("webchat", active_channel.id, signed(delivery("m1")))
        await dispatcher.handle("webchat", active_channel.id, signed(b"{", secret="bad"))
        await dispatcher.drain()
    failures = [r for r in caplog.records if r.name == "ventros_channels.services.worker"]
    assert len(failures) == FAST_RETRY.max_attempts
    rejected = [r for r in caplog.records if r.name == "ventros_channels.services.intake"]
    assert rejected
    for record in failures + rejected:
        fields = {k: getattr(record, k, "missing") for k in ("channel_id", "platform")}
        assert fields == {"channel_id": str(active_channel.id), "platform": "webchat"}
    assert {getattr(r, "idempotency_key", None) for r in failures} == {"webchat:site-42:msg:m1"}
    assert [getattr(r, "idempotency_key", "missing") for r in rejected] == [None]

    doc = json.loads(JsonFormatter().format(failures[-1]))
    assert doc["logger"] == "ventros_channels.services.worker"
    assert doc["level"] == "ERROR"
    assert doc["channel_id"] == str(active_channel.id)
    assert doc["platform"] == "webchat"
    assert doc["idempotency_key"] == "webchat:site-42:msg:m1"
    assert "dead-lettered" in doc["message"]


def test_json_formatter_adds_the_current_trace_and_exceptions(otel: Otel) -> None:
    record = logging.LogRecord(
        "ventros_channels.x", logging.INFO, __file__, 1, "hi %s", ("a",), None
    )
    with telemetry.span("outer"):
        ids = telemetry.current_ids()
        doc = json.loads(JsonFormatter().format(record))
    assert ids is not None
    assert (doc["trace_id"], doc["span_id"]) == ids
    assert doc["message"] == "hi a"
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord(
            "ventros_channels.x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    doc = json.loads(JsonFormatter().format(failed))
    assert "ValueError: boom" in doc["exception"]
    assert "trace_id" not in doc


def test_the_library_does_not_import_opentelemetry_until_used() -> None:
    code = (
        "import sys\n"
        "import ventros_channels, ventros_channels.services, ventros_channels.integrations.asgi\n"
        "assert 'opentelemetry' not in sys.modules, 'imported at import time'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603


def test_without_the_api_every_call_is_a_no_op() -> None:
    code = """
import asyncio, sys
sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
from ventros_channels import telemetry
from ventros_channels.inbox import InMemoryInbox
assert not telemetry.enabled()
with telemetry.span("x", {"a": 1}) as span:
    span.set_attribute("b", 2)
with telemetry.send_span("telegram", "c", "text") as scope:
    scope.outcome = "queued"
assert telemetry.current_trace() is None and telemetry.current_ids() is None
telemetry.record_delivery("telegram", "accepted")
telemetry.record_rate_limit_wait("telegram", 1.0)
async def gauge():
    g = telemetry.InboxGauge(InMemoryInbox())
    g.start()
    await g.stop()
asyncio.run(gauge())
print("no-op")
"""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    assert done.stdout.strip() == "no-op"


async def test_without_a_tracer_provider_deliveries_store_no_trace(
    repo: InMemoryChannelRepository,
    registry: AdapterRegistry,
    clock: FixedClock,
    active_channel: Channel,
    signed: Signer,
) -> None:
    telemetry.reset()  # the global providers, which no test sets
    inbox = InMemoryInbox(clock=clock)
    dispatcher = WebhookDispatcher(repo, inbox=inbox, registry=registry, clock=clock)
    async with dispatcher:
        await dispatcher.handle("webchat", active_channel.id, signed(delivery("m1")))
    (lease,) = await inbox.lease("w", limit=5, visibility=timedelta(seconds=5))
    assert lease.delivery.trace is None
