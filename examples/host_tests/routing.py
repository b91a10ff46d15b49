"""Host code under test: where does a message of a channel go?"""

from __future__ import annotations

from uuid import UUID

from ventros_channels import ChannelRepository


async def pipeline_for(
    repo: ChannelRepository, channel_id: UUID, tenant_id: str, default_pipeline: UUID
) -> UUID:
    """The channel's pipeline, or the project default when it has none."""
    channel = await repo.get(channel_id, tenant_id=tenant_id)
    return channel.pipeline_id or default_pipeline
