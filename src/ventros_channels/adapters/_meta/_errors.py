"""Graph API error answers mapped onto the typed error hierarchy.

Meta answers every failure with ``{"error": {"code", "error_subcode", "message", "fbtrace_id",
...}}``; the code (and for a few cases the subcode) says what went wrong far more precisely than
the HTTP status, so the tables below decide the error type and the status is only the fallback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

import httpx

from ventros_channels.errors import (
    AuthenticationError,
    InvalidRequestError,
    OutsideMessagingWindowError,
    PermissionDeniedError,
    PlatformError,
    PlatformErrorDetails,
    PlatformUnavailableError,
    RateLimitedError,
    RecipientUnavailableError,
)
from ventros_channels.http import error_for_status, parse_retry_after

__all__ = ["graph_error"]

_AUTH_CODES = {190, 102, 463, 467}
_RATE_CODES = {4, 17, 32, 613, 80004, 80006, 80007, 130429, 131056, 131048}
_WINDOW = {(10, 2018278), (10, 2534022)}
_WINDOW_CODES = {131047}
_RECIPIENT_CODES = {131026, 551, 131030}
_RECIPIENT_SUBCODES = {1545041, 2018001, 2018108}
_TRANSIENT_CODES = {1, 2, 131000, 131016}
_AUTH_SUBCODES = {458, 459, 460, 463, 464, 467}
_PERMISSION_CODES = {3, 10, *range(200, 300)}
_PERMISSION_SUBCODES = {2018218}
"""Messenger's User Profile API has no profile to share for this person (accounts made with
a phone number): not a bad request, a refusal to show it. Instagram's "user consent is
required" answer comes as code 230, in the permission range above."""
_INVALID_CODES = {100, 131008, 131009, 132000, 132001, 132012, 131051, 131052, 131053}


class GraphErrorBody(TypedDict, total=False):
    """The ``error`` object of a failed Graph API call."""

    code: int
    error_subcode: int
    message: str
    type: str
    is_transient: bool
    error_data: dict[str, object]
    fbtrace_id: str


class _Seen:
    """What the rules look at: the error's code and subcode, the HTTP status, the body."""

    __slots__ = ("body", "code", "status", "sub")

    def __init__(self, body: GraphErrorBody, status: int) -> None:
        self.body = body
        self.code = body.get("code")
        self.sub = body.get("error_subcode")
        self.status = status


def _auth(e: _Seen) -> bool:
    return e.code in _AUTH_CODES or e.sub in _AUTH_SUBCODES


def _window(e: _Seen) -> bool:
    return (e.code, e.sub) in _WINDOW or e.code in _WINDOW_CODES


def _rate(e: _Seen) -> bool:
    return e.code in _RATE_CODES or e.status == 429


def _recipient(e: _Seen) -> bool:
    return e.code in _RECIPIENT_CODES or e.sub in _RECIPIENT_SUBCODES


def _permission(e: _Seen) -> bool:
    return e.code in _PERMISSION_CODES or e.sub in _PERMISSION_SUBCODES


def _transient(e: _Seen) -> bool:
    return e.code in _TRANSIENT_CODES or bool(e.body.get("is_transient")) or e.status >= 500


def _invalid(e: _Seen) -> bool:
    return e.code in _INVALID_CODES


_RULES: tuple[tuple[Callable[[_Seen], bool], type[PlatformError]], ...] = (
    (_auth, AuthenticationError),
    (_window, OutsideMessagingWindowError),
    (_rate, RateLimitedError),
    (_recipient, RecipientUnavailableError),
    (_permission, PermissionDeniedError),
    (_transient, PlatformUnavailableError),
    (_invalid, InvalidRequestError),
)
"""First match wins: the order settles codes that fit two rules (a rate limit answered with
a 5xx is still a rate limit)."""


def _error_body(response: httpx.Response) -> GraphErrorBody | None:
    try:
        doc = response.json()
    except ValueError:
        return None
    error = doc.get("error") if isinstance(doc, dict) else None
    return error if isinstance(error, dict) else None  # type: ignore[return-value]


def _text(error: GraphErrorBody, redact: Callable[[str], str]) -> str:
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    return redact(str(details or error.get("message") or "Graph API error"))


def graph_error(
    response: httpx.Response, platform: str, redact: Callable[[str], str]
) -> PlatformError | None:
    """Map a Graph API answer onto the typed errors (``None`` when it is a success)."""
    if response.is_success:
        return None
    error = _error_body(response)
    if error is None:
        return error_for_status(response, platform, redact(response.text[:200]) or "error")
    seen = _Seen(error, response.status_code)
    code = seen.code if isinstance(seen.code, int | str) else None
    subcode = seen.sub if isinstance(seen.sub, int) else None
    trace = error.get("fbtrace_id")
    text = _text(error, redact)
    kind = next((kind for matches, kind in _RULES if matches(seen)), None)
    if kind is None:
        return error_for_status(
            response, platform, text, code=code, subcode=subcode, trace_id=trace
        )
    details: PlatformErrorDetails = {
        "platform": platform,
        "status_code": response.status_code,
        "code": code,
        "subcode": subcode,
        "trace_id": trace,
    }
    if kind is RateLimitedError:
        retry = parse_retry_after(response.headers.get("retry-after"))
        return RateLimitedError(text, retry_after=retry, **details)
    return kind(text, **details)
