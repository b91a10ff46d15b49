"""Tenant isolation and problem+json answers, one per error class of the table."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from tests.management.conftest import Host
from tests.management.test_api import SEED_WAHA
from ventros_channels import errors as e
from ventros_channels.integrations.fastapi import (
    STATUS_BY_ERROR,
    FeatureNotConfiguredError,
    PreconditionFailedError,
    ProblemRoute,
)

ROUTES_WITH_ID = [
    ("GET", ""),
    ("PATCH", ""),
    ("DELETE", ""),
    ("POST", "/activate"),
    ("POST", "/deactivate"),
    ("POST", "/activate-waha"),
    ("POST", "/waha/refresh"),
    ("GET", "/waha/session"),
    ("POST", "/configure-webhook"),
    ("GET", "/webhook-info"),
    ("POST", "/test-connection"),
    ("POST", "/sync-config"),
    ("POST", "/rotate-webhook-secret"),
    ("GET", "/report"),
    ("POST", "/import-history"),
    ("GET", "/import-history"),
    ("DELETE", "/import-history"),
    ("GET", "/dead-letters"),
    ("POST", "/dead-letters/replay"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES_WITH_ID)
async def test_another_tenants_channel_is_not_found(
    api: httpx.AsyncClient, method: str, path: str
) -> None:
    created = (await api.post("/api/v1/channels", json=SEED_WAHA)).json()
    before = (await api.get(f"/api/v1/channels/{created['id']}")).json()
    body = {"name": "stolen"} if method == "PATCH" else None
    intruder = await api.request(
        method,
        f"/api/v1/channels/{created['id']}{path}",
        json=body,
        headers={"X-API-Key": "key-globex"},
    )
    missing = await api.request(
        method, f"/api/v1/channels/{uuid4()}{path}", json=body, headers={"X-API-Key": "key-globex"}
    )
    assert intruder.status_code == missing.status_code == 404
    assert intruder.json()["code"] == missing.json()["code"] == "ChannelNotFoundError"
    assert (await api.get(f"/api/v1/channels/{created['id']}")).json() == before


async def test_lists_are_per_tenant(api: httpx.AsyncClient) -> None:
    await api.post("/api/v1/channels", json=SEED_WAHA)
    theirs = await api.get("/api/v1/channels", headers={"X-API-Key": "key-globex"})
    assert theirs.json()["total"] == 0


async def test_unauthenticated_is_401_problem(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/channels", headers={"X-API-Key": "nope"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "ApiKey"


def _sample(cls: type[BaseException]) -> BaseException:
    samples: dict[type[BaseException], BaseException] = {
        e.InvalidInputError: e.InvalidInputError("x", [e.FieldError("name", "is required")]),
        e.UnknownChannelTypeError: e.UnknownChannelTypeError("fax"),
        e.AdapterNotFoundError: e.AdapterNotFoundError("fax"),
        e.WebhookPayloadError: e.WebhookPayloadError("waha", "not json"),
        e.WebhookError: e.WebhookVerificationError("bad signature"),
        e.ChannelNotFoundError: e.ChannelNotFoundError("c1"),
        e.ConcurrencyError: e.ConcurrencyError("c1", 1, 2),
        e.DomainError: e.InvalidTransitionError("inactive", "error"),
        e.ChannelInactiveError: e.ChannelInactiveError("c1", "inactive"),
        e.CapabilityNotSupportedError: e.CapabilityNotSupportedError("telegram", "qr"),
        e.CorruptChannelError: e.CorruptChannelError("c1", [e.FieldError("config", "bad")]),
        e.RepositoryUnavailableError: e.RepositoryUnavailableError("down"),
        e.NotStartedError: e.NotStartedError("not started"),
        e.AdapterError: e.AdapterLoadError("x", None, "boom"),
        e.RateLimitedError: e.RateLimitedError("slow down", platform="waha", retry_after=7),
        e.PlatformUnavailableError: e.PlatformUnavailableError("down", platform="waha"),
        e.PlatformError: e.AuthenticationError("token refused", platform="waha"),
        e.VentrosChannelsError: e.VentrosChannelsError("odd"),
        FeatureNotConfiguredError: FeatureNotConfiguredError("history imports"),
        PreconditionFailedError: PreconditionFailedError("c1", 1, 2),
    }
    return samples[cls]


@pytest.mark.parametrize("cls", list(STATUS_BY_ERROR), ids=lambda c: c.__name__)
async def test_each_error_class_is_a_problem_document(cls: type[BaseException]) -> None:
    app = FastAPI()
    app.router.route_class = ProblemRoute
    error = _sample(cls)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        response = await client.get("/boom")
    expected = STATUS_BY_ERROR[cls]
    assert response.status_code == expected
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == expected
    assert body["code"] == type(error).__name__
    assert body["instance"] == "/boom"
    assert body["type"].startswith("urn:ventros-channels:problem:")
    if expected == 500:
        assert body["detail"] == "the server could not complete the request"
    if cls is e.InvalidInputError:
        assert body["errors"] == [{"field": "name", "message": "is required"}]
    if cls is e.RateLimitedError:
        assert response.headers["retry-after"] == "7"


async def test_capability_conflict_on_telegram(api: httpx.AsyncClient, host: Host) -> None:
    body = {"name": "Bot", "channel_type": "telegram", "config": host.fakes.config("telegram")}
    created = (await api.post("/api/v1/channels", json=body)).json()
    response = await api.post(f"/api/v1/channels/{created['id']}/waha/refresh")
    assert response.status_code == 409
    assert response.json()["code"] == "CapabilityNotSupportedError"


async def test_unknown_type_and_bad_config_are_422(api: httpx.AsyncClient) -> None:
    unknown = await api.post(
        "/api/v1/channels", json={"name": "x", "channel_type": "fax", "config": {}}
    )
    assert unknown.status_code == 422
    bad = await api.post("/api/v1/channels", json={**SEED_WAHA, "config": {"sessionID": "s"}})
    assert bad.status_code == 422
    assert bad.json()["code"] == "ChannelConfigError"
