"""``load_json`` gives the same documents and the same errors with msgspec (the ``fast``
extra) as with the standard library alone, and the limits hold on both paths.

Every test runs once per decoder: ``json`` forces the standard path by hiding msgspec,
``msgspec`` runs with it (skipped where the extra is not installed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ventros_channels.adapters import _safe
from ventros_channels.adapters._safe import DEFAULT_LIMITS, ParseLimits, load_json
from ventros_channels.errors import WebhookPayloadError

Outcome = tuple[str, str]


def _msgspec_decode() -> Callable[[bytes], Any]:
    msgspec = pytest.importorskip("msgspec")
    decode: Callable[[bytes], Any] = msgspec.json.Decoder().decode
    return decode


@pytest.fixture(params=["json", "msgspec"])
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    fast = None if request.param == "json" else _msgspec_decode()
    monkeypatch.setattr(_safe, "_fast_decode", fast)
    assert _safe.json_decoder() == request.param
    return str(request.param)


def outcome(body: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> Outcome:
    """What ``load_json`` made of ``body``: ``repr`` tells ``1`` from ``1.0`` and ``True``,
    ``-0.0`` from ``0.0``, and shows key order."""
    try:
        return "doc", repr(load_json(body, "test", limits))
    except WebhookPayloadError as error:
        return "error", str(error)


def both(body: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> Outcome:
    """The outcome on the standard path, after checking msgspec's path gives the same."""
    original = _safe._fast_decode
    try:
        _safe._fast_decode = None
        standard = outcome(body, limits)
        _safe._fast_decode = _msgspec_decode()
        assert outcome(body, limits) == standard, body
    finally:
        _safe._fast_decode = original
    return standard


# ---------------------------------------------------------------- pinned cases, both paths

CASES: list[tuple[bytes, Any]] = [
    (b'{"a": 1, "b": [true, null, 1.5, "x"]}', {"a": 1, "b": [True, None, 1.5, "x"]}),
    (b"\xef\xbb\xbf{}", {}),  # a byte order mark is skipped
    (b'{"t": "a\xffb"}', {"t": "a\ufffdb"}),  # invalid UTF-8 is replaced
    (b'{"t": "a\\ud800b"}', {"t": "a\ufffdb"}),  # lone surrogate escape, replaced
    (b'{"\\udfff": 1}', {"\ufffd": 1}),  # in a key too
    (b'{"t": "\\ud83d\\ude00"}', {"t": "\U0001f600"}),  # a valid pair stays one character
    (b'{"t": "\\\\ud800"}', {"t": "\\ud800"}),  # an escaped backslash, not a surrogate
    (b'{"n": 123456789012345678901234567890}', {"n": 123456789012345678901234567890}),
    (b'{"n": -9223372036854775809}', {"n": -9223372036854775809}),
    (b'{"n": 1e-400, "m": -0.0, "k": -0}', {"n": 0.0, "m": -0.0, "k": 0}),
    (b'{"a": 1, "b": 2, "a": 3}', {"a": 3, "b": 2}),  # the last duplicate wins
    (b'{"t": "[[[[{{{{\\"]]]"}', {"t": '[[[[{{{{"]]]'}),  # brackets in strings are text
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_documents(decoder: str, body: bytes, expected: Any) -> None:
    doc = load_json(body, "test")
    assert repr(doc) == repr(expected)
    json.dumps(doc, ensure_ascii=False).encode()  # every string serializes


REFUSED: list[tuple[bytes, str]] = [
    (b'{"n": NaN}', "not JSON"),
    (b'{"n": Infinity}', "not JSON"),
    (b'{"n": -Infinity}', "not JSON"),
    (b'{"n": 1e400}', "not JSON"),
    (b'{"n": 01}', "not JSON"),
    (b'{"a": 1} x', "not JSON"),
    (b"", "not JSON"),
    (b'{"t": "\x01"}', "not JSON"),  # raw control character in a string
    (b"[" * 65 + b"]" * 65, "nested deeper than 64 levels"),
    (b"[" * 5000 + b"]" * 5000, "nested deeper than 64 levels"),
    (b'{"a":' * 70 + b"1" + b"}" * 70, "nested deeper than 64 levels"),
]


@pytest.mark.parametrize(("body", "reason"), REFUSED)
def test_refusals(decoder: str, body: bytes, reason: str) -> None:
    with pytest.raises(WebhookPayloadError, match=reason):
        load_json(body, "test")


def test_depth_limit_is_exact(decoder: str) -> None:
    for limit in (1, 2, 6, 64):
        limits = ParseLimits(max_depth=limit)
        deepest = b"[" * limit + b"]" * limit
        assert load_json(deepest, "test", limits) == json.loads(deepest)
        with pytest.raises(WebhookPayloadError, match=f"deeper than {limit} levels"):
            load_json(b"[" * (limit + 1) + b"]" * (limit + 1), "test", limits)
    wide = b"[" + b",".join([b"[[1]]"] * 100) + b"]"  # many brackets, three levels
    assert load_json(wide, "test", ParseLimits(max_depth=3)) == [[[1]]] * 100


def test_size_limit(decoder: str) -> None:
    with pytest.raises(WebhookPayloadError, match="larger than 10 bytes"):
        load_json(b'{"a": "0123456789"}', "test", ParseLimits(max_body_bytes=10))


# ---------------------------------------------------------------- random input, paths agree

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # includes lone surrogates
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def encode(doc: Any, ascii_only: bool) -> bytes:
    text = json.dumps(doc, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")  # unescaped surrogates: invalid UTF-8


@settings(max_examples=300, deadline=None)
@given(documents, st.booleans())
def test_paths_agree_on_documents(doc: Any, ascii_only: bool) -> None:
    kind, _ = both(encode(doc, ascii_only))
    assert kind == "doc"


@settings(max_examples=300, deadline=None)
@given(documents, st.integers(min_value=0, max_value=400), st.binary(max_size=3))
def test_paths_agree_on_damaged_bodies(doc: Any, cut: int, junk: bytes) -> None:
    body = encode(doc, True)
    both(body[:cut] + junk + body[cut:])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_paths_agree_on_any_bytes(body: bytes) -> None:
    both(body)


def nesting(doc: Any) -> int:
    if isinstance(doc, dict):
        return 1 + max(map(nesting, doc.values()), default=0)
    if isinstance(doc, list):
        return 1 + max(map(nesting, doc), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(documents)
def test_depth_read_from_bytes_matches_the_document(doc: Any) -> None:
    assert _safe._depth(encode(doc, False)) == nesting(doc)
    for limit in (1, 2, 3):
        kind, text = both(encode(doc, True), ParseLimits(max_depth=limit))
        assert (kind == "error" and "deeper" in text) == (nesting(doc) > limit)


def test_a_limit_above_the_interpreters_own_still_fails_within_the_hierarchy(
    decoder: str,
) -> None:
    """With the depth limit raised past Python's recursion limit, the deepest documents the
    parser still reads must not make the surrogate repair (which recurses) escape the
    hierarchy: they are a document or a payload error, never a ``RecursionError``."""
    limits = ParseLimits(max_depth=100_000)
    for depth in (900, 990, 2_000):
        body = b"[" * depth + b'"\\ud800"' + b"]" * depth
        kind, text = outcome(body, limits)
        assert kind == "doc" or "nested deeper" in text
        if kind == "doc":
            assert text == "[" * depth + "'\ufffd'" + "]" * depth
