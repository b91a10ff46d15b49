"""Helpers shared by the Redis store and cache."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from redis import exceptions as redis_errors

from ventros_channels.errors import RepositoryError, RepositoryUnavailableError, raise_unchained

__all__ = ["as_text", "key_prefix", "milliseconds", "translate_errors"]


def key_prefix(prefix: str, namespace: str) -> str:
    """``prefix:namespace:`` with both parts checked (non-empty, no spaces)."""
    for label, part in (("prefix", prefix), ("namespace", namespace)):
        if not part or any(ch.isspace() for ch in part):
            raise ValueError(f"{label} must be non-empty and contain no whitespace")
    return f"{prefix}:{namespace}:"


def milliseconds(duration: timedelta) -> int:
    """Whole milliseconds, rounded up so a positive duration never becomes 0."""
    us = duration // timedelta(microseconds=1)
    return -(-us // 1000)


def as_text(value: bytes | str | None) -> str | None:
    """Redis replies as ``str`` whether or not the client decodes responses."""
    if value is None or isinstance(value, str):
        return value
    return value.decode()


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Connection problems → :class:`RepositoryUnavailableError`, others → RepositoryError."""
    try:
        yield
    except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
        raise_unchained(RepositoryUnavailableError(f"{what} unavailable: {type(exc).__name__}"))
    except redis_errors.RedisError as exc:
        raise_unchained(RepositoryError(f"{what} error: {type(exc).__name__}"))
