"""Signature checks as pure functions of header values, raw bytes and secrets.

Every comparison is constant-time (:func:`hmac.compare_digest`) and every failure raises
:class:`~ventros_channels.errors.WebhookVerificationError`. Nothing is parsed before it is
verified.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol

from ventros_channels.errors import WebhookVerificationError

__all__ = ["check_freshness", "hmac_hex", "verify_hmac", "verify_shared_token"]

_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
_HEX_LENGTH = {name: make().digest_size * 2 for name, make in _ALGORITHMS.items()}


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...
    def copy(self) -> _Hash: ...


@lru_cache(maxsize=64)
def _keyed(secret: bytes, algorithm: str) -> tuple[_Hash, _Hash]:
    """The inner and outer hashes of HMAC (RFC 2104) with the key already absorbed.

    Absorbing the key is most of the cost of an HMAC over a webhook-sized body, and every
    delivery to a channel uses the same key: copying these states is what each check costs.
    The cache holds as many keys as a host has channels, up to 64 (least recently used go).
    """
    make = _ALGORITHMS[algorithm]
    block = make().block_size
    key = make(secret).digest() if len(secret) > block else secret
    key = key.ljust(block, b"\0")
    return make(bytes(b ^ 0x36 for b in key)), make(bytes(b ^ 0x5C for b in key))


def hmac_hex(secret: bytes, body: bytes, algorithm: str = "sha256") -> str:
    """Lower-case hex HMAC of ``body`` (the same as ``hmac.new(secret, body, algorithm)``)."""
    keyed_inner, keyed_outer = _keyed(secret, algorithm)
    inner, outer = keyed_inner.copy(), keyed_outer.copy()
    inner.update(body)
    outer.update(inner.digest())
    return outer.hexdigest()


def verify_hmac(
    signature: str | None,
    body: bytes,
    secrets: Sequence[bytes],
    *,
    algorithm: str = "sha256",
    prefix: str = "",
) -> None:
    """Accept if ``signature`` (``prefix`` + hex digest) matches any of ``secrets``."""
    if not secrets:
        raise WebhookVerificationError("no secret configured for this channel")
    if not signature:
        raise WebhookVerificationError("signature header missing")
    if prefix:
        if not signature.startswith(prefix):
            raise WebhookVerificationError("signature header malformed")
        signature = signature[len(prefix) :]
    if len(signature) != _HEX_LENGTH[algorithm]:
        raise WebhookVerificationError("signature header malformed")
    given = signature.lower().encode()
    ok = False
    for secret in secrets:  # check them all: timing does not reveal which one matched
        ok |= hmac.compare_digest(hmac_hex(secret, body, algorithm).encode(), given)
    if not ok:
        raise WebhookVerificationError("signature mismatch")


def verify_shared_token(token: str | None, secrets: Sequence[bytes]) -> None:
    """Accept if the header ``token`` equals any of ``secrets`` (Telegram's scheme)."""
    if not secrets:
        raise WebhookVerificationError("no secret configured for this channel")
    if not token:
        raise WebhookVerificationError("secret token header missing")
    given = token.encode()
    ok = False
    for secret in secrets:
        ok |= hmac.compare_digest(secret, given)
    if not ok:
        raise WebhookVerificationError("secret token mismatch")


def check_freshness(sent_at: datetime | float, now: datetime, tolerance: timedelta) -> None:
    """Reject deliveries stamped too far from ``now`` (replays).

    ``sent_at`` is a datetime or Unix seconds.
    """
    stamp = sent_at if isinstance(sent_at, int | float) else sent_at.timestamp()
    if abs(now.timestamp() - stamp) > tolerance.total_seconds():
        raise WebhookVerificationError("timestamp outside the tolerance window")
