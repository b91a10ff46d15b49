"""The stored form of a delivery keeps an optional trace context, and reads older records."""

from __future__ import annotations

import json
from uuid import uuid4

from ventros_channels.inbox import Delivery, decode_delivery, encode_delivery
from ventros_channels.testing.contract.inbox import make_delivery

TRACE = {"traceparent": "00-" + "12" * 16 + "-" + "34" * 8 + "-01"}


def test_a_record_written_before_the_trace_field_still_decodes() -> None:
    delivery = make_delivery(uuid4(), "k1")
    doc = json.loads(encode_delivery(delivery))
    assert "trace" not in doc, "no trace: the record is byte for byte the older format"
    old = json.dumps({"v": 1, "event": doc["event"], "context": doc["context"]})
    back = decode_delivery(old)
    assert back == delivery
    assert back.trace is None


def test_the_trace_context_round_trips_and_is_not_part_of_equality() -> None:
    plain = make_delivery(uuid4(), "k1")
    traced = Delivery(plain.event, plain.context, TRACE)
    back = decode_delivery(encode_delivery(traced))
    assert back.trace == TRACE
    assert back == plain


def test_a_damaged_trace_is_dropped_not_fatal() -> None:
    plain = make_delivery(uuid4(), "k1")
    doc = json.loads(encode_delivery(plain))
    for damaged in ("not a dict", {"traceparent": 7}, [1, 2], None):
        doc["trace"] = damaged
        assert decode_delivery(json.dumps(doc)).trace is None
    doc["trace"] = {"traceparent": TRACE["traceparent"], "bad": 1}
    assert decode_delivery(json.dumps(doc)).trace == TRACE
