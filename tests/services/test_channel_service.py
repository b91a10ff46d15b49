"""The channel use cases over the in-memory repository and a faked platform."""

from __future__ import annotations

import httpx
import pytest

from ventros_channels import (
    Channel,
    ChannelInactiveError,
    ChannelStatus,
    InvariantError,
    RateLimitedError,
)
from ventros_channels.messaging import TextMessage
from ventros_channels.publisher import InMemoryEventPublisher
from ventros_channels.services import ChannelService
from ventros_channels.testing import InMemoryChannelRepository

from .conftest import PROJECT, TENANT, webchat_config


async def test_create_generates_the_webhook_url_and_publishes_after_saving(
    service: ChannelService, publisher: InMemoryEventPublisher, repo: InMemoryChannelRepository
) -> None:
    channel = await service.create_channel(
        tenant_id=TENANT,
        project_id=PROJECT,
        name="Chat",
        channel_type="webchat",
        config=webchat_config(),
    )
    assert channel.webhook.url == f"https://crm.example.test/webhooks/webchat/{channel.id}"
    assert publisher.types() == ["channel.created", "channel.webhook.configured"]
    assert (await repo.get(channel.id, tenant_id=TENANT)).version == 1


async def test_events_are_not_published_when_the_save_fails(
    service: ChannelService,
    publisher: InMemoryEventPublisher,
    repo: InMemoryChannelRepository,
    active_channel: Channel,
) -> None:
    publisher.clear()
    service_repo_save = repo.save

    class Failing(Exception):
        pass

    async def failing_save(channel: Channel) -> None:
        raise Failing

    repo.save = failing_save  # type: ignore[method-assign]
    with pytest.raises(Failing):
        await service.update_channel(active_channel.id, tenant_id=TENANT, name="Never saved")
    repo.save = service_repo_save  # type: ignore[method-assign]
    assert publisher.events == []


async def test_activation_tests_the_connection_and_goes_active(
    active_channel: Channel, publisher: InMemoryEventPublisher, platform_calls: list[httpx.Request]
) -> None:
    assert active_channel.status is ChannelStatus.ACTIVE
    assert active_channel.external_id == "site-42"
    assert any(r.url.path == "/v1/sites/site-42" for r in platform_calls)
    assert "channel.activated" in publisher.types()


async def test_activation_without_a_webhook_url_is_refused(
    repo: InMemoryChannelRepository, http: httpx.AsyncClient, registry: object
) -> None:
    bare = ChannelService(repo, http=http, registry=registry)  # type: ignore[arg-type]
    channel = await bare.create_channel(
        tenant_id=TENANT,
        project_id=PROJECT,
        name="Chat",
        channel_type="webchat",
        config=webchat_config(),
    )
    with pytest.raises(InvariantError) as caught:
        await bare.activate(channel.id, tenant_id=TENANT)
    assert caught.value.rule == "webhook_not_configured"


async def test_send_refuses_inactive_channels(
    service: ChannelService, active_channel: Channel
) -> None:
    await service.deactivate(active_channel.id, tenant_id=TENANT)
    with pytest.raises(ChannelInactiveError):
        await service.send(active_channel.id, TextMessage(to="conv-1", text="hi"), tenant_id=TENANT)


async def test_send_counts_successes_and_records_errors(
    service: ChannelService, active_channel: Channel, repo: InMemoryChannelRepository
) -> None:
    result = await service.send(
        active_channel.id, TextMessage(to="conv-1", text="hello"), tenant_id=TENANT
    )
    assert result.message_id
    with pytest.raises(RateLimitedError):
        await service.send(
            active_channel.id, TextMessage(to="conv-1", text="please fail"), tenant_id=TENANT
        )
    stored = await repo.get(active_channel.id, tenant_id=TENANT)
    assert stored.metrics.messages_sent == 1
    assert stored.metrics.errors == 1
    assert "test-api-key" not in (stored.metrics.last_error or "")
    report = await service.report(active_channel.id, tenant_id=TENANT)
    assert report.messages_sent == 1
    assert report.error_rate == 1000.0


async def test_pipeline_association_and_events(
    service: ChannelService, active_channel: Channel, publisher: InMemoryEventPublisher
) -> None:
    publisher.clear()
    pipeline = "00000000-0000-4000-8000-0000000000cc"
    channel = await service.associate_pipeline(active_channel.id, pipeline, tenant_id=TENANT)
    assert str(channel.routing_context().pipeline_id) == pipeline
    await service.disassociate_pipeline(active_channel.id, tenant_id=TENANT)
    assert publisher.types() == ["channel.pipeline.associated", "channel.pipeline.disassociated"]


async def test_delete_soft_deletes_and_hides_the_channel_from_webhooks(
    service: ChannelService, active_channel: Channel, repo: InMemoryChannelRepository
) -> None:
    await service.delete(active_channel.id, tenant_id=TENANT)
    assert await repo.lookup(active_channel.id) is None
    assert (await repo.get(active_channel.id, tenant_id=TENANT)).is_deleted


async def test_refresh_status_disconnects_when_the_platform_is_down(
    repo: InMemoryChannelRepository, registry: object, active_channel: Channel
) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    from ventros_channels.http import RetryPolicy

    async def no_wait(seconds: float) -> None:
        return None

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as client:
        svc = ChannelService(repo, http=client, registry=registry)  # type: ignore[arg-type]
        svc.adapter_for(active_channel).http.policy = RetryPolicy(max_attempts=2, sleep=no_wait)
        status = await svc.refresh_status(active_channel.id, tenant_id=TENANT)
    assert status is ChannelStatus.DISCONNECTED
