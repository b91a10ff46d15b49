"""The FastAPI host on SQLite, end to end against the fake platforms (what CI runs)."""

from __future__ import annotations

from pathlib import Path

import httpx

from ventros_channels.sql import SqlChannelRepository, create_engine
from ventros_channels.testing.fakes import FakePlatforms

from .app import build


async def test_a_telegram_message_gets_an_echo(tmp_path: Path) -> None:
    fakes = FakePlatforms()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'channels.db'}")
    repo = SqlChannelRepository(engine)
    await repo.create_schema()
    async with fakes.client() as http:
        app, service, dispatcher = build(repo, http, "https://crm.example.test")
        channel = await service.create_channel(
            tenant_id="acme",
            project_id="5e1f0c1e-0000-4000-8000-00000000a11c",
            name="Bot",
            channel_type="telegram",
            config=fakes.config("telegram"),
        )
        await service.activate(channel.id, tenant_id="acme")
        assert fakes.telegram.webhook_url == channel.webhook.url

        delivery = fakes.telegram.text_update(chat_id=42, text="hello")
        async with (
            dispatcher,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://crm"
            ) as client,
        ):
            path = f"/webhooks/telegram/{channel.id}"
            answer = await client.post(path, content=delivery.body, headers=dict(delivery.headers))
            unsigned = await client.post(path, content=delivery.body)
            await dispatcher.drain()
            report = await client.get(
                f"/channels/{channel.id}/report", params={"tenant_id": "acme"}
            )

    assert (answer.status_code, unsigned.status_code) == (200, 401)
    (sent,) = fakes.telegram.sent_to("42")
    assert sent.body["text"] == "echo: hello"
    await engine.dispose()
    assert report.json() == {"received": 1, "sent": 1, "errors": 0, "status": "active"}
