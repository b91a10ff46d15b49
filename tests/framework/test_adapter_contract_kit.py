"""The adapter contract kit catches adapters that do not verify what they claim to.

Each adapter here is a minimal plug-in with an HMAC or a shared-token scheme; the broken ones
are the mistakes the kit exists to find. The kit's checks are called directly so a failure of
the kit is an outcome the test can assert.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr

from ventros_channels import ChannelConfig, ChannelType, InboundEvent, WebhookVerificationError
from ventros_channels.adapters import ChannelAdapter
from ventros_channels.testing.contract import AdapterContract
from ventros_channels.webhooks import (
    VerificationKeys,
    WebhookRequest,
    hmac_hex,
    verify_hmac,
    verify_shared_token,
)

KIT = ChannelType("kit-check")
SAMPLES = [b'{"id": "m-1", "text": "hello", "sent": 1767268800}']
HEADER = "x-kit-signature"


class KitConfig(ChannelConfig):
    channel_type: ClassVar[ChannelType] = KIT
    webhook_secret_field: ClassVar[str | None] = "secret"
    secret: SecretStr


class SigningAdapter(ChannelAdapter[KitConfig]):
    """Proves the body: an HMAC over the raw bytes."""

    channel_type: ClassVar[ChannelType] = KIT
    config_model: ClassVar[type[ChannelConfig]] = KitConfig

    def check_signature(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        verify_hmac(request.headers.get(HEADER), request.body, keys.secret_bytes())

    def sign(self, body: bytes, secret: str, *, now: datetime) -> dict[str, str]:
        return {HEADER: hmac_hex(secret.encode(), body)}

    def parse(self, body: bytes, config: KitConfig | None = None) -> list[InboundEvent]:
        return []


class BodyBlindAdapter(SigningAdapter):
    """Broken: signs and checks a constant instead of the body, yet keeps the default
    ``verifies_body = True``."""

    def check_signature(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        verify_hmac(request.headers.get(HEADER), b"", keys.secret_bytes())

    def sign(self, body: bytes, secret: str, *, now: datetime) -> dict[str, str]:
        return {HEADER: hmac_hex(secret.encode(), b"")}


class TokenAdapter(SigningAdapter):
    """A shared-token scheme that says so."""

    verifies_body: ClassVar[bool] = False

    def check_signature(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        verify_shared_token(request.headers.get(HEADER), keys.secret_bytes())

    def sign(self, body: bytes, secret: str, *, now: datetime) -> dict[str, str]:
        return {HEADER: secret}


class PrefixTokenAdapter(TokenAdapter):
    """Broken: accepts any token that starts like the secret."""

    def check_signature(self, request: WebhookRequest, keys: VerificationKeys) -> None:
        token = (request.headers.get(HEADER) or "").encode()
        if not token or not any(secret.startswith(token) for secret in keys.secret_bytes()):
            raise WebhookVerificationError("secret token mismatch")


CONFIG = KitConfig(secret=SecretStr("kit-secret-value"))


def run(check: str, adapter: ChannelAdapter[Any], samples: Sequence[bytes] = SAMPLES) -> None:
    getattr(AdapterContract(), check)(adapter, CONFIG, samples)


def test_an_adapter_that_signs_the_body_passes() -> None:
    run("test_tampered_body_is_rejected", SigningAdapter())
    run("test_signed_samples_verify", SigningAdapter())


def test_an_adapter_that_ignores_the_body_fails_the_tamper_check() -> None:
    run("test_signed_samples_verify", BodyBlindAdapter())  # it does look genuine ...
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        run("test_tampered_body_is_rejected", BodyBlindAdapter())  # ... but is not


def test_a_token_scheme_skips_the_tamper_check_and_has_its_token_checked() -> None:
    with pytest.raises(pytest.skip.Exception, match="verifies_body = False"):
        run("test_tampered_body_is_rejected", TokenAdapter())
    run("test_token_scheme_refuses_a_wrong_token", TokenAdapter())


def test_a_body_signing_adapter_skips_the_token_check() -> None:
    with pytest.raises(pytest.skip.Exception, match="proves the body"):
        run("test_token_scheme_refuses_a_wrong_token", SigningAdapter())


def test_a_token_scheme_that_accepts_a_wrong_token_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        run("test_token_scheme_refuses_a_wrong_token", PrefixTokenAdapter())


@pytest.mark.parametrize("body", [SAMPLES[0], b"{}", b"7"])
def test_every_tampered_copy_differs_from_the_genuine_body(body: bytes) -> None:
    copies = AdapterContract._tampered(body)
    assert len(copies) >= 2
    assert body not in copies
