"""The HTTP execution layer: retries, the send policy, error mapping, redaction."""

from __future__ import annotations

import logging

import httpx
import pytest

from ventros_channels import (
    AuthenticationError,
    DeliveryUncertainError,
    InvalidRequestError,
    PlatformUnavailableError,
    RateLimitedError,
)
from ventros_channels.http import (
    HttpExecutor,
    RetryPolicy,
    error_for_status,
    parse_retry_after,
    redact,
)

TOKEN = "tok-SECRET-123456"


def executor(waits: list[float], attempts: int = 4) -> HttpExecutor:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    def mapper(response: httpx.Response, hide: object) -> object:
        if response.is_success:
            return None
        assert callable(hide)
        return error_for_status(response, "test", hide(response.text))

    return HttpExecutor("test", mapper, RetryPolicy(max_attempts=attempts, sleep=sleep))  # type: ignore[arg-type]


def scripted(*answers: httpx.Response | Exception) -> tuple[httpx.MockTransport, list[int]]:
    calls = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers[min(calls[0], len(answers) - 1)]
        calls[0] += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler), calls


async def test_rate_limited_send_waits_the_hint_then_succeeds() -> None:
    waits: list[float] = []
    transport, calls = scripted(
        httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={})
    )
    async with httpx.AsyncClient(transport=transport) as client:
        response = await executor(waits).request(
            client, "POST", "https://p.test/send", idempotent=False
        )
    assert response.status_code == 200
    assert calls[0] == 2
    assert waits == [3.0]


async def test_server_error_on_a_send_is_uncertain_and_not_retried() -> None:
    waits: list[float] = []
    transport, calls = scripted(httpx.Response(500, text="boom"))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(DeliveryUncertainError):
            await executor(waits).request(client, "POST", "https://p.test/send", idempotent=False)
    assert calls[0] == 1
    assert waits == []


async def test_read_timeout_on_a_send_is_uncertain() -> None:
    transport, calls = scripted(httpx.ReadTimeout("slow"))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(DeliveryUncertainError):
            await executor([]).request(client, "POST", "https://p.test/send", idempotent=False)
    assert calls[0] == 1


async def test_connect_error_on_a_send_is_retried_because_nothing_went_out() -> None:
    waits: list[float] = []
    transport, calls = scripted(httpx.ConnectError("refused"), httpx.Response(200, json={}))
    async with httpx.AsyncClient(transport=transport) as client:
        await executor(waits).request(client, "POST", "https://p.test/send", idempotent=False)
    assert calls[0] == 2
    assert len(waits) == 1
    assert 0 < waits[0] <= 0.5


async def test_idempotent_reads_retry_server_errors_with_growing_backoff() -> None:
    waits: list[float] = []
    transport, calls = scripted(httpx.Response(503), httpx.Response(502), httpx.Response(200))
    async with httpx.AsyncClient(transport=transport) as client:
        await executor(waits).request(client, "GET", "https://p.test/me", idempotent=True)
    assert calls[0] == 3
    assert len(waits) == 2
    assert waits[0] <= 0.5 < waits[1] or waits[1] <= 1.0


async def test_gives_up_after_max_attempts_with_the_typed_error() -> None:
    waits: list[float] = []
    transport, calls = scripted(httpx.Response(503))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(PlatformUnavailableError):
            await executor(waits, attempts=3).request(
                client, "GET", "https://p.test/me", idempotent=True
            )
    assert calls[0] == 3


async def test_a_hint_longer_than_the_cap_is_raised_not_slept() -> None:
    waits: list[float] = []
    transport, calls = scripted(httpx.Response(429, headers={"Retry-After": "3600"}))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(RateLimitedError) as caught:
            await executor(waits).request(client, "POST", "https://p.test/send", idempotent=False)
    assert caught.value.retry_after == 3600
    assert waits == []
    assert calls[0] == 1


async def test_auth_errors_are_not_retried() -> None:
    transport, calls = scripted(httpx.Response(401, text="bad token"))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(AuthenticationError):
            await executor([]).request(client, "GET", "https://p.test/me", idempotent=True)
    assert calls[0] == 1


async def test_secrets_are_redacted_from_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ventros_channels.http")
    transport, _ = scripted(httpx.Response(400, text=f"token {TOKEN} is not valid"))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await executor([]).request(
                client, "GET", f"https://p.test/bot{TOKEN}/getMe", idempotent=True, secrets=[TOKEN]
            )
    assert TOKEN not in str(caught.value)
    assert "***" in str(caught.value)
    assert caplog.records, "the request is logged at DEBUG"
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0  # already past
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after(7) == 7.0


def test_retry_after_is_capped_and_never_absurd() -> None:
    from datetime import UTC, datetime

    from ventros_channels.http import RETRY_AFTER_CAP

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("99999999") == RETRY_AFTER_CAP
    assert parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now) == RETRY_AFTER_CAP
    assert parse_retry_after("5", cap=2.0) == 2.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("nan") is None
    assert parse_retry_after("inf") == RETRY_AFTER_CAP
    assert parse_retry_after("9" * 400) is None  # not a number anyone means
    assert parse_retry_after(10**400) == RETRY_AFTER_CAP
    assert parse_retry_after(True) is None


def test_redact_replaces_every_secret() -> None:
    assert redact("a SECRET b OTHER", ["SECRET", "OTHER", ""]) == "a *** b ***"
