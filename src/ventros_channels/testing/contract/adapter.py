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

The hostile-input check (:meth:`AdapterContract.test_hostile_signed_bodies`) mutates the
samples as an attacker would (dropped keys, swapped types, huge and negative times, deep
nesting, lone UTF-16 surrogates, truncated bodies), signs each copy with the adapter's own
``sign`` and asserts that ``verify``/``parse`` raise nothing but the typed webhook errors and
that every event returned serializes. It runs the ``ventros-fuzz`` hypothesis profile: 1,000
examples, no deadline (``VENTROS_FUZZ_EXAMPLES`` changes the count). Deliveries are signed at
the time the adapter reads from the body (``adapter.signed_time``) when it has one, so
replay windows do not refuse old sample payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
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
from ventros_channels.http import RETRY_AFTER_CAP, RetryPolicy
from ventros_channels.messaging.inbound import InboundEvent
from ventros_channels.messaging.outbound import OutboundMessage, TextMessage
from ventros_channels.webhooks.request import VerificationKeys, WebhookRequest

__all__ = ["FUZZ_PROFILE", "AdapterContract", "hostile_bodies"]

_EVENT_CLASSES = tuple(get_args(get_args(InboundEvent)[0]))
_SWAP = {
    **{byte: b"1" if byte == ord("0") else b"0" for byte in b"0123456789"},
    **{byte: b"y" if byte == ord("x") else b"x" for byte in b"abcdefghijklmnopqrstuvwxyz"},
}
"""A different character of the same class for each digit and lower-case letter."""
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
FUZZ_PROFILE = "ventros-fuzz"
"""The hypothesis profile of the hostile-input check (register your own under this name to
change it)."""
settings.register_profile(
    FUZZ_PROFILE,
    max_examples=int(os.environ.get("VENTROS_FUZZ_EXAMPLES", "1000")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# ---------------------------------------------------------------- hostile mutations

_DEEP = "\x00ventros-deep\x00"
_HUGE_TIMES = (
    10**18,
    10**20,
    -(10**18),
    2**63,
    2**64,
    -1,
    0,
    1e20,
    -1e20,
    1.7976931348623157e308,
    253402300800,
    253402300800000,
    "99999999999999999999",
    "-1",
    "",
)
_SURROGATES = ("\ud800", "\udfff", "a\udc00b", "\ud83d", "x\ud800\ud800y")
_hostile_value: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(_HUGE_TIMES),
    st.sampled_from(_SURROGATES),
    st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=6),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.booleans(),
    st.just({}),
    st.just([]),
    st.integers(min_value=40, max_value=1200).map(lambda n: f"{_DEEP}{n}"),
    _json,
)


def _swap_type(value: Any) -> Any:
    """The same information in another JSON type (string ↔ number, scalar ↔ container)."""
    if isinstance(value, str):
        return int(value) if value.isascii() and value.isdigit() and len(value) < 30 else [value]
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return list(value.values())


def _deepen(body: str) -> str:
    """Replace each deep-nesting marker by that many nested arrays."""
    marker = json.dumps(_DEEP)[:-1]
    while marker in body:
        start = body.index(marker)
        end = body.index('"', start + len(marker))
        depth = int(body[start + len(marker) : end])
        body = body[:start] + "[" * depth + "]" * depth + body[end + 1 :]
    return body


@st.composite
def _hostile(draw: st.DrawFn, docs: Sequence[Any]) -> bytes:
    doc = draw(st.sampled_from(docs))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(doc)))
        action = draw(st.sampled_from(("drop", "replace", "swap")))
        if action == "swap":
            target = doc
            for step in path:
                target = target[step]
            doc = _mutate(doc, path, _swap_type(target), delete=False)
        else:
            replacement = draw(_hostile_value) if action == "replace" else None
            doc = _mutate(doc, path, replacement, delete=action == "drop")
    text = _deepen(json.dumps(doc, ensure_ascii=draw(st.booleans())))
    body = text.encode("utf-8", "surrogatepass")  # raw surrogate bytes when not escaped
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        body = body[: draw(st.integers(min_value=0, max_value=max(0, len(body) - 1)))]
    return body


