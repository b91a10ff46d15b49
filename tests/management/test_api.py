"""Every management endpoint through the ASGI app, on the fake platforms."""

from __future__ import annotations

from typing import Any

import httpx

from tests.management.conftest import Host, eventually

SEED_WAHA = {
    "name": "Main WhatsApp",
    "channel_type": "waha",
    "config": {
        "baseURL": "http://waha.fake",
        "sessionID": "default",
        "auth": {"type": "api_key", "apiKey": "fake-waha-api-key"},
        "webhookHmacKey": "fake-waha-hmac-key",
        "importStrategy": "new_only",
    },
}


async def _create(api: httpx.AsyncClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await api.post("/api/v1/channels", json=body or SEED_WAHA)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_create_with_the_seed_body_hides_every_secret(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/channels", json=SEED_WAHA)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "connecting"  # a WAHA channel waits for its pairing
    assert body["config"]["base_url"] == "http://waha.fake"
    assert body["config"]["session_id"] == "default"
    assert sorted(body["secrets_set"]) == ["auth.api_key", "webhook_hmac_key"]
    assert "fake-waha" not in response.text
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert response.headers["Location"] == f"/api/v1/channels/{body['id']}"
    assert body["webhook"]["url"] == f"https://crm.example.com/webhooks/waha/{body['id']}"


async def test_activate_waha_returns_the_qr_code_then_pairing_connects(
    api: httpx.AsyncClient, host: Host
) -> None:
    channel = await _create(api)
    url = f"/api/v1/channels/{channel['id']}"
    response = await api.post(f"{url}/activate-waha", json={"session_id": "default"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["session_status"] == "SCAN_QR_CODE"
    assert body["qr_code"].startswith("data:image/png;base64,")
    assert body["qr_value"].startswith("2@fake-pairing-code-")
    assert body["message"] == "Scan QR code with WhatsApp mobile app"
    state = (await api.get(f"{url}/waha/session")).json()
    assert state["connected"] is False
    assert state["qr_code"] == body["qr_code"]

    paired = host.fakes.waha.pair()
    delivered = await api.post(
        f"/webhooks/waha/{channel['id']}", content=paired.body, headers=dict(paired.headers)
    )
    assert delivered.status_code == 200

    async def connected() -> bool:
        state = (await api.get(f"{url}/waha/session")).json()
        return bool(state["connected"] and state["status"] == "active")

    await eventually(connected)


async def test_activate_waha_for_another_session_is_invalid(api: httpx.AsyncClient) -> None:
    channel = await _create(api)
    response = await api.post(
        f"/api/v1/channels/{channel['id']}/activate-waha", json={"session_id": "other"}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "session_id", "message": "is not this channel's session"}
    ]


async def test_refresh_gives_a_new_qr_code(api: httpx.AsyncClient) -> None:
    channel = await _create(api)
    url = f"/api/v1/channels/{channel['id']}"
    first = (await api.post(f"{url}/activate-waha")).json()
    second = (await api.post(f"{url}/waha/refresh")).json()
    assert second["session_status"] == "SCAN_QR_CODE"
    assert second["qr_value"] != first["qr_value"]


async def test_pairing_code_by_phone(api: httpx.AsyncClient, host: Host) -> None:
    channel = await _create(api)
    url = f"/api/v1/channels/{channel['id']}"
    await api.post(f"{url}/activate-waha")
    response = await api.post(f"{url}/waha/pairing-code", json={"phone_number": "+15550009876"})
    assert response.status_code == 200
    assert response.json() == {"code": "FAKE-9876"}
    sent = [r for r in host.fakes.waha.requests if r.url.path.endswith("/auth/request-code")]
    assert [r.content for r in sent] == [b'{"phoneNumber":"15550009876"}']


async def test_activate_and_deactivate_other_platforms(api: httpx.AsyncClient, host: Host) -> None:
    body = {"name": "Bot", "channel_type": "telegram", "config": host.fakes.config("telegram")}
    channel = await _create(api, body)
    url = f"/api/v1/channels/{channel['id']}"
    activated = await api.post(f"{url}/activate")
    assert activated.status_code == 200, activated.text
    assert activated.json()["status"] == "active"
    assert activated.json()["activated_at"] is not None
    deactivated = await api.post(f"{url}/deactivate")
    assert deactivated.json()["status"] == "inactive"
    assert deactivated.json()["success"] is True


async def test_list_filters_pages_and_sorts(api: httpx.AsyncClient, host: Host) -> None:
    for name in ("b", "a", "c"):
        await _create(api, {**SEED_WAHA, "name": name})
    telegram = {"name": "t", "channel_type": "telegram", "config": host.fakes.config("telegram")}
    await _create(api, telegram)
    listed = (await api.get("/api/v1/channels", params={"type": "waha", "limit": 2})).json()
    assert (listed["total"], listed["page"], listed["limit"]) == (3, 1, 2)
    assert len(listed["channels"]) == 2
    page2 = (
        await api.get(
            "/api/v1/channels", params={"type": "waha", "limit": 2, "page": 2, "sort": "name"}
        )
    ).json()
    assert [c["name"] for c in page2["channels"]] == ["c"]
    by_name = (await api.get("/api/v1/channels", params={"sort": "name", "order": "desc"})).json()
    assert [c["name"] for c in by_name["channels"]] == ["t", "c", "b", "a"]
    active = (await api.get("/api/v1/channels", params={"status": "active"})).json()
    assert active["total"] == 0


async def test_update_with_if_match(api: httpx.AsyncClient) -> None:
    channel = await _create(api)
    url = f"/api/v1/channels/{channel['id']}"
    got = await api.get(url)
    tag = got.headers["ETag"]
    ok = await api.patch(url, json={"name": "Renamed"}, headers={"If-Match": tag})
    assert ok.status_code == 200
    assert ok.json()["name"] == "Renamed"
    assert ok.headers["ETag"] != tag
    stale = await api.patch(url, json={"name": "Again"}, headers={"If-Match": tag})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["code"] == "PreconditionFailedError"
    assert (await api.get(url)).json()["name"] == "Renamed"


async def test_update_config_validates(api: httpx.AsyncClient) -> None:
    channel = await _create(api)
    response = await api.patch(
        f"/api/v1/channels/{channel['id']}", json={"config": {"baseURL": "ftp://x"}}
    )
    assert response.status_code == 422
    assert "baseURL" in {e["field"] for e in response.json()["errors"]}
    assert "ftp://x" not in response.text


async def test_delete_then_404(api: httpx.AsyncClient) -> None:
    channel = await _create(api)
    url = f"/api/v1/channels/{channel['id']}"
    assert (await api.delete(url)).status_code == 204
    for response in (await api.get(url), await api.post(f"{url}/activate")):
        assert response.status_code == 404
        assert response.json()["code"] == "ChannelNotFoundError"
    assert (await api.get("/api/v1/channels")).json()["total"] == 0


async def test_webhook_endpoints(api: httpx.AsyncClient) -> None:
    channel = await _create(api)
    url = f"/api/v1/channels/{channel['id']}"
    configured = await api.post(
        f"{url}/configure-webhook", json={"webhook_url": "https://custom.domain.com/webhook"}
    )
    assert configured.json() == {
        "success": True,
        "webhook_url": "https://custom.domain.com/webhook",
        "webhook_configured": True,
    }
    info = (await api.get(f"{url}/webhook-info")).json()
    assert info["webhook_url"] == "https://custom.domain.com/webhook"
    assert info["webhook_configured_at"] is not None
    assert info["last_webhook_received"] is None
    assert info["platform"] is None or "url" in info["platform"]


async def test_rotate_secret_returns_no_secret(api: httpx.AsyncClient) -> None:
    channel = await _create(api)
    secret = "a-new-secret-of-enough-length"
    response = await api.post(
        f"/api/v1/channels/{channel['id']}/rotate-webhook-secret",
        json={"new_secret": secret, "grace_hours": 1},
    )
    assert response.status_code == 200, response.text
    assert secret not in response.text
    assert response.json()["version"] > channel["version"]


async def test_connection_sync_and_report(api: httpx.AsyncClient, host: Host) -> None:
    channel = await _create(api)
    url = f"/api/v1/channels/{channel['id']}"
    await api.post(f"{url}/activate-waha")
    host.fakes.waha.pair()
    tested = (await api.post(f"{url}/test-connection")).json()
    assert tested["ok"] is True
    assert tested["account_id"] == "default"
    assert tested["status"] == "active"
    synced = await api.post(f"{url}/sync-config")
    assert synced.status_code == 200
    report = (await api.get(f"{url}/report")).json()
    assert report["status"] == "active"
    assert report["messages_received"] == 0
    assert report["not_observed"] == ["sessions_created", "active_sessions"]


async def test_history_import_start_status_and_cancel(api: httpx.AsyncClient, host: Host) -> None:
    from ventros_channels.testing.fakes import SyntheticHistory

    host.fakes.waha.history = SyntheticHistory(3, 5)
    channel = await _create(api)
    url = f"/api/v1/channels/{channel['id']}"
    never = await api.post(f"{url}/import-history", json={"strategy": "all"})
    assert never.status_code == 409
    assert never.json()["code"] == "InvariantError"
    await api.post(f"{url}/activate-waha")
    host.fakes.waha.pair()
    await api.post(f"{url}/waha/refresh")
    started = await api.post(f"{url}/import-history", json={"strategy": "all", "limit": 100})
    assert started.status_code == 202, started.text
    assert started.json()["workflow_id"] == f"history-import-{channel['id']}"

    async def completed() -> bool:
        found = (await api.get(f"{url}/import-history")).json()["history_import"]
        return bool(found["state"] == "completed")

    await eventually(completed)
    status = (await api.get(f"{url}/import-history")).json()
    assert status["history_import"]["messages"] == 15
    assert len(host.sink.events) == 15
    nothing = await api.delete(f"{url}/import-history")
    assert nothing.status_code == 409
