"""Signature checks: constant-time, fail closed, rotation, freshness."""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ventros_channels import WebhookVerificationError
from ventros_channels.webhooks import check_freshness, hmac_hex, verify_hmac, verify_shared_token

BODY = b'{"text":"ol\\u00e1"}'


def test_hmac_over_the_exact_raw_bytes() -> None:
    signature = "sha256=" + hmac_hex(b"k", BODY)
    verify_hmac(signature, BODY, [b"k"], prefix="sha256=")
    reserialized = json.dumps(json.loads(BODY)).encode()  # what a framework would hand over
    assert reserialized != BODY
    with pytest.raises(WebhookVerificationError, match="mismatch"):
        verify_hmac(signature, reserialized, [b"k"], prefix="sha256=")


def test_any_of_several_secrets_is_accepted() -> None:
    signature = hmac_hex(b"old", BODY, "sha512")
    verify_hmac(signature, BODY, [b"new", b"old"], algorithm="sha512")


@pytest.mark.parametrize(
    ("signature", "reason"),
    [(None, "missing"), ("", "missing"), ("md5=abc", "malformed"), ("sha256=abc", "malformed")],
)
def test_missing_or_malformed_signatures(signature: str | None, reason: str) -> None:
    with pytest.raises(WebhookVerificationError, match=reason):
        verify_hmac(signature, BODY, [b"k"], prefix="sha256=")


def test_no_secret_fails_closed() -> None:
    with pytest.raises(WebhookVerificationError, match="no secret"):
        verify_hmac("sha256=" + hmac_hex(b"k", BODY), BODY, [], prefix="sha256=")
    with pytest.raises(WebhookVerificationError, match="no secret"):
        verify_shared_token("token", [])


def test_shared_token() -> None:
    verify_shared_token("abc", [b"xyz", b"abc"])
    with pytest.raises(WebhookVerificationError):
        verify_shared_token("abd", [b"abc"])
    with pytest.raises(WebhookVerificationError):
        verify_shared_token(None, [b"abc"])


def test_freshness_window() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    check_freshness(now - timedelta(minutes=4), now, timedelta(minutes=5))
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        check_freshness(now - timedelta(minutes=6), now, timedelta(minutes=5))


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=200),  # keys shorter and longer than every block size (64, 128)
    st.binary(max_size=2000),
    st.sampled_from(["sha1", "sha256", "sha512"]),
)
def test_hmac_hex_is_standard_hmac(key: bytes, body: bytes, algorithm: str) -> None:
    """The digest is the standard HMAC's, and any configured secret verifies it."""
    expected = hmac.new(key, body, algorithm).hexdigest()
    assert hmac_hex(key, body, algorithm) == expected
    verify_hmac(expected.upper(), body, [b"other", key], algorithm=algorithm)
