"""Reading untrusted webhook bodies without ever failing outside the error hierarchy.

A webhook endpoint is public: whatever bytes arrive, an adapter must return events or raise
:class:`WebhookPayloadError`. The helpers here are what every adapter shares for that:

* :func:`load_json` reads a body within :class:`ParseLimits` (size, nesting depth), refuses
  the non-standard constants (``NaN``, ``Infinity``) and numbers too large for a float, and
  replaces lone UTF-16 surrogates (``"\\ud800"``) and invalid UTF-8 by U+FFFD, so whatever an
  event keeps of the body serializes with ``model_dump_json()`` and ``json.dumps``.
* :func:`epoch` turns a Unix time into a datetime, or ``None`` when the value is no usable
  instant (wrong type, negative, past year 9999, ``NaN``), instead of raising.
* :func:`timestamp_fields` gives an event's ``timestamp``: the platform's time when it is
  usable, otherwise a fallback with the reason recorded in ``malformed_fields``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

import attrs

from ventros_channels.errors import WebhookPayloadError, WebhookVerificationError

__all__ = [
    "DEFAULT_LIMITS",
    "ParseLimits",
    "check_window",
    "epoch",
    "json_decoder",
    "load_json",
    "note_malformed",
    "timestamp_fields",
]


@attrs.frozen
class ParseLimits:
    """Bounds on a webhook body, checked before and while it is parsed.

    ``max_body_bytes`` (default 4 MiB) is well above the largest batches Meta sends;
    ``max_depth`` (default 64 nested arrays/objects) is several times what any platform's
    payload uses, and low enough that nothing downstream (validation, serialization,
    content hashing) runs out of stack on an event's ``raw``.
    """

    max_body_bytes: int = 4 * 1024 * 1024
    max_depth: int = 64


DEFAULT_LIMITS = ParseLimits()

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}.__getitem__
_MAX_EPOCH_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, the last instant datetime holds
_NOT_JSON = object()
_NUMBERS = (int, float)


class _Refused(ValueError):
    """A number or constant that JSON allows to parse but no event can carry."""


def _no_constant(name: str) -> Any:
    raise _Refused(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Refused(text)
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)


def _msgspec_decoder() -> Callable[[bytes], Any] | None:
    try:
        import msgspec  # noqa: PLC0415  (optional: the ``fast`` extra)
    except ImportError:
        return None
    return msgspec.json.Decoder().decode


_fast_decode: Callable[[bytes], Any] | None = _msgspec_decoder()
"""msgspec's decoder when the ``fast`` extra is installed. It accepts exactly the strict JSON
the standard path accepts, with the same values (arbitrary-size integers, correctly rounded
floats, last duplicate key wins); whatever it refuses (invalid UTF-8, a BOM, lone surrogates,
``NaN``, numbers out of range, nesting past its own limit) goes to the standard path, which
then decides, so both paths return the same documents and raise the same errors."""


def json_decoder() -> str:
    """Which decoder :func:`load_json` uses first: ``"msgspec"`` or ``"json"`` (stdlib)."""
    return "json" if _fast_decode is None else "msgspec"


def _fix_text(text: str) -> str:
    return _LONE_SURROGATE.sub("\ufffd", text) if _LONE_SURROGATE.search(text) else text


def _clean(value: Any) -> Any:
    """A copy of ``value`` with lone surrogates replaced (depth already checked)."""
    if isinstance(value, str):
        return _fix_text(value)
    if isinstance(value, dict):
        return {_fix_text(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _has_lone_surrogate(doc: Any) -> bool:
    """Whether any string of ``doc`` holds a lone surrogate, found by serializing it once
    (in C) instead of walking it in Python."""
    return _LONE_SURROGATE.search(json.dumps(doc, ensure_ascii=False)) is not None


def _depth(body: bytes) -> int:
    """The deepest nesting of arrays/objects in ``body``, which already parsed as JSON: with
    strings removed, the brackets left are balanced, and the highest running count of open
    ones is the depth. Linear in the body, whatever its shape."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP, brackets)), default=0)


