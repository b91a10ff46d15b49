"""Reading the times Meta writes: numbers in seconds or milliseconds, digit strings, ISO-8601.

Meta's own payloads are not uniform: Messenger and Instagram items carry milliseconds, comment
changes and WhatsApp carry seconds (WhatsApp as strings), the Graph API answers with ISO-8601
(``2021-09-08T06:34:04+0000``), and relays that re-post Meta's webhooks keep whichever they got.
One reader for all of them means no item is dated 1970 or refused for its clock alone.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ventros_channels.adapters._safe import epoch

__all__ = ["MS_THRESHOLD", "graph_time", "iso_time"]

MS_THRESHOLD = 100_000_000_000
"""Numbers at or above this are milliseconds. As seconds it would be the year 5138; as
milliseconds it is March 1973, before any Meta platform existed, so no real time is ambiguous."""
_LAST_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z in milliseconds: the last datetime
_MAX_DIGITS = 20
_MAX_ISO = 40


def iso_time(value: str) -> datetime | None:
    """An ISO-8601 time (``+0000`` or ``+00:00`` offsets; naive means UTC), else ``None``."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def graph_time(value: object) -> datetime | None:
    """The instant of a Meta time field in any of its shapes, or ``None`` when unusable."""
    if type(value) is int and 0 <= value <= _LAST_MS:  # the usual shape: read it directly
        return datetime.fromtimestamp(value / (1000 if value >= MS_THRESHOLD else 1), UTC)
    if isinstance(value, str):
        if not value.isdigit():
            return iso_time(value) if 0 < len(value) <= _MAX_ISO else None
        if len(value) > _MAX_DIGITS:
            return None
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return epoch(value, 1000 if value >= MS_THRESHOLD else 1)
