"""The FastAPI host on SQLite, end to end against the fake platforms (what CI runs)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from click.testing import CliRunner

from ventros_channels import MessagingWindowClosedError, TextMessage
from ventros_channels.cli import cli
from ventros_channels.sql import SqlChannelRepository, create_engine
from ventros_channels.testing.fakes import FakePlatforms

from .app import build, create_tables


async def test_a_telegram_message_gets_an_echo(tmp_path: Path) -> None:
    fakes = FakePlatforms()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'channels.db'}")
    repo = SqlChannelRepository(engine)
    await repo.create_schema()
    async with fakes.client() as http:
        app, service, dispatcher = build(repo, http, "https://crm.example.test")
        await create_tables(service)
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


async def test_the_seed_waha_flow_through_the_api_and_the_cli(tmp_path: Path) -> None:
    """Create a WAHA channel with the seed's body, pair it on the fake WAHA server, list it."""
    fakes = FakePlatforms()
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"
    engine = create_engine(url)
    repo = SqlChannelRepository(engine)
    await repo.create_schema()
    seed = {
        "name": "Main WhatsApp",
        "channel_type": "waha",
        "config": {
            "baseURL": "http://waha.fake",
            "sessionID": "default",
            "auth": {"type": "api_key", "apiKey": fakes.waha.api_key},
            "webhookHmacKey": fakes.waha.hmac_key,
            "importStrategy": "new_only",
        },
    }
    async with fakes.client() as http:
        app, _, dispatcher = build(
            repo, http, "https://crm.example.test", api_keys={"k": "acme"}, fakes=fakes
        )
        async with (
            dispatcher,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://crm",
                headers={"X-API-Key": "k"},
            ) as client,
        ):
            created = (await client.post("/api/v1/channels", json=seed)).json()
            base = f"/api/v1/channels/{created['id']}"
            qr = (await client.post(f"{base}/activate-waha", json={"session_id": "default"})).json()
            page = await client.get(f"{base}/pairing")
            scanned = await client.post(f"/dev/fake-waha/{created['id']}/scan")
            await dispatcher.drain()
            state = (await client.get(f"{base}/waha/session")).json()
    await engine.dispose()
    assert qr["session_status"] == "SCAN_QR_CODE"
    assert qr["qr_code"].startswith("data:image/png;base64,")
    assert "Connect WhatsApp" in page.text
    assert scanned.json() == {"status": 200}
    assert (state["connected"], state["status"]) == (True, "active")
    listed = await asyncio.to_thread(  # the CLI runs its own event loop
        CliRunner().invoke, cli, ["channels", "--db", url, "--tenant", "acme", "--json", "list"]
    )
    assert listed.exit_code == 0, listed.output
    (row,) = [json.loads(line) for line in listed.output.splitlines()]
    assert (row["name"], row["status"]) == ("Main WhatsApp", "active")


async def test_the_handler_reads_reacts_and_replies_and_the_window_is_kept(
    tmp_path: Path,
) -> None:
    """A WhatsApp Cloud text gets a read receipt, a reaction and a quoted echo through the
    handler context; a reply to a chat that never wrote is refused before any request."""
    fakes = FakePlatforms()
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'channels.db'}")
    repo = SqlChannelRepository(engine)
    await repo.create_schema()
    async with fakes.client() as http:
        app, service, dispatcher = build(repo, http, "https://crm.example.test")
        await create_tables(service)
        channel = await service.create_channel(
            tenant_id="acme",
            project_id="5e1f0c1e-0000-4000-8000-00000000a11c",
            name="WhatsApp",
            channel_type="whatsapp",
            config=fakes.config("whatsapp"),
        )
        await service.activate(channel.id, tenant_id="acme")
        delivery = fakes.graph.whatsapp_text(sender="15550009999", text="hello")
        async with (
            dispatcher,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://crm"
            ) as client,
        ):
            path = f"/webhooks/whatsapp/{channel.id}"
            answer = await client.post(path, content=delivery.body, headers=dict(delivery.headers))
            await dispatcher.drain()
            sends = [r for r in fakes.graph.requests if r.url.path.endswith("/messages")]
            bodies = [json.loads(r.content) for r in sends]
            before = len(fakes.graph.requests)
            try:
                await service.send(
                    channel.id,
                    TextMessage(to="15550001234", text="unprompted"),
                    tenant_id="acme",
                )
            except MessagingWindowClosedError as refused:
                closed = refused
            after = len(fakes.graph.requests)
    await engine.dispose()

    assert answer.status_code == 200
    inbound_id = json.loads(delivery.body)["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert [b.get("status") or b.get("type") for b in bodies] == ["read", "reaction", "text"]
    assert bodies[0]["message_id"] == inbound_id
    assert bodies[1]["reaction"]["message_id"] == inbound_id
    assert bodies[2]["text"]["body"] == "echo: hello"
    assert bodies[2]["context"]["message_id"] == inbound_id
    assert closed.chat_id == "15550001234"
    assert after == before, "the refused reply reached the platform"