def _decode_std(body: bytes, platform: str, limits: ParseLimits) -> Any:
    """The standard library's parse; invalid UTF-8 becomes U+FFFD."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    doc: Any = _NOT_JSON
    reason = "body is not JSON (or holds numbers out of range)"
    try:
        doc = _DECODER.decode(text)
    except RecursionError:
        reason = f"nested deeper than {limits.max_depth} levels"
    except ValueError:
        pass
    if doc is _NOT_JSON:  # raised outside the handlers: the error chains no parser state
        raise WebhookPayloadError(platform, reason)
    return doc


def _without_lone_surrogates(doc: Any, body: bytes, platform: str, limits: ParseLimits) -> Any:
    """``doc`` with lone surrogates (only the standard path lets them through) replaced."""
    if not _SURROGATE_ESCAPE.search(body):
        return doc
    try:
        return _clean(doc) if _has_lone_surrogate(doc) else doc
    except RecursionError:  # only with a depth limit set near the interpreter's own
        reason = f"nested deeper than {limits.max_depth} levels"
    raise WebhookPayloadError(platform, reason)


def load_json(body: bytes, platform: str, limits: ParseLimits = DEFAULT_LIMITS) -> Any:
    """Parse a webhook body, or raise :class:`WebhookPayloadError` (never anything else).

    Invalid UTF-8 sequences become U+FFFD rather than failing: the bytes were signed by the
    platform, and the event should keep what can be read. Uses msgspec when the ``fast``
    extra is installed, with the same results and errors as without it.
    """
    if len(body) > limits.max_body_bytes:
        raise WebhookPayloadError(platform, f"body larger than {limits.max_body_bytes} bytes")
    doc: Any = _NOT_JSON
    if _fast_decode is not None:
        try:
            doc = _fast_decode(body)
        except Exception:  # refused: the standard path decides, with its own errors
            doc = _NOT_JSON
    standard = doc is _NOT_JSON
    if standard:
        doc = _decode_std(body, platform, limits)
    # counting brackets is cheap; only a body with more of them than the limit can be too deep
    if body.count(b"[") + body.count(b"{") > limits.max_depth and (_depth(body) > limits.max_depth):
        raise WebhookPayloadError(platform, f"nested deeper than {limits.max_depth} levels")
    return _without_lone_surrogates(doc, body, platform, limits) if standard else doc


def epoch(value: Any, unit: int = 1) -> datetime | None:
    """The UTC datetime of a Unix time counted in ``1/unit`` seconds (1: seconds, 1000:
    milliseconds), or ``None`` when ``value`` is no usable instant.

    Accepts numbers and strings of decimal digits (WhatsApp Cloud sends strings); refuses
    booleans, negative values, ``NaN`` and anything past the year 9999.
    """
    kind = type(value)
    if kind is str:
        if not (0 < len(value) <= 20 and value.isdigit() and value.isascii()):
            return None
        value = int(value)
    elif (kind is not int and kind is not float) and (  # bool, None, containers, subclasses
        isinstance(value, bool) or not isinstance(value, _NUMBERS)
    ):
        return None
    if not 0 <= value <= _MAX_EPOCH_SECONDS * unit:  # False for NaN too
        return None
    try:
        return datetime.fromtimestamp(value / unit, UTC)
    except (OverflowError, OSError, ValueError):  # rounding up past the last instant
        return None


def timestamp_fields(
    value: Any,
    *,
    unit: int = 1,
    fallback: datetime | None = None,
    name: str = "timestamp",
) -> dict[str, Any]:
    """An event's ``timestamp`` field from a platform time, ready to merge into its fields.

    When ``value`` is no usable instant the event still gets a time (``fallback``, e.g. the
    envelope's, else the time of parsing) and ``malformed_fields`` says why.
    """
    when = epoch(value, unit)
    if when is not None:
        return {"timestamp": when}
    why = "missing" if value is None else "not a valid time"
    used = "the envelope's time" if fallback is not None else "the time of parsing"
    return {
        "timestamp": fallback if fallback is not None else datetime.now(UTC),
        "malformed_fields": (f"{name}: {why}; {used} is used instead",),
    }


def check_window(
    sent_at: datetime | None, now: datetime, max_age: timedelta, skew: timedelta
) -> None:
    """Refuse a delivery whose signed time is missing, older than ``max_age`` or more than
    ``skew`` in the future (a replayed or forged delivery).
    """
    if sent_at is None:
        raise WebhookVerificationError("signed timestamp missing or malformed")
    if sent_at < now - max_age:
        raise WebhookVerificationError("signed timestamp older than the replay window")
    if sent_at > now + skew:
        raise WebhookVerificationError("signed timestamp too far in the future")


def note_malformed(fields: dict[str, Any], text: str) -> None:
    """Record one more unusable field (``"name: why"``) in an event's field dict."""
    fields["malformed_fields"] = (*fields.get("malformed_fields", ()), text)
