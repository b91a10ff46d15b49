"""Framework-agnostic webhook request and response values (sans-IO)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import attrs
from pydantic import SecretStr

__all__ = ["VerificationKeys", "WebhookRequest", "WebhookResponse"]


def _upper(value: str) -> str:
    return value.upper()


def _headers(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> Mapping[str, str]:
    items = value.items() if isinstance(value, Mapping) else value
    return {k.lower(): v for k, v in items}


def _query(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> Mapping[str, str]:
    return dict(value.items() if isinstance(value, Mapping) else value)


@attrs.frozen
class WebhookRequest:
    """One inbound HTTP request as the platform sent it.

    ``body`` is the exact raw bytes: signatures are checked on them, never on re-serialized
    JSON. Header names are case-insensitive (stored lower-case).
    """

    method: str = attrs.field(converter=_upper)
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_headers)
    query: Mapping[str, str] = attrs.field(factory=dict, converter=_query)

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name."""
        return self.headers.get(name.lower())

    @classmethod
    def from_raw(
        cls, method: str, body: bytes, headers: dict[str, str], query: dict[str, str]
    ) -> WebhookRequest:
        """Build without normalizing: ``method`` upper-case, header names lower-case already
        (as ASGI servers deliver them). For integrations on the hot path.
        """
        self = object.__new__(cls)
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "headers", headers)
        object.__setattr__(self, "query", query)
        return self


@attrs.frozen
class WebhookResponse:
    """What to answer the platform."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


@attrs.frozen
class VerificationKeys:
    """What an adapter may accept a delivery with.

    ``secrets``: every secret valid now (current first, then ones in a rotation grace
    period). ``allow_unsigned``: the host explicitly accepts deliveries without a signature
    for a channel that has no secret. ``tolerance``: freshness window for platforms that
    send a timestamp.
    """

    secrets: tuple[SecretStr, ...]
    now: datetime
    allow_unsigned: bool = False
    tolerance: timedelta = timedelta(minutes=5)
    _bytes: tuple[bytes, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(
            self, "_bytes", tuple(s.get_secret_value().encode() for s in self.secrets)
        )

    def secret_bytes(self) -> tuple[bytes, ...]:
        """The secrets as bytes, for HMAC and comparisons."""
        return self._bytes
