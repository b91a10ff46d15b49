"""Structured logging helpers: the fields every delivery and send record carries, and an
opt-in JSON formatter for the standard library.

Each module logs to its own logger, named after the module (``ventros_channels.<module>``).
Records about a delivery or a send carry ``channel_id``, ``platform`` and ``idempotency_key``
as attributes (``extra=``), so a structured formatter can print them as fields::

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.getLogger("ventros_channels").addHandler(handler)
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

__all__ = ["FIELDS", "JsonFormatter", "log_fields"]

FIELDS = ("channel_id", "platform", "idempotency_key")
"""The structured fields of records about a delivery or a send."""

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


def log_fields(
    channel_id: UUID | str | None, platform: str | None, idempotency_key: str | None
) -> dict[str, str | None]:
    """The ``extra=`` of a record about a delivery or a send (all three keys, always)."""
    return {
        "channel_id": None if channel_id is None else str(channel_id),
        "platform": platform,
        "idempotency_key": idempotency_key,
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the
    structured fields given with ``extra=``, the current trace and span ids when
    OpenTelemetry has a span, and the formatted exception if any.
    """

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        ids = _trace_ids()
        if ids is not None:
            doc["trace_id"], doc["span_id"] = ids
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


def _trace_ids() -> tuple[str, str] | None:
    from ventros_channels import telemetry  # noqa: PLC0415 (only when a record is formatted)

    return telemetry.current_ids()
