"""The offline demo: ``python -m ventros_channels.demo`` (or ``python3 scripts/dev.py demo``).

Creates one channel of every built-in type in the in-memory repository, walks a WAHA channel
through pairing (QR code, scan, WORKING), routes a delivery through its adapter when one is
installed, shows optimistic concurrency and atomic counters, and prints the domain events.
Nothing here touches the network.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from uuid import UUID

from ventros_channels import (
    Channel,
    ChannelFilters,
    ConcurrencyError,
    InvalidTransitionError,
    InvariantError,
    MetricsDelta,
)
from ventros_channels.adapters import default_registry
from ventros_channels.errors import AdapterLoadError, AdapterNotFoundError
from ventros_channels.testing import FixedClock, InMemoryChannelRepository
from ventros_channels.testing.factories import SAMPLE_CONFIGS
from ventros_channels.webhooks import VerificationKeys, WebhookRequest

TENANT = "acme"
PROJECT = UUID("5e1f0c1e-0000-4000-8000-00000000a11c")
PUBLIC_BASE = "https://crm.example.test"

TELEGRAM_UPDATE = {
    "update_id": 900001,
    "message": {
        "message_id": 1001,
        "from": {"id": 123456789, "is_bot": False, "first_name": "Ana"},
        "chat": {"id": 123456789, "type": "private", "first_name": "Ana"},
        "date": 1767268800,
        "text": "Hi! Is my order on its way?",
    },
}


def show_events(channel: Channel) -> None:
    for event in channel.pull_events():
        data = event.to_dict()
        extra = {
            k: v
            for k, v in data.items()
            if k
            not in {
                "type",
                "event_id",
                "channel_id",
                "tenant_id",
                "occurred_at",
                "aggregate_version",
            }
        }
        detail = f" {json.dumps(extra, ensure_ascii=False)}" if extra else ""
        print(f"    v{event.aggregate_version} {event.event_type}{detail}")


async def main() -> None:
    clock = FixedClock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    repo = InMemoryChannelRepository(clock=clock)

    print("1. One channel per built-in type (secrets stay hidden in every repr):")
    channels: dict[str, Channel] = {}
    for channel_type, config in SAMPLE_CONFIGS.items():
        channel = Channel.create(
            tenant_id=TENANT,
            project_id=PROJECT,
            name=f"Support on {channel_type}",
            channel_type=channel_type,
            config=config,
            clock=clock,
        )
        channel.configure_webhook(base_url=PUBLIC_BASE)
        await repo.save(channel)
        channels[channel_type] = channel
        print(f"  {channel!r}")
        print(f"    config: {channel.config.redacted()}")
        print(f"    webhook: {channel.webhook.url}")
        channel.pull_events()

    print("\n2. The seed's WAHA setup flow: activate, QR code, scan, WORKING:")
    waha = channels["waha"]
    waha.request_activation()
    waha.record_session_status("SCAN_QR_CODE")
    expires = waha.update_qr_code("2@demo-pairing-code,QmFzZTY0,KeyMaterial==")
    print(f"  QR code valid until {expires.isoformat()}: {waha.qr_code}")
    clock.advance(seconds=61)
    print(
        f"  61 s later the code is expired: valid={waha.is_qr_code_valid()}, "
        f"needs a new one={waha.needs_new_qr_code()}"
    )
    waha.update_qr_code("2@second-attempt-code")
    waha.record_session_status("WORKING")
    print(f"  after the scan: status={waha.status.value}, QR cleared={waha.qr_code is None}")
    await repo.save(waha)
    show_events(waha)

    print("\n3. The state machine refuses what would break a channel:")
    telegram = channels["telegram"]
    try:
        telegram.mark_disconnected("lost")
    except InvalidTransitionError as exc:
        print(f"  InvalidTransitionError: {exc}")
    fresh = Channel.create(
        tenant_id=TENANT,
        project_id=PROJECT,
        name="No webhook yet",
        channel_type="telegram",
        config=SAMPLE_CONFIGS["telegram"],
        clock=clock,
    )
    try:
        fresh.activate()
    except InvariantError as exc:
        print(f"  InvariantError[{exc.rule}]: {exc}")

    print("\n4. Routing a signed Telegram delivery through its adapter:")
    try:
        adapter = default_registry().get("telegram")
    except (AdapterNotFoundError, AdapterLoadError) as exc:
        print(f"  (skipped: {exc})")
    else:
        telegram.activate()
        body = json.dumps(TELEGRAM_UPDATE).encode()
        secret = telegram.webhook_secrets()[0].get_secret_value()
        request = WebhookRequest("POST", body, adapter.sign(body, secret, now=clock.now()))
        adapter.verify(request, VerificationKeys(telegram.webhook_secrets(), now=clock.now()))
        for event in adapter.parse(body, telegram.config):
            record = event.to_json_dict()
            record.pop("raw", None)
            print(f"  {json.dumps(record, ensure_ascii=False)}")
        ctx = telegram.routing_context()
        pipeline = "project default" if ctx.uses_project_default_pipeline else ctx.pipeline_id
        print(f"  routing: tenant={ctx.tenant_id} project={ctx.project_id} pipeline={pipeline}")
        await repo.save(telegram)
        telegram.pull_events()

    print("\n5. Atomic counters and optimistic concurrency:")
    await asyncio.gather(
        *(
            repo.record_metrics(waha.id, MetricsDelta(received=1), tenant_id=TENANT)
            for _ in range(250)
        )
    )
    first = await repo.get(waha.id, tenant_id=TENANT)
    second = await repo.get(waha.id, tenant_id=TENANT)
    first.associate_pipeline("7d3c0c51-0000-4000-8000-0000000000aa")
    await repo.save(first)
    second.rename("Renamed concurrently")
    try:
        await repo.save(second)
    except ConcurrencyError as exc:
        print(f"  ConcurrencyError: {exc}")
    stored = await repo.get(waha.id, tenant_id=TENANT)
    print(f"  250 concurrent increments -> messages_received={stored.metrics.messages_received}")
    show_events(first)

    print("\n6. Queries (tenant-scoped):")
    active = await repo.find_active_by_project(PROJECT, tenant_id=TENANT)
    print(f"  active in project: {sorted(str(c.channel_type) for c in active)}")
    page = await repo.find(ChannelFilters(tenant_id=TENANT, channel_types={"waha", "whatsapp"}))
    print(f"  waha+whatsapp: total={page.total}")
    hits = await repo.search("support on", tenant_id=TENANT, limit=2)
    print(f"  search 'support on': total={hits.total}, first page={[c.name for c in hits.items]}")
    other = await repo.find(ChannelFilters(tenant_id="someone-else"))
    print(f"  another tenant sees: total={other.total}")

    secrets_seen = [
        v for cfg in SAMPLE_CONFIGS.values() for v in _secret_values(cfg) if v in repr(channels)
    ]
    print(f"\nSecrets found in any channel repr: {secrets_seen or 'none'}")


def _secret_values(config: object) -> list[str]:
    out: list[str] = []
    if isinstance(config, dict):
        for key, value in config.items():
            if isinstance(value, dict):
                out.extend(_secret_values(value))
            elif any(w in key for w in ("token", "secret", "key", "password")) and value:
                out.append(str(value))
    return out


if __name__ == "__main__":
    asyncio.run(main())
