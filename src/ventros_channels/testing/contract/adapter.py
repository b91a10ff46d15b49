"""The adapter contract: a test suite every adapter, built-in or plug-in, runs against itself.

Subclass :class:`AdapterContract` in a test module and provide three fixtures::

    class TestMyAdapter(AdapterContract):
        @pytest.fixture
        def adapter(self): return MyAdapter()

        @pytest.fixture
        def config(self): return MyConfig(...)          # with a webhook secret

        @pytest.fixture
        def samples(self): return [Path("payload.json").read_bytes(), ...]

Optional overrides: ``outbound_message`` (what the send checks send) and
``rate_limited_response`` (the platform's own 429 answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, get_args

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from ventros_channels.adapters.base import Capability, ChannelAdapter
from ventros_channels.domain.config import ChannelConfig
from ventros_channels.errors import (
    CapabilityNotSupportedError,
    RateLimitedError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from ventros_channels.http import RetryPolicy
from ventros_channels.messaging.inbound import InboundEvent
from ventros_channels.messaging.outbound import OutboundMessage, TextMessage
from ventros_channels.webhooks.request import VerificationKeys, WebhookRequest

__all__ = ["AdapterContract"]

_EVENT_CLASSES = tuple(get_args(get_args(InboundEvent)[0]))
_NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _mutate(doc: Any, path: tuple[Any, ...], replacement: Any, delete: bool) -> Any:
    if not path:
        return replacement
    doc = json.loads(json.dumps(doc))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return doc


def _secret_values(model: BaseModel) -> list[str]:
    out: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            out.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            out.extend(_secret_values(value))
    return out


class AdapterContract:
    """Behaviour every :class:`ChannelAdapter` must show. See the module docstring."""

    @pytest.fixture
    def adapter(self) -> ChannelAdapter[Any]:
        raise NotImplementedError("override the 'adapter' fixture")

    @pytest.fixture
    def config(self) -> ChannelConfig:
        raise NotImplementedError("override the 'config' fixture (with a webhook secret)")

    @pytest.fixture
    def samples(self) -> Sequence[bytes]:
        raise NotImplementedError("override the 'samples' fixture with raw webhook bodies")

    @pytest.fixture
    def outbound_message(self) -> OutboundMessage:
        return TextMessage(to="contract-recipient", text="contract test")

    @pytest.fixture
    def rate_limited_response(self) -> httpx.Response:
        """The platform's answer when throttling, asking to wait 7 seconds."""
        return httpx.Response(429, headers={"Retry-After": "7"}, json={})

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _secret(config: ChannelConfig) -> str:
        secret = config.webhook_secret()
        if secret is None:
            pytest.skip("the config fixture has no webhook secret")
        return secret.get_secret_value()

    @staticmethod
    def _keys(*secrets: str, allow_unsigned: bool = False) -> VerificationKeys:
        return VerificationKeys(
            tuple(SecretStr(s) for s in secrets), now=_NOW, allow_unsigned=allow_unsigned
        )

    @staticmethod
    def _signed(adapter: ChannelAdapter[Any], body: bytes, secret: str) -> WebhookRequest:
        try:
            headers = adapter.sign(body, secret, now=_NOW)
        except CapabilityNotSupportedError:
            pytest.skip("adapter cannot sign deliveries")
        return WebhookRequest("POST", body, headers)

    # ---------------------------------------------------------------- identity

    def test_declares_identity(self, adapter: ChannelAdapter[Any]) -> None:
        assert isinstance(adapter.channel_type, str)
        assert adapter.config_model.channel_type == adapter.channel_type
        assert isinstance(adapter.capabilities, frozenset)
        assert all(isinstance(c, Capability) for c in adapter.capabilities)

    # ---------------------------------------------------------------- parsing

    def test_samples_parse_to_normalized_events(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        assert samples, "give at least one sample payload"
        for body in samples:
            events = adapter.parse(body, config)
            assert events, "a sample payload produced no event"
            for event in events:
                assert isinstance(event, _EVENT_CLASSES)
                assert event.channel_type == adapter.channel_type
                assert event.idempotency_key
                assert event.timestamp.utcoffset() is not None
                json.dumps(event.to_json_dict())
            again = [e.idempotency_key for e in adapter.parse(body, config)]
            assert again == [e.idempotency_key for e in events], "keys must be stable"

    def test_fuzzed_json_raises_only_the_payload_error(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig
    ) -> None:
        @_FUZZ
        @given(doc=_json)
        def check(doc: Any) -> None:
            with contextlib.suppress(WebhookPayloadError):
                adapter.parse(json.dumps(doc).encode(), config)

        check()
        for junk in (b"", b"not json", b"\xff\xfe", b"[1,2", b"null"):
            with contextlib.suppress(WebhookPayloadError):
                adapter.parse(junk, config)

    def test_mutated_samples_never_crash(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        docs = [json.loads(b) for b in samples]

        @_FUZZ
        @given(data=st.data())
        def check(data: st.DataObject) -> None:
            doc = data.draw(st.sampled_from(docs))
            path = data.draw(st.sampled_from(_paths(doc)))
            replacement = data.draw(_json)
            mutated = _mutate(doc, path, replacement, delete=data.draw(st.booleans()))
            try:
                events = adapter.parse(json.dumps(mutated).encode(), config)
            except WebhookPayloadError:
                return
            assert all(isinstance(e, _EVENT_CLASSES) for e in events)

        check()

    # ---------------------------------------------------------------- verification

    def test_signed_samples_verify(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        secret = self._secret(config)
        for body in samples:
            adapter.verify(self._signed(adapter, body, secret), self._keys(secret))

    def test_tampered_body_is_rejected(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        secret = self._secret(config)
        request = self._signed(adapter, samples[0], secret)
        if request.body == request.body.replace(b"a", b"b", 1):  # nothing to flip
            pytest.skip("sample has no byte to tamper with")
        tampered = WebhookRequest("POST", request.body.replace(b"a", b"b", 1), request.headers)
        if self._verifies_body(adapter, secret, samples[0]):
            with pytest.raises(WebhookVerificationError):
                adapter.verify(tampered, self._keys(secret))

    def _verifies_body(self, adapter: ChannelAdapter[Any], secret: str, body: bytes) -> bool:
        """Platforms with a shared-token scheme (Telegram) do not sign the body itself."""
        headers = adapter.sign(body, secret, now=_NOW)
        return headers != adapter.sign(body + b" ", secret, now=_NOW)

    def test_wrong_secret_is_rejected(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        secret = self._secret(config)
        request = self._signed(adapter, samples[0], "not-the-" + secret)
        with pytest.raises(WebhookVerificationError):
            adapter.verify(request, self._keys(secret))

    def test_rotated_secrets_are_all_accepted(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        secret = self._secret(config)
        old = self._signed(adapter, samples[0], "previous-" + secret)
        adapter.verify(old, self._keys(secret, "previous-" + secret))

    def test_missing_signature_is_rejected(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        secret = self._secret(config)
        with pytest.raises(WebhookVerificationError):
            adapter.verify(WebhookRequest("POST", samples[0], {}), self._keys(secret))

    def test_no_secret_fails_closed_unless_explicitly_allowed(
        self, adapter: ChannelAdapter[Any], samples: Sequence[bytes]
    ) -> None:
        request = WebhookRequest("POST", samples[0], {})
        with pytest.raises(WebhookVerificationError):
            adapter.verify(request, self._keys())
        adapter.verify(request, self._keys(allow_unsigned=True))

    # ---------------------------------------------------------------- secrets

    def test_secrets_never_appear_in_reprs(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig
    ) -> None:
        secrets = _secret_values(config)
        assert secrets, "give the config fixture at least one secret"
        shown = " ".join([repr(config), str(config), repr(adapter), json.dumps(config.redacted())])
        for secret in secrets:
            assert secret not in shown, "a secret leaked into a repr"

    # ---------------------------------------------------------------- sending

    def test_rate_limited_send_maps_to_the_typed_error(
        self,
        adapter: ChannelAdapter[Any],
        config: ChannelConfig,
        outbound_message: OutboundMessage,
        rate_limited_response: httpx.Response,
    ) -> None:
        waits: list[float] = []

        async def fake_sleep(seconds: float) -> None:
            waits.append(seconds)

        calls = 0

        def answer(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            return httpx.Response(
                rate_limited_response.status_code,
                headers=rate_limited_response.headers,
                content=rate_limited_response.content,
            )

        patient = type(adapter)(policy=RetryPolicy(max_attempts=2, sleep=fake_sleep))

        async def run() -> None:
            async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
                await patient.send(client, config, outbound_message)

        with pytest.raises(RateLimitedError) as caught:
            asyncio.run(run())
        assert caught.value.retry_after == 7
        assert calls == 2, "a throttled send is retried (the platform did not act on it)"
        assert waits == [7]
        for secret in _secret_values(config):
            assert secret not in str(caught.value)