def hostile_bodies(samples: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    """Mutated copies of ``samples`` (JSON bodies) as an attacker would post them: dropped
    keys, swapped types, huge, negative and impossible times, deep nesting, lone UTF-16
    surrogates (escaped and as raw bytes) and truncated bodies.
    """
    return _hostile([json.loads(b) for b in samples])


def _assert_serializable(event: Any) -> None:
    assert isinstance(event, _EVENT_CLASSES), f"not a normalized event: {type(event)!r}"
    event.model_dump_json()
    json.dumps(event.to_json_dict())


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
    if delete:
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
    def _keys(
        *secrets: str, allow_unsigned: bool = False, now: datetime = _NOW
    ) -> VerificationKeys:
        return VerificationKeys(
            tuple(SecretStr(s) for s in secrets), now=now, allow_unsigned=allow_unsigned
        )

    @staticmethod
    def _now(adapter: ChannelAdapter[Any], body: bytes) -> datetime:
        """When a genuine delivery of ``body`` arrives: the time signed inside it, if any."""
        return adapter.signed_time(body) or _NOW

    @classmethod
    def _signed(cls, adapter: ChannelAdapter[Any], body: bytes, secret: str) -> WebhookRequest:
        try:
            headers = adapter.sign(body, secret, now=cls._now(adapter, body))
        except CapabilityNotSupportedError:
            pytest.skip("adapter cannot sign deliveries")
        return WebhookRequest("POST", body, headers)

    def _verify(self, adapter: ChannelAdapter[Any], request: WebhookRequest, *secrets: str) -> None:
        adapter.verify(request, self._keys(*secrets, now=self._now(adapter, request.body)))

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
                assert not event.malformed_fields, event.malformed_fields
                _assert_serializable(event)
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

    def test_hostile_signed_bodies(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        """Correctly signed but mutated samples: typed errors only, serializable events."""
        secret = self._secret(config)
        signer = self._signer(adapter, secret)

        @settings(settings.get_profile(FUZZ_PROFILE))
        @given(body=hostile_bodies(samples))
        def check(body: bytes) -> None:
            request = WebhookRequest("POST", body, signer(body))
            with contextlib.suppress(WebhookVerificationError):
                self._verify(adapter, request, secret)
            try:
                events = adapter.parse(body, config)
            except WebhookPayloadError:
                return
            for event in events:
                _assert_serializable(event)

        check()

    def _signer(
        self, adapter: ChannelAdapter[Any], secret: str
    ) -> Callable[[bytes], dict[str, str]]:
        """Headers of a genuine delivery of a body (skips adapters that cannot sign)."""
        self._signed(adapter, b"{}", secret)  # skips here when the adapter cannot sign
        return lambda body: adapter.sign(body, secret, now=self._now(adapter, body))

    # ---------------------------------------------------------------- verification

    def test_signed_samples_verify(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        secret = self._secret(config)
        for body in samples:
            self._verify(adapter, self._signed(adapter, body, secret), secret)

    @staticmethod
    def _tampered(body: bytes) -> list[bytes]:
        """Copies of a genuine body as changed in transit: one digit or letter replaced
        (still valid JSON), a byte appended, the body cut short."""
        out = [body + b" ", body[: len(body) // 2]]
        index = next((i for i, byte in enumerate(body) if byte in _SWAP), None)
        if index is not None:
            out.insert(0, body[:index] + _SWAP[body[index]] + body[index + 1 :])
        return out

    def test_tampered_body_is_rejected(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        """An adapter that proves the body (``verifies_body = True``, the default) refuses
        a body changed after signing, with the genuine headers and at the genuine time."""
        if not adapter.verifies_body:
            pytest.skip(
                f"{type(adapter).__name__} declares verifies_body = False: its deliveries carry "
                "a shared token, not a signature of the body, so a changed body with the right "
                "token is accepted; test_token_scheme_refuses_a_wrong_token checks the token"
            )
        secret = self._secret(config)
        request = self._signed(adapter, samples[0], secret)
        now = self._now(adapter, request.body)
        for body in self._tampered(request.body):
            tampered = WebhookRequest("POST", body, request.headers)
            with pytest.raises(WebhookVerificationError):
                adapter.verify(tampered, self._keys(secret, now=now))

    def test_token_scheme_refuses_a_wrong_token(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        """An adapter whose scheme is a shared token (``verifies_body = False``) accepts the
        right token and refuses any other, on the genuine body and on changed ones."""
        if adapter.verifies_body:
            pytest.skip("the adapter proves the body: test_tampered_body_is_rejected covers it")
        secret = self._secret(config)
        genuine = self._signed(adapter, samples[0], secret)
        self._verify(adapter, genuine, secret)
        for body in (samples[0], *self._tampered(samples[0])):
            for wrong in ("not-the-" + secret, secret[:-1], secret + "x"):
                forged = self._signed(adapter, body, wrong)
                with pytest.raises(WebhookVerificationError):
                    self._verify(adapter, forged, secret)

    def test_wrong_secret_is_rejected(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        secret = self._secret(config)
        request = self._signed(adapter, samples[0], "not-the-" + secret)
        with pytest.raises(WebhookVerificationError):
            self._verify(adapter, request, secret)

    def test_rotated_secrets_are_all_accepted(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        secret = self._secret(config)
        old = self._signed(adapter, samples[0], "previous-" + secret)
        self._verify(adapter, old, secret, "previous-" + secret)

    def test_missing_signature_is_rejected(
        self, adapter: ChannelAdapter[Any], config: ChannelConfig, samples: Sequence[bytes]
    ) -> None:
        secret = self._secret(config)
        with pytest.raises(WebhookVerificationError):
            self._verify(adapter, WebhookRequest("POST", samples[0], {}), secret)

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

    @staticmethod
    def _throttled_send(
        adapter: ChannelAdapter[Any],
        config: ChannelConfig,
        message: OutboundMessage,
        response: httpx.Response,
        retry_after: str,
    ) -> tuple[RateLimitedError, list[float]]:
        """Send once against a platform that always answers ``response`` with the given
        ``Retry-After`` header; the raised error and the waits the policy asked for."""
        waits: list[float] = []

        async def fake_sleep(seconds: float) -> None:
            waits.append(seconds)

        headers = {k: v for k, v in response.headers.items() if k.lower() != "retry-after"}
        headers["Retry-After"] = retry_after

        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(response.status_code, headers=headers, content=response.content)

        patient = type(adapter)(policy=RetryPolicy(max_attempts=2, sleep=fake_sleep))

        async def run() -> None:
            async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
                await patient.send(client, config, message)

        with pytest.raises(RateLimitedError) as caught:
            asyncio.run(run())
        return caught.value, waits

    def test_rate_limit_hint_as_an_http_date_is_honoured(
        self,
        adapter: ChannelAdapter[Any],
        config: ChannelConfig,
        outbound_message: OutboundMessage,
        rate_limited_response: httpx.Response,
    ) -> None:
        """``Retry-After`` may be an HTTP date instead of seconds (RFC 9110)."""
        when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=8), usegmt=True)
        error, waits = self._throttled_send(
            adapter, config, outbound_message, rate_limited_response, when
        )
        assert error.retry_after is not None
        assert 5 <= error.retry_after <= 8
        assert len(waits) == 1
        assert 5 <= waits[0] <= 8

    def test_an_absurd_rate_limit_hint_is_capped_and_not_slept_on(
        self,
        adapter: ChannelAdapter[Any],
        config: ChannelConfig,
        outbound_message: OutboundMessage,
        rate_limited_response: httpx.Response,
    ) -> None:
        error, waits = self._throttled_send(
            adapter, config, outbound_message, rate_limited_response, "9" * 12
        )
        assert error.retry_after is not None
        assert error.retry_after <= RETRY_AFTER_CAP
        assert all(w <= RetryPolicy().max_retry_after for w in waits)
