"""History imports report a span per fetched page and per written batch, and count messages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ventros_channels import telemetry
from ventros_channels.adapters import AdapterRegistry
from ventros_channels.history import ImportOptions, InMemoryHistorySink
from ventros_channels.testing import FixedClock, InMemoryChannelRepository

from .test_importer import ArchiveAdapter, importer, make_channel, world

__all__ = ["world"]  # the fixture, shared with the importer tests

World = tuple[InMemoryChannelRepository, AdapterRegistry, FixedClock]


@pytest.fixture
def exporters() -> Iterator[tuple[InMemorySpanExporter, InMemoryMetricReader]]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    telemetry.configure(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    yield spans, reader
    telemetry.reset()


async def test_history_pages_and_batches_are_spans_without_chat_ids(
    world: World, exporters: tuple[InMemorySpanExporter, InMemoryMetricReader]
) -> None:
    spans, reader = exporters
    repo, _, clock = world
    channel = await make_channel(repo, clock)
    sink = InMemoryHistorySink()
    await importer(world).run(
        channel.id, tenant_id="t", sink=sink, options=ImportOptions(page_size=10, concurrency=2)
    )
    finished = spans.get_finished_spans()
    batches = [s for s in finished if s.name == "ventros_channels.history.batch"]
    fetches = [s for s in finished if s.name == "ventros_channels.history.fetch"]
    pages_per_chat = -(-ArchiveAdapter.per_chat // 10)
    assert len(batches) == len(fetches) == ArchiveAdapter.chats * pages_per_chat
    written = sum(int(str((s.attributes or {})["ventros.messages"])) for s in batches)
    assert written == len(sink.events) == 150
    for span in batches + fetches:
        attributes = span.attributes or {}
        assert attributes["ventros.platform"] == "archive"
        assert attributes["ventros.channel_id"] == str(channel.id)
        assert not any("chat-" in str(v) for v in attributes.values())

    data = reader.get_metrics_data()
    assert data is not None
    (counted,) = [
        point.value  # type: ignore[union-attr]
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == "ventros_channels.history.messages"
        for point in metric.data.data_points
    ]
    assert counted == 150
